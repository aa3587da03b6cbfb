"""The one CSV writer of the portal: cells a spreadsheet would run as formulas become text."""

from __future__ import annotations

import csv
import io

import pytest

from portal.domain import spreadsheet


@pytest.mark.parametrize("cell", ["=1+2", "+1+2", "-1+2", "@SUM(A1)", "\t=1", "\r=1", "\n=1",
                                  '=HYPERLINK("https://evil.example","x")', "-", "+"])
def test_formula_starts_are_quoted(cell: str) -> None:
    assert spreadsheet.neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Visa •••• 4242", "", "12.50", "-12.50", "+3", "0", "a=b", " =x", 42, -1.5, None])
def test_ordinary_values_and_plain_numbers_are_left_alone(cell: object) -> None:
    assert spreadsheet.neutralise(cell) == cell


def test_the_writer_neutralises_every_cell_of_every_row() -> None:
    buf = io.StringIO()
    w = spreadsheet.writer(buf, lineterminator="\n")
    w.writerow(["label", "=cmd|' /C calc'!A0", -3])
    w.writerows([["@x", "ok"]])
    assert list(csv.reader(io.StringIO(buf.getvalue()))) == [["label", "'=cmd|' /C calc'!A0", "-3"], ["'@x", "ok"]]

"""CSV the portal writes, safe to open in a spreadsheet.

A cell starting with =, +, -, @, a tab, a carriage return or a line feed is read as a formula by
Excel, LibreOffice and Google Sheets (formula injection: a customer-chosen card label or a search
term could then run a formula on the admin's machine). Such cells are prefixed with a single quote,
which spreadsheets show as text. Plain numbers ("-12.50") are left alone: they are data, not
formulas. Every CSV the portal writes goes through `writer`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


class _Text(Protocol):
    def write(self, s: str, /) -> Any: ...


def neutralise(value: object) -> object:
    """The cell as a spreadsheet will show it as text; non-strings and plain numbers unchanged."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START) or _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


class SafeWriter:
    """csv.writer whose every cell is neutralised."""

    def __init__(self, out: _Text, **fmt: Any) -> None:
        self._writer = csv.writer(out, **fmt)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([neutralise(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out: _Text, **fmt: Any) -> SafeWriter:
    return SafeWriter(out, **fmt)

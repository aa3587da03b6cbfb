"""The PDF writer (fpdf2 with embedded fonts): valid files that poppler reads, the same bytes every
time, every name printed as written, and return labels whose barcodes a scanner reads back."""

from __future__ import annotations

import dataclasses
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

from portal import concurrency
from portal.integrations import pdf
from portal.integrations.pdf import BusinessDocument, Column, FontMissing, render_business_pdf, render_text_pdf
from tests.pdf_tools import pdf_info, pdf_pages, pdf_text, scan_barcodes

NAMES = ("Łukasz Żółć", "Γιώργος Παπαδόπουλος", "Jiří Dvořák, Třeboň", "王小明", "Ольга Смирнова")


def _fonts(data: bytes) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(data)
        return subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True).stdout


def _invoice(bill_to: tuple[str, ...], rows: int = 2) -> BusinessDocument:
    return BusinessDocument(
        business="Fernhill Outfitters", business_details=("1 Mill Lane, Leeds", "VAT GB123"), title="Invoice INV-1",
        meta=(("Invoice number", "INV-1"), ("Issued", "3 Mar 2026")), bill_to=bill_to,
        columns=(Column("Description", 323), Column("Qty", 80, "right"), Column("Amount", 80, "right")),
        rows=tuple((f"Trail jacket – M, line {i}", "1", "€129.00") for i in range(rows)),
        totals=(("Invoice total", "€258.00"),), notes=("All prices include VAT.",),
        created=datetime(2026, 3, 3, 9, 30),
    )


def test_text_pdf_is_valid_deterministic_and_prints_every_name() -> None:
    lines = ["Price: €189.00 (VAT incl.)", r"Back\slash and (parens)", "", *NAMES, "x" * 400]
    data = render_text_pdf("Terms (2026)", lines, business="Fernhill Outfitters")
    assert data == render_text_pdf("Terms (2026)", lines, business="Fernhill Outfitters")
    assert pdf_pages(data) == 1
    text = pdf_text(data)
    assert "Price: €189.00 (VAT incl.)" in text and r"Back\slash and (parens)" in text
    for name in NAMES:
        assert name in text, name
    assert "?" not in text  # nothing was replaced
    # A fixed creation date, not the time of the download
    assert "2024" in pdf_info(data)["CreationDate"]


def test_text_pdf_flows_onto_several_pages() -> None:
    data = render_text_pdf("Long", [f"Line {i}" for i in range(150)], business="Fernhill Outfitters")
    pages = pdf_pages(data)
    assert 3 <= pages <= 4  # about 50 lines fit on an A4 page
    text = pdf_text(data)
    assert f"Page {pages} of {pages}" in text and "Page 1 of" in text and "Line 149" in text
    assert "Long (continued)" in text


def test_business_pdf_embeds_fonts_and_the_cjk_one_only_when_needed() -> None:
    latin = render_business_pdf(_invoice(("Łukasz Żółć", "Γιώργος Παπαδόπουλος")))
    chinese = render_business_pdf(_invoice(("王小明", "Jiří Dvořák")))
    assert latin == render_business_pdf(_invoice(("Łukasz Żółć", "Γιώργος Παπαδόπουλος")))
    assert "Łukasz Żółć" in pdf_text(latin) and "Γιώργος Παπαδόπουλος" in pdf_text(latin)
    assert "王小明" in pdf_text(chinese) and "Jiří Dvořák" in pdf_text(chinese)
    # Every font is an embedded subset; the CJK font only in the document that has Chinese
    for data in (latin, chinese):
        rows = [line.split() for line in _fonts(data).splitlines()[2:]]
        assert rows and all(row[-5] == "yes" and row[-4] == "yes" for row in rows), _fonts(data)
    assert "DejaVuSans" in _fonts(latin) and "WenQuanYi" not in _fonts(latin)
    assert "WenQuanYi" in _fonts(chinese)
    # The document's own date is its creation date
    assert "2026" in pdf_info(latin)["CreationDate"]


def test_business_pdf_table_flows_with_continued_pages() -> None:
    data = render_business_pdf(_invoice(("Łukasz Żółć",), rows=90))
    pages = pdf_pages(data)
    text = pdf_text(data)
    assert pages >= 2 and f"Page {pages} of {pages}" in text and "Invoice INV-1 (continued)" in text
    assert "line 89" in text and "Invoice total" in text


def test_return_label_barcodes_scan_back_to_the_reference() -> None:
    lines = ["Return number: R-482913", "", "FROM", "Łukasz Żółć", "ul. Świętokrzyska 12", "00-052 Warszawa"]
    label = render_text_pdf("Return label R-482913", lines, business="Fernhill Outfitters", barcode="R-482913")
    assert label == render_text_pdf("Return label R-482913", lines, business="Fernhill Outfitters",
                                    barcode="R-482913")
    assert scan_barcodes(label) == {"Code 128": "R-482913", "QR Code": "R-482913"}
    assert "Łukasz Żółć" in pdf_text(label)
    # The same page without a barcode has nothing to scan
    assert scan_barcodes(render_text_pdf("Return label R-482913", lines, business="Fernhill Outfitters")) == {}


def test_a_missing_font_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    pdf.check_fonts()  # installed here: no error
    gone = dataclasses.replace(pdf._SANS[0], path=Path("/nonexistent/DejaVuSans.ttf"))
    monkeypatch.setattr(pdf, "_SANS", (gone, pdf._SANS[1]))
    with pytest.raises(FontMissing, match="install the Debian package fonts-dejavu-core"):
        pdf.check_fonts()
    # The document processes were started with the fonts as installed: this test's missing one
    # is seen by a document made in this process.
    monkeypatch.setattr(concurrency, "HEAVY_PROCESSES", False)
    with pytest.raises(FontMissing, match=r"/nonexistent/DejaVuSans\.ttf"):
        render_text_pdf("Terms", ["x"], business="Fernhill Outfitters")


def _font_gone() -> None:
    raise FontMissing(dataclasses.replace(pdf._SANS[0], path=Path("/nonexistent/DejaVuSans.ttf")))


def test_a_missing_font_in_a_document_process_reaches_the_server_whole() -> None:
    with pytest.raises(FontMissing, match=r"/nonexistent/DejaVuSans\.ttf.*fonts-dejavu-core") as raised:
        concurrency.in_process(_font_gone)
    assert raised.value.package == "fonts-dejavu-core"
    assert concurrency.in_process(pdf.check_fonts) is None  # the process still works (and has the fonts)


def test_documents_made_one_after_another_or_at_once_do_not_affect_each_other(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # In this process (as with PORTAL_HEAVY_PROCESSES=0), where threads share the templates.
    monkeypatch.setattr(concurrency, "HEAVY_PROCESSES", False)
    # Every document starts from a copy of one with the fonts loaded: what one embeds is its own
    docs = [(f"Terms {i}", [name, f"Line {i}"]) for i, name in enumerate(NAMES * 2)]
    alone = []
    for title, lines in docs:
        pdf._templates.clear()
        alone.append(render_text_pdf(title, lines, business="Fernhill Outfitters"))
    in_turn = [render_text_pdf(title, lines, business="Fernhill Outfitters") for title, lines in docs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        at_once = list(pool.map(lambda d: render_text_pdf(d[0], d[1], business="Fernhill Outfitters"), docs))
    assert in_turn == alone and at_once == alone
    for (_title, lines), data in zip(docs, alone, strict=True):
        assert lines[0] in pdf_text(data)

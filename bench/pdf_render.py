"""Time to write one PDF: an invoice with names in Latin, Greek and Czech, one with a Chinese name,
and a return label with its barcodes, by `portal/integrations/pdf.py` (fonts read once per process),
against the same documents with the fonts read for each one (what fpdf2 does by default), in the
same run. Prints milliseconds per document (median) and the ratio.

    .venv/bin/python bench/pdf_render.py --samples 20
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from portal.integrations import pdf
from portal.integrations.pdf import BusinessDocument, Column, render_business_pdf, render_text_pdf


def _invoice(name: str) -> BusinessDocument:
    return BusinessDocument(
        business="Fernhill Outfitters", business_details=("1 Mill Lane, Leeds",), title="Invoice INV-30123",
        meta=(("Issued", "3 Mar 2026"),), bill_to=(name, "Customer number C-10001"),
        columns=(Column("Description", 323), Column("Qty", 80, "right"), Column("Amount", 80, "right")),
        rows=tuple((f"Trail jacket – M, line {i}", "1", "€129.00") for i in range(12)),
        totals=(("Invoice total", "€1,548.00"),), notes=("All prices include VAT.",))


CASES: dict[str, Callable[[], bytes]] = {
    "invoice (Łukasz Żółć, Γιώργος, Dvořák)": lambda: render_business_pdf(
        _invoice("Łukasz Żółć, Γιώργος Παπαδόπουλος, Jiří Dvořák")),
    "invoice (王小明, CJK fallback)": lambda: render_business_pdf(_invoice("王小明")),
    "return label with Code 128 and QR": lambda: render_text_pdf(
        "Return label R-482913", ["Return number: R-482913", "", "FROM", "Łukasz Żółć", "00-052 Warszawa"],
        business="Fernhill Outfitters", barcode="R-482913"),
}


def _median_ms(make: Callable[[], bytes], samples: int, *, fresh_fonts: bool) -> float:
    times = []
    for _ in range(samples):
        if fresh_fonts:
            pdf._templates.clear()
        start = time.perf_counter()
        make()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    print(f"{'document':42} {'fonts read each time':>22} {'fonts read once':>16} {'ratio':>7}")
    for label, make in CASES.items():
        make()  # warm: imports, the fonts of the cached path
        baseline = _median_ms(make, args.samples, fresh_fonts=True)
        make()
        cached = _median_ms(make, args.samples, fresh_fonts=False)
        print(f"{label:42} {baseline:19.1f} ms {cached:13.1f} ms {baseline / cached:6.1f}x")


if __name__ == "__main__":
    main()

"""Reading the portal's PDFs back as a person's tools do: poppler's pdfinfo and pdftotext, and a
barcode scanner (zxing-cpp) on the page rendered by pdftoppm, as a carrier's drop-off scanner sees it."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import zxingcpp
from PIL import Image


def _with_file(data: bytes, args: list[str]) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(data)
        return subprocess.run([*args, str(path), *(["-"] if args[0] == "pdftotext" else [])], capture_output=True,
                              check=True, text=True)


def pdf_text(data: bytes) -> str:
    return _with_file(data, ["pdftotext", "-layout"]).stdout


def pdf_pages(data: bytes) -> int:
    """The page count pdfinfo reads, which must find nothing wrong with the file."""
    done = _with_file(data, ["pdfinfo"])
    assert done.stderr == "", done.stderr
    return int(next(line.split()[-1] for line in done.stdout.splitlines() if line.startswith("Pages:")))


def pdf_info(data: bytes) -> dict[str, str]:
    done = _with_file(data, ["pdfinfo"])
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in done.stdout.splitlines())}


def scan_barcodes(data: bytes, *, dpi: int = 150) -> dict[str, str]:
    """The barcodes on the first page, rendered to a bitmap at `dpi`: {format: decoded text}."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(data)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-f", "1", "-l", "1", "-png", "-singlefile", str(path),
                        str(Path(tmp) / "page")], check=True)
        with Image.open(Path(tmp) / "page.png") as image:
            return {str(found.format): found.text for found in zxingcpp.read_barcodes(image)}

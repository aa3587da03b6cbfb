"""PDF documents (terms, contracts, certificates, invoices, receipts, statements, return labels) with fpdf2.

Text is set in DejaVu Sans (Latin, Greek, Cyrillic; Debian's fonts-dejavu-core), embedded as a subset,
so every name prints as written: "Łukasz Żółć", "Παπαδόπουλος", "Dvořák". Characters DejaVu lacks
(Chinese, Japanese, Korean) fall back to WenQuanYi Micro Hei (fonts-wqy-microhei), loaded only for a
document that needs it. A missing font file raises `FontMissing`, naming the package to install.

The few words this module prints itself ("Page 1 of 2", "(continued)", "BILL TO") are in the
current language (`portal.i18n`): the caller makes a customer's document inside
`in_language(their locale)`, as it makes the document's other texts.

Deterministic: the same input (and language) always gives the same bytes. The creation date is the document's own
date (or a fixed one), fpdf2 names every font subset the same way and derives the file identifier
from the content, so a document's sha256 (and a download's ETag) is stable.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import barcode as barcodes
import qrcode
from fontTools import ttLib
from fpdf import FPDF
from fpdf.fonts import TTFFont
from fpdf.image_parsing import preload_image

from portal.concurrency import in_process
from portal.i18n import tr

PAGE_WIDTH = 595.28  # A4 in points
PAGE_HEIGHT = 841.89
MARGIN_X = 56.0
MARGIN_TOP = 64.0
MARGIN_BOTTOM = 64.0
BODY_SIZE = 10.0
BODY_LEADING = 14.0
TITLE_SIZE = 16.0
TITLE_LEADING = 22.0
SMALL_SIZE = 8.0

# A document without a date of its own (a statement, a label) carries this one.
FIXED_CREATION_DATE = datetime(2024, 1, 1, 12, tzinfo=UTC)


@dataclasses.dataclass(frozen=True, slots=True)
class _Font:
    family: str
    style: str
    path: Path
    package: str


FONT_DIR = Path("/usr/share/fonts/truetype")
_SANS = (
    _Font("sans", "", FONT_DIR / "dejavu" / "DejaVuSans.ttf", "fonts-dejavu-core"),
    _Font("sans", "B", FONT_DIR / "dejavu" / "DejaVuSans-Bold.ttf", "fonts-dejavu-core"),
)
_CJK = _Font("cjk", "", FONT_DIR / "wqy" / "wqy-microhei.ttc", "fonts-wqy-microhei")


class FontMissing(RuntimeError):
    """A font the PDFs embed is not installed."""

    def __init__(self, font: _Font) -> None:
        super().__init__(f"PDF font {font.path} is missing: install the Debian package {font.package} "
                         f"(`make fonts`, or `apt-get install {font.package}`).")
        self.font = font
        self.package = font.package

    def __reduce__(self) -> tuple[type[FontMissing], tuple[_Font]]:
        return FontMissing, (self.font,)  # made in a document process, raised in the server's


def check_fonts() -> None:
    """Raise FontMissing for the first font file that is not there."""
    for font in (*_SANS, _CJK):
        if not font.path.is_file():
            raise FontMissing(font)


def _clean(text: str) -> str:
    """Tabs become spaces and other control characters a space: a cell holds one line."""
    text = text.replace("\t", "    ")
    return "".join(ch if ch >= " " and ch != "\x7f" else " " for ch in text)


class _Pdf(FPDF):
    """An A4 page in points with the embedded fonts (see `_new_pdf`)."""

    def __init__(self, fonts: tuple[_Font, ...]) -> None:
        super().__init__(orientation="P", unit="pt", format="A4")
        self.set_creator("portal")
        self.set_margins(MARGIN_X, MARGIN_TOP, MARGIN_X)
        self.c_margin = 0
        for font in fonts:
            self.add_font(font.family, font.style, str(font.path))
        if _CJK in fonts:
            self.set_fallback_fonts([_CJK.family], exact_match=False)

    def covers(self, texts: Iterable[str]) -> bool:
        """Whether the sans fonts have every character of the texts."""
        cmap = self.fonts["sans"].cmap  # type: ignore[union-attr]
        return all(ord(ch) in cmap for ch in {ch for text in texts for ch in text if ch > "\x7f"})


    def use(self, size: float, *, bold: bool = False) -> None:
        self.set_font("sans", "B" if bold else "", size)

    def width(self, text: str, size: float, *, bold: bool = False) -> float:
        self.use(size, bold=bold)
        return self.get_string_width(text)

    def fit(self, text: str, size: float, width: float, *, bold: bool = False) -> str:
        """Cut text so it fits the width, marking the cut with '...'."""
        text = _clean(text)
        if self.width(text, size, bold=bold) <= width:
            return text
        while text and self.get_string_width(text + "...") > width:
            text = text[:-1]
        return text + "..."

    def put(self, x: float, top: float, text: str, size: float, *, bold: bool = False, width: float | None = None,
            align: str = "L") -> None:
        """One line of text whose box starts at `top`; cut to `width` when given, aligned in it."""
        text = self.fit(text, size, width, bold=bold) if width is not None else _clean(text)
        self.use(size, bold=bold)
        self.set_xy(x, top)
        self.cell(w=width if width is not None else self.get_string_width(text), h=size * 1.25, text=text,
                  align="R" if align == "right" or align == "R" else "L")

    def rule(self, x1: float, x2: float, y: float, gray: float = 0.6, width: float = 0.5) -> None:
        self.set_draw_color(round(gray * 255))
        self.set_line_width(width)
        self.line(x1, y, x2, y)
        self.set_draw_color(0)

    def wrap(self, text: str, size: float, width: float, *, bold: bool = False) -> list[str]:
        """Greedy word wrap by the embedded fonts' real widths; a word longer than a line is split."""
        text = _clean(text).rstrip()
        if not text.strip():
            return [""]
        self.use(size, bold=bold)
        lines: list[str] = []
        current = ""
        for word in text.split(" "):
            candidate = word if not current else current + " " + word
            if self.get_string_width(candidate) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            current = ""
            while self.get_string_width(word) > width:
                cut = len(word)
                while cut > 1 and self.get_string_width(word[:cut]) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            current = word
        lines.append(current)
        return lines

    def bytes(self) -> bytes:
        return bytes(self.output())


# Reading the fonts' metrics takes ~0.3 s; each document starts from a copy of a blank document
# that has them (~0.05 s), with its own handle on the font files for the subsets it embeds.
_templates: dict[tuple[_Font, ...], _Pdf] = {}
_templates_lock = threading.Lock()


def _new_pdf(*, title: str, author: str, texts: Iterable[str], created: datetime | None) -> _Pdf:
    """A blank document with the sans fonts, and the CJK fallback when the text needs it."""
    texts = list(texts)
    fonts: tuple[_Font, ...] = _SANS
    with _templates_lock:
        for attempt in range(2):
            for font in fonts:
                if not font.path.is_file():
                    raise FontMissing(font)
            if fonts not in _templates:
                _templates[fonts] = _Pdf(fonts)
            if attempt or _templates[fonts].covers(texts):
                break
            fonts = (*_SANS, _CJK)
        pdf = copy.deepcopy(_templates[fonts])
    for loaded in pdf.fonts.values():
        # fpdf2's copy shares the parsed font file, which writing the file subsets in place: a fresh one.
        assert isinstance(loaded, TTFFont)
        loaded.ttfont = ttLib.TTFont(loaded.ttffile, recalcTimestamp=False, fontNumber=loaded.collection_font_number,
                                     lazy=True)
    if created is None:
        created = FIXED_CREATION_DATE
    elif created.tzinfo is None:  # the database's times are naive UTC
        created = created.replace(tzinfo=UTC)
    pdf.set_creation_date(created)
    pdf.set_title(title)
    pdf.set_author(author)
    return pdf


# -- the letterhead: who issues a document, at the head and foot of every page ------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Letterhead:
    """The business as its documents show it (portal.brand gives the configured one)."""

    name: str
    details: tuple[str, ...] = ()  # registered name and address, VAT number, support contact: one line each
    footer: str = ""  # the legal line at the foot of every page
    logo: Path | None = None  # SVG or PNG

    def texts(self) -> list[str]:
        return [self.name, *self.details, self.footer]


def _draw_logo(pdf: _Pdf, logo: Path | None, x: float, y: float, height: float, max_width: float) -> float:
    """The logo scaled to `height` (and at most `max_width` wide); the width it takes, 0 without one."""
    if logo is None:
        return 0.0
    _name, _img, info = preload_image(pdf.image_cache, str(logo))
    ratio = float(info.width) / float(info.height) if info.height else 1.0
    width, height = min(height * ratio, max_width), min(height, max_width / ratio if ratio else height)
    pdf.image(str(logo), x=x, y=y, w=width, h=height)
    return width


# -- plain text documents: terms, contracts, certificates, return labels --------------------------------

BARCODE_HEIGHT = 64.0
BARCODE_MODULE = 1.25  # points per Code 128 module: about 2.6 pixels at 150 dpi
QR_SIZE = 84.0


def _bars(pdf: _Pdf, x: float, y: float, modules: str, module: float, height: float) -> None:
    """A row of modules ('1' dark) as filled rectangles, one per run of dark modules."""
    start = None
    for i, m in enumerate(modules + "0"):
        if m == "1" and start is None:
            start = i
        elif m != "1" and start is not None:
            pdf.rect(x + start * module, y, (i - start) * module, height, style="F")
            start = None


def code128_modules(value: str) -> str:
    """The Code 128 symbol of `value` as a string of modules ('1' a dark one), quiet zones excluded."""
    return str(barcodes.get("code128", value).build()[0])


def qr_modules(value: str) -> list[list[bool]]:
    code = qrcode.QRCode(border=0, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(value)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


def _barcode_block(pdf: _Pdf, y: float, value: str) -> float:
    """Code 128 and a QR code of `value`, as carriers print them, with the value in words; the new y."""
    y += 6
    pdf.set_fill_color(0)
    left = MARGIN_X + 10 * BARCODE_MODULE  # the quiet zone: ten modules of white
    _bars(pdf, left, y, code128_modules(value), BARCODE_MODULE, BARCODE_HEIGHT)
    pdf.put(left, y + BARCODE_HEIGHT + 4, value, 12, bold=True)
    matrix = qr_modules(value)
    cell = QR_SIZE / len(matrix)
    qr_x = PAGE_WIDTH - MARGIN_X - QR_SIZE - 4 * cell
    for row_no, row in enumerate(matrix):
        _bars(pdf, qr_x, y + row_no * cell, "".join("1" if dark else "0" for dark in row), cell, cell + 0.01)
    return y + max(BARCODE_HEIGHT + 24, QR_SIZE) + 10


def render_text_pdf(title: str, lines: list[str], *, business: str | Letterhead, barcode: str | None = None,
                    created: datetime | None = None) -> bytes:
    head = business if isinstance(business, Letterhead) else Letterhead(business)
    return in_process(_render_text_pdf, title, lines, head=head, barcode=barcode, created=created)


def _render_text_pdf(title: str, lines: list[str], *, head: Letterhead, barcode: str | None,
                     created: datetime | None) -> bytes:
    """An A4 document with the title, an optional barcode of a reference, then each line (wrapped; ""
    for a blank line), flowing onto as many pages as needed. The head of each page has the logo and
    the business's name; its foot the footer text, the legal details and "Page n of N"."""
    business = head.name
    pdf = _new_pdf(title=title, author=business, texts=[title, *head.texts(), *lines, barcode or ""],
                   created=created)
    usable = PAGE_WIDTH - 2 * MARGIN_X
    rows: list[tuple[float, bool, str]] = [(TITLE_SIZE, True, part) for part in pdf.wrap(title, TITLE_SIZE, usable,
                                                                                        bold=True)]
    rows.append((BODY_SIZE, False, ""))
    for line in lines:
        for part_line in line.splitlines() or [""]:
            rows += [(BODY_SIZE, False, part) for part in pdf.wrap(part_line, BODY_SIZE, usable)]

    top = MARGIN_TOP + 24
    pages: list[list[tuple[float, bool, str]]] = [[]]
    y = top
    barcode_after = len([r for r in rows if r[0] == TITLE_SIZE])  # under the title
    for index, row in enumerate(rows):
        leading = TITLE_LEADING if row[0] == TITLE_SIZE else BODY_LEADING
        if barcode and index == barcode_after:
            leading += max(BARCODE_HEIGHT + 24, QR_SIZE) + 16
        if y + leading > PAGE_HEIGHT - MARGIN_BOTTOM and pages[-1]:
            pages.append([])
            y = top
        pages[-1].append(row)
        y += leading

    pdf.set_auto_page_break(False)
    shown = 0
    for page_no, page in enumerate(pages, start=1):
        pdf.add_page()
        header_y = MARGIN_TOP - 18
        logo_w = _draw_logo(pdf, head.logo, MARGIN_X, header_y - 3, 16, 64)
        name_x = MARGIN_X + (logo_w + 6 if logo_w else 0)
        pdf.put(name_x, header_y, business, SMALL_SIZE + 1, bold=True, width=usable / 2)
        if page_no > 1:
            pdf.put(MARGIN_X, header_y, tr("{title} (continued)", title=title), SMALL_SIZE, width=usable,
                    align="right")
        pdf.rule(MARGIN_X, PAGE_WIDTH - MARGIN_X, header_y + 16)
        y = top
        for size, bold, text in page:
            if barcode and shown == barcode_after:
                y = _barcode_block(pdf, y, barcode)
            shown += 1
            if text:
                pdf.put(MARGIN_X, y, text, size, bold=bold)
            y += TITLE_LEADING if size == TITLE_SIZE else BODY_LEADING
        # The legal details under it: who and where, then the VAT number and the support contact.
        below = (head.details[0], " · ".join(head.details[1:])) if head.details else ()
        _footer(pdf, head.footer or business, rule=False, below=below)
    return pdf.bytes()


def _footer(pdf: _Pdf, left_text: str, *, rule: bool, below: tuple[str, ...] = ()) -> None:
    """The footer of the current page: `left_text` and "Page n of N" (fpdf2 puts in the count when it
    writes the file), then the lines `below` (the legal details), smaller."""
    left, right = MARGIN_X, PAGE_WIDTH - MARGIN_X
    y = PAGE_HEIGHT - MARGIN_BOTTOM + 18
    if rule:
        pdf.rule(left, right, y - 4, 0.8, 0.5)
    footer = tr("Page {page} of {pages}", page=pdf.page_no(), pages=pdf.str_alias_nb_pages)
    pdf.put(left, y, left_text, SMALL_SIZE, width=right - left - pdf.width(footer, SMALL_SIZE) - 12)
    pdf.put(left, y, footer, SMALL_SIZE, width=right - left, align="right")
    for n, line in enumerate(p for p in below if p):
        pdf.put(left, y + 11 + 9 * n, line, SMALL_SIZE - 1, width=right - left)


# -- business documents: invoices, credit notes, receipts, statements ----------------------------------

@dataclasses.dataclass(frozen=True, slots=True)
class Column:
    title: str
    width: float  # points
    align: str = "left"  # "left" or "right"


@dataclasses.dataclass(frozen=True, slots=True)
class BusinessDocument:
    """Everything a business document shows, already formatted as text by the caller."""

    business: str
    business_details: tuple[str, ...]  # address, VAT id, contact: one line each
    title: str  # "Invoice INV-30123"
    meta: tuple[tuple[str, str], ...]  # ("Issued", "3 Mar 2026"), ...
    bill_to: tuple[str, ...]
    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    totals: tuple[tuple[str, str], ...]  # the last one is printed bold
    notes: tuple[str, ...] = ()
    created: datetime | None = None  # the document's own date, its PDF creation date
    logo: Path | None = None  # SVG or PNG, left of the name
    footer: str = ""  # the legal line at the foot of every page; without one, the name and the title

    def texts(self) -> list[str]:
        return [self.business, *self.business_details, self.footer, self.title,
                *(t for pair in self.meta for t in pair),
                *self.bill_to, *(c.title for c in self.columns), *(t for row in self.rows for t in row),
                *(t for pair in self.totals for t in pair), *self.notes]


def render_business_pdf(doc: BusinessDocument) -> bytes:
    return in_process(_render_business_pdf, doc)


def _render_business_pdf(doc: BusinessDocument) -> bytes:
    """An invoice-like document: letterhead with logo, meta block, bill-to, a table that flows over
    pages, totals and notes."""
    pdf = _new_pdf(title=doc.title, author=doc.business, texts=doc.texts(), created=doc.created)
    pdf.set_auto_page_break(False)
    left, right = MARGIN_X, PAGE_WIDTH - MARGIN_X
    row_h = 16.0
    cell_size = BODY_SIZE - 1
    bottom = PAGE_HEIGHT - MARGIN_BOTTOM

    footer = doc.footer or f"{doc.business} - {doc.title}"

    def new_page(first: bool) -> float:
        if not first:
            _footer(pdf, footer, rule=True)
        pdf.add_page()
        top = MARGIN_TOP - 16
        logo_w = _draw_logo(pdf, doc.logo, left, top, 36, 120)
        text_x = left + (logo_w + 10 if logo_w else 0)
        pdf.put(text_x, top, doc.business, 15, bold=True, width=right - text_x)
        dy = top + 22
        for line in doc.business_details[:3]:
            pdf.put(text_x, dy, line, SMALL_SIZE, width=right - text_x)
            dy += 10
        y = max(dy, top + 40) + 10
        pdf.rule(left, right, y, 0.6, 0.8)
        y += 12
        pdf.put(left, y, doc.title if first else tr("{title} (continued)", title=doc.title), TITLE_SIZE, bold=True,
                width=right - left)
        y += 28
        if first:
            meta_y = y
            for label, value in doc.meta:
                pdf.put(left, meta_y, label, cell_size, width=88)
                pdf.put(left + 90, meta_y, value, cell_size, bold=True, width=PAGE_WIDTH / 2 - left - 70)
                meta_y += 13
            bill_y = y
            bill_x = PAGE_WIDTH / 2 + 20
            if doc.bill_to:
                pdf.put(bill_x, bill_y, tr("BILL TO"), SMALL_SIZE)
                bill_y += 13
                for line in doc.bill_to:
                    pdf.put(bill_x, bill_y, line, cell_size, width=right - bill_x)
                    bill_y += 13
            y = max(meta_y, bill_y) + 10
        # Table header: a tinted band with the column titles.
        pdf.set_fill_color(237)
        pdf.rect(left, y - 3, right - left, row_h + 2, style="F")
        pdf.set_fill_color(0)
        x = left
        for column in doc.columns:
            pdf.put(x + 3, y, column.title, cell_size, bold=True, width=column.width - 7, align=column.align)
            x += column.width
        return y + row_h + 2

    y = new_page(True)
    for row in doc.rows:
        if y + row_h > bottom - 10:
            y = new_page(False)
        x = left
        for column, value in zip(doc.columns, row, strict=False):
            pdf.put(x + 3, y, value, cell_size, width=column.width - 7, align=column.align)
            x += column.width
        pdf.rule(left, right, y + row_h - 3, 0.85, 0.4)
        y += row_h

    notes = [part for note in doc.notes for part in pdf.wrap(note, cell_size, right - left)]
    needed = 20 + len(doc.totals) * row_h + (14 + len(notes) * (BODY_LEADING - 2) if notes else 0)
    if y + needed > bottom:
        y = new_page(False)
    y += 8
    label_x = right - 230
    for index, (label, value) in enumerate(doc.totals):
        last = index == len(doc.totals) - 1
        if last:
            pdf.rule(label_x, right, y - 2, 0.3, 0.8)
        pdf.put(label_x, y, label, BODY_SIZE, bold=last, width=126)
        pdf.put(label_x + 130, y, value, BODY_SIZE, bold=last, width=100, align="right")
        y += row_h
    if notes:
        y += 14
        for part in notes:
            pdf.put(left, y, part, cell_size)
            y += BODY_LEADING - 2

    _footer(pdf, footer, rule=True)
    return pdf.bytes()

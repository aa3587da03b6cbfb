"""A tiny, dependency-free PDF 1.4 writer for plain text documents (terms, contracts, certificates).

Deterministic: the same input always gives the same bytes (no timestamps, no random ids), so a
document's sha256 is stable. Text uses the built-in Helvetica fonts with WinAnsiEncoding; characters
the encoding cannot represent become '?'. Long lines are wrapped by real Helvetica glyph widths and
the text flows onto as many A4 pages as needed.
"""

from __future__ import annotations

import dataclasses
import hashlib

PAGE_WIDTH = 595  # A4 in points
PAGE_HEIGHT = 842
MARGIN_X = 56
MARGIN_TOP = 64
MARGIN_BOTTOM = 64
BODY_SIZE = 10
BODY_LEADING = 14
TITLE_SIZE = 16
TITLE_LEADING = 22
SMALL_SIZE = 8

# Advance widths (1/1000 em) of Helvetica for WinAnsi codes 32..126, from the standard AFM metrics.
_ASCII_WIDTHS = (
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,  # space../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,  # 0..?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,  # @..O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,  # P.._
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,  # `..o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,  # p..~
)
_DEFAULT_WIDTH = 556  # accented letters and symbols are close to this
_BOLD_FACTOR = 1.08  # Helvetica-Bold is slightly wider; close enough for wrapping a title


def _encode(text: str) -> bytes:
    """Text as WinAnsi (cp1252) bytes: tabs become spaces, anything unencodable becomes '?'."""
    text = text.replace("\t", "    ")
    text = "".join(ch if ch >= " " else "?" for ch in text)
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            out += b"?"
    return bytes(out)


def _width(data: bytes, size: float, *, bold: bool = False) -> float:
    units = sum(_ASCII_WIDTHS[b - 32] if 32 <= b <= 126 else _DEFAULT_WIDTH for b in data)
    return units * size / 1000 * (_BOLD_FACTOR if bold else 1.0)


def _wrap(data: bytes, size: float, max_width: float, *, bold: bool = False) -> list[bytes]:
    """Greedy word wrap; a word longer than a line is split by characters."""
    if not data.strip():
        return [b""]
    lines: list[bytes] = []
    current = b""
    for word in data.split(b" "):
        candidate = word if not current else current + b" " + word
        if _width(candidate, size, bold=bold) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = b""
        while _width(word, size, bold=bold) > max_width:
            cut = len(word)
            while cut > 1 and _width(word[:cut], size, bold=bold) > max_width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    lines.append(current)
    return lines


def _literal(data: bytes) -> bytes:
    """A PDF literal string; non-ASCII bytes as octal escapes so the file stays 7-bit clean."""
    out = bytearray(b"(")
    for b in data:
        if b in (0x5C, 0x28, 0x29):  # \ ( )
            out += b"\\" + bytes([b])
        elif b < 32 or b > 126:
            out += b"\\%03o" % b
        else:
            out.append(b)
    out += b")"
    return bytes(out)


def _info_string(text: str) -> bytes:
    """Document info strings: literal when ASCII, UTF-16BE hex with a BOM otherwise."""
    if text.isascii():
        return _literal(_encode(text))
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


def _num(value: float) -> bytes:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text.encode()


def _text_op(font: bytes, size: float, x: float, y: float, data: bytes) -> bytes:
    position = _num(x) + b" " + _num(y)
    return b"BT /" + font + b" " + _num(size) + b" Tf " + position + b" Td " + _literal(data) + b" Tj ET\n"


def _layout(title: str, lines: list[str]) -> list[list[tuple[bytes, float, bytes]]]:
    """Split the document into pages of (font, size, text) rows; y positions are derived later."""
    usable = PAGE_WIDTH - 2 * MARGIN_X
    rows: list[tuple[bytes, float, bytes]] = []
    for part in _wrap(_encode(title), TITLE_SIZE, usable, bold=True):
        rows.append((b"F2", TITLE_SIZE, part))
    rows.append((b"F1", BODY_SIZE, b""))
    for line in lines:
        for part_line in line.splitlines() or [""]:
            for part in _wrap(_encode(part_line.rstrip()), BODY_SIZE, usable):
                rows.append((b"F1", BODY_SIZE, part))

    # The header (business name and a rule) takes the same room on every page.
    top = PAGE_HEIGHT - MARGIN_TOP - 24
    pages: list[list[tuple[bytes, float, bytes]]] = [[]]
    y = top
    for row in rows:
        leading = TITLE_LEADING if row[1] == TITLE_SIZE else BODY_LEADING
        if y - leading < MARGIN_BOTTOM and pages[-1]:
            pages.append([])
            y = top
        pages[-1].append(row)
        y -= leading
    return pages


def _page_stream(rows: list[tuple[bytes, float, bytes]], *, business: bytes, title: bytes,
                 page_no: int, page_count: int) -> bytes:
    out = bytearray()
    header_y = PAGE_HEIGHT - MARGIN_TOP + 8
    out += _text_op(b"F2", SMALL_SIZE + 1, MARGIN_X, header_y, business)
    if page_no > 1:
        cont = title + b" (continued)"
        out += _text_op(b"F1", SMALL_SIZE, PAGE_WIDTH - MARGIN_X - _width(cont, SMALL_SIZE), header_y, cont)
    rule_y = header_y - 8
    out += b"0.6 G 0.5 w " + _num(MARGIN_X) + b" " + _num(rule_y) + b" m " + _num(PAGE_WIDTH - MARGIN_X) + b" "
    out += _num(rule_y) + b" l S 0 G\n"
    y = PAGE_HEIGHT - MARGIN_TOP - 24
    for font, size, data in rows:
        leading = TITLE_LEADING if size == TITLE_SIZE else BODY_LEADING
        if data:
            out += _text_op(font, size, MARGIN_X, y - size, data)
        y -= leading
    footer = b"Page %d of %d" % (page_no, page_count)
    out += _text_op(b"F1", SMALL_SIZE, MARGIN_X, MARGIN_BOTTOM - 28, business)
    out += _text_op(b"F1", SMALL_SIZE, PAGE_WIDTH - MARGIN_X - _width(footer, SMALL_SIZE), MARGIN_BOTTOM - 28, footer)
    return bytes(out)


def render_text_pdf(title: str, lines: list[str], *, business: str) -> bytes:
    """A valid PDF 1.4 (A4, Helvetica) with the title, then each line (wrapped; "" for a blank line)."""
    pages = _layout(title, lines)
    business_b = _encode(business)
    title_b = _encode(title)
    page_count = len(pages)

    # Object numbers: 1 catalog, 2 page tree, 3 Helvetica, 4 Helvetica-Bold, 5 info, then page/content pairs.
    first_page = 6
    page_ids = [first_page + 2 * i for i in range(page_count)]
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % pid for pid in page_ids)
        + b"] /Count %d /MediaBox [0 0 %d %d] >>" % (page_count, PAGE_WIDTH, PAGE_HEIGHT),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Title " + _info_string(title) + b" /Author " + _info_string(business)
        + b" /Producer (portal.integrations.pdf) >>",
    ]
    for index, rows in enumerate(pages):
        stream = _page_stream(rows, business=business_b, title=title_b, page_no=index + 1, page_count=page_count)
        content_id = page_ids[index] + 1
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>"
            % content_id
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    # A file identifier derived from the content keeps the output deterministic.
    file_id = hashlib.md5(bytes(out), usedforsecurity=False).hexdigest().upper().encode()
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R /ID [<%s> <%s>] >>\n" % (len(objects) + 1, file_id, file_id)
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


# -- business documents: invoices, credit notes, receipts, statements ----------------------------------

BRAND_RGB = (0.24, 0.47, 0.29)  # the portal's accent green


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


def _logo_ops(x: float, y: float, size: float) -> bytes:
    """The brand mark drawn with vector operators: a rounded tile with two mountain peaks."""
    r, g, b = BRAND_RGB
    s = size
    k = 0.18 * s  # corner radius
    c = 0.5523 * k  # Bezier control distance for a quarter circle
    out = bytearray()
    out += b"q %s %s %s rg\n" % (_num(r), _num(g), _num(b))
    pts = [
        b"%s %s m" % (_num(x + k), _num(y)),
        b"%s %s l" % (_num(x + s - k), _num(y)),
        b"%s %s %s %s %s %s c" % (_num(x + s - k + c), _num(y), _num(x + s), _num(y + k - c), _num(x + s), _num(y + k)),
        b"%s %s l" % (_num(x + s), _num(y + s - k)),
        b"%s %s %s %s %s %s c" % (_num(x + s), _num(y + s - k + c), _num(x + s - k + c), _num(y + s), _num(x + s - k),
                                  _num(y + s)),
        b"%s %s l" % (_num(x + k), _num(y + s)),
        b"%s %s %s %s %s %s c" % (_num(x + k - c), _num(y + s), _num(x), _num(y + s - k + c), _num(x), _num(y + s - k)),
        b"%s %s l" % (_num(x), _num(y + k)),
        b"%s %s %s %s %s %s c" % (_num(x), _num(y + k - c), _num(x + k - c), _num(y), _num(x + k), _num(y)),
        b"f",
    ]
    out += b" ".join(pts) + b"\n"
    # Two white peaks, the right one smaller, on a common base line.
    out += b"1 g %s %s m %s %s l %s %s l f\n" % (
        _num(x + 0.12 * s), _num(y + 0.22 * s), _num(x + 0.45 * s), _num(y + 0.78 * s), _num(x + 0.78 * s),
        _num(y + 0.22 * s))
    out += b"0.85 g %s %s m %s %s l %s %s l f\n" % (
        _num(x + 0.5 * s), _num(y + 0.22 * s), _num(x + 0.7 * s), _num(y + 0.56 * s), _num(x + 0.9 * s),
        _num(y + 0.22 * s))
    out += b"Q\n"
    return bytes(out)


def _fit(data: bytes, size: float, width: float, *, bold: bool = False) -> bytes:
    """Cut a cell's text so it fits its column, marking the cut with '...'."""
    if _width(data, size, bold=bold) <= width:
        return data
    while data and _width(data + b"...", size, bold=bold) > width:
        data = data[:-1]
    return data + b"..."


def _cell(font: bytes, size: float, x: float, width: float, y: float, text: bytes, align: str) -> bytes:
    text = _fit(text, size, width - 4, bold=font == b"F2")
    if align == "right":
        x = x + width - _width(text, size, bold=font == b"F2")
    return _text_op(font, size, x, y, text)


def _rule(x1: float, x2: float, y: float, gray: float = 0.6, width: float = 0.5) -> bytes:
    return b"%s G %s w %s %s m %s %s l S 0 G\n" % (_num(gray), _num(width), _num(x1), _num(y), _num(x2), _num(y))


def render_business_pdf(doc: BusinessDocument) -> bytes:
    """An invoice-like document: letterhead with logo, meta block, bill-to, a table that flows over
    pages, totals and notes. Deterministic like `render_text_pdf`."""
    left, right = float(MARGIN_X), float(PAGE_WIDTH - MARGIN_X)
    row_h = 16.0
    business_b = _encode(doc.business)
    title_b = _encode(doc.title)
    pages: list[bytearray] = []

    def new_page(first: bool) -> tuple[bytearray, float]:
        out = bytearray()
        top = float(PAGE_HEIGHT - MARGIN_TOP + 16)
        out += _logo_ops(left, top - 36, 36)
        out += _text_op(b"F2", 15, left + 46, top - 16, business_b)
        dy: float = top - 30
        for line in doc.business_details[:3]:
            out += _text_op(b"F1", SMALL_SIZE, left + 46, dy, _encode(line))
            dy -= 10
        y = min(dy, top - 40) - 10
        out += _rule(left, right, y, 0.6, 0.8)
        y -= 26
        heading = title_b if first else title_b + b" (continued)"
        out += _text_op(b"F2", TITLE_SIZE, left, y, heading)
        y -= 12
        if first:
            meta_y = y - 10
            for label, value in doc.meta:
                out += _text_op(b"F1", BODY_SIZE - 1, left, meta_y, _encode(label))
                out += _text_op(b"F2", BODY_SIZE - 1, left + 90, meta_y, _encode(value))
                meta_y -= 13
            bill_y = y - 10
            bill_x = PAGE_WIDTH / 2 + 20
            if doc.bill_to:
                out += _text_op(b"F1", SMALL_SIZE, bill_x, bill_y, b"BILL TO")
                bill_y -= 13
                for line in doc.bill_to:
                    out += _text_op(b"F1", BODY_SIZE - 1, bill_x, bill_y, _fit(_encode(line), BODY_SIZE - 1,
                                                                             right - bill_x))
                    bill_y -= 13
            y = min(meta_y, bill_y) - 10
        # Table header: a tinted band with the column titles.
        out += b"0.93 g %s %s %s %s re f 0 g\n" % (_num(left), _num(y - 6), _num(right - left), _num(row_h + 2))
        x = left
        for col in doc.columns:
            out += _cell(b"F2", BODY_SIZE - 1, x + 3, col.width - 3, y, _encode(col.title), col.align)
            x += col.width
        y -= row_h + 2
        return out, y

    current, y = new_page(True)
    for row in doc.rows:
        if y - row_h < MARGIN_BOTTOM + 10:
            pages.append(current)
            current, y = new_page(False)
        x = left
        for col, value in zip(doc.columns, row, strict=False):
            current += _cell(b"F1", BODY_SIZE - 1, x + 3, col.width - 3, y, _encode(value), col.align)
            x += col.width
        current += _rule(left, right, y - 5, 0.85, 0.4)
        y -= row_h

    needed = 20 + len(doc.totals) * row_h + (14 + len(doc.notes) * BODY_LEADING if doc.notes else 0)
    if y - needed < MARGIN_BOTTOM:
        pages.append(current)
        current, y = new_page(False)
    y -= 8
    label_x = right - 230
    for index, (label, value) in enumerate(doc.totals):
        last = index == len(doc.totals) - 1
        font = b"F2" if last else b"F1"
        if last:
            current += _rule(label_x, right, y + row_h - 4, 0.3, 0.8)
        current += _cell(font, BODY_SIZE, label_x, 130, y, _encode(label), "left")
        current += _cell(font, BODY_SIZE, label_x + 130, 100, y, _encode(value), "right")
        y -= row_h
    if doc.notes:
        y -= 14
        for note in doc.notes:
            for part in _wrap(_encode(note), BODY_SIZE - 1, right - left):
                current += _text_op(b"F1", BODY_SIZE - 1, left, y, part)
                y -= BODY_LEADING - 2
    pages.append(current)

    count = len(pages)
    streams: list[bytes] = []
    for number, body in enumerate(pages, start=1):
        footer = b"Page %d of %d" % (number, count)
        body += _rule(left, right, MARGIN_BOTTOM - 16, 0.8, 0.5)
        body += _text_op(b"F1", SMALL_SIZE, left, MARGIN_BOTTOM - 28, business_b + b" - " + title_b)
        body += _text_op(b"F1", SMALL_SIZE, right - _width(footer, SMALL_SIZE), MARGIN_BOTTOM - 28, footer)
        streams.append(bytes(body))
    return _assemble(streams, title=doc.title, author=doc.business)


def _assemble(streams: list[bytes], *, title: str, author: str) -> bytes:
    page_count = len(streams)
    first_page = 6
    page_ids = [first_page + 2 * i for i in range(page_count)]
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % pid for pid in page_ids)
        + b"] /Count %d /MediaBox [0 0 %d %d] >>" % (page_count, PAGE_WIDTH, PAGE_HEIGHT),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Title " + _info_string(title) + b" /Author " + _info_string(author)
        + b" /Producer (portal.integrations.pdf) >>",
    ]
    for index, stream in enumerate(streams):
        content_id = page_ids[index] + 1
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>"
            % content_id
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    file_id = hashlib.md5(bytes(out), usedforsecurity=False).hexdigest().upper().encode()
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R /ID [<%s> <%s>] >>\n" % (len(objects) + 1, file_id, file_id)
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)

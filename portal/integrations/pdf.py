"""A tiny, dependency-free PDF 1.4 writer for plain text documents (terms, contracts, certificates).

Deterministic: the same input always gives the same bytes (no timestamps, no random ids), so a
document's sha256 is stable. Text uses the built-in Helvetica fonts with WinAnsiEncoding; characters
the encoding cannot represent become '?'. Long lines are wrapped by real Helvetica glyph widths and
the text flows onto as many A4 pages as needed.
"""

from __future__ import annotations

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

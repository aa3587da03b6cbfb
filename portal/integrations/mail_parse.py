"""Reading a received email: the standard library's `email` package with the modern policy.

Turns raw bytes into a typed `ParsedMail`: who wrote, to which addresses, the thread it answers,
the text (plain part preferred, HTML turned into text without running or keeping any markup),
the files (attachments and inline images, names decoded, RFC 2231 included), whether it was sent
by a machine (no acknowledgement goes back to those) and, for a delivery status notification,
which of our messages bounced.
"""

from __future__ import annotations

import dataclasses
import email
import email.header
import email.policy
import hashlib
import re
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

MAX_TEXT = 200_000
_MSGID = re.compile(r"<([^<>\s]{1,490})>")
_MACHINE_LOCALPARTS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?|notifications?)"
                                 r"([+.-].*)?$", re.I)


class MalformedMail(ValueError):
    """The bytes are not a message we can read (the reason is in the text)."""


@dataclasses.dataclass(frozen=True, slots=True)
class MailFile:
    filename: str
    content_type: str
    data: bytes
    inline: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Bounce:
    original_message_ids: list[str]
    recipients: list[str]
    diagnostic: str


@dataclasses.dataclass(frozen=True, slots=True)
class ParsedMail:
    message_id: str
    from_address: str
    from_name: str
    recipients: list[str]  # To, Cc, Delivered-To, X-Original-To, lower-cased
    subject: str
    in_reply_to: list[str]
    references: list[str]
    text: str
    files: list[MailFile]
    headers_text: str
    # Sent by a machine (auto-reply, list, bulk, mailer-daemon, no-reply): never acknowledged.
    automated: bool
    bounce: Bounce | None


def message_key(message_id: str, raw: bytes) -> str:
    """What identifies one message across deliveries: its Message-ID, else its bytes."""
    basis = message_id.strip().lower().encode() if message_id else raw
    return hashlib.sha256(basis).hexdigest()


def message_ids(value: str) -> list[str]:
    return _MSGID.findall(value or "")


def header_text(msg: Message) -> str:
    out = []
    for name, value in msg.items():
        out.append(f"{name}: {' '.join(str(value).split())}")
    return "\n".join(out)[:20_000]


@dataclasses.dataclass(frozen=True, slots=True)
class Summary:
    message_id: str
    from_address: str
    subject: str


def summarize(raw: bytes) -> Summary:
    """Message-ID, sender and subject of whatever we can read of a message (or its headers alone),
    for the record of a failure: never raises."""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        ids = message_ids(str(msg.get("Message-ID", "")))
        subject = str(email.header.make_header(email.header.decode_header(str(msg.get("Subject", "")))))
        return Summary(message_id=ids[0] if ids else "", from_address=parseaddr(str(msg.get("From", "")))[1].lower(),
                       subject=" ".join(subject.split())[:300])
    except Exception:  # noqa: BLE001 - anything unreadable is recorded as unknown
        return Summary(message_id="", from_address="", subject="")


def parse(raw: bytes) -> ParsedMail:
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as exc:  # the parser's errors are many; all mean "unreadable"
        raise MalformedMail(f"unreadable message: {exc}") from exc
    assert isinstance(msg, EmailMessage)
    try:
        from_name, from_address = parseaddr(str(msg.get("From", "")))
        subject = " ".join(str(msg.get("Subject", "")).split())
    except Exception as exc:  # a header that does not decode
        raise MalformedMail(f"unreadable header: {exc}") from exc
    from_address = from_address.strip().lower()
    if "@" not in from_address:
        raise MalformedMail("no sender address (From)")
    recipients: list[str] = []
    for name in ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To"):
        for value in msg.get_all(name, []) or []:
            recipients += [a.lower() for _, a in getaddresses([str(value)]) if a]
    ids = message_ids(str(msg.get("Message-ID", "")))
    bounce = _bounce(msg)
    text, files = _content(msg)
    return ParsedMail(
        message_id=ids[0] if ids else "", from_address=from_address, from_name=from_name.strip()[:200],
        recipients=list(dict.fromkeys(recipients)), subject=subject[:300],
        in_reply_to=message_ids(str(msg.get("In-Reply-To", ""))),
        references=message_ids(str(msg.get("References", ""))),
        text=text[:MAX_TEXT], files=files, headers_text=header_text(msg),
        automated=bounce is not None or is_automated(msg, from_address), bounce=bounce)


def is_automated(msg: Message, from_address: str) -> bool:
    """RFC 3834 and the de-facto headers of auto-responders, lists and bulk senders."""
    auto = str(msg.get("Auto-Submitted", "")).strip().lower()
    if auto and auto != "no":
        return True
    if str(msg.get("Precedence", "")).strip().lower() in ("bulk", "list", "junk"):
        return True
    if any(msg.get(h) for h in ("X-Autoreply", "X-Autorespond", "List-Id", "List-Unsubscribe")):
        return True
    if str(msg.get("X-Auto-Response-Suppress", "")).strip().lower() in ("all", "oof", "autoreply"):
        return True
    if str(msg.get("Return-Path", "")).strip() == "<>":
        return True
    return bool(_MACHINE_LOCALPARTS.match(from_address.split("@", 1)[0]))


def _decoded(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _part_text(part: Message) -> str:
    data = _decoded(part)
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know: read what we can
        return data.decode("latin-1", errors="replace")


def _content(msg: EmailMessage) -> tuple[str, list[MailFile]]:
    body_part = msg.get_body(preferencelist=("plain", "html"))
    text = ""
    if body_part is not None:
        raw_text = _part_text(body_part)
        text = html_to_text(raw_text) if body_part.get_content_type() == "text/html" else raw_text
    files: list[MailFile] = []
    for part in msg.walk():
        if part is body_part or part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if ctype in ("message/delivery-status", "text/rfc822-headers"):
            continue
        if not filename and (disposition is None and ctype.startswith("text/")):
            continue  # the other alternative of the body
        if not filename and ctype.startswith("text/") and disposition != "attachment":
            continue
        data = _decoded(part)
        if not data:
            continue
        name = str(filename or f"attachment{_ext(ctype)}")
        files.append(MailFile(filename=name, content_type=ctype, data=data, inline=disposition == "inline"))
    return text.replace("\r\n", "\n").strip(), files


def _ext(ctype: str) -> str:
    return {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "application/pdf": ".pdf",
            "text/plain": ".txt"}.get(ctype, ".bin")


def _bounce(msg: EmailMessage) -> Bounce | None:
    """A delivery status notification (RFC 3464): the recipients that failed and our Message-IDs."""
    if msg.get_content_type() != "multipart/report" or \
            str(msg.get_param("report-type", "")).lower() != "delivery-status":
        return None
    recipients: list[str] = []
    diagnostic = ""
    originals: list[str] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            blocks = part.get_payload()
            for block in blocks if isinstance(blocks, list) else []:
                if not isinstance(block, Message):
                    continue
                if str(block.get("Action", "")).strip().lower() != "failed":
                    continue
                rcpt = str(block.get("Final-Recipient", "")).split(";", 1)[-1].strip().lower()
                if rcpt:
                    recipients.append(rcpt)
                diagnostic = diagnostic or " ".join(str(block.get("Diagnostic-Code", "")).split()) \
                    or str(block.get("Status", ""))
        elif ctype == "text/rfc822-headers":
            inner = email.message_from_bytes(_decoded(part), policy=email.policy.default)
            originals += message_ids(str(inner.get("Message-ID", "")))
        elif ctype == "message/rfc822":
            payload = part.get_payload()
            inner_msg = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner_msg, Message):
                originals += message_ids(str(inner_msg.get("Message-ID", "")))
    if not recipients:
        return None  # a report of delays or successes: nothing failed
    return Bounce(original_message_ids=originals, recipients=recipients, diagnostic=diagnostic[:400])


class _TextExtractor(HTMLParser):
    """Text of an HTML body: no markup survives, scripts and styles are dropped, blocks become lines."""

    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
                         "table", "ul", "ol", "hr", "pre"})
    _SKIP = frozenset({"script", "style", "head", "title", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        elif tag == "img" and not self.skipping:
            alt = dict(attrs).get("alt") or ""
            if alt:
                self.parts.append(f"[image: {alt}]")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self._BLOCKS and tag != "br":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html[:MAX_TEXT * 5])
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# -- the new part of a reply ------------------------------------------------------------------------

_CUT_LINE = re.compile(
    r"^(-{2,}\s*(original message|forwarded message|ursprüngliche nachricht)\s*-{2,}"
    r"|_{10,}"
    r"|on .{4,200} wrote:?"
    r"|am .{4,200} schrieb .{0,200}:?"
    r"|le .{4,200} a écrit\s*:?"
    r"|sent from my \w+.*"
    r"|get outlook for \w+.*"
    r"|-- ?)$", re.I)
_OUTLOOK_HEADER = re.compile(r"^\*?(from|von|de):\*? .+", re.I)
_OUTLOOK_NEXT = re.compile(r"^\*?(sent|date|gesendet|envoyé|to|subject):\*? ", re.I)


def strip_reply(text: str) -> str:
    """The new part of a reply: quoted history, the "On ... wrote:" line and what follows it, an
    Outlook header block, a signature ("-- ") and "Sent from my phone" lines are cut. The full text
    is kept elsewhere for agents; when nothing would remain the text is returned whole."""
    lines = text.replace("\r\n", "\n").split("\n")
    cut = len(lines)
    for i, line in enumerate(lines):
        stripped = line.strip()
        # "On <date>, <name> <address>" wraps onto a second line ending in "wrote:" in many clients.
        joined = f"{stripped} {lines[i + 1].strip()}" if i + 1 < len(lines) else stripped
        if line.rstrip() in ("--", "-- ") or _CUT_LINE.match(stripped) or \
                (stripped.lower().startswith("on ") and _CUT_LINE.match(joined)):
            cut = i
            break
        if _OUTLOOK_HEADER.match(stripped) and any(_OUTLOOK_NEXT.match(n.strip()) for n in lines[i + 1:i + 4]):
            cut = i
            break
        if stripped.startswith(">") and all(not n.strip() or n.strip().startswith(">") for n in lines[i:]):
            cut = i
            break
    new = "\n".join(lines[:cut]).strip()
    return new or text.strip()

"""The business's brand, as the settings give it: name, logo, favicon, accent colour, legal details,
footer text and support contact. The shell, every email and every PDF take it from here, so nothing
of the demo's brand (Fernhill, whose files are in assets/brand/) is written anywhere else.

Read when the portal starts: the accent colour is compiled into the pages' theme, so a change of
brand needs a restart (`make run` compiles the pages as it starts).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from email.utils import formataddr, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING

from portal.i18n import tr
from portal.settings import Settings, get_settings

if TYPE_CHECKING:
    from portal.integrations.pdf import Letterhead

# Radix Themes' accent colours, the values rx.theme(accent_color=...) takes (tests compare this with
# Reflex's own list).
ACCENT_COLORS = ("tomato", "red", "ruby", "crimson", "pink", "plum", "purple", "violet", "iris", "indigo", "blue",
                 "cyan", "teal", "jade", "green", "grass", "brown", "orange", "sky", "mint", "lime", "yellow",
                 "amber", "gold", "bronze", "gray")

SVG, PNG, ICO = "image/svg+xml", "image/png", "image/x-icon"
LOGO_TYPES = {SVG: "SVG", PNG: "PNG"}
FAVICON_TYPES = {ICO: "ICO", PNG: "PNG", SVG: "SVG"}


def image_type(path: Path) -> str | None:
    """The image's media type, recognised by its first bytes (a file's name proves nothing): PNG,
    ICO or SVG (an XML document whose root element is <svg>); None for anything else."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\x00\x00\x01\x00"):
        return ICO
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    # An optional XML declaration, comments and a doctype, then the root element.
    text = re.sub(rb"^(<\?xml[^>]*\?>|<!--.*?-->|<!DOCTYPE[^>]*>|\s+)*", b"", text, flags=re.DOTALL)
    if re.match(rb"<svg[\s>]", text):
        return SVG
    return None


@dataclasses.dataclass(frozen=True, slots=True)
class Brand:
    name: str
    logo: Path  # SVG or PNG (the settings checked it)
    favicon: Path  # ICO, PNG or SVG
    accent_color: str
    legal_name: str
    address: tuple[str, ...]
    vat_number: str
    footer: str
    support_email: str
    support_phone: str
    mail_from: str

    @property
    def support_contact(self) -> str:
        """"support@example.com · +44 20 7946 0000" (the phone only when there is one)."""
        return " · ".join(p for p in (self.support_email, self.support_phone) if p)

    @property
    def legal_lines(self) -> tuple[str, ...]:
        """Under the name on PDFs, in the reader's language: who (registered name and address), the VAT
        number, the support contact."""
        who = ", ".join(p for p in (self.legal_name, *self.address) if p)
        vat = tr("VAT {number}", number=self.vat_number) if self.vat_number else ""
        return tuple(p for p in (who, vat, self.support_contact) if p)

    @property
    def mail_signature(self) -> str:
        """The foot of every email: after the standard signature separator, so mail programs (and the
        support mailbox's reply reader) know it is not part of the message."""
        lines = [self.name, self.footer,
                 tr("Support: {contact}", contact=self.support_contact) if self.support_contact else ""]
        return "-- \n" + "\n".join(p for p in lines if p) + "\n"


def brand_of(s: Settings) -> Brand:
    from portal.settings import ROOT

    def absolute(path: Path) -> Path:
        return path if path.is_absolute() else ROOT / path

    logo, favicon = absolute(s.portal_logo_file), absolute(s.portal_favicon_file)
    name, address = parseaddr(s.mail_from)
    return Brand(
        name=s.portal_business_name, logo=logo, favicon=favicon, accent_color=s.portal_accent_color,
        legal_name=s.portal_legal_name.strip(),
        address=tuple(p.strip() for p in s.portal_address.split("|") if p.strip()),
        vat_number=s.portal_vat_number.strip(), footer=s.portal_footer_text.strip(),
        support_email=s.portal_support_email, support_phone=s.portal_support_phone.strip(),
        mail_from=formataddr((name or s.portal_business_name, address)) if address else s.mail_from,
    )


_current: tuple[Settings, Brand] | None = None


def current_brand() -> Brand:
    """The brand of the settings in force: made once per settings object (every new tab's first
    snapshot reads five of its fields, and parsing the mail address each time showed in its cost)."""
    global _current
    settings = get_settings()
    known = _current
    if known is not None and known[0] is settings:
        return known[1]
    brand = brand_of(settings)
    _current = (settings, brand)
    return brand


def letterhead(brand: Brand | None = None) -> Letterhead:
    """The head and foot of the portal's PDFs."""
    from portal.integrations.pdf import Letterhead

    brand = brand or current_brand()
    return Letterhead(name=brand.name, details=brand.legal_lines, footer=brand.footer, logo=brand.logo)


_versions: dict[Path, str] = {}


def file_version(path: Path) -> str:
    """A short fingerprint of the file's content, read once per process (a new brand needs a
    restart): part of the image's address, so browsers may keep it for a year."""
    found = _versions.get(path)
    if found is None:
        try:
            found = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        except OSError:
            found = "missing"
        _versions[path] = found
    return found

"""Admin: the brand the running portal uses, read-only (it is set in the environment)."""

from __future__ import annotations

import dataclasses

import reflex as rx

from portal.api.brand import FAVICON_PATH, LOGO_PATH
from portal.brand import current_brand, file_version, image_type
from portal.i18n import N_, tr
from portal.settings import get_settings
from portal.state.base import PortalState
from portal.state.guard import Access, access
from portal.state.session import backend_url


@dataclasses.dataclass
class BrandSetting:
    label: str
    value: str
    variable: str


@access(Access.ADMIN)
class AdminBrandState(PortalState, rx.State):
    rows: list[BrandSetting] = []
    logo_url: str = ""
    favicon_url: str = ""
    accent: str = ""

    def _rows(self) -> list[BrandSetting]:
        b, s = current_brand(), get_settings()
        kinds = {"image/svg+xml": "SVG", "image/png": "PNG", "image/x-icon": "ICO"}
        return [BrandSetting(tr(label), value or tr("(not set)"), variable) for label, value, variable in (
            (N_("Name"), b.name, "PORTAL_BUSINESS_NAME"),
            (N_("Logo"), f"{b.logo} ({kinds.get(image_type(b.logo) or '', '?')})", "PORTAL_LOGO_FILE"),
            (N_("Favicon"), f"{b.favicon} ({kinds.get(image_type(b.favicon) or '', '?')})", "PORTAL_FAVICON_FILE"),
            (N_("Accent colour"), b.accent_color, "PORTAL_ACCENT_COLOR"),
            (N_("Legal name"), b.legal_name, "PORTAL_LEGAL_NAME"),
            (N_("Address"), ", ".join(b.address), "PORTAL_ADDRESS"),
            (N_("VAT number"), b.vat_number, "PORTAL_VAT_NUMBER"),
            (N_("Footer text"), b.footer, "PORTAL_FOOTER_TEXT"),
            (N_("Support email"), b.support_email, "PORTAL_SUPPORT_EMAIL"),
            (N_("Support phone"), b.support_phone, "PORTAL_SUPPORT_PHONE"),
            (N_("Mail sender"), b.mail_from, "MAIL_FROM"),
            (N_("Order numbers"), f"{s.portal_order_prefix}12345", "PORTAL_ORDER_PREFIX"),
            (N_("Bank account"), " · ".join(p for p in (s.portal_bank_account_name or b.legal_name or b.name,
                                                     s.portal_bank_iban, s.portal_bank_bic, s.portal_bank_name)
                                        if p) if s.portal_bank_iban else "", "PORTAL_BANK_IBAN"),
        )]

    @rx.event
    def load(self) -> None:
        b = current_brand()
        self.rows = self._rows()
        self.accent = b.accent_color
        self.logo_url = backend_url(self, f"{LOGO_PATH}?v={file_version(b.logo)}")
        self.favicon_url = backend_url(self, f"{FAVICON_PATH}?v={file_version(b.favicon)}")

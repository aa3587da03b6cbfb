"""The brand in the pages: name, logo, footer text and support contact.

Computed from the settings by the server for each tab (sent when the page hydrates), so the
shell shows the brand the running portal is configured with; the compiled page carries the one
it was compiled with until then (the same one after `make run`, which compiles as it starts).
The accent colour and the favicon are part of the compiled page (rxconfig.py, portal/portal.py).
"""

from __future__ import annotations

import reflex as rx

from portal.api.brand import LOGO_PATH
from portal.brand import current_brand, file_version
from portal.state.guard import Access, access
from portal.state.session import backend_url


@access(Access.PUBLIC)
class BrandState(rx.State):
    @rx.var
    def name(self) -> str:
        return current_brand().name

    @rx.var
    def logo_url(self) -> str:
        """The logo's address as this browser reaches the backend (see `backend_url`)."""
        return backend_url(self, f"{LOGO_PATH}?v={file_version(current_brand().logo)}")

    @rx.var
    def footer(self) -> str:
        return current_brand().footer

    @rx.var
    def support_email(self) -> str:
        return current_brand().support_email

    @rx.var
    def support_phone(self) -> str:
        return current_brand().support_phone

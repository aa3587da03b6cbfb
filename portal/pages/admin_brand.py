"""Admin: the brand, as the running portal shows it (read-only: it is set in the environment)."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card
from portal.i18n import N_, t
from portal.layouts.shell import shell
from portal.state.admin_brand import AdminBrandState, BrandSetting


def _row(r: BrandSetting) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(r.label),
        rx.table.cell(r.value, word_break="break-word"),
        rx.table.cell(rx.code(r.variable), display=["none", "table-cell"]),
        data_testid="brand-setting",
    )


@shell(N_("Brand"))
def brand_page() -> rx.Component:
    s = AdminBrandState
    return rx.vstack(
        card(t("Your brand"),
             rx.hstack(
                 rx.image(src=s.logo_url, alt=t("Logo"), height="48px", width="auto", max_width="12rem"),
                 rx.image(src=s.favicon_url, alt=t("Favicon"), height="32px", width="32px"),
                 rx.badge(s.accent, variant="solid", size="2", data_testid="brand-accent"),
                 align="center", spacing="4", wrap="wrap",
             ),
             rx.text(t("These come from the portal's settings (environment or .env; see \"Your brand\" in the "
                       "README) and are shown here as the running portal uses them. After a change, restart "
                       "the portal."), size="2", color_scheme="gray"),
             icon="palette"),
        rx.box(rx.table.root(
            rx.table.header(rx.table.row(rx.table.column_header_cell(t("Setting")),
                                         rx.table.column_header_cell(t("Value")),
                                         rx.table.column_header_cell(t("Variable"), display=["none", "table-cell"]))),
            rx.table.body(rx.foreach(s.rows, _row)),
            width="100%",
        ), overflow_x="auto", width="100%", tab_index=0, role="region", aria_label=t("Brand settings")),
        spacing="4", width="100%",
    )


def register(app: rx.App) -> None:
    app.add_page(brand_page, route="/admin/brand", title=N_("Brand"), on_load=AdminBrandState.load)

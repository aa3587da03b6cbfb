"""The signed-in app shell: sidebar navigation, header with the user, colour mode.

Pages declare their place in the navigation in NAV; only pages that exist are listed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import reflex as rx

from portal import i18n
from portal.components.assistant import assistant_panel
from portal.components.chat import chat_widget
from portal.components.mailbox import mailbox
from portal.components.notifications import bell_mount
from portal.i18n import N_, t
from portal.state.brand import BrandState
from portal.state.session import SessionState


@dataclasses.dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    icon: str
    staff: bool = False
    admin: bool = False
    everyone: bool = False


NAV: list[NavItem] = [
    NavItem(N_("Home"), "/dashboard", "layout_dashboard"),
    NavItem(N_("Timeline"), "/timeline", "history"),
    NavItem(N_("Orders"), "/orders", "package"),
    NavItem(N_("Shipments"), "/shipments", "truck"),
    NavItem(N_("Billing"), "/billing", "receipt"),
    NavItem(N_("Documents"), "/documents", "folder_open"),
    NavItem(N_("Offers"), "/offers", "gift"),
    NavItem(N_("Support"), "/support", "life_buoy"),
    NavItem(N_("Help"), "/help", "circle_help"),
    NavItem(N_("Agent console"), "/agent", "headset", staff=True),
    NavItem(N_("Help articles"), "/agent/articles", "book_open", staff=True),
    NavItem(N_("People"), "/admin/users", "users", staff=True, admin=True),
    NavItem(N_("Offers and home"), "/admin/offers", "gift", staff=True, admin=True),
    NavItem(N_("Insights"), "/admin/insights", "chart_column", staff=True, admin=True),
    NavItem(N_("API keys"), "/admin/api-keys", "key_round", staff=True, admin=True),
    NavItem(N_("Webhooks"), "/admin/webhooks", "webhook", staff=True, admin=True),
    NavItem(N_("Refunds"), "/admin/refunds", "undo_2", staff=True, admin=True),
    NavItem(N_("Support mailbox"), "/admin/mail", "mail", staff=True, admin=True),
    NavItem(N_("Audit trail"), "/admin/audit", "scroll_text", staff=True, admin=True),
    NavItem(N_("Brand"), "/admin/brand", "palette", staff=True, admin=True),
    NavItem(N_("Profile"), "/account/profile", "user_round"),
    NavItem(N_("Security"), "/account/security", "shield_check", everyone=True),
    NavItem(N_("Your data"), "/account/privacy", "archive"),
]


def _nav_link(item: NavItem) -> rx.Component:
    active = rx.State.router.page.path == item.href
    return rx.link(
        rx.hstack(rx.icon(item.icon, size=18), rx.text(t(item.label), size="3"), spacing="3", align="center"),
        href=item.href,
        underline="none",
        padding_x="0.75rem", padding_y="0.5rem", border_radius="8px", width="100%",
        color=rx.cond(active, rx.color("accent", 11), rx.color("gray", 12)),
        background_color=rx.cond(active, rx.color("accent", 3), "transparent"),
        _hover={"background_color": rx.color("gray", 3)},
    )


def _nav_items() -> list[rx.Component]:
    out: list[rx.Component] = []
    for item in NAV:
        link = _nav_link(item)
        if item.everyone:
            out.append(link)
        elif item.admin:
            out.append(rx.cond(SessionState.role == "admin", link))
        elif item.staff:
            out.append(rx.cond(SessionState.is_staff, link))
        else:
            out.append(rx.cond(~SessionState.is_staff, link))
    return out


def brand() -> rx.Component:
    """The business's logo and name (PORTAL_LOGO_FILE, PORTAL_BUSINESS_NAME)."""
    return rx.hstack(
        rx.image(src=BrandState.logo_url, alt=BrandState.name, height="28px", width="auto", max_width="8rem",
                 data_testid="brand-logo"),
        rx.text(BrandState.name, weight="bold", size="4", data_testid="brand-name"),
        align="center", spacing="2",
    )


def brand_footer() -> rx.Component:
    """The legal line (PORTAL_FOOTER_TEXT) and the support contact, at the foot of every page."""
    return rx.vstack(
        rx.cond(BrandState.footer != "", rx.text(BrandState.footer, size="1", color_scheme="gray")),
        rx.hstack(
            rx.text(t("Support:"), size="1", color_scheme="gray"),
            rx.link(BrandState.support_email, href="mailto:" + BrandState.support_email, size="1"),
            rx.cond(BrandState.support_phone != "",
                    rx.link(BrandState.support_phone, href="tel:" + BrandState.support_phone, size="1")),
            spacing="2", wrap="wrap",
        ),
        spacing="1", width="100%", padding_top="0.5rem", data_testid="brand-footer",
    )


def sidebar() -> rx.Component:
    return rx.box(
        rx.vstack(brand(), rx.divider(), *_nav_items(), rx.spacer(), rx.divider(), brand_footer(),
                  spacing="1", width="100%", min_height="100%"),
        display=["none", "none", "block"], overflow_y="auto",
        width="15rem", min_width="15rem", padding="1rem", height="100vh", position="sticky", top="0",
        border_right=f"1px solid {rx.color('gray', 5)}",
        background_color=rx.color("gray", 2), role="navigation", aria_label=t("Main menu"),
    )


def mobile_menu() -> rx.Component:
    return rx.box(
        rx.drawer.root(
            rx.drawer.trigger(rx.icon_button(rx.icon("menu"), variant="ghost", aria_label=t("Open menu"))),
            rx.drawer.overlay(z_index="5"),
            rx.drawer.portal(
                rx.drawer.content(
                    rx.vstack(
                        rx.hstack(brand(), rx.spacer(),
                                  rx.drawer.close(rx.icon_button(rx.icon("x"), variant="ghost",
                                                                 aria_label=t("Close menu"))),
                                  width="100%"),
                        rx.divider(), *_nav_items(), rx.divider(),
                        rx.hstack(rx.text(t("Language"), size="2"), language_menu("language-menu-drawer"),
                                  align="center", spacing="2"),
                        brand_footer(), spacing="1", width="100%",
                    ),
                    padding="1rem", width="16rem", height="100%", background_color=rx.color("gray", 1),
                ),
            ),
            direction="left",
        ),
        display=["block", "block", "none"],
    )


def language_menu(test_id: str = "language-menu") -> rx.Component:
    """The language of the portal, by each language's own name (signed in: kept in the profile)."""
    return rx.select.root(
        rx.select.trigger(rx.hstack(rx.icon("languages", size=16), rx.text(SessionState.lang.upper(), size="2"),
                                    align="center", spacing="1"),
                          variant="ghost", aria_label=t("Language"), data_testid=test_id),
        rx.select.content(*[rx.select.item(name, value=code, lang=code, data_testid=f"{test_id}-{code}")
                            for code, name in i18n.NAMES.items()]),
        value=SessionState.lang, on_change=SessionState.set_language, size="2",
    )


def user_menu() -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.button(
                # At phone width only the initials show, and they arrive with the session's data: this
                # names the button all along, and the name still holds what it shows.
                rx.el.span(t("Account menu"), class_name="sr-only"),
                rx.avatar(fallback=SessionState.initials, size="2", radius="full"),
                rx.text(SessionState.user_name, display=["none", "inline", "inline"], size="2"),
                rx.icon("chevron_down", size=14),
                variant="ghost", data_testid="user-menu",
            ),
        ),
        rx.menu.content(
            rx.box(rx.text(SessionState.user_email, size="1", color_scheme="gray"),
                   padding_x="0.75rem", padding_y="0.25rem"),
            rx.menu.separator(),
            rx.menu.item(rx.link(rx.hstack(rx.icon("shield_check", size=16), rx.text(t("Security"))),
                                 href="/account/security", underline="none", color="inherit")),
            rx.menu.item(rx.hstack(rx.icon("log_out", size=16), rx.text(t("Sign out"))),
                         on_click=SessionState.logout, data_testid="sign-out"),
        ),
    )


def header() -> rx.Component:
    return rx.hstack(
        mobile_menu(),
        rx.box(brand(), display=["block", "block", "none"]),
        rx.spacer(),
        chat_widget(),
        # At phone width the header has no room for it: the menu drawer carries it there.
        rx.box(language_menu(), display=["none", "block"]),
        rx.color_mode.button(variant="ghost", aria_label=t("Switch light or dark mode")),
        rx.cond(SessionState.signed_in, bell_mount()),
        rx.cond(SessionState.signed_in, user_menu()),
        align="center", width="100%", padding_x="1rem", padding_y="0.6rem",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        position="sticky", top="0", z_index="4", background_color=rx.color("gray", 1),
    )


def shell(title: str) -> Callable[[Callable[[], rx.Component]], Callable[[], rx.Component]]:
    """Layout as a decorator: `@shell("Home")` frames a page function."""

    def wrap(page: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        def framed() -> rx.Component:
            return rx.hstack(
                sidebar(),
                rx.vstack(
                    header(),
                    rx.box(
                        rx.heading(t(title), size="7", margin_bottom="1rem"),
                        page(),
                        # Room at the bottom, so the floating assistant button never covers the last line.
                        width="100%", max_width="72rem", padding=["1rem", "1.5rem", "2rem"],
                        padding_bottom=["5.5rem", "5.5rem", "5.5rem"], data_testid="page-content",
                    ),
                    spacing="0", width="100%", min_height="100vh",
                ),
                rx.cond(SessionState.signed_in & ~SessionState.is_staff, assistant_panel()),
                ready_marker(),
                connection_notice(),
                mailbox(),
                spacing="0", width="100%", align="start", data_portal_frame="shell",
            )

        framed.__name__ = page.__name__
        return framed

    return wrap


def ready_marker() -> rx.Component:
    """Present once the page is live (hydrated, its load done): what a script or a test waits for
    before typing, since the prerendered page is replaced on hydration."""
    return rx.cond(rx.State.is_hydrated, rx.el.span(hidden=True, data_testid="page-ready"))


def connection_notice() -> rx.Component:
    """While the page has lost its connection to the server: a notice in the reader's language that
    it is trying again (in place of Reflex's own toast, which names the socket's URL and its error
    in English). Gone by itself once the connection is back."""
    from reflex_components_core.core.banner import has_connection_errors

    return rx.cond(
        has_connection_errors,
        rx.box(
            rx.callout(t("No connection to the server. Trying again…"),
                       icon="wifi_off", color_scheme="amber", variant="surface", size="1"),
            role="status", position="fixed", bottom="1rem", left="50%", transform="translateX(-50%)",
            z_index="60", max_width="calc(100vw - 2rem)", data_testid="connection-notice",
        ),
        # Both branches given: this cond is memoized (its condition is a hook) and reads its
        # children as a list, so a lone branch would never show.
        rx.fragment(),
    )


def public_frame(*children: rx.Component) -> rx.Component:
    """Pages without sign-in: a centred column with the brand."""
    return rx.center(
        rx.vstack(
            rx.hstack(brand(), rx.spacer(), language_menu(), rx.color_mode.button(
                variant="ghost", aria_label=t("Switch between light and dark mode")), width="100%"),
            *children,
            brand_footer(),
            ready_marker(),
            connection_notice(),
            mailbox(),
            spacing="5", width="100%", max_width="26rem",
        ),
        min_height="100vh", padding="1.5rem", data_portal_frame="public",
    )

"""Small presentational building blocks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import reflex as rx

from portal.i18n import t

STATUS_COLORS = {
    "placed": "gray", "paid": "blue", "packed": "iris", "shipped": "indigo",
    "out_for_delivery": "amber", "delivered": "green", "returned": "orange", "cancelled": "red",
}


def status_badge(status: rx.Var, label: rx.Var) -> rx.Component:
    return rx.badge(
        label,
        color_scheme=rx.match(status, *[(k, v) for k, v in STATUS_COLORS.items()], "gray"),
        variant="soft", radius="full",
    )


def card(title: str | rx.Var, *children: rx.Component, icon: str = "", action: rx.Component | None = None,
         test_id: str = "") -> rx.Component:
    header = rx.hstack(
        rx.cond(icon != "", rx.icon(icon or "circle", size=18, color=rx.color("accent", 10))),
        rx.heading(title, size="4", weight="medium"),
        rx.spacer(),
        action if action is not None else rx.fragment(),
        align="center", width="100%",
    )
    return rx.card(rx.vstack(header, *children, spacing="3", width="100%"), width="100%",
                   data_testid=test_id or None)


def empty_note(text: str | rx.Var) -> rx.Component:
    return rx.text(text, color_scheme="gray", size="2")


def error_callout(message: rx.Var, id: str = "") -> rx.Component:
    """The form's refusal, read out at once (role=alert); `id` lets the refused field point to it
    (aria-describedby)."""
    props = {"id": id} if id else {}
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle_alert", color_scheme="red", role="alert", width="100%", **props),
    )


def notice_callout(message: rx.Var) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon="info", color_scheme="blue", width="100%"),
    )


def download_link(child: rx.Component | str, href: rx.Var | str, test_id: rx.Var | str = "",
                  **props: object) -> rx.Component:
    """Every link to a file served by an api/ route goes through here.

    Reflex renders anchors (rx.el.a, rx.link) as client-side router links, so a plain link to
    /api/... would make the router look for a page of that name ("Page not found"). A document
    navigation with `download` makes the browser itself fetch the file, with the session cookie,
    in this tab: no page change, no empty new tab."""
    from reflex_components_core.react_router.dom import ReactRouterLink

    testid = test_id if isinstance(test_id, rx.Var) or test_id else None
    return ReactRouterLink.create(child, to=href, reload_document=True, download="", data_testid=testid, **props)


def form(*children: rx.Component, secret: bool = False, **props: object) -> rx.Component:
    """rx.form; with `secret` (a password, a code) it posts. Until the page hydrates, the
    prerendered form is plain HTML, and a submit then (a person on a slow line, Enter pressed
    early) would put every field, the password too, into the page's URL, its history and the
    server's access log. After hydration Reflex handles the submit and the browser sends nothing
    itself."""
    if secret:
        props.setdefault("method", "post")
    return rx.form(*children, **props)


def secret_panel(*children: rx.Component, test_id: str = "") -> rx.Component:
    """A panel hidden until `portal.state.shown_once.reveal` fills an element inside it: a secret
    shown once is never a state var (see that module)."""
    return rx.el.div(*children, data_shown_once="1", data_testid=test_id or None, style={"display": "none"},
                     width="100%")


def upload_area(*children: rx.Component, **props: object) -> rx.Component:
    """Around a Reflex upload zone: while a file is on its way, "Uploading…" shows here, and a file
    chosen or dropped meanwhile waits its turn instead of being dropped by Reflex's client, which
    sends one upload per zone at a time (assets/portal-actions.js, portal.css). Its turning icon is
    not Radix's spinner: the tests read a `.rt-Spinner` on the page as "still loading"."""
    return rx.vstack(
        *children,
        rx.el.p(rx.icon("loader_circle", size=14, aria_hidden="true"), t("Uploading… a file you add now is sent next."),
                data_upload_busy="1", role="status", data_testid="upload-busy"),
        data_upload_zone="1", spacing="1", align="start", **props,
    )


def named_select(options: list[str] | rx.Var, label: str | rx.Var, labels: Mapping[str, Any] | None = None,
                 **props: object) -> rx.Component:
    """A select whose trigger carries its name (rx.select's `aria_label` stays on the root, which
    renders nothing). Same props as rx.select: name, value, default_value, on_change, size.
    `labels` maps an option's value to the text shown for it (a `t(...)` Var); the value is sent."""
    trigger = {k: props.pop(k) for k in ("placeholder", "data_testid", "width") if k in props}
    shown = dict(labels or {})

    def _var_item(o: rx.Var) -> rx.Component:
        text = rx.match(o, *shown.items(), o) if shown else o
        return rx.select.item(text, value=o)

    items = (rx.foreach(options, _var_item) if isinstance(options, rx.Var)
             else [rx.select.item(shown.get(o, o), value=o) for o in options])
    return rx.select.root(rx.select.trigger(aria_label=label, **trigger),
                          rx.select.content(*(items if isinstance(items, list) else [items])), **props)


def label_for(text: str | rx.Var, target_id: str | rx.Var, **text_props: object) -> rx.Component:
    """A visible label tied to its control (`<label for>`), so a screen reader names the field and a
    click on the words focuses it. (`rx.text(as_="label", html_for=...)` does not: Reflex turns the
    unknown `html_for` into a style.)"""
    return rx.el.label(rx.text(text, as_="span", **text_props), html_for=target_id)


def client_path() -> rx.Var[str]:
    """The path the browser shows now, without a trailing slash: React Router's location, so it
    changes the moment a link is followed, before the server has heard of the new page."""
    from reflex_base.utils.imports import ImportVar
    from reflex_base.vars.base import VarData

    return rx.Var(
        "(portalLocation.pathname.replace(/\\/+$/, \"\") || \"/\")",
        _var_type=str,
        _var_data=VarData(imports={"react-router": [ImportVar(tag="useLocation")]},
                          hooks={"const portalLocation = useLocation();": None}),
    )  # type: ignore[return-value]


def for_this_page(shown_path: rx.Var, content: rx.Component) -> rx.Component:
    """`content` only while the state behind it holds this page's contents (`shown_path`, set by
    the page's load, equals the browser's path); a spinner meanwhile. A detail page whose
    address changed (another ticket, another article) then never shows the previous one's
    contents under the new address while its load is on its way."""
    return rx.cond(shown_path == client_path(), content,
                   rx.center(rx.spinner(size="3"), width="100%", padding="2rem", data_testid="page-loading"))

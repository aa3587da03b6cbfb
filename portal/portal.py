"""Builds the app: API routes, guard, pages, lifespan tasks."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import reflex as rx

from portal import i18n, logs, memory
from portal.api.app import (
    ClientAddress,
    OriginGuard,
    SecurityHeaders,
    SocketsDirect,
    build_api,
    socket_origin_allowed,
)
from portal.api.brand import FAVICON_PATH
from portal.brand import current_brand, file_version, image_type
from portal.integrations.pdf import FontMissing, check_fonts
from portal.jobs.analytics import analytics_lifespan
from portal.jobs.scheduler import scheduler_lifespan
from portal.live.push import live_lifespan
from portal.pages import (
    account_public,
    admin,
    admin_api,
    admin_brand,
    admin_refunds,
    billing,
    dashboard,
    documents,
    help,
    kb_editor,
    login,
    misc,
    order_detail,
    orders,
    security,
    shipments,
    staff,
    support,
    timeline,
)
from portal.pages import insights as insights_page
from portal.pages import notifications as notifications_page
from portal.pages import offers as offers_page
from portal.pages import privacy as privacy_page
from portal.pages import profile as profile_page
from portal.settings import get_settings
from portal.startup import startup_lifespan, warm_lifespan
from portal.state import errors, tab_states, uploads
from portal.state.arrival import Arrival
from portal.state.guard import AuthGuard
from portal.state.page_loads import fold_page_loads


def _favicon() -> rx.Component:
    """The browser tab's icon: the configured file (PORTAL_FAVICON_FILE), compiled into the pages."""
    path = current_brand().favicon
    return rx.el.link(rel="icon", href=f"{FAVICON_PATH}?v={file_version(path)}", type=image_type(path) or "")


def _catalog_script() -> rx.Component:
    """The browser's message catalogs (portal.i18n), before the app's own scripts run."""
    version = i18n.write_catalog_script(Path(__file__).resolve().parent.parent / "assets")
    return rx.el.script(src=f"/{i18n.SCRIPT_NAME}?v={version}")


def _focus_script() -> rx.Component:
    """Gives a lost keyboard focus back (assets/a11y.js): a closed dialog or panel returns it to
    what opened it."""
    path = Path(__file__).resolve().parent.parent / "assets" / "a11y.js"
    return rx.el.script(src=f"/a11y.js?v={hashlib.sha256(path.read_bytes()).hexdigest()[:16]}")


def _actions_script() -> rx.Component:
    """Carries out what the server asks through the page's mailbox (assets/portal-actions.js,
    portal.components.mailbox): navigations, the sign-out POST, secrets shown once, without eval."""
    path = Path(__file__).resolve().parent.parent / "assets" / "portal-actions.js"
    return rx.el.script(src=f"/portal-actions.js?v={hashlib.sha256(path.read_bytes()).hexdigest()[:16]}")


logs.configure()  # one log configuration; client tokens never reach the logs
try:
    check_fonts()
except FontMissing as missing:  # the portal runs; its PDFs fail with this same message until it is fixed
    logging.getLogger("portal.pdf").error("%s", missing)
# Before the worker pool's threads start (portal/memory.py).
memory.limit_arenas(get_settings().portal_malloc_arenas)

app = rx.App(
    # Reflex's /_upload only behind our own door (portal.state.uploads).
    api_transformer=[build_api(front_routes=uploads.routes), SecurityHeaders, OriginGuard, ClientAddress,
                     logs.RequestContext],
    head_components=[_catalog_script(), _focus_script(), _actions_script(), uploads.send_cookie_with_uploads(),
                     _favicon()],
    stylesheets=["/portal.css"],
    backend_exception_handler=errors.unexpected,
)
# Outermost: the event socket goes straight to Reflex's backend (built by then) past the HTTP-only layers.
app.api_transformer.append(lambda chain: SocketsDirect(chain, sockets=app._api))  # type: ignore[union-attr, arg-type]
tab_states.install(app)  # strangers' tabs: a short expiry, never on disk
# A lost connection is told by each page's own notice, in the reader's language (connection_notice in
# portal/layouts/shell.py), instead of Reflex's English toast naming the socket's URL and its error.
app.app_wraps[(5, "Overlay")] = lambda stateful: None
if app.sio is not None:
    # Reflex hands the socket server a plain copy of cors_allowed_origins; give it the same rule.
    app.sio.eio.cors_allowed_origins = socket_origin_allowed
app.add_middleware(AuthGuard())
app.add_middleware(Arrival())  # after the guard: only for events it let through
app.register_lifespan_task(startup_lifespan)  # first: refuses a database not at the migration head
app.register_lifespan_task(live_lifespan)
app.register_lifespan_task(scheduler_lifespan)
app.register_lifespan_task(analytics_lifespan)
app.register_lifespan_task(warm_lifespan)

for module in (
    login,
    account_public,
    dashboard,
    order_detail,
    orders,
    shipments,
    billing,
    documents,
    security,
    staff,
    support,
    timeline,
    notifications_page,
    profile_page,
    offers_page,
    privacy_page,
    admin,
    insights_page,
    admin_api,
    admin_refunds,
    admin_brand,
    help,
    kb_editor,
    misc,
):
    module.register(app)
# Every page is added: the pages' loads ride the navigation's own event (portal/state/page_loads.py).
fold_page_loads(app)

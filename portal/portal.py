"""Builds the app: API routes, guard, pages, lifespan tasks."""

from __future__ import annotations

import reflex as rx

from portal.api.app import OriginGuard, SecurityHeaders, build_api
from portal.jobs.scheduler import scheduler_lifespan
from portal.live.push import live_lifespan
from portal.pages import (
    account_public,
    admin,
    dashboard,
    help,
    kb_editor,
    login,
    misc,
    order_detail,
    security,
    shipments,
    staff,
    support,
)
from portal.state.guard import AuthGuard

app = rx.App(
    api_transformer=[build_api(), SecurityHeaders, OriginGuard],
)
app.add_middleware(AuthGuard())
app.register_lifespan_task(live_lifespan)
app.register_lifespan_task(scheduler_lifespan)

for module in (
    login,
    account_public,
    dashboard,
    order_detail,
    shipments,
    security,
    staff,
    support,
    admin,
    help,
    kb_editor,
    misc,
):
    module.register(app)

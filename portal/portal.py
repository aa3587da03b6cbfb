"""Builds the app: API routes, guard, pages, lifespan tasks."""

from __future__ import annotations

import reflex as rx

from portal.api.app import OriginGuard, SecurityHeaders, build_api
from portal.jobs.scheduler import scheduler_lifespan
from portal.live.push import live_lifespan
from portal.pages import (
    account_public,
    admin,
    admin_api,
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
)
from portal.pages import insights as insights_page
from portal.pages import notifications as notifications_page
from portal.pages import offers as offers_page
from portal.pages import privacy as privacy_page
from portal.pages import profile as profile_page
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
    orders,
    shipments,
    billing,
    documents,
    security,
    staff,
    support,
    notifications_page,
    profile_page,
    offers_page,
    privacy_page,
    admin,
    insights_page,
    admin_api,
    help,
    kb_editor,
    misc,
):
    module.register(app)

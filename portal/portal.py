"""Builds the app: API routes, guard, pages, lifespan tasks."""

from __future__ import annotations

import reflex as rx

from portal.api.app import SecurityHeaders, build_api
from portal.jobs.scheduler import scheduler_lifespan
from portal.live.push import live_lifespan
from portal.pages import dashboard, help, kb_editor, login, misc, order_detail, staff
from portal.state.guard import AuthGuard

app = rx.App(
    api_transformer=[build_api(), SecurityHeaders],
)
app.add_middleware(AuthGuard())
app.register_lifespan_task(live_lifespan)
app.register_lifespan_task(scheduler_lifespan)

for module in (login, dashboard, order_detail, staff, help, kb_editor, misc):
    module.register(app)

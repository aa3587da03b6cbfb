"""The staff home: what is waiting in the support queue."""

from __future__ import annotations

import reflex as rx

from portal.db import session_scope
from portal.domain import support
from portal.domain.principal import require_principal
from portal.state.guard import Access, access, current_principal


@access(Access.STAFF)
class StaffHomeState(rx.State):
    counts: dict[str, int] = {}
    total_open: int = 0

    @rx.event
    def load(self) -> None:
        principal = require_principal(current_principal())
        with session_scope() as db:
            self.counts = support.queue_summary(db, principal=principal)
        self.total_open = sum(self.counts.values())

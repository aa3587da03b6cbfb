"""insights: recorded page paths follow the routes' renamed argument (/orders/[order_id] -> /orders/[id])

Every detail route now names its argument `id` (the help article `[category]/[id]`): Reflex keeps a
computed value per distinct argument name on every tab and sends them all again on each change of
page, so eight names cost every navigation eight values. The insights report groups page views by
route pattern, so the views recorded before this change are renamed to the patterns recorded after.

Revision ID: a7c3e9d2f6b4
Revises: f3a9c6e2b8d1
Create Date: 2026-12-05 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'a7c3e9d2f6b4'
down_revision: str | None = 'f3a9c6e2b8d1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RENAMED = {
    "/orders/[order_id]": "/orders/[id]",
    "/orders/[order_id]/placed": "/orders/[id]/placed",
    "/shipments/[shipment_id]": "/shipments/[id]",
    "/tickets/[ticket_id]": "/tickets/[id]",
    "/invoices/[invoice_id]": "/invoices/[id]",
    "/billing/invoices/[invoice_id]": "/billing/invoices/[id]",
    "/agent/tickets/[ticket_id]": "/agent/tickets/[id]",
    "/agent/chats/[conversation_id]": "/agent/chats/[id]",
    "/agent/articles/[article_id]": "/agent/articles/[id]",
    "/help/[category]/[article]": "/help/[category]/[id]",
}


def _rename(pairs: dict[str, str]) -> None:
    stmt = sa.text("UPDATE analyticsevent SET path = :new WHERE path = :old")
    for old, new in pairs.items():
        op.execute(stmt.bindparams(old=old, new=new))


def upgrade() -> None:
    _rename(RENAMED)


def downgrade() -> None:
    _rename({new: old for old, new in RENAMED.items()})

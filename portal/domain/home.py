"""The personal dashboard: which widgets a person sees, in which order and size, and the
read-only data each widget shows. The layout follows the person to every device
(UserPreference.dashboard_layout); new people start from the admin-configured default.

Widgets over other areas' data (shipments, documents, articles) read the tables
directly with queries scoped to the principal's customer: this module owns no such data.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from portal.db import utcnow
from portal.domain import audit, events, kb
from portal.domain.errors import Invalid
from portal.domain.events import DomainEvent, Topic
from portal.domain.principal import Principal, require_admin, require_customer, require_principal
from portal.i18n import N_, tr
from portal.models import (
    ArticleStatus,
    Document,
    DocumentStatus,
    KbArticle,
    PortalSetting,
    Shipment,
    TrackingTag,
    UserPreference,
)

# Titles marked for the catalogs; shown with tr()/t() where the dashboard renders them.
WIDGETS: dict[str, str] = {
    "recent_orders": N_("Recent orders"),
    "shipments": N_("Shipments in motion"),
    "open_tickets": N_("Open tickets"),
    "balance": N_("Balance due"),
    "documents": N_("Documents awaiting signature"),
    "notifications": N_("Notifications"),
    "offers": N_("Offers for you"),
    "help": N_("Help suggestions"),
    "timeline": N_("Recent activity"),
}
# Widgets that list items let people choose how many (1..10); the balance is one figure.
LISTS = frozenset(WIDGETS) - {"balance"}
SIZES = ("sm", "md", "lg")
MAX_LIMIT = 10
DEFAULT_SETTING_KEY = "dashboard.default_layout"

FACTORY_DEFAULT: list[dict[str, Any]] = [
    {"kind": "recent_orders", "size": "lg", "options": {"limit": 5}},
    {"kind": "balance", "size": "sm", "options": {}},
    {"kind": "shipments", "size": "md", "options": {"limit": 3}},
    {"kind": "notifications", "size": "md", "options": {"limit": 5}},
    {"kind": "open_tickets", "size": "lg", "options": {"limit": 5}},
    {"kind": "offers", "size": "md", "options": {"limit": 3}},
]

IN_MOTION = (TrackingTag.INFO_RECEIVED, TrackingTag.IN_TRANSIT, TrackingTag.OUT_FOR_DELIVERY,
             TrackingTag.ATTEMPT_FAIL, TrackingTag.AVAILABLE_FOR_PICKUP, TrackingTag.EXCEPTION)


def validate_layout(raw: Any) -> list[dict[str, Any]]:
    """Every field the client sends is checked; unknown kinds, sizes or options are refused."""
    if not isinstance(raw, list) or len(raw) > len(WIDGETS):
        raise Invalid(tr("A dashboard holds at most one of each widget."), field="layout")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in raw:
        if not isinstance(item, dict) or set(item) - {"kind", "size", "options"}:
            raise Invalid(tr("That widget is not valid."), field="layout")
        kind, size, options = item.get("kind"), item.get("size", "md"), item.get("options", {})
        if not isinstance(kind, str) or kind not in WIDGETS:
            raise Invalid(tr("Unknown widget."), field="kind")
        if kind in seen:
            raise Invalid(tr("Each widget can be on the dashboard once."), field="kind")
        if not isinstance(size, str) or size not in SIZES:
            raise Invalid(tr("Choose small, medium or large."), field="size")
        if not isinstance(options, dict) or set(options) - ({"limit"} if kind in LISTS else set()):
            raise Invalid(tr("Unknown widget option."), field="options")
        clean: dict[str, Any] = {}
        if kind in LISTS:
            limit = options.get("limit", 5)
            if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
                raise Invalid(tr("Show between 1 and {max} items.", max=MAX_LIMIT), field="limit")
            clean["limit"] = limit
        seen.add(kind)
        out.append({"kind": kind, "size": size, "options": clean})
    return out


def default_layout(session: Session) -> list[dict[str, Any]]:
    row = session.get(PortalSetting, DEFAULT_SETTING_KEY)
    if row is not None:
        try:
            return validate_layout(row.value.get("layout"))
        except Invalid:
            pass  # a stored default that no longer validates falls back to the factory one
    return [dict(w, options=dict(w["options"])) for w in FACTORY_DEFAULT]


def get_layout(session: Session, *, principal: Principal) -> list[dict[str, Any]]:
    p = require_principal(principal)
    pref = session.get(UserPreference, p.user_id)
    if pref is None or not pref.dashboard_layout:
        return default_layout(session)
    try:
        return validate_layout(pref.dashboard_layout)
    except Invalid:
        return default_layout(session)


def save_layout(session: Session, *, principal: Principal, layout: Any) -> list[dict[str, Any]]:
    require_customer(principal)
    clean = validate_layout(layout)
    pref = session.get(UserPreference, principal.user_id)
    if pref is None:
        pref = UserPreference(user_id=principal.user_id)
    pref.dashboard_layout = clean
    pref.updated_at = utcnow()
    session.add(pref)
    # Every open tab of this person (other devices too) rearranges itself.
    events.emit(session, DomainEvent(topic=Topic.PROFILE, user_ids=(principal.user_id,), data={"layout": True}))
    return clean


def set_default_layout(session: Session, *, principal: Principal, layout: Any) -> list[dict[str, Any]]:
    admin = require_admin(principal)
    clean = validate_layout(layout)
    row = session.get(PortalSetting, DEFAULT_SETTING_KEY) or PortalSetting(key=DEFAULT_SETTING_KEY)
    row.value = {"layout": clean}
    row.updated_by_user_id = admin.user_id
    row.updated_at = utcnow()
    session.add(row)
    audit.record(session, action="dashboard.default_changed", principal=admin, target_type="setting",
                 target_id=DEFAULT_SETTING_KEY, widgets=[w["kind"] for w in clean])
    # Customers still on the default see the new one at once.
    events.emit(session, DomainEvent(topic=Topic.PROFILE, roles=("customer",), data={"layout": True}))
    return clean


# --- widget data (read-only, scoped to the principal's customer) --------------------------------

@dataclasses.dataclass(frozen=True, slots=True)
class ShipmentItem:
    id: int
    order_id: int
    carrier: str
    tracking_number: str
    tag: str
    expected: datetime | None


def shipments_in_motion(session: Session, *, principal: Principal, limit: int = 5) -> list[ShipmentItem]:
    customer_id = require_customer(principal)
    rows = session.exec(
        select(Shipment).where(Shipment.customer_id == customer_id, col(Shipment.tag).in_([str(t) for t in IN_MOTION]))
        .order_by(col(Shipment.updated_at).desc(), col(Shipment.id).desc()).limit(max(1, min(limit, MAX_LIMIT)))
    ).all()
    return [ShipmentItem(id=s.id or 0, order_id=s.order_id, carrier=s.carrier_name or s.carrier,
                         tracking_number=s.tracking_number, tag=s.tag,
                         expected=s.expected_delivery_end or s.expected_delivery_start) for s in rows]


@dataclasses.dataclass(frozen=True, slots=True)
class DocumentItem:
    id: int
    title: str
    created_at: datetime


def documents_awaiting_signature(session: Session, *, principal: Principal, limit: int = 5) -> list[DocumentItem]:
    customer_id = require_customer(principal)
    rows = session.exec(
        select(Document).where(Document.customer_id == customer_id,
                               Document.status == DocumentStatus.AWAITING_SIGNATURE)
        .order_by(col(Document.created_at).desc()).limit(max(1, min(limit, MAX_LIMIT)))
    ).all()
    return [DocumentItem(id=d.id or 0, title=d.title, created_at=d.created_at) for d in rows]


@dataclasses.dataclass(frozen=True, slots=True)
class ArticleItem:
    slug: str
    title: str
    summary: str


def help_suggestions(session: Session, *, principal: Principal, limit: int = 5) -> list[ArticleItem]:
    require_principal(principal)
    rows = session.exec(
        select(KbArticle).where(KbArticle.status == ArticleStatus.PUBLISHED)
        .order_by(col(KbArticle.helpful_yes).desc(), col(KbArticle.id)).limit(max(1, min(limit, MAX_LIMIT)))
    ).all()
    # In the reader's language where the article is translated into it, else the English original.
    translated = kb.translations(session, [a.id for a in rows if a.id is not None], kb.reader_language())
    items: list[ArticleItem] = []
    for a in rows:
        t = translated.get(a.id or 0)
        items.append(ArticleItem(slug=a.slug, title=t.title if t else a.title, summary=t.summary if t else a.summary))
    return items

"""Admin: API keys for the business's systems, and outbound webhook endpoints."""

from __future__ import annotations

import dataclasses

import reflex as rx
from reflex_base.event import EventSpec

from portal.db import session_scope
from portal.domain.api import keys, webhooks
from portal.domain.errors import DomainError
from portal.format import day_time
from portal.i18n import tr
from portal.state.base import FAILED, PortalState
from portal.state.guard import Access, access, request_info_of
from portal.state.messages import message_for_error
from portal.state.shown_once import conceal, reveal

# Where the pages show a new key or signing secret, once (portal.state.shown_once).
NEW_KEY, NEW_KEY_NAME, NEW_WEBHOOK_SECRET = "new-api-key", "new-api-key-name", "new-webhook-secret"


def _valid_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31


@dataclasses.dataclass
class KeyView:
    id: int
    name: str
    prefix: str
    scopes: str
    created: str
    last_used: str
    revoked: bool


@access(Access.ADMIN)
class AdminApiKeysState(PortalState, rx.State):
    loaded: bool = False
    keys: list[KeyView] = []
    # The raw key of a created or rotated key reaches only the page, once (reveal); never state.
    error: str = ""

    def _load(self) -> None:
        with session_scope() as db:
            rows = keys.list_keys(db, principal=self._me())
        self.keys = [KeyView(id=k.id, name=k.name, prefix=k.prefix, scopes=", ".join(k.scopes),
                             created=day_time(k.created_at),  # type: ignore[arg-type]
                             last_used=day_time(k.last_used_at) if k.last_used_at else tr("never"),  # type: ignore[arg-type]
                             revoked=k.revoked) for k in rows]
        self.loaded = True

    @rx.event
    def load(self) -> None:
        self.error = ""
        self._load()

    @rx.event
    def create(self, form_data: dict) -> EventSpec | None:
        name = str(form_data.get("name") or "").strip()[:100]
        scopes = []
        for res in keys.RESOURCES:
            level = str(form_data.get(f"scope_{res}") or "none")
            if level in keys.ACCESS:
                scopes.append(f"{res}:{level}")
        if not name:
            self.error = tr("Give the key a name, e.g. the system that will use it.")
            return None
        if not scopes:
            self.error = tr("Choose read or write for at least one resource.")
            return None
        created = self._call(keys.create_key, name=name, scopes=scopes, request=request_info_of(self))
        if created is FAILED:  # FAILED (the type narrows created)
            return None
        _, raw = created
        self.error = ""
        self._load()
        return reveal({NEW_KEY: raw, NEW_KEY_NAME: name})

    @rx.event
    def rotate(self, key_id: int) -> EventSpec | None:
        if not _valid_id(key_id):
            return None
        try:
            with session_scope() as db:
                new, raw = keys.rotate_key(db, principal=self._me(), key_id=key_id, request=request_info_of(self))
                name = new.name
        except DomainError as err:
            self.error = message_for_error(err)
            return None
        self.error = ""
        self._load()
        return reveal({NEW_KEY: raw, NEW_KEY_NAME: name})

    @rx.event
    def revoke(self, key_id: int) -> EventSpec | None:
        if not _valid_id(key_id):
            return None
        if self._call(keys.revoke_key, key_id=key_id, request=request_info_of(self)) is FAILED:
            return None
        self.error = ""
        self._load()
        return conceal(NEW_KEY, NEW_KEY_NAME)


@dataclasses.dataclass
class EndpointView:
    id: int
    url: str
    description: str
    kinds: str
    active: bool
    pending: int
    failed: int


@dataclasses.dataclass
class DeliveryView:
    id: int
    url: str
    event_id: str
    kind: str
    status: str
    attempts: int
    code: str
    response: str
    next_attempt: str
    created: str


@access(Access.ADMIN)
class AdminWebhooksState(PortalState, rx.State):
    loaded: bool = False
    endpoints: list[EndpointView] = []
    deliveries: list[DeliveryView] = []
    # A new endpoint's signing secret reaches only the page, once (reveal); never state.
    error: str = ""
    notice: str = ""

    def _load(self) -> None:
        p = self._me()
        with session_scope() as db:
            eps = webhooks.list_endpoints(db, principal=p)
            ds = webhooks.list_deliveries(db, principal=p)
        self.endpoints = [EndpointView(id=e.id, url=e.url, description=e.description,
                                       kinds=", ".join(e.kinds) or tr("all kinds"), active=e.active,
                                       pending=e.pending, failed=e.failed) for e in eps]
        self.deliveries = [DeliveryView(id=d.id, url=d.endpoint_url, event_id=d.event_id, kind=d.kind, status=d.status,
                                        attempts=d.attempts, code=str(d.last_status_code or d.last_error[:60] or "—"),
                                        response=d.last_response[:300],
                                        next_attempt=day_time(d.next_attempt_at) if d.next_attempt_at else "",  # type: ignore[arg-type]
                                        created=day_time(d.created_at))  # type: ignore[arg-type]
                           for d in ds]
        self.loaded = True

    @rx.event
    def load(self) -> None:
        self.error = self.notice = ""
        self._load()

    @rx.event
    def create(self, form_data: dict) -> EventSpec | None:
        url = str(form_data.get("url") or "").strip()[:500]
        description = str(form_data.get("description") or "").strip()[:200]
        kinds = [k.strip() for k in str(form_data.get("kinds") or "").split(",") if k.strip()][:20]
        unknown = [k for k in kinds if not webhooks.KIND_PATTERN.fullmatch(k)]
        if unknown:
            self.error = tr("'{kind}' is not an event kind: write kinds like ticket.opened or a family like "
                            "ticket.*, or leave empty for all kinds.", kind=unknown[0][:64])
            return None
        created = self._call(webhooks.create_endpoint, url=url, kinds=kinds, description=description,
                             request=request_info_of(self))
        if created is FAILED:  # FAILED (the type narrows created)
            return None
        _, secret = created
        self.error = self.notice = ""
        self._load()
        return reveal({NEW_WEBHOOK_SECRET: secret})

    @rx.event
    def set_active(self, endpoint_id: int, active: bool) -> None:
        if not _valid_id(endpoint_id) or not isinstance(active, bool):
            return
        if self._call(webhooks.set_endpoint_active, endpoint_id=endpoint_id, active=active,
                      request=request_info_of(self)) is FAILED:
            return
        self._load()

    @rx.event
    def replay(self, delivery_id: int) -> None:
        if not _valid_id(delivery_id):
            return
        if self._call(webhooks.replay, delivery_id=delivery_id, request=request_info_of(self)) is FAILED:
            return
        self.notice = tr("The delivery will be sent again within a minute.")
        self._load()

    @rx.event
    def refresh(self) -> None:
        self._load()

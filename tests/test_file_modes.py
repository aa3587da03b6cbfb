"""Files the portal writes are for its own account only (issue 14: state files, the database and
private files were world-readable). Real operations, then a look at the modes on disk."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from portal.integrations import mail
from portal.models import Document
from portal.settings import get_settings
from tests.factories_api import customer_body, make_api_key
from tests.support.live_api import LiveApi, serve_api


@pytest.fixture(scope="module")
def api(engine: Engine, root_dir: Path) -> Iterator[LiveApi]:
    with serve_api(root_dir) as server:
        yield server


def _others(path: Path) -> int:
    """The permission bits the group and other accounts have."""
    return stat.S_IMODE(path.stat().st_mode) & 0o077


def test_database_private_files_and_mail_are_for_the_portals_account_only(db: Session, api: LiveApi) -> None:
    s = get_settings()
    # Given a document file stored through the integration API by the running server
    _, raw = make_api_key(db, "customers:write", "documents:write")
    with httpx.Client(base_url=f"{api.url}/api/v1", headers={"Authorization": f"Bearer {raw}"}, timeout=20) as c:
        assert c.put("/customers/crm-1", json=customer_body()).status_code in (200, 201)
        assert c.put("/documents/contract-1", json={"customer_external_id": "crm-1", "kind": "contract",
                                                   "status": "awaiting_signature", "title": "Agreement"}
                     ).status_code == 201
        assert c.put("/documents/contract-1/file", content=b"%PDF-1.4\n% signed\n",
                     headers={"content-type": "application/pdf"}).status_code == 200
    doc = db.exec(select(Document).where(Document.external_id == "contract-1")).one()
    stored = s.files_dir / str(doc.storage_key)
    # And a message written to the mail outbox (no SMTP server configured)
    mail.send(mail.Outgoing(to="ana@example.com", subject="Your reset link", body="https://example.test/r/abc"))
    outbox = list((s.portal_data_dir / "mail").glob("*.eml"))
    assert stored.read_bytes().startswith(b"%PDF") and outbox  # the files are really there
    # Then no other account can read or even reach any of it
    paths = [s.portal_data_dir, s.files_dir, stored.parent, stored, s.portal_data_dir / "mail", *outbox]
    if s.is_sqlite:
        paths.append(s.portal_data_dir / "portal.db")
    assert {str(p): oct(_others(p)) for p in paths if _others(p)} == {}

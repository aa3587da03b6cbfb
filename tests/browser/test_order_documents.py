"""Documents attached to an order download from its page, for its owner only."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from portal.models import Document
from portal.seed.demo import DEMO_PASSWORD
from tests.browser.test_login_flow import sign_in

pytestmark = pytest.mark.browser


def test_order_document_downloads_from_the_order_page(page: Any, demo: Any, db: Session, backend_url: str) -> None:
    doc = db.exec(select(Document).where(Document.order_id.is_not(None), Document.filename != "")).first()  # type: ignore[union-attr]
    assert doc is not None
    sign_in(page, "daniel@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto(f"/orders/{doc.order_id}")
    link = page.get_by_test_id("order-document")
    link.wait_for()
    with page.expect_download(timeout=60_000) as download:
        link.click()
    path = download.value.path()
    assert Path(path).read_bytes()[:5] == b"%PDF-"
    # Without Daniel's session the same address gives nothing.
    assert httpx.get(f"{backend_url}/api/files/documents/{doc.id}").status_code in (401, 404)

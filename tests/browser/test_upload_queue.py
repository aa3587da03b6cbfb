"""A file chosen (or dropped) while another is still uploading is sent after it, not lost.

Reflex's client sends one upload per zone at a time and silently drops a choice made meanwhile
("Upload already in progress" in the console, nothing on the page). A customer on a slow line who
attaches a log and then a photo would see only the log arrive. The page now says "Uploading…"
while a file is on its way and holds a new choice until the zone is free
(assets/portal-actions.js, `portal.components.common.upload_area`).

The first upload is held in the browser's network layer (a Playwright route, released by the test)
so "still uploading" lasts as long as the test needs, on any machine."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, col, select

from portal.models import Attachment
from portal.seed.demo import DEMO_PASSWORD
from tests.browser.test_login_flow import sign_in
from tests.factories_support import png_bytes

pytestmark = pytest.mark.browser

ZONE_INPUT = "#ticket_files input[type=file]"

DROP_A_FILE = """([name, text]) => {
  const files = new DataTransfer();
  files.items.add(new File([text], name, {type: "text/plain"}));
  const zone = document.getElementById("ticket_files");
  for (const kind of ["dragenter", "dragover", "drop"]) {
    zone.dispatchEvent(new DragEvent(kind, {bubbles: true, cancelable: true, dataTransfer: files}));
  }
}"""


def test_files_added_while_one_is_uploading_follow_it(page: Any, demo: Any, db: Session, tmp_path: Path) -> None:
    uploads: list[str] = []  # upload requests, as they reached the network (a file's body is not shown)
    held: list[Any] = []

    def hold_the_first(route: Any) -> None:
        uploads.append(route.request.method)
        if len(uploads) == 1:
            held.append(route)  # "still on its way" until the test lets it go
        else:
            route.continue_()

    # Given Alice on "Get help", on a line where her first attachment takes a while
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto("/support/new")
    page.get_by_test_id("page-ready").wait_for(state="attached")
    page.fill("#ticket-subject", "Sync fails at checkout")
    page.fill("#ticket-body", "The app stops at the payment step; the log and a screenshot are attached.")
    busy = page.get_by_test_id("upload-busy")
    expect(busy).to_be_hidden()  # nothing on its way yet
    page.route(re.compile(r"/_upload/?$"), hold_the_first)
    log = tmp_path / "server.log"
    log.write_text("checkout: payment step timed out\n" * 20_000)  # about 680 KB
    photo = tmp_path / "zip.png"
    photo.write_bytes(png_bytes(4, 4))

    # When she attaches the log, the page says it is uploading
    page.set_input_files(ZONE_INPUT, str(log))
    expect(busy).to_be_visible()
    expect(busy).to_contain_text("Uploading")
    assert uploads == ["POST"]
    # ... and while it is on its way she adds a photo, and drops a text file on the same button
    page.set_input_files(ZONE_INPUT, str(photo))
    page.evaluate(DROP_A_FILE, ["notes.txt", "order FH-1001, card ending 4242"])
    expect(busy).to_be_visible()
    assert uploads == ["POST"]  # nothing else is sent while the zone is busy
    held[0].continue_()

    # Then all three arrive, one after the other, each once, and "Uploading…" goes away
    staged = page.get_by_test_id("staged-file")
    expect(staged).to_have_count(3)
    expect(staged.nth(0)).to_contain_text("server.log")
    expect(staged.nth(1)).to_contain_text("zip.png")
    expect(staged.nth(2)).to_contain_text("notes.txt")
    expect(busy).to_be_hidden()
    assert uploads == ["POST"] * 3  # one request each (the order is the staged list's above)

    # And the ticket she sends carries all three
    page.get_by_test_id("submit-ticket").click()
    page.wait_for_url(re.compile(r"/tickets/\d+"))
    ticket_id = int(page.url.rstrip("/").rsplit("/", 1)[-1])
    expect(page.get_by_test_id("attachment-link")).to_have_count(3)
    db.expire_all()
    names = db.exec(select(Attachment.filename).where(Attachment.ticket_id == ticket_id)
                    .order_by(col(Attachment.id))).all()
    assert names == ["server.log", "zip.png", "notes.txt"]

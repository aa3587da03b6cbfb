"""The AfterShip adapter against the simulator, in-process over ASGI (no network)."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from portal.integrations import aftership
from portal.integrations.aftership import AfterShipClient
from tests.factories_tracking import SIM_BASE, client_for, make_simulator
from tests.support.aio import run_async


def test_create_get_and_list_trackings_come_back_typed() -> None:
    sim = make_simulator()

    async def scenario() -> tuple[aftership.Tracking, aftership.Tracking, list[aftership.TrackingPage]]:
        async with client_for(sim) as c:
            created = await c.create_tracking(tracking_number="JD014600003828", slug="dhl", title="FH-1")
            for n in range(4):
                await c.create_tracking(tracking_number=f"OTHER{n}", slug="ups")
            await sim.advance(6 * 3600)  # the standard timeline: picked up and at the hub by now
            got = await c.get_tracking(created.id)
            pages = [await c.list_trackings(limit=2)]
            while pages[-1].has_next_page:
                pages.append(await c.list_trackings(limit=2, cursor=pages[-1].next_cursor))
            return created, got, pages

    created, got, pages = run_async(scenario())
    # Given a new tracking, the carrier has its information at once
    assert created.tag == "InfoReceived" and created.subtag == "InfoReceived_001"
    assert len(created.checkpoints) == 1 and created.checkpoints[0].location == "Venlo, NL"
    # When time passes, the same tracking has moved on, with typed checkpoints and an estimate
    assert got.id == created.id and got.tag == "InTransit" and got.subtag == "InTransit_002"
    assert [c.subtag for c in got.checkpoints] == ["InfoReceived_001", "InTransit_002"]
    assert got.updated_at is not None and got.checkpoints[-1].checkpoint_time == got.updated_at
    assert got.expected is not None and got.expected.start is not None and got.expected.end is not None
    assert got.first_expected == got.expected
    # And the list pages through all five with a cursor
    assert [len(p.trackings) for p in pages] == [2, 2, 1] and pages[0].total == 5
    assert not pages[-1].has_next_page


def test_filters_and_conflicts() -> None:
    sim = make_simulator()

    async def scenario() -> tuple[aftership.TrackingPage, Exception]:
        async with client_for(sim) as c:
            await c.create_tracking(tracking_number="A1", slug="dhl")
            await c.create_tracking(tracking_number="B2", slug="ups")
            page = await c.list_trackings(tracking_numbers=["B2"], slug="ups")
            try:
                await c.create_tracking(tracking_number="A1", slug="dhl")
            except aftership.AfterShipError as exc:
                return page, exc
            raise AssertionError("a duplicate create must fail")

    page, err = run_async(scenario())
    assert [t.tracking_number for t in page.trackings] == ["B2"]
    assert isinstance(err, aftership.TrackingExists)


def test_a_wrong_api_key_is_refused() -> None:
    sim = make_simulator()

    async def scenario() -> None:
        async with client_for(sim, api_key="wrong") as c:
            await c.list_trackings()

    with pytest.raises(aftership.Unauthorized):
        run_async(scenario())


def test_rate_limit_answers_become_a_typed_retryable_error_with_the_wait() -> None:
    sim = make_simulator(rate_limits={"GET /trackings": 0})

    async def scenario() -> None:
        async with client_for(sim, max_wait=0) as c:
            await c.list_trackings()

    with pytest.raises(aftership.RateLimited) as info:
        run_async(scenario())
    assert info.value.status == 429 and info.value.retry_after == 1.0


def test_the_client_waits_out_a_short_rate_limit_on_its_own() -> None:
    sim = make_simulator()
    sim.rate_limits["GET /trackings"] = 1

    async def scenario() -> int:
        async with client_for(sim, max_wait=2.0) as c:
            for _ in range(3):
                await c.list_trackings()
            return sim.requests

    # Three calls at one per second all succeed; some may have waited or earned a 429 first.
    assert run_async(scenario()) >= 3


def test_server_errors_and_timeouts_are_retryable() -> None:
    sim = make_simulator()
    sim.fail_next(1, status=503)

    async def five_hundred() -> None:
        async with client_for(sim) as c:
            await c.list_trackings()

    with pytest.raises(aftership.ServerError) as info:
        run_async(five_hundred())
    assert isinstance(info.value, aftership.Retryable) and info.value.status == 503

    def stalls(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("carrier did not answer", request=request)

    async def timeout() -> None:
        async with AfterShipClient(base_url=SIM_BASE, api_key="k", timeout=0.5,
                                   transport=httpx.MockTransport(stalls)) as c:
            await c.get_tracking("abc")

    with pytest.raises(aftership.CarrierTimeout):
        run_async(timeout())


def test_webhooks_are_signed_over_the_raw_body_and_parse_to_a_tracking() -> None:
    sim = make_simulator(webhook_url="")
    t = sim.add_tracking(slug="dhl", tracking_number="SIG1", scenario="delay")
    run_async(sim.advance(16 * 3600))
    assert len(sim.deliveries) == 4  # info, picked up, hub, delay
    body = {"event_id": "e1", "event": "tracking_update", "msg": sim.snapshot(t), "ts": 1}
    raw = json.dumps(body).encode()
    sig = aftership.sign(raw, "secret")
    assert aftership.verify_signature(raw, sig, "secret")
    assert not aftership.verify_signature(raw + b" ", sig, "secret")
    assert not aftership.verify_signature(raw, sig, "other secret")
    assert not aftership.verify_signature(raw, None, "secret")
    event = aftership.parse_webhook(raw)
    # The delay moved the carrier's estimate two days on; the first estimate stays as it was
    assert event.tracking.subtag == "InTransit_001"
    assert event.tracking.expected is not None and event.tracking.first_expected is not None
    assert event.tracking.expected.end is not None and event.tracking.first_expected.end is not None
    assert event.tracking.expected.end - event.tracking.first_expected.end == timedelta(hours=48)
    assert event.tracking.expected.revise_reason == "Carrier delay"
    for bad in (b"not json", b"[]", b'{"msg": {}}', json.dumps({"event_id": "x", "msg": {"slug": "dhl"}}).encode()):
        with pytest.raises(aftership.MalformedPayload):
            aftership.parse_webhook(bad)


@pytest.mark.parametrize("scenario,final", [("standard", "Delivered_001"), ("failed_attempt", "Delivered_001"),
                                            ("exception", "Exception_011"), ("pickup", "Delivered_002")])
def test_every_scenario_runs_to_its_end(scenario: str, final: str) -> None:
    sim = make_simulator()
    t = sim.add_tracking(slug="dhl", tracking_number=f"S-{scenario}", scenario=scenario)
    run_async(sim.advance(30 * 86400))
    assert t.subtag == final and t.next_due is None
    tags = [c["tag"] for c in t.checkpoints]
    assert tags[0] == "InfoReceived" and all(tag in aftership.TAGS for tag in tags)

"""The assistant changes orders: it asks for what is missing, says what it will do, waits for a
yes, then does it through the order page's own domain functions (same policy, same trail),
recorded as the assistant acting for the customer. It never touches anyone else's data."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from portal.domain import assistant, orders
from portal.models import (
    AuditEvent,
    Notification,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    OutboundEvent,
    Return,
    ReturnLine,
    Ticket,
)
from tests.domain.test_assistant import chat, talk, tool_call  # noqa: F401  (the fake endpoint fixture)
from tests.factories import make_customer, principal_for
from tests.factories_kb import clear_search_index
from tests.factories_orders import make_address, make_product, make_variant_order


@pytest.fixture(autouse=True)
def _empty_index(db: Session) -> None:
    clear_search_index(db)


@pytest.fixture
def alice(db: Session) -> Any:
    user, customer = make_customer(db, name="Alice")
    return principal_for(user), customer


def _order(db: Session, order: Order) -> Order:
    db.expire_all()
    fresh = db.get(Order, order.id)
    assert fresh is not None
    return fresh


def _by_assistant(db: Session, action: str, order: Order) -> AuditEvent:
    ev = db.exec(select(AuditEvent).where(AuditEvent.action == action,
                                          AuditEvent.target_id == str(order.id))).one()
    assert ev.actor_kind == "assistant" and ev.outcome == "ok"
    return ev


def test_cancel_asks_why_shows_what_it_will_do_and_waits_for_yes(db: Session, alice: Any) -> None:
    pa, ca = alice
    order = make_variant_order(db, ca, [(make_product(db, price_cents=4500)[0], 2)])
    convo = assistant.Conversation()
    # When Alice asks to cancel it, the assistant asks why, offering the order page's reasons
    r = talk(db, pa, convo, f"please cancel {order.number}")
    assert "Why do you want to cancel" in r.text and "I ordered it by mistake" in r.choices
    # When she answers in her own words, it says exactly what it will do, and waits
    r = talk(db, pa, convo, "I found it cheaper elsewhere")
    assert r.confirm and "Reason: “I found a better price”" in r.text
    talk(db, pa, convo, "no")
    talk(db, pa, convo, f"please cancel {order.number}")
    r = talk(db, pa, convo, "no longer need it")
    assert r.confirm and "Reason: “I no longer need it”" in r.text
    talk(db, pa, convo, "no")
    talk(db, pa, convo, f"please cancel {order.number}")
    r = talk(db, pa, convo, "by mistake")
    assert r.confirm and r.choices == ["Yes", "No"]
    assert f"cancel order {order.number}" in r.text and "2 items" in r.text and "€90.00" in r.text
    assert "refunded" in r.text  # it was paid
    assert _order(db, order).status == OrderStatus.PAID
    # When she says yes, the order is cancelled through the domain, and it says so plainly
    r = talk(db, pa, convo, "yes please")
    assert r.text.startswith(f"Done: order {order.number} is cancelled")
    assert r.links[0].href == f"/orders/{order.id}"
    assert _order(db, order).status == OrderStatus.CANCELLED
    # The same trail as the order page, marked as the assistant acting for her
    ev = _by_assistant(db, "order.cancel", order)
    assert ev.actor_user_id == pa.user_id and ev.customer_id == ca.id and ev.data["reason"] == "ordered_by_mistake"
    event = db.exec(select(OrderEvent).where(OrderEvent.order_id == order.id, OrderEvent.kind == "cancelled")).one()
    assert event.actor_kind == "assistant"
    assert db.exec(select(OutboundEvent).where(OutboundEvent.kind == "order.cancel_requested")).one()
    assert db.exec(select(Notification).where(Notification.user_id == pa.user_id,
                                              Notification.link == f"/orders/{order.id}")).first()
    assert convo.task is None


def test_saying_no_changes_nothing(db: Session, alice: Any) -> None:
    pa, ca = alice
    order = make_variant_order(db, ca, [(make_product(db)[0], 1)])
    convo = assistant.Conversation()
    talk(db, pa, convo, f"cancel {order.number} because I no longer need it")  # the reason said up front
    assert convo.task is not None and convo.task.asking == "confirm"
    r = talk(db, pa, convo, "no")
    assert "haven't changed anything" in r.text and convo.task is None
    assert _order(db, order).status == OrderStatus.PAID
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "order.cancel")).all() == []


def test_a_change_the_policy_does_not_allow_is_refused_with_the_reason(db: Session, alice: Any) -> None:
    pa, ca = alice
    order = make_variant_order(db, ca, [(make_product(db)[0], 1)], status=OrderStatus.SHIPPED, carrier="dhl")
    convo = assistant.Conversation()
    r = talk(db, pa, convo, f"cancel {order.number}")
    assert "can no longer be cancelled: it has already been handed to the carrier" in r.text
    assert convo.task is None and "Shall I pass this conversation to a person?" in r.text
    assert r.confirm and r.choices == ["Yes", "No"]
    # Recorded as refused, so an agent taking over later sees what she tried
    ev = db.exec(select(AuditEvent).where(AuditEvent.action == "assistant.cancel_order")).one()
    assert (ev.outcome, ev.actor_kind, ev.data["reason"]) == ("refused", "assistant", "already_dispatched")
    assert _order(db, order).status == OrderStatus.SHIPPED
    # When she says yes, a person gets the conversation (a ticket: no agent is online)
    r = talk(db, pa, convo, "yes please")
    assert "created ticket" in r.text
    ticket = db.exec(select(Ticket)).one()
    assert ticket.customer_id == ca.id and ticket.context_type == "order" and ticket.context_id == order.id


def test_if_the_order_moves_on_before_yes_nothing_is_changed(db: Session, alice: Any) -> None:
    pa, ca = alice
    order = make_variant_order(db, ca, [(make_product(db)[0], 1)])
    convo = assistant.Conversation()
    r = talk(db, pa, convo, f"cancel {order.number}, I found a better price")
    assert r.confirm
    # Meanwhile the warehouse hands it to the carrier
    fresh = _order(db, order)
    fresh.status = OrderStatus.SHIPPED
    db.add(fresh)
    db.commit()
    r = talk(db, pa, convo, "yes")
    assert "couldn't do that after all" in r.text and "Nothing was changed" in r.text
    assert r.confirm and "to a person?" in r.text
    # "thanks" instead of an answer is taken as a no, politely
    r = talk(db, pa, convo, "thanks")
    assert r.text == "You're welcome." and convo.pending_action == ""
    assert _order(db, order).status == OrderStatus.SHIPPED
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "order.cancel")).all() == []


def test_change_the_delivery_address_to_a_saved_one(db: Session, alice: Any) -> None:
    pa, ca = alice
    home = make_address(db, ca, city="Utrecht")
    work = make_address(db, ca, city="Rotterdam", default=False)
    order = make_variant_order(db, ca, [(make_product(db)[0], 1)], address=home)
    convo = assistant.Conversation()
    r = talk(db, pa, convo, f"I need to change the delivery address for {order.number}")
    # It offers her other saved addresses, not the one the order already goes to
    assert "Utrecht" in r.text and len(r.choices) == 1 and "Rotterdam" in r.choices[0]
    r = talk(db, pa, convo, "rotterdam")
    assert r.confirm and "from Home: Oudegracht 1, 3511 AA, Utrecht, NL" in r.text and "Rotterdam" in r.text
    r = talk(db, pa, convo, "ok")
    assert "Done" in r.text and "Rotterdam" in r.text
    assert _order(db, order).shipping_address["city"] == "Rotterdam"
    _by_assistant(db, "order.address_change", order)
    assert work.id is not None


def test_answers_are_matched_only_against_what_was_offered(db: Session, alice: Any) -> None:
    # Given Bob's saved address, and Alice preparing an address change
    pa, ca = alice
    _, cb = make_customer(db, name="Bob")
    bobs = make_address(db, cb, city="Eindhoven")
    make_address(db, ca, city="Rotterdam", default=False)
    order = make_variant_order(db, ca, [(make_product(db)[0], 1)], address=make_address(db, ca, city="Utrecht"))
    convo = assistant.Conversation()
    talk(db, pa, convo, f"change the address of {order.number}")
    # When she types Bob's town, nothing of his is chosen: she is asked again, with her own addresses
    r = talk(db, pa, convo, "Eindhoven")
    assert not r.confirm and "Please choose" in r.text and "Eindhoven" not in " ".join(r.choices)
    # Nor is his address's id: after two answers it cannot place, it offers a person instead of guessing
    r = talk(db, pa, convo, str(bobs.id))
    assert r.confirm and "person" in r.text and convo.task is None
    assert _order(db, order).shipping_address["city"] == "Utrecht"


def test_with_no_other_saved_address_it_points_to_the_order_page(db: Session, alice: Any) -> None:
    pa, ca = alice
    order = make_variant_order(db, ca, [(make_product(db)[0], 1)], address=make_address(db, ca))
    r = talk(db, pa, assistant.Conversation(), f"wrong address on {order.number}")
    assert "no other saved address" in r.text and r.links[0].href == f"/orders/{order.id}"


def test_schedule_a_delivery_window_said_in_one_sentence(db: Session, alice: Any) -> None:
    pa, ca = alice
    order = make_variant_order(db, ca, [(make_product(db)[0], 1)])  # to Germany: DHL offers windows
    offers = orders.order_detail(db, principal=pa, order_id=order.id).window_offers
    second_day = next(o for o in offers if o.key.split("/")[0] != offers[0].key.split("/")[0])
    weekday = second_day.start.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Amsterdam")).strftime("%A")
    evening = next(o for o in offers if o.key == f"{second_day.key.split('/')[0]}/evening")
    convo = assistant.Conversation()
    r = talk(db, pa, convo, f"can you schedule delivery of {order.number} on {weekday} evening?")
    assert r.confirm and evening.label in r.text
    talk(db, pa, convo, "yes")
    fresh = _order(db, order)
    assert (fresh.delivery_window_start, fresh.delivery_window_end) == (evening.start, evening.end)
    _by_assistant(db, "order.delivery_window", order)


def test_schedule_a_delivery_window_step_by_step(db: Session, alice: Any) -> None:
    pa, ca = alice
    order = make_variant_order(db, ca, [(make_product(db)[0], 1)])
    offers = orders.order_detail(db, principal=pa, order_id=order.id).window_offers
    convo = assistant.Conversation()
    r = talk(db, pa, convo, f"schedule the delivery of {order.number}")
    assert "Which day" in r.text and len(r.choices) == 5
    r = talk(db, pa, convo, r.choices[0])
    assert "time of day" in r.text and r.choices == ["Morning, 08:00–12:00", "Afternoon, 12:00–17:00",
                                                     "Evening, 18:00–21:00"]
    r = talk(db, pa, convo, "Afternoon, 12:00–17:00")
    assert r.confirm
    talk(db, pa, convo, "go ahead")
    assert _order(db, order).delivery_window_start == offers[1].start


def test_start_a_return_with_quantity_reason_note_and_store_credit(db: Session, alice: Any) -> None:
    pa, ca = alice
    variants = make_product(db, price_cents=5000)
    order = make_variant_order(db, ca, [(variants[0], 2), (variants[1], 1)], status=OrderStatus.DELIVERED,
                               delivered_days_ago=3)
    lines = list(db.exec(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)))
    convo = assistant.Conversation()
    r = talk(db, pa, convo, f"I want to return something from {order.number}")
    assert "What do you want to return" in r.choices[0] or "What do you want to return" in r.text
    assert r.choices == ["Trail jacket (S)", "Trail jacket (M)", "Everything I can return"]
    r = talk(db, pa, convo, "Trail jacket (S)")
    assert "How many" in r.text and r.choices == ["1", "2"]
    r = talk(db, pa, convo, "1")
    assert "reason" in r.text and "Arrived damaged" in r.choices
    r = talk(db, pa, convo, "Another reason")
    assert "Tell me briefly why" in r.text
    r = talk(db, pa, convo, "The colour is not what the photo showed")
    assert r.choices == ["Refund to my original payment: €50.00", "Store credit: €55.00 (includes a €5.00 bonus)"]
    r = talk(db, pa, convo, "store credit please")
    assert r.confirm and "1 × Trail jacket (S)" in r.text and "€55.00" in r.text and "store credit" in r.text
    assert db.exec(select(Return)).all() == []
    r = talk(db, pa, convo, "yes")
    ret = db.exec(select(Return)).one()
    assert ret.number in r.text and ret.refund_cents == 5500 and ret.refund_method == "store_credit"
    assert ret.reason == "The colour is not what the photo showed"
    (rl,) = db.exec(select(ReturnLine).where(ReturnLine.return_id == ret.id)).all()
    assert (rl.order_line_id, rl.quantity) == (lines[0].id, 1)
    assert r.links[0].href == f"/api/returns/{ret.id}/label.pdf"
    _by_assistant(db, "return.request", order)


def test_what_was_said_before_which_order_fills_in_later_questions(db: Session, alice: Any) -> None:
    pa, ca = alice
    order = make_variant_order(db, ca, [(make_product(db, price_cents=8000)[0], 1)], status=OrderStatus.DELIVERED,
                               delivered_days_ago=2)
    make_variant_order(db, ca, [(make_product(db)[0], 1)])
    convo = assistant.Conversation()
    r = talk(db, pa, convo, "this jacket is too small, I want my money back")
    # The order that can be returned is offered first
    assert "Which order" in r.text and r.choices[0] == f"{order.number} · Trail jacket (delivered)"
    # One item, one piece, and the reason already said: only the refund is left to ask
    r = talk(db, pa, convo, r.choices[0])
    assert "money back" in r.text and len(r.choices) == 2
    r = talk(db, pa, convo, "to my card")
    assert r.confirm and "Reason: “Too small”" in r.text and "€80.00 back to your original payment method" in r.text


def test_the_order_on_the_page_is_offered_first(db: Session, alice: Any) -> None:
    pa, ca = alice
    shipped = make_variant_order(db, ca, [(make_product(db)[0], 1)], status=OrderStatus.SHIPPED, carrier="dhl")
    for _ in range(4):
        make_variant_order(db, ca, [(make_product(db)[0], 1)])
    _, cb = make_customer(db, name="Bob")
    bobs = make_variant_order(db, cb, [(make_product(db)[0], 1)])
    # On the page of her shipped order, that order comes first even though it can't be cancelled any more
    r = talk(db, pa, assistant.Conversation(page=f"/orders/{shipped.id}"), "cancel my order")
    assert r.choices[0].startswith(shipped.number) and len(r.choices) == 4
    # Someone else's order page in the conversation changes nothing
    r = talk(db, pa, assistant.Conversation(page=f"/orders/{bobs.id}"), "cancel my order")
    assert all(bobs.number not in c for c in r.choices) and not r.choices[0].startswith(shipped.number)


def test_an_order_can_be_named_by_what_is_in_it(db: Session, alice: Any) -> None:
    pa, ca = alice
    _, cb = make_customer(db, name="Bob")
    tent = make_variant_order(db, ca, [(make_product(db, name="Summit dome tent")[0], 1)])
    layer = make_variant_order(db, ca, [(make_product(db, name="Cairn merino base layer")[0], 1)])
    make_variant_order(db, cb, [(make_product(db, name="Ridge wool hat")[0], 1)])
    # "the base layer" is in one of her orders: that is the one
    convo = assistant.Conversation()
    r = talk(db, pa, convo, "I no longer need the base layer I ordered, please cancel it")
    assert convo.task is not None and convo.task.order_id == layer.id and r.confirm
    assert f"cancel order {layer.number}" in r.text
    # Or as the answer to "which order?"
    convo = assistant.Conversation()
    r = talk(db, pa, convo, "where is my order")
    r = talk(db, pa, convo, "the tent")
    assert f"Order {tent.number} is" in r.text
    # Bob's hat is not among hers, whatever she calls it
    convo = assistant.Conversation()
    r = talk(db, pa, convo, "cancel the wool hat")
    assert "Which order" in r.text and all("hat" not in c.lower() for c in r.choices)


def test_typing_something_else_mid_way_drops_the_change(db: Session, alice: Any) -> None:
    pa, ca = alice
    order = make_variant_order(db, ca, [(make_product(db)[0], 1)], status=OrderStatus.PAID)
    convo = assistant.Conversation()
    talk(db, pa, convo, f"cancel {order.number}")
    r = talk(db, pa, convo, f"actually, where is {order.number}?")
    assert f"Order {order.number} is" in r.text and convo.task is None
    r = talk(db, pa, convo, "yes")  # a stray yes confirms nothing
    assert _order(db, order).status == OrderStatus.PAID and not r.text.startswith("Done")


def test_another_customers_order_cannot_be_changed(db: Session, alice: Any) -> None:
    pa, _ = alice
    _, cb = make_customer(db, name="Bob")
    bobs = make_variant_order(db, cb, [(make_product(db)[0], 1)])
    convo = assistant.Conversation()
    for text in (f"cancel {bobs.number}", f"schedule delivery of {bobs.number} tomorrow morning",
                 f"return {bobs.number}", f"change the address of {bobs.number}"):
        r = talk(db, pa, convo, text)
        assert "couldn't find" in r.text and convo.task is None
        convo = assistant.Conversation()
    assert _order(db, bobs).status == OrderStatus.PAID and _order(db, bobs).delivery_window_start is None
    assert db.exec(select(AuditEvent).where(AuditEvent.target_id == str(bobs.id))).all() == []


def test_an_endpoints_change_request_runs_the_portals_own_questions(db: Session, alice: Any,
                                                                   chat: Any) -> None:  # noqa: F811
    pa, ca = alice
    order = make_variant_order(db, ca, [(make_product(db)[0], 1)])
    server, client = chat([tool_call("request_order_change", order_number=order.number, change="cancel_order")])
    convo = assistant.Conversation()
    r = talk(db, pa, convo, "I don't need my jacket order", llm=client)
    assert "Why do you want to cancel" in r.text
    # Her answers go to the portal's own questions, not back to the model, and nothing happens before yes
    r = talk(db, pa, convo, "I no longer need it", llm=client)
    assert r.confirm and _order(db, order).status == OrderStatus.PAID
    talk(db, pa, convo, "yes", llm=client)
    assert _order(db, order).status == OrderStatus.CANCELLED and len(server.requests) == 1
    _by_assistant(db, "order.cancel", order)
    assert db.exec(select(Ticket)).all() == []
    client.close()

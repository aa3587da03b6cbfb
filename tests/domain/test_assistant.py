"""The assistant: recognises intents, asks for what is missing, confirms before changing anything,
hands over with the whole conversation, is audited as the assistant, and never reaches another
customer's data; also through an OpenAI-compatible endpoint (a fake server on loopback)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from sqlmodel import Session, col, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from portal.domain import assistant, support_chat
from portal.integrations import embeddings as emb
from portal.integrations.llm import ChatClient
from portal.models import AuditEvent, Conversation, ConversationMessage, SearchQuery, Ticket, TicketMessage
from tests.factories import make_customer, make_invoice, make_order, make_staff, principal_for
from tests.factories_kb import clear_search_index, make_article, make_category, make_shipment


@pytest.fixture(autouse=True)
def _empty_index(db: Session) -> None:
    clear_search_index(db)


def talk(db: Session, who: Any, convo: assistant.Conversation, text: str, **kw: Any) -> assistant.Reply:
    reply = assistant.respond(db, principal=who, convo=convo, text=text, embedder=False, **kw)
    db.commit()
    return reply


def test_where_is_my_order_asks_which_then_answers_and_is_audited_as_the_assistant(db: Session) -> None:
    # Given Alice with two orders, one shipped
    ua, ca = make_customer(db, name="Alice")
    o1 = make_order(db, ca, days_ago=3)
    o2 = make_order(db, ca, days_ago=1)
    make_shipment(db, o2, tag="InTransit", message="Arrived at the hub")
    alice, convo = principal_for(ua), assistant.Conversation()
    # When she asks where her order is
    r = talk(db, alice, convo, "where is my order?")
    # Then the assistant asks which one, offering her own orders
    assert "Which order" in r.text and {c.split(" ")[0] for c in r.choices} == {o1.number, o2.number}
    assert f"{o2.number} · Trail jacket (paid)" in r.choices
    # When she picks one
    r = talk(db, alice, convo, o2.number)
    # Then it says plainly where it is, with a link to the order
    assert o2.number in r.text and "DHL" in r.text and "in transit" in r.text
    assert r.links[0].href == f"/orders/{o2.id}"
    # And the lookup is audited as done by the assistant for Alice
    ev = db.exec(select(AuditEvent).where(AuditEvent.action == "assistant.order_status")).one()
    assert (ev.actor_kind, ev.actor_user_id, ev.customer_id) == ("assistant", ua.id, ca.id)


def test_tracking_and_invoice_with_the_order_named_in_the_question(db: Session) -> None:
    ua, ca = make_customer(db)
    order = make_order(db, ca)
    make_shipment(db, order, tag="OutForDelivery", message="With the driver")
    inv = make_invoice(db, ca, order_id=order.id)
    alice = principal_for(ua)
    r = talk(db, alice, assistant.Conversation(), f"track my parcel for {order.number.lower()}")
    assert "With the driver" in r.text
    r = talk(db, alice, assistant.Conversation(), f"can I have the invoice for {order.number}")
    assert inv.number in r.text
    assert [link.href for link in r.links] == [f"/billing/invoices/{inv.id}", f"/api/files/invoices/{inv.id}.pdf"]


def test_another_customers_order_number_gets_nothing(db: Session) -> None:
    # Given Bob's order, and Alice who types its number
    ua, ca = make_customer(db, name="Alice")
    _, cb = make_customer(db, name="Bob")
    bobs = make_order(db, cb)
    make_shipment(db, bobs, message="Bob's secret depot")
    make_invoice(db, cb, order_id=bobs.id)
    mine = make_order(db, ca)
    alice, convo = principal_for(ua), assistant.Conversation()
    for text in (f"where is {bobs.number}", f"track {bobs.number}", f"invoice for {bobs.number}",
                 f"cancel {bobs.number}"):
        r = talk(db, alice, convo, text)
        # Then it answers exactly as for a number that does not exist, and offers only her own orders
        assert "couldn't find" in r.text
        assert "secret" not in r.text and all(link.href != f"/orders/{bobs.id}" for link in r.links)
        assert all(bobs.number not in c for c in r.choices)
        assert not r.choices or [c.split(" ")[0] for c in r.choices] == [mine.number]
        convo = assistant.Conversation()
    assert db.exec(select(AuditEvent).where(AuditEvent.target_id == str(bobs.id))).all() == []


def test_asking_for_a_person_about_an_order_hands_over_with_it_after_confirmation(db: Session) -> None:
    ua, ca = make_customer(db)
    order = make_order(db, ca)
    alice, convo = principal_for(ua), assistant.Conversation()
    talk(db, alice, convo, f"where is {order.number}")
    r = talk(db, alice, convo, "I want to talk to a person about it")
    # It shows what it is about to do and waits
    assert r.confirm and "support team" in r.text
    assert db.exec(select(Ticket)).all() == []
    # When she confirms, it hands over and says so plainly
    r = talk(db, alice, convo, "yes")
    ticket = db.exec(select(Ticket)).one()
    assert ticket.number in r.text and ticket.channel == "assistant" and ticket.customer_id == ca.id
    assert (ticket.context_type, ticket.context_id) == ("order", order.id)
    bodies = [m.body for m in db.exec(select(TicketMessage).where(TicketMessage.ticket_id == ticket.id)).all()]
    assert any(f"Customer: where is {order.number}" in b for b in bodies)
    assert any("Recent orders" in b and order.number in b for b in bodies)  # and her context
    ev = db.exec(select(AuditEvent).where(AuditEvent.action == "assistant.handover")).one()
    assert ev.actor_kind == "assistant" and ev.actor_user_id == ua.id
    # The support area opened it, also recorded as the assistant acting for her
    opened = db.exec(select(AuditEvent).where(AuditEvent.action == "support.ticket_opened")).one()
    assert opened.actor_kind == "assistant"


def test_with_an_agent_online_the_hand_over_goes_to_the_live_chat(db: Session) -> None:
    ua, ca = make_customer(db)
    agent = make_staff(db)
    support_chat.touch_presence(db, principal=principal_for(agent), available=True)
    db.commit()
    alice, convo = principal_for(ua), assistant.Conversation(page="/dashboard")
    talk(db, alice, convo, "let me speak to someone")
    r = talk(db, alice, convo, "yes")
    assert "live chat" in r.text and db.exec(select(Ticket)).all() == []
    conv = db.exec(select(Conversation)).one()
    assert conv.customer_id == ca.id and conv.status == "waiting"
    first = db.exec(select(ConversationMessage).where(ConversationMessage.conversation_id == conv.id)
                    .order_by(col(ConversationMessage.id))).first()
    assert first is not None and "Customer: let me speak to someone" in first.body


def test_asking_for_a_person_and_saying_no_changes_nothing(db: Session) -> None:
    ua, _ = make_customer(db)
    alice, convo = principal_for(ua), assistant.Conversation()
    r = talk(db, alice, convo, "I want to talk to a real person")
    assert r.confirm
    r = talk(db, alice, convo, "no")
    assert "won't do anything" in r.text and db.exec(select(Ticket)).all() == []


def test_two_failures_lead_to_a_hand_over_offer(db: Session) -> None:
    ua, _ = make_customer(db)
    alice, convo = principal_for(ua), assistant.Conversation()
    assert not talk(db, alice, convo, "blorp").confirm
    r = talk(db, alice, convo, "zzzz")
    assert r.confirm and "person" in r.text
    talk(db, alice, convo, "yes")
    ticket = db.exec(select(Ticket)).one()
    msgs = db.exec(select(TicketMessage).where(TicketMessage.ticket_id == ticket.id)).all()
    assert any("blorp" in m.body for m in msgs) and any("could not help" in m.body for m in msgs)


def test_finds_help_articles(db: Session) -> None:
    ua, _ = make_customer(db)
    cat = make_category(db, slug="returns")
    make_article(db, cat, title="How refunds work", body="Refunds go back to your card within 5 days.")
    r = talk(db, principal_for(ua), assistant.Conversation(), "how long do refunds take to reach my card")
    assert r.links and r.links[0].label == "How refunds work"
    # The search is recorded (source "assistant"), and the link carries it so a click can be noted
    asked = db.exec(select(SearchQuery).where(SearchQuery.source == "assistant")).one()
    assert r.links[0].query_id == asked.id and asked.result_count >= 1


def test_patterns_recognise_intents() -> None:
    cases = {
        "where's my order": assistant.ORDER_STATUS, "track my parcel": assistant.TRACK,
        "I need the invoice": assistant.INVOICE, "get me a human": assistant.HUMAN,
        "cancel FH-1001": assistant.CANCEL, "I want to return FH-1001": assistant.RETURN,
        "how do returns work": assistant.ARTICLE, "change the delivery address": assistant.CHANGE_ADDRESS,
        "hello": assistant.GREETING,
        # sending it somewhere else is a new address, not tracking; with a day it is a delivery window
        "send the parcel to my work place instead": assistant.CHANGE_ADDRESS,
        "please redirect my parcel": assistant.CHANGE_ADDRESS,
        "can you deliver it to my office tomorrow": assistant.SCHEDULE,
        "track the parcel sent to my office": assistant.TRACK,
    }
    for text, intent in cases.items():
        assert assistant.recognise(text) == intent, text


@pytest.mark.skipif(emb.model_dir() is None, reason="the embedding model is not installed")
def test_the_embedding_model_understands_requests_the_patterns_miss() -> None:
    model = emb.load_embedder()
    assert model is not None
    cases = {
        "what is going on with the stuff I bought last week": assistant.ORDER_STATUS,
        "I would like to chat with an actual employee": assistant.HUMAN,
        "I need a document showing what I paid": assistant.INVOICE,
        "I no longer want the jacket I ordered": assistant.CANCEL,
        "I would rather it went to my office": assistant.CHANGE_ADDRESS,
    }
    for text, intent in cases.items():
        assert assistant.recognise(text) != intent, text  # the patterns alone do not get it
        assert assistant.recognise(text, embedder=model) == intent, text
    # Questions about a policy stay questions for the help center, whatever they resemble
    for text in ("how long does delivery take", "what is your returns policy", "whats the difference between "
                 "dispatched and out for delivery"):
        assert assistant.recognise(text, embedder=model) == assistant.ARTICLE, text


# ----- the OpenAI-compatible path -------------------------------------------------------------

class FakeChatServer:
    """Speaks POST /v1/chat/completions like an OpenAI-compatible server; replies are scripted."""

    def __init__(self, script: list[dict[str, Any]]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        app = Starlette(routes=[Route("/v1/chat/completions", self.complete, methods=["POST"])])
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def complete(self, request: Request) -> JSONResponse:
        self.requests.append(await request.json())
        message = self.script.pop(0)
        return JSONResponse({"id": "x", "object": "chat.completion", "model": "fake",
                             "choices": [{"index": 0, "message": {"role": "assistant", **message},
                                          "finish_reason": "tool_calls" if "tool_calls" in message else "stop"}]})

    def __enter__(self) -> FakeChatServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


def tool_call(name: str, **args: Any) -> dict[str, Any]:
    return {"content": None, "tool_calls": [{"id": f"call_{name}", "type": "function",
                                             "function": {"name": name, "arguments": json.dumps(args)}}]}


@pytest.fixture
def chat() -> Iterator[Any]:
    servers: list[FakeChatServer] = []

    def start(script: list[dict[str, Any]]) -> tuple[FakeChatServer, ChatClient]:
        server = FakeChatServer(script).__enter__()
        servers.append(server)
        return server, ChatClient(base_url=f"http://127.0.0.1:{server.port}/v1", model="fake", timeout=5)

    yield start
    for s in servers:
        s.__exit__()


def test_tool_calls_from_an_endpoint_run_the_same_actions(db: Session, chat: Any) -> None:
    ua, ca = make_customer(db)
    _, cb = make_customer(db)
    mine, theirs = make_order(db, ca), make_order(db, cb)
    make_shipment(db, theirs, message="their depot")
    server, client = chat([
        tool_call("order_status", order_number=theirs.number),  # the model names someone else's order
        tool_call("order_status", order_number=mine.number),
        {"content": f"Your order {mine.number} is paid."},
    ])
    r = talk(db, principal_for(ua), assistant.Conversation(), "where is my order", llm=client)
    assert r.text == f"Your order {mine.number} is paid."
    # The endpoint got the tools, and the tool results it saw never held the other customer's data
    assert {t["function"]["name"] for t in server.requests[0]["tools"]} >= {"order_status", "hand_over_to_human"}
    tool_results = [m["content"] for req in server.requests for m in req["messages"] if m["role"] == "tool"]
    assert "no such order" in tool_results[0] and "depot" not in json.dumps(server.requests)
    assert mine.number in tool_results[-1]
    client.close()


def test_a_hand_over_requested_by_the_endpoint_still_waits_for_the_customer(db: Session, chat: Any) -> None:
    ua, _ = make_customer(db)
    _, client = chat([tool_call("hand_over_to_human", reason="asked")])
    convo = assistant.Conversation()
    r = talk(db, principal_for(ua), convo, "someone please", llm=client)
    assert r.confirm and db.exec(select(Ticket)).all() == []
    r = talk(db, principal_for(ua), convo, "yes", llm=client)
    assert db.exec(select(Ticket)).one().channel == "assistant"
    client.close()


def test_an_unreachable_endpoint_falls_back_to_offline(db: Session) -> None:
    ua, ca = make_customer(db)
    order = make_order(db, ca)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = ChatClient(base_url=f"http://127.0.0.1:{port}/v1", model="x", timeout=2)
    r = talk(db, principal_for(ua), assistant.Conversation(), f"where is {order.number}", llm=client)
    assert order.number in r.text
    client.close()

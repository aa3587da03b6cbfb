"""The customer assistant: understands a request, does it through the same domain functions as the
UI, asks for what is missing, confirms before changing anything, and hands over to a person.

Rules it never bends:
- It acts as the signed-in customer, marked `via="assistant"` in the audit trail, and only ever
  looks among that customer's own orders, shipments and invoices, whatever the text names.
- Anything that changes something waits for an explicit confirmation.
- Order changes (cancel, delivery address, delivery window, return) are prepared by conversation
  and then made by the order page's own domain functions (portal.domain.assistant_changes).

It runs offline (patterns, plus embedding similarity when the `semantic` extra is installed), or
through any OpenAI-compatible endpoint whose tool calls map onto the same actions.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from sqlmodel import Session, col, select

from portal.domain import assistant_changes as changes
from portal.domain import audit, kb, orders, support, support_chat, throttle
from portal.domain.assistant_shapes import NO, YES, Link, Reply, acting
from portal.domain.order_policy import current_policy
from portal.domain.principal import Principal, require_customer
from portal.i18n import N_, current_language, tr
from portal.integrations import embeddings as emb
from portal.integrations.llm import ChatClient, LlmError
from portal.models import (
    ORDER_STATUS_LABELS,
    TAG_LABELS,
    Invoice,
    OrderLine,
    OrderPublic,
    Shipment,
)

log = logging.getLogger(__name__)

MAX_TEXT = 500
MAX_TURNS = 60  # transcript lines kept in one conversation
ORDER_NUMBER = re.compile(r"\b([A-Z]{1,4}-(?=[A-Z0-9-]*\d)[A-Z0-9-]{2,20})\b", re.IGNORECASE)

# Intents and what they need.
ORDER_STATUS = "order_status"
TRACK = "track_shipment"
INVOICE = "invoice"
ARTICLE = "find_article"
HUMAN = "human"
GREETING = "greeting"
THANKS = "thanks"
CHANGE_ADDRESS = changes.CHANGE_ADDRESS
CANCEL = changes.CANCEL
RETURN = changes.RETURN
SCHEDULE = changes.SCHEDULE
NEEDS_ORDER = frozenset({ORDER_STATUS, TRACK, INVOICE, CHANGE_ADDRESS, CANCEL, RETURN, SCHEDULE})
ORDER_ACTIONS = frozenset(changes.ACTION_OF)  # intents that change an order (confirmed first)
# Requests that end a half-finished change when typed instead of an answer to its question.
MOVES_ON = NEEDS_ORDER | {HUMAN}

# English first; the German and French words for the same requests after them (the portal serves
# those languages; the embedding model is English-only, so these patterns are what finds them).
_ADDRESS = r"(address|adress|addres|adresse|postcode|post code|zip code|street)"
PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (HUMAN, re.compile(r"\b(human|person|agent|someone real|real person|operator|talk to (someone|somebody|support)"
                       r"|speak to|call me|customer service|live chat|staff"
                       r"|mitarbeiter\w*|menschen?|kundendienst|kundenservice"
                       r"|mit (jemandem|einer person) (reden|sprechen)"
                       r"|echte[nr]? person|jemanden (sprechen|anrufen)"
                       r"|conseill[eè]re?|humain|parler [àa] quelqu|parler [àa] (un|une) \w+|service client"
                       r"|vraie personne|quelqu'un de r[ée]el)\b", re.I)),
    (CANCEL, re.compile(r"\b(cancel|don'?t want (it|the order) any ?more|stop (my|the|this) order|scrap (it|my|the)"
                        r"|stornier\w*|storno|annul\w*|bestellung\w* abbrechen|abbrechen\b.*\bbestellung"
                        r"|(will|m[öo]chte) (die|meine|diese) bestellung nicht mehr"
                        r"|ne (veux|souhaite) plus (ma|la|cette|mes) commande)\b", re.I)),
    (RETURN, re.compile(r"\b(return|retrun|send (it|them|this) back|send back|money back|refund"
                        r"|too (small|big|large|tight|loose)|does ?n[o']?t fit"
                        r"|zur[üu]ck(senden|schicken|geben)|r[üu]cksendung|retoure|retourner|renvoyer"
                        r"|(mein|das) geld zur[üu]ck|passt nicht|passen nicht|umtauschen"
                        r"|faire un retour|(un|le|mon) retour|rembours\w*|ne (me )?va pas)\b", re.I)),
    (CHANGE_ADDRESS, re.compile(r"\b(change|chnage|update|wrong|different|new|other|[äa]ndern|changer|modifier)\b.*"
                                r"\b" + _ADDRESS + r"\b"
                                r"|\b" + _ADDRESS + r"\b.*\b(change|wrong|[äa]ndern)\b|\bchange where\b"
                                r"|\blieferadresse\b"
                                r"|\b(ship|send|deliver)\b.*\bto (my|another|a different|the other) (\w+ )?address\b"
                                r"|\b(ship|send|deliver|redirect)\b.*\bto (my|the) (work|office|workplace|work place"
                                r"|neighbou?r'?s?)\b(?!.*\b(on|tomorrow|morning|afternoon|evening)\b)"
                                r"|\bredirect (it|my|the)\b",
                                re.I)),
    (SCHEDULE, re.compile(r"\b(schedule|re-?sch?ed\w*|deliver(y)? (on|at|slot|window|date|time)|pick a (day|time)"
                          r"|when i'?m (home|in)|(change|choose|pick|book|set) (a |the |my )?delivery (day|date|time"
                          r"|slot|window)|(can|could) (you|it|they) (deliver|come|bring)"
                          r"|(move|change|push|postpone) (my|the) delivery"
                          r"|deliver\b.*\b(on|in the|at) (monday|tuesday|wednesday|thursday|friday|saturday|sunday"
                          r"|tomorrow|morning|afternoon|evening)"
                          r"|liefertermin\w*|\w*zeitfenster|date de livraison|cr[ée]neau)\b", re.I)),
    (INVOICE, re.compile(r"\b(invoice|invioce|invoce|receipt|bill|vat|rechnung\w*|quittung|beleg|facture|re[çc]u)\b",
                         re.I)),
    (TRACK, re.compile(r"\b(track|tracking|trackin|parcel|package|shipment|courier|carrier|delivery status"
                       r"|sendungsverfolgung|verfolg\w*|sendung|sendungsnummer|paket|p[äa]ckchen|paketdienst"
                       r"|suivi|suivre|colis|envoi|transporteur|o[uù] (est|en est) ma livraison)\b", re.I)),
    (ORDER_STATUS, re.compile(r"\b(wh?ere?('?s| is)? my|where is it|status of|my order|order status|has my .* shipped"
                              r"|when will (it|my)|on (its|it'?s) way|wh?ere?('?s| is)? my o(r|rd)?der"
                              r"|wo (ist|sind|bleibt) mein\w*|meine bestellung|meiner bestellung"
                              r"|status (der|meiner) bestellung|wann kommt|o[uù] (est|en est) ma commande"
                              r"|statut de (ma|la) commande|quand (vais-je|est-ce que je vais) recevoir"
                              r"|ma commande)\b", re.I)),
    (THANKS, re.compile(r"^\s*(thanks|thank you|thx|cheers|great|perfect|ok thanks|danke|merci)\b", re.I)),
    (GREETING, re.compile(r"^\s*(hi|hiya|hello|hey|hallo|bonjour|salut|good (morning|afternoon|evening)"
                          r"|guten (morgen|tag|abend))\b\W*$", re.I)),
    (ARTICLE, re.compile(r"\b(how (do|can|to)|what is|what'?s|can i|help with|explain|policy)\b", re.I)),
]

# Example phrasings for embedding similarity when the model is installed.
EXAMPLES: dict[str, list[str]] = {
    ORDER_STATUS: ["where is my order", "has my order shipped yet", "what is happening with my purchase",
                   "any news about the things I bought", "is my order on its way"],
    TRACK: ["track my parcel", "where is my package right now", "which courier has my delivery",
            "give me the tracking number"],
    INVOICE: ["download my invoice", "I need a receipt for my purchase", "send me the bill",
              "I need proof of purchase", "a copy of the bill for my accountant"],
    HUMAN: ["I want to talk to a person", "let me speak to someone", "get me a human agent",
            "can I speak with a member of staff", "connect me to customer support"],
    CANCEL: ["cancel my order", "I don't want this order anymore", "I no longer want what I ordered",
             "stop my purchase before it ships"],
    RETURN: ["I want to return something", "send the item back for a refund", "I want to send back what I bought",
             "it does not fit, I want my money back"],
    CHANGE_ADDRESS: ["change my delivery address", "ship it to a different address",
                     "please send it to my office instead", "I moved, deliver to my new home"],
    SCHEDULE: ["choose a delivery day", "deliver when I am at home", "can it arrive on saturday",
               "change the day of my delivery", "deliver it in the evening"],
}
@dataclasses.dataclass
class Conversation:
    """What the assistant remembers between turns; kept server-side, never sent by the client."""

    transcript: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    pending_intent: str = ""  # waiting for an order number
    pending_request: str = ""  # what the customer asked before "which order?" (it may say more)
    pending_action: str = ""  # waiting for yes/no
    pending_order_id: int | None = None
    failures: int = 0
    page: str = ""
    handed_over_ticket: str = ""
    task: changes.Task | None = None  # an order change being prepared

    def say(self, who: str, text: str) -> None:
        self.transcript.append((who, text[:2000]))
        del self.transcript[:-MAX_TURNS]


# ----- recognising ----------------------------------------------------------------------------

_example_cache: dict[str, tuple[list[str], Any]] = {}
_example_lock = threading.Lock()


def _semantic_intent(text: str, model: emb.Embedder) -> tuple[str, float]:
    with _example_lock:
        cached = _example_cache.get(model.name)
        if cached is None:
            labels = [intent for intent, phrases in EXAMPLES.items() for _ in phrases]
            vectors = model.encode([p for phrases in EXAMPLES.values() for p in phrases])
            cached = _example_cache[model.name] = (labels, vectors)
    labels, vectors = cached
    sims = vectors @ model.encode([text])[0]
    best = int(sims.argmax())
    return labels[best], float(sims[best])


SEMANTIC_MIN = 0.55  # cosine similarity to the nearest example phrasing
SEMANTIC_OVER_QUESTION = 0.65
QUESTION = re.compile(r"^\s*(how|what|whats|why|can i|do you|is it|is there|are there"
                      r"|wie|was|warum|gibt es|kann man|comment|quel\w*|pourquoi|est-ce qu\w*|combien)\b", re.I)
# "Can I choose a delivery day?" asks for the change; "can I cancel an order after it shipped?" asks
# about the rule: a permission question is a policy question only when it speaks of orders in general.
_PERMISSION = re.compile(r"^\s*(can|could|may) i\b", re.I)
_IN_GENERAL = re.compile(r"\b(an?|any) (order|item|purchase|parcel)\b|\b(after|before|if|once|within|policy)\b",
                         re.I)
# "How do I cancel this?": the customer means a particular order.
_PARTICULAR = re.compile(r"\b(cancel|return|send|change|move|reschedule)\s+(this|that|it|these|them)\b", re.I)


def recognise(text: str, *, embedder: emb.Embedder | None = None) -> str:
    """The customer's intent: patterns first (always available), then embedding similarity."""
    matched = next((intent for intent, pattern in PATTERNS if pattern.search(text)), "")
    if matched and matched != ARTICLE:
        return _policy_question(matched, text)
    if embedder is not None:
        intent, score = _semantic_intent(text, embedder)
        # A question shape ("what is happening with …") only yields to a close match.
        if score >= (SEMANTIC_OVER_QUESTION if matched == ARTICLE else SEMANTIC_MIN):
            return _policy_question(intent, text)
    if matched:
        return matched
    return ARTICLE if len(kb.terms(text)) >= 2 else ""


def _policy_question(intent: str, text: str) -> str:
    # "How do returns work?" asks about a policy; "return FH-1001" asks for the change.
    if intent in ORDER_ACTIONS and QUESTION.search(text) and not ORDER_NUMBER.search(text):
        if _PARTICULAR.search(text) or (_PERMISSION.search(text) and not _IN_GENERAL.search(text)):
            return intent
        return ARTICLE
    return intent


# ----- looking things up (only the customer's own data) ---------------------------------------

def _own_orders(session: Session, principal: Principal) -> list[OrderPublic]:
    return orders.recent_orders(session, principal=principal, limit=50)


def _find_order(mine: list[OrderPublic], text: str) -> OrderPublic | None:
    """An order named in the text, searched for among this customer's orders only."""
    wanted = {m.upper() for m in ORDER_NUMBER.findall(text)}
    for o in mine:
        if o.number.upper() in wanted:
            return o
    return None


# Words that say nothing about which item is meant ("the thing I ordered").
_GENERIC = ("order orders ordered item items thing things stuff bought buying purchase purchased parcel package "
            "delivery deliver delivered want return returned cancel change address please anymore longer need "
            "sent send ship shipped where track tracking invoice receipt")
GENERIC_WORDS = frozenset(_GENERIC.split())


def _orders_by_item(session: Session, mine: list[OrderPublic], text: str) -> list[int]:
    """Which of the customer's own orders hold the item the text names ("the base layer I ordered"):
    the ids whose item names share the most words with it, or none."""
    words = [w for w in kb.terms(text) if len(w) >= 4 and w not in GENERIC_WORDS]
    if not words or not mine:
        return []
    rows = session.exec(select(OrderLine.order_id, OrderLine.name)
                        .where(col(OrderLine.order_id).in_([o.id for o in mine]))).all()
    scores: dict[int, int] = {}
    for order_id, name in rows:
        found = sum(1 for w in words if re.search(rf"\b{re.escape(w)}", name.lower()))
        scores[order_id] = max(scores.get(order_id, 0), found)
    best = max(scores.values(), default=0)
    return [oid for oid, score in scores.items() if best and score == best]


def _the_order_by_item(session: Session, mine: list[OrderPublic], text: str) -> OrderPublic | None:
    """The order the text names by its item, when exactly one of the customer's orders holds it."""
    ids = _orders_by_item(session, mine, text)
    return next((o for o in mine if o.id == ids[0]), None) if len(ids) == 1 else None


def _shipments(session: Session, principal: Principal, order_id: int) -> list[Shipment]:
    customer_id = require_customer(principal)
    orders.get_order(session, principal=principal, order_id=order_id)  # ownership, exactly as the UI checks it
    return list(session.exec(select(Shipment).where(Shipment.order_id == order_id,
                                                    Shipment.customer_id == customer_id)
                             .order_by(col(Shipment.id))).all())


def _label(labels: dict[str, str], key: str) -> str:
    """A status label in the reader's language, inside a sentence: lowercase, except in German
    (whose status words may be nouns)."""
    label = tr(labels.get(key, key))
    return label if current_language() == "de" else label.lower()


def _short_day(value: Any) -> str:
    if current_language() == "en":
        return f"{value:%d %b}"
    from portal.format import day

    return day(value)


def _open_link(order: OrderPublic) -> Link:
    return Link(tr("Open {number}", number=order.number), f"/orders/{order.id}")


def _describe_order(session: Session, principal: Principal, order: OrderPublic) -> Reply:
    text = tr("Order {number} is {status}.", number=order.number, status=_label(ORDER_STATUS_LABELS, order.status))
    ships = _shipments(session, principal, order.id)
    if ships:
        s = ships[-1]
        text += " " + tr("The parcel is with {carrier}: {status}.", carrier=s.carrier_name or s.carrier,
                         status=_label(TAG_LABELS, s.tag))
        if s.expected_delivery_end and not s.delivered_at:
            text += " " + tr("Expected by {date}.", date=_short_day(s.expected_delivery_end))
    return Reply(text, links=[_open_link(order)])


def _track(session: Session, principal: Principal, order: OrderPublic) -> Reply:
    ships = _shipments(session, principal, order.id)
    if not ships:
        return Reply(tr("Order {number} has not been handed to a carrier yet ({status}).", number=order.number,
                        status=_label(ORDER_STATUS_LABELS, order.status)),
                     links=[_open_link(order)])
    lines = []
    for s in ships:
        status = tr(TAG_LABELS.get(s.tag, s.tag))
        # The carrier's own message stays as the carrier wrote it.
        detail = f" – {s.subtag_message}" if s.subtag_message else ""
        lines.append(f"{s.carrier_name or s.carrier} {s.tracking_number}: {status}{detail}")
    return Reply(tr("Tracking for {number}: {lines}.", number=order.number, lines="; ".join(lines)),
                 links=[_open_link(order)])


def _invoice(session: Session, principal: Principal, order: OrderPublic) -> Reply:
    customer_id = require_customer(principal)
    invoices = session.exec(select(Invoice).where(Invoice.order_id == order.id,
                                                  Invoice.customer_id == customer_id)).all()
    if not invoices:
        return Reply(tr("There is no invoice for {number} yet.", number=order.number))
    links = []
    for i in invoices:
        links += [Link(tr("Invoice {number}", number=i.number), f"/billing/invoices/{i.id}"),
                  Link(tr("Download {number} (PDF)", number=i.number), f"/api/files/invoices/{i.id}.pdf")]
    numbers = ", ".join(i.number for i in invoices)
    return Reply(tr("The invoice for {number} is {numbers}. You can open it or download the PDF here.",
                    number=order.number, numbers=numbers),
                 links=links)


def _articles(session: Session, principal: Principal, text: str) -> Reply | None:
    outcome = kb.search(session, principal=principal, query=text, source="assistant", limit=3)
    if not outcome.hits:
        return None
    return Reply(tr("These articles may help:"),
                 links=[Link(h.title, f"/help/{h.category_slug}/{h.slug}", query_id=outcome.query_id)
                        for h in outcome.hits])


# ----- handing over ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, slots=True)
class HandOver:
    kind: str  # "chat" (an agent is online) or "ticket"
    ticket_number: str = ""
    conversation_id: int | None = None


def hand_over(session: Session, *, principal: Principal, convo: Conversation, reason: str) -> HandOver:
    """Pass the whole conversation and the customer's context to a person, through the support
    area's own functions: the live chat when an agent is online, otherwise a ticket (channel
    "assistant"). Both are recorded as done by the assistant on the customer's behalf."""
    require_customer(principal)
    actor = acting(principal)
    first = next((t for who, t in convo.transcript if who == "customer"), "Help request")
    transcript = "\n".join(f"{'Customer' if who == 'customer' else 'Assistant'}: {t}" for who, t in convo.transcript)
    recent = ", ".join(f"{o.number} ({o.status})" for o in _own_orders(session, principal)[:5]) or "none"
    body = (f"Conversation with the assistant (handed over because {reason}):\n\n{transcript}"
            f"\n\nPage: {convo.page or 'unknown'}. Recent orders: {recent}.")[:support_chat.BODY_MAX]
    if support_chat.available_agents(session):
        chat = support_chat.start_chat(session, principal=actor, body=body, page=convo.page)
        audit.record(session, action="assistant.handover", principal=actor, target_type="conversation",
                     target_id=chat.id, reason=reason, channel="chat")
        return HandOver(kind="chat", conversation_id=chat.id)
    ticket = support.create_ticket(
        session, principal=actor, subject=f"Assistant hand-over: {first}"[:support.SUBJECT_MAX],
        body=body[:support.BODY_MAX], category="general", channel="assistant",
        context_type="order" if convo.pending_order_id else None, context_id=convo.pending_order_id)
    audit.record(session, action="assistant.handover", principal=actor, target_type="ticket", target_id=ticket.id or "",
                 reason=reason, channel="ticket")
    return HandOver(kind="ticket", ticket_number=ticket.number)


# ----- the turn -------------------------------------------------------------------------------

def _ask_which_order(session: Session, principal: Principal, convo: Conversation, intent: str, text: str,
                     mine: list[OrderPublic]) -> Reply:
    convo.pending_intent, convo.pending_request = intent, text
    if not mine:
        convo.pending_intent = ""
        return Reply(tr("I could not find any orders on your account."))
    # First the order whose page the customer is on, then orders holding the item named, then those
    # the policy allows this change for (all among the customer's own orders; the domain checks again).
    on_page = re.fullmatch(r"/orders/(\d+)/?", convo.page or "")
    page_id = int(on_page.group(1)) if on_page else None
    named = set(_orders_by_item(session, mine, text))
    policy, action = current_policy(), changes.ACTION_OF.get(intent, "")
    if intent == RETURN:
        # Only orders with something that can still be returned (delivered, in the window, not
        # already on its way back): offering one only to refuse it helps nobody.
        mine = [o for o in mine if policy.allows(action, o.status)
                and orders.order_detail(session, principal=principal, order_id=o.id).actions["return"] == ""]
        if not mine:
            convo.pending_intent = ""
            return Reply(tr("None of your orders has items that can be returned now: returns are for delivered "
                            "items, within {days} days, that are not already being returned.",
                            days=policy.return_window_days),
                         links=[Link(tr("Your orders"), "/orders")])

    def rank(o: OrderPublic) -> tuple[bool, bool, bool]:
        return o.id != page_id, o.id not in named, bool(action) and not policy.allows(action, o.status)

    return Reply(tr("Which order do you mean?"), choices=[_order_choice(o) for o in sorted(mine, key=rank)[:4]])


def _order_choice(o: OrderPublic) -> str:
    """"FH-1001 · Trail jacket (paid)": the number is what the answer is matched by."""
    status = _label(ORDER_STATUS_LABELS, o.status)
    return f"{o.number} · {o.first_item[:40]} ({status})" if o.first_item else f"{o.number} ({status})"


def _do(session: Session, principal: Principal, convo: Conversation, intent: str, order: OrderPublic,
        text: str = "") -> Reply:
    actor = acting(principal)
    convo.pending_order_id = order.id
    if intent in ORDER_ACTIONS:
        # Asks for what is missing, then what it will do; nothing changes before a "yes".
        outcome = changes.start(session, principal=principal, intent=intent, order_id=order.id,
                                order_number=order.number, hint=text)
        convo.task = outcome.task
        if outcome.offer_handover:  # refused: "yes" now means "pass me to a person"
            convo.pending_action = "handover"
        assert outcome.reply is not None
        return outcome.reply
    audit.record(session, action=f"assistant.{intent}", principal=actor, target_type="order", target_id=order.id)
    if intent == TRACK:
        return _track(session, principal, order)
    if intent == INVOICE:
        return _invoice(session, principal, order)
    return _describe_order(session, principal, order)


# Quick replies: shown in the customer's language; tapping one sends its text, which the patterns
# (and YES/NO) recognise in every language the portal speaks.
YES_NO = (N_("Yes"), N_("No"))
SUGGESTIONS = (N_("Where is my order?"), N_("Track my parcel"), N_("Talk to a person"))


def yes_no() -> list[str]:
    return [tr(c) for c in YES_NO]


def suggestions() -> list[str]:
    return [tr(c) for c in SUGGESTIONS]


def _failed(convo: Conversation) -> Reply:
    convo.failures += 1
    if convo.failures >= 2:
        convo.pending_action = "handover"
        return Reply(tr("I'm sorry, I don't understand. Shall I pass this conversation to a person?"),
                     choices=yes_no(), confirm=True)
    return Reply(tr("Sorry, I didn't get that. I can find an order, track a parcel, find an invoice or a help "
                    "article, or put you in touch with a person."),
                 choices=suggestions())


def _handed_over(session: Session, principal: Principal, convo: Conversation) -> Reply:
    convo.pending_action = ""
    convo.task = None
    reason = "the customer asked for a person" if convo.failures < 2 else "the assistant could not help"
    done = hand_over(session, principal=principal, convo=convo, reason=reason)
    convo.failures = 0
    if done.kind == "chat":
        return Reply(tr("Done: I passed our conversation to the live chat. A person from our support team will "
                        "answer you there (the chat button at the top of the page)."))
    convo.handed_over_ticket = done.ticket_number
    return Reply(tr("Done: I created ticket {number} with our conversation. A person from our support "
                    "team will reply there.", number=done.ticket_number), links=[Link(tr("Your tickets"), "/support")])


def _confirmed(session: Session, principal: Principal, convo: Conversation, text: str) -> Reply | None:
    if not convo.pending_action:
        return None
    # Asking for a person while a yes/no question is open answers it: that is what they want.
    if YES.match(text) or recognise(text) == HUMAN:
        return _handed_over(session, principal, convo)
    if NO.match(text):
        convo.pending_action = ""
        return Reply(tr("All right, I won't do anything. What else can I help with?"))
    if recognise(text) not in ("", HUMAN):
        convo.pending_action = ""  # said something else instead ("thanks", a question): not wanted now
        return None
    return Reply(tr("Please answer yes or no."), choices=yes_no(), confirm=True)


def _task_turn(session: Session, principal: Principal, convo: Conversation, text: str,
               mine: Callable[[], list[OrderPublic]]) -> Reply | None:
    """The customer's answer while an order change is being prepared; None when they moved on."""
    task = convo.task
    assert task is not None

    def moved_on(t: str) -> bool:
        # "cancel it, by mistake" while a cancellation is asked about is an answer, not a new request;
        # another request, or an order named for something else, is.
        intent = recognise(t)
        if intent == task.intent:
            named = _find_order(mine(), t)
            return named is not None and named.id != task.order_id
        return intent in MOVES_ON or ORDER_NUMBER.search(t) is not None

    outcome = changes.answer(session, principal=principal, task=task, text=text, moved_on=moved_on)
    convo.task = outcome.task
    if outcome.offer_handover:
        convo.pending_action = "handover"
    return outcome.reply


def respond(session: Session, *, principal: Principal, convo: Conversation, text: str,
            embedder: emb.Embedder | bool | None = True, llm: ChatClient | None = None) -> Reply:
    """One customer message in, one reply out (the caller commits)."""
    require_customer(principal)
    text = " ".join(str(text or "").split())[:MAX_TEXT]
    if not text:
        return Reply(tr("Type your question, or tap one of the suggestions."))
    if not throttle.take(session, f"rate:assistant:{principal.user_id}", throttle.ASSISTANT_MESSAGES):
        return Reply(tr("You're sending messages faster than I can answer. Please wait a minute and try again."))
    convo.say("customer", text)
    reply = _turn(session, principal, convo, text, embedder, llm)
    convo.say("assistant", reply.text + "".join(f" [{link.label}]" for link in reply.links))
    return reply


def _turn(session: Session, principal: Principal, convo: Conversation, text: str,
          embedder: emb.Embedder | bool | None, llm: ChatClient | None) -> Reply:
    confirmed = _confirmed(session, principal, convo, text)
    if confirmed is not None:
        return confirmed
    own_orders = functools.cache(lambda: _own_orders(session, principal))  # looked up once per turn
    if convo.task is not None and convo.task.asking == "confirm" and recognise(text) == HUMAN:
        return _handed_over(session, principal, convo)  # "shall I go ahead?" -- "a person, please"
    if convo.task is not None:
        answered = _task_turn(session, principal, convo, text, own_orders)
        if answered is not None:
            return answered
    if llm is not None:
        try:
            return _llm_turn(session, principal, convo, llm)
        except LlmError as err:
            log.warning("assistant endpoint failed, answering offline: %s", err)
    model = kb.semantic_embedder() if embedder is True else (embedder or None)
    mine = own_orders()
    order = _find_order(mine, text)
    intent = recognise(text, embedder=model)
    if convo.pending_intent and intent in ("", ARTICLE):
        # The answer to "which order?": its number, or the item in it ("the tent").
        order = order or _the_order_by_item(session, mine, text)
        if order is None:
            convo.failures += 1
            if convo.failures >= 2:
                convo.pending_intent = ""
                convo.pending_action = "handover"
                return Reply(tr("I still can't find that order. Shall I pass this conversation to a person?"),
                             choices=yes_no(), confirm=True)
            return Reply(tr("I couldn't find that order on your account. Which order do you mean?"),
                         choices=[_order_choice(o) for o in mine[:4]])
        intent = convo.pending_intent
        text = f"{convo.pending_request} {text}"
    elif intent in ("", ARTICLE) and ORDER_NUMBER.search(text):
        intent = ORDER_STATUS  # an order number on its own: say where that order is
    convo.pending_intent, convo.pending_request = "", ""
    if intent == HUMAN:
        convo.pending_action = "handover"
        return Reply(tr("I can pass this conversation to our support team as a ticket, and a person will answer. "
                        "Shall I do that?"), choices=yes_no(), confirm=True)
    if intent == GREETING:
        return Reply(tr("Hello! I can find an order, track a parcel, find an invoice or a help article, and cancel, "
                        "return or reschedule an order for you."),
                     choices=suggestions())
    if intent == THANKS:
        return Reply(tr("You're welcome."))
    if intent in NEEDS_ORDER:
        if order is None:
            if ORDER_NUMBER.search(text):
                # A number that is not among this customer's orders: the same answer as a typo.
                convo.pending_intent, convo.pending_request = intent, text
                return Reply(tr("I couldn't find that order on your account. Which order do you mean?"),
                             choices=[_order_choice(o) for o in mine[:4]])
            order = _the_order_by_item(session, mine, text)  # "cancel the base layer": one order holds it
            if order is None:
                return _ask_which_order(session, principal, convo, intent, text, mine)
        convo.failures = 0
        return _do(session, principal, convo, intent, order, text)
    if intent == ARTICLE:
        found = _articles(session, principal, text)
        if found is not None:
            convo.failures = 0
            return found
    return _failed(convo)


# ----- the hosted-model path ------------------------------------------------------------------

TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": name, "description": desc,
        "parameters": {"type": "object", "properties": props, "required": list(props)}}}
    for name, desc, props in (
        ("order_status", "Status of one of the customer's orders", {"order_number": {"type": "string"}}),
        ("track_shipment", "Tracking of one of the customer's orders", {"order_number": {"type": "string"}}),
        ("get_invoice", "The invoice of one of the customer's orders", {"order_number": {"type": "string"}}),
        ("search_help", "Search the help center", {"query": {"type": "string"}}),
        ("list_orders", "The customer's recent orders", {}),
        ("hand_over_to_human", "Pass the conversation to a person (asks the customer to confirm first)",
         {"reason": {"type": "string"}}),
        ("request_order_change", "Cancel, return, change address or schedule delivery of an order",
         {"order_number": {"type": "string"},
          "change": {"type": "string", "enum": [CANCEL, RETURN, CHANGE_ADDRESS, SCHEDULE]}}),
    )
]
SYSTEM_PROMPT = ("You are the customer portal's assistant. Use the tools to answer; never invent order data. "
                 "To cancel, return, change the delivery address or schedule the delivery of an order, call "
                 "request_order_change: the portal then asks the customer for the details and for confirmation "
                 "itself.")


def _tool(session: Session, principal: Principal, convo: Conversation, name: str,
          args: dict[str, Any]) -> tuple[dict[str, Any], Reply | None]:
    """Run one tool call with the same rules as the offline path. A Reply ends the turn (confirmation)."""
    number = str(args.get("order_number") or "")[:40]
    if name == "list_orders":
        mine = _own_orders(session, principal)[:10]
        return {"orders": [{"number": o.number, "status": o.status} for o in mine]}, None
    if name == "search_help":
        found = _articles(session, principal, str(args.get("query") or "")[:kb.MAX_QUERY])
        return {"articles": [link.label for link in found.links] if found else []}, None
    if name == "hand_over_to_human":
        convo.pending_action = "handover"
        return {}, Reply(tr("I can pass this conversation to our support team as a ticket. Shall I do that?"),
                         choices=yes_no(), confirm=True)
    intent = {"order_status": ORDER_STATUS, "track_shipment": TRACK, "get_invoice": INVOICE}.get(name)
    if name == "request_order_change":
        intent = str(args.get("change") or "")
        if intent not in ORDER_ACTIONS:
            return {"error": "unknown change"}, None
    if intent is None:
        return {"error": f"unknown tool {name[:40]}"}, None
    # The order number from the model is looked up among this customer's own orders only.
    order = _find_order(_own_orders(session, principal), number)
    if order is None:
        return {"error": "no such order on this customer's account"}, None
    reply = _do(session, principal, convo, intent, order)
    if reply.confirm or intent in ORDER_ACTIONS:
        return {}, reply  # the customer answers the portal's own questions, then confirms
    return {"answer": reply.text}, None


def _llm_turn(session: Session, principal: Principal, convo: Conversation, llm: ChatClient) -> Reply:
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPT}]
    messages += [{"role": "user" if who == "customer" else "assistant", "content": t} for who, t in convo.transcript]
    links: list[Link] = []
    for _ in range(3):
        completion = llm.complete(messages, TOOLS)
        if not completion.tool_calls:
            return Reply(completion.content or "Sorry, I have no answer to that.", links=links)
        messages.append({"role": "assistant", "content": completion.content or None, "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
            for c in completion.tool_calls]})
        for call in completion.tool_calls:
            result, final = _tool(session, principal, convo, call.name, call.arguments)
            if final is not None:
                return final
            messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
    raise LlmError("too many tool rounds")


def llm_client() -> ChatClient | None:
    from portal.settings import get_settings

    s = get_settings()
    if not s.assistant_llm_url:
        return None
    return ChatClient(base_url=s.assistant_llm_url, model=s.assistant_llm_model, api_key=s.assistant_llm_api_key,
                      timeout=s.assistant_llm_timeout_seconds)


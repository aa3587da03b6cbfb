"""Order changes the assistant makes for a customer: cancel, change the delivery address, choose a
delivery window, start a return.

Each change is a small form filled in by conversation. The assistant asks for one missing thing
at a time (offering the choices the order page would offer), then says exactly what it is about
to do and waits for "yes". Only then does it call the same domain function as the order page,
with the customer's identity marked `via="assistant"`, so ownership, the order policy, stock,
the trail (order history, audit, outbox, live update, notification) are exactly the UI's.

Everything the customer can pick is kept here, on the server: a typed or tapped answer is only
ever matched against the options this task offered, never taken as an id.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from portal.db import utcnow
from portal.domain import audit, order_actions, orders, returns
from portal.domain.assistant_shapes import NO, YES, Link, Reply, acting
from portal.domain.errors import DomainError, ErrorCode
from portal.domain.order_policy import current_policy
from portal.domain.order_wording import CANCEL_REASON_LABELS, REASONS, RETURN_REASON_LABELS, why_not
from portal.domain.principal import Principal
from portal.format import money
from portal.i18n import N_, tr, tr_n
from portal.models import OrderStatus, RefundMethod

CANCEL = "cancel_order"
CHANGE_ADDRESS = "change_address"
RETURN = "start_return"
SCHEDULE = "schedule_delivery"
# The assistant's intent -> the order page's action name (policy and wording use the latter).
ACTION_OF = {CANCEL: "cancel", CHANGE_ADDRESS: "change_address", RETURN: "return", SCHEDULE: "delivery_window"}
MAX_NOTE = returns.MAX_NOTE
# Other words customers use for the order page's reasons (matched as whole words).
CANCEL_REASON_WORDS = {
    "don't need": "no_longer_needed", "do not need": "no_longer_needed", "no longer need": "no_longer_needed",
    "not needed": "no_longer_needed", "mistake": "ordered_by_mistake", "by accident": "ordered_by_mistake",
    "wrong item": "ordered_by_mistake", "ordered twice": "ordered_by_mistake", "cheaper": "found_better_price",
    "better price": "found_better_price", "better deal": "found_better_price", "too long": "delivery_too_slow",
    "too slow": "delivery_too_slow", "takes ages": "delivery_too_slow", "late": "delivery_too_slow",
}
RETURN_REASON_WORDS = {
    "small": "too_small", "tight": "too_small", "short": "too_small", "big": "too_large", "large": "too_large",
    "loose": "too_large", "long": "too_large", "broken": "damaged", "damaged": "damaged", "torn": "damaged",
    "defective": "damaged", "faulty": "damaged", "ripped": "damaged", "not as described": "not_as_described",
    "not what": "not_as_described", "different from": "not_as_described", "wrong colour": "not_as_described",
    "wrong color": "not_as_described", "changed my mind": "changed_mind", "don't like": "changed_mind",
    "do not like": "changed_mind", "don't want": "changed_mind",
}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclasses.dataclass
class Task:
    """An order change being prepared: what is chosen so far and what the customer is asked now."""

    intent: str
    order_id: int
    order_number: str
    values: dict[str, Any] = dataclasses.field(default_factory=dict)
    asking: str = ""  # the value asked for now, or "confirm"
    options: dict[str, Any] = dataclasses.field(default_factory=dict)  # label shown -> value
    aliases: dict[str, Any] = dataclasses.field(default_factory=dict)  # other words for the same values
    free_text: bool = False  # the question takes any short text (a note)
    misses: int = 0
    expected_amount_cents: int = 0  # a return's amount as confirmed; the domain refuses if it moved
    request: str = ""  # what the customer first said: it may already answer later questions


@dataclasses.dataclass(frozen=True)
class Question:
    key: str
    prompt: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    aliases: dict[str, Any] = dataclasses.field(default_factory=dict)
    free_text: bool = False


@dataclasses.dataclass(frozen=True)
class Outcome:
    task: Task | None  # the task still being prepared, if any
    reply: Reply | None  # None: the customer moved on to something else; answer that instead
    offer_handover: bool = False


# ----- matching what the customer typed against what was offered -----------------------------

def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w€£$.:/-]+", " ", str(text).lower().replace("–", "-")).split())


_NONE = object()


def match(text: str, options: dict[str, Any], aliases: dict[str, Any] | None = None) -> Any:
    """The one value the text names: a label typed (or tapped) in full, a label containing the
    whole answer ("mistake"), the answer containing a whole label ("it arrived damaged"), or an
    alias as a word ("thursday"). Several different candidates, or none, match nothing."""
    t = _norm(text)
    if not t:
        return _NONE
    labels = [(_norm(k), v) for k, v in options.items()]
    for k, v in labels:
        if t == k:
            return v
    found = [v for k, v in labels if (len(t) >= 3 and t in k) or (len(k) >= 3 and k in t)]
    found += [v for k, v in (aliases or {}).items() if re.search(rf"(?<!\w){re.escape(_norm(k))}(?!\w)", t)]
    distinct = {repr(v): v for v in found}
    return next(iter(distinct.values())) if len(distinct) == 1 else _NONE


# ----- the questions for each change ----------------------------------------------------------

def _address_label(a: dict[str, Any]) -> str:
    where = ", ".join(p for p in (a.get("line1", ""), a.get("postal_code", ""), a.get("city", ""),
                                  a.get("country", "")) if p)
    return f"{a['label']}: {where}" if a.get("label") else where


def _line_label(line: Any) -> str:
    return f"{line.name} ({line.variant_label})" if line.variant_label else line.name


def _question(session: Session, principal: Principal, task: Task, detail: orders.OrderDetail) -> Question | None:
    v = task.values
    if task.intent == CANCEL:
        if "reason" not in v:
            return Question("reason", tr("Why do you want to cancel order {number}?", number=task.order_number),
                            {tr(label): key for key, label in CANCEL_REASON_LABELS.items()}, CANCEL_REASON_WORDS)
        return None
    if task.intent == CHANGE_ADDRESS:
        if "address_id" not in v:
            current = detail.shipping_address
            labels = {_address_label(a.model_dump()): a.id for a in detail.saved_addresses}
            others = {label: aid for label, aid in labels.items() if label != _address_label(current)}
            return Question("address_id", tr("Order {number} goes to {address}. Which of your saved addresses "
                                             "should it go to instead?", number=task.order_number,
                                             address=_address_label(current)), others)
        return None
    if task.intent == SCHEDULE:
        offers = detail.window_offers
        days: dict[str, str] = {}
        for o in offers:
            days.setdefault(o.label.split(",")[0], o.key.split("/")[0])
        if "day" not in v:
            aliases: dict[str, Any] = {}
            for label, iso in days.items():
                aliases.setdefault(WEEKDAYS[_weekday(iso)], iso)
                aliases.setdefault(label.split(" ", 1)[1], iso)  # "26 Nov"
            first = next(iter(days.values()), "")
            if first and _is_tomorrow(first):
                aliases["tomorrow"] = first
            return Question("day", tr("Which day suits you for the delivery of order {number}?",
                                      number=task.order_number), days, aliases)
        if "window_key" not in v:
            slots = {o.label.split(", ", 1)[1]: o.key for o in offers if o.key.startswith(f"{v['day']}/")}
            aliases = {o.key.split("/", 1)[1]: o.key for o in offers if o.key.startswith(f"{v['day']}/")}
            return Question("window_key", tr("Which time of day?"), slots, aliases)
        return None
    if task.intent == RETURN:
        returnable = {ln.id: detail.returnable.get(ln.id, 0) for ln in detail.lines}
        lines = [ln for ln in detail.lines if returnable[ln.id] > 0]
        if "lines" not in v and len(lines) == 1:
            v["lines"] = {lines[0].id: returnable[lines[0].id]}  # nothing to choose
        if "lines" not in v:
            options: dict[str, Any] = {_line_label(ln): {ln.id: returnable[ln.id]} for ln in lines}
            if len(lines) > 1:
                options[tr("Everything I can return")] = {ln.id: returnable[ln.id] for ln in lines}
            return Question("lines", tr("What do you want to return from order {number}?", number=task.order_number),
                            options)
        chosen: dict[int, int] = v["lines"]
        if len(chosen) == 1 and "quantity" not in v:
            ((_line_id, most),) = chosen.items()
            if most > 1:
                return Question("quantity", tr("How many? You can return up to {most}.", most=most),
                                {str(n): n for n in range(1, min(most, 10) + 1)})
        if "reason" not in v:
            return Question("reason", tr("What is the reason for the return?"),
                            {tr(label): key for key, label in RETURN_REASON_LABELS.items()}, RETURN_REASON_WORDS)
        if v["reason"] == "other" and "note" not in v:
            return Question("note", tr("Tell me briefly why (up to {n} characters).", n=MAX_NOTE), free_text=True)
        if "refund_method" not in v:
            quantities = _return_quantities(task)
            original = returns.quote_return(session, principal=principal, order_id=task.order_id,
                                            quantities=quantities, refund_method=RefundMethod.ORIGINAL)
            credit = returns.quote_return(session, principal=principal, order_id=task.order_id,
                                          quantities=quantities, refund_method=RefundMethod.STORE_CREDIT)
            c = original.currency
            credit_label = (tr("Store credit: {amount} (includes a {bonus} bonus)",
                               amount=money(credit.amount_cents, c), bonus=money(credit.bonus_cents, c))
                            if credit.bonus_cents
                            else tr("Store credit: {amount}", amount=money(credit.amount_cents, c)))
            return Question("refund_method", tr("How would you like your money back?"),
                            {tr("Refund to my original payment: {amount}", amount=money(original.amount_cents, c)):
                             RefundMethod.ORIGINAL.value, credit_label: RefundMethod.STORE_CREDIT.value},
                            {"original": RefundMethod.ORIGINAL.value, "card": RefundMethod.ORIGINAL.value,
                             "store credit": RefundMethod.STORE_CREDIT.value,
                             "credit": RefundMethod.STORE_CREDIT.value})
        return None
    return None


def _weekday(iso: str) -> int:
    return date.fromisoformat(iso).weekday()


def _is_tomorrow(iso: str) -> bool:
    tz = ZoneInfo(current_policy().window_timezone)
    return date.fromisoformat(iso) == utcnow().astimezone(tz).date() + timedelta(days=1)


def _return_quantities(task: Task) -> dict[int, int]:
    chosen: dict[int, int] = {int(k): int(q) for k, q in task.values["lines"].items()}
    if len(chosen) == 1 and "quantity" in task.values:
        ((line_id, _most),) = chosen.items()
        chosen = {line_id: int(task.values["quantity"])}
    return chosen


# ----- saying what will happen, and doing it --------------------------------------------------

def _summary(session: Session, principal: Principal, task: Task, detail: orders.OrderDetail) -> str:
    v, o = task.values, detail.order
    if task.intent == CANCEL:
        paid = o.status != OrderStatus.PLACED
        then = (tr("The {amount} you paid will be refunded to your original payment method.",
                   amount=money(o.total_cents, o.currency)) if paid else tr("Nothing has been charged for it."))
        return tr("I'm about to cancel order {number} ({items}, {amount}). Reason: “{reason}”. {then}",
                  number=o.number, items=tr_n("{n} item", "{n} items", o.item_count),
                  amount=money(o.total_cents, o.currency), reason=tr(CANCEL_REASON_LABELS[v["reason"]]), then=then)
    if task.intent == CHANGE_ADDRESS:
        new = next(a for a in detail.saved_addresses if a.id == v["address_id"])
        return tr("I'm about to change the delivery address of order {number} from {old} to {new} ({name}).",
                  number=o.number, old=_address_label(detail.shipping_address), new=_address_label(new.model_dump()),
                  name=new.name)
    if task.intent == SCHEDULE:
        offer = next(w for w in detail.window_offers if w.key == v["window_key"])
        if detail.delivery_window_start:
            return tr("I'm about to book delivery of order {number} for {window} instead of the window chosen "
                      "before.", number=o.number, window=offer.label)
        return tr("I'm about to book delivery of order {number} for {window}.", number=o.number, window=offer.label)
    quantities = _return_quantities(task)
    quote = returns.quote_return(session, principal=principal, order_id=task.order_id, quantities=quantities,
                                 refund_method=v["refund_method"])
    task.expected_amount_cents = quote.amount_cents
    names = {ln.id: _line_label(ln) for ln in detail.lines}
    items = ", ".join(f"{q} × {names[lid]}" for lid, q in quantities.items())
    reason = tr(RETURN_REASON_LABELS[v["reason"]]) if v["reason"] != "other" else v.get("note", "")
    amount = money(quote.amount_cents, quote.currency)
    if v["refund_method"] == RefundMethod.STORE_CREDIT:
        back = tr("You will get {amount} back as store credit once we receive it, and a return label to print.",
                  amount=amount)
    else:
        back = tr("You will get {amount} back to your original payment method once we receive it, and a return "
                  "label to print.", amount=amount)
    return tr("I'm about to start a return for order {number}: {items}. Reason: “{reason}”. {back} (To add photos, "
              "start the return on the order page instead.)", number=o.number, items=items, reason=reason, back=back)


def _execute(session: Session, principal: Principal, task: Task) -> Reply:
    actor = acting(principal)
    v = task.values
    order_link = _open_link(task)
    if task.intent == CANCEL:
        order = order_actions.cancel_order(session, principal=actor, order_id=task.order_id, reason=v["reason"])
        return Reply(tr("Done: order {number} is cancelled. You'll find the confirmation in your "
                        "notifications and on the order page.", number=order.number), links=[order_link])
    if task.intent == CHANGE_ADDRESS:
        order = order_actions.change_shipping_address(session, principal=actor, order_id=task.order_id,
                                                      address_id=v["address_id"])
        return Reply(tr("Done: order {number} will be delivered to {address}.", number=order.number,
                        address=_address_label(order.shipping_address)),
                     links=[order_link])
    if task.intent == SCHEDULE:
        offers = orders.order_detail(session, principal=principal, order_id=task.order_id).window_offers
        label = next((w.label for w in offers if w.key == v["window_key"]), tr("in the window you chose"))
        order = order_actions.set_delivery_window(session, principal=actor, order_id=task.order_id,
                                                  window_key=v["window_key"])
        return Reply(tr("Done: order {number} will be delivered on {window}.", number=order.number, window=label),
                     links=[order_link])
    ret = returns.start_return(session, principal=actor, order_id=task.order_id, quantities=_return_quantities(task),
                               reason=v["reason"], note=v.get("note", ""), refund_method=v["refund_method"],
                               photo_ids=[], expected_amount_cents=task.expected_amount_cents)
    return Reply(tr("Done: return {number} is started. Print the return label, attach it to the parcel and "
                    "hand it to the carrier; {amount} follows once we receive it.", number=ret.number,
                    amount=money(ret.refund_cents, ret.currency)),
                 links=[Link(tr("Download the return label"), f"/api/returns/{ret.id}/label.pdf"), order_link])


def _open_link(task: Task) -> Link:
    return Link(tr("Open {number}", number=task.order_number), f"/orders/{task.order_id}")


YES_NO = (N_("Yes"), N_("No"))


def _yes_no() -> list[str]:
    return [tr(c) for c in YES_NO]


def _handover_question(text: str) -> str:
    return tr("{text} Nothing was changed. Shall I pass this conversation to a person?", text=text)


def _refused(session: Session, principal: Principal, task: Task, reason: str) -> Reply:
    audit.record(session, action=f"assistant.{task.intent}", principal=acting(principal), target_type="order",
                 target_id=task.order_id, outcome="refused", reason=reason)
    return Reply(tr("{why} Shall I pass this conversation to a person? They will see what you asked for.",
                    why=why_not(ACTION_OF[task.intent], reason)),
                 links=[_open_link(task)],
                 choices=_yes_no(), confirm=True)


def _advance(session: Session, principal: Principal, task: Task, hint: str = "") -> Outcome:
    """Ask for the next missing thing (taking it from `hint` when the request already said it),
    or, with everything known, say what will happen and ask for a yes."""
    detail = orders.order_detail(session, principal=principal, order_id=task.order_id)
    reason = detail.actions.get(ACTION_OF[task.intent], "not_allowed")
    if reason:  # not allowed (any more: the order may have moved on while we talked)
        return Outcome(None, _refused(session, principal, task, reason), offer_handover=True)
    for _ in range(8):
        q = _question(session, principal, task, detail)
        if q is None:
            break
        if q.key == "address_id" and not q.options:
            return Outcome(None, Reply(
                tr("You have no other saved address. You can type a new delivery address for order "
                   "{number} on its page, under “Change the delivery address”.", number=task.order_number),
                links=[_open_link(task)]))
        value = _NONE
        for said in (hint, task.request):  # "too small", "Thursday evening", "by mistake"
            if said and not q.free_text and value is _NONE:
                value = match(said, q.options, q.aliases)
        if value is _NONE:
            task.asking, task.options, task.aliases, task.free_text = q.key, q.options, q.aliases, q.free_text
            return Outcome(task, Reply(q.prompt, choices=list(q.options)))
        task.values[q.key] = value
    task.asking, task.options, task.aliases, task.free_text = "confirm", {}, {}, False
    summary = _summary(session, principal, task, detail)
    return Outcome(task, Reply(tr("{summary} Shall I go ahead?", summary=summary), choices=_yes_no(), confirm=True))


def start(session: Session, *, principal: Principal, intent: str, order_id: int, order_number: str,
          hint: str = "") -> Outcome:
    """Begin a change of one of the customer's orders (the caller found it among their own)."""
    task = Task(intent=intent, order_id=order_id, order_number=order_number, request=hint[:500])
    return _advance(session, principal, task)


def answer(session: Session, *, principal: Principal, task: Task, text: str,
           moved_on: Callable[[str], bool]) -> Outcome:
    """The customer's answer to the task's question (or to "shall I go ahead?")."""
    if task.asking == "confirm":
        if YES.match(text):
            return _confirmed(session, principal, task)
        if NO.match(text):
            return Outcome(None, Reply(tr("All right, I haven't changed anything. What else can I help with?")))
        if moved_on(text):
            return Outcome(None, None)
        return Outcome(task, Reply(tr("Please answer yes or no."), choices=_yes_no(), confirm=True))
    if task.free_text:
        note = " ".join(text.split())
        if NO.fullmatch(note):
            return Outcome(None, Reply(tr("All right, I haven't changed anything. What else can I help with?")))
        if 0 < len(note) <= MAX_NOTE:
            task.values[task.asking] = note
            return _advance(session, principal, task)
        return Outcome(task, Reply(tr("Please keep it under {n} characters.", n=MAX_NOTE)))
    # An answer first: "no longer need it" is a reason, not a "no".
    value = match(text, task.options, task.aliases)
    if value is not _NONE:
        task.misses = 0
        task.values[task.asking] = value
        return _advance(session, principal, task, hint=text)
    if NO.match(text):
        return Outcome(None, Reply(tr("All right, I haven't changed anything. What else can I help with?")))
    if moved_on(text):
        return Outcome(None, None)
    task.misses += 1
    if task.misses >= 2:
        return Outcome(None, Reply(tr("I'm sorry, I still don't understand. Shall I pass this conversation to a "
                                      "person?"), choices=_yes_no(), confirm=True), offer_handover=True)
    return Outcome(task, Reply(tr("Please choose one of these, or say “never mind”."), choices=list(task.options)))


def _confirmed(session: Session, principal: Principal, task: Task) -> Outcome:
    try:
        # The domain checks ownership, the policy and the amount again: things may have moved on.
        # Its refusals come before it writes anything, so nothing half-done is left to commit.
        return Outcome(None, _execute(session, principal, task))
    except DomainError as err:
        if err.code == ErrorCode.NOT_ALLOWED:
            reason = str(err.data.get("reason", "not_allowed"))
            audit.record(session, action=f"assistant.{task.intent}", principal=acting(principal),
                         target_type="order", target_id=task.order_id, outcome="refused", reason=reason)
            text = tr("I couldn't do that after all: {reason}.", reason=REASONS.get(reason, REASONS['not_allowed']))
        else:
            text = tr("I couldn't do that after all: the order changed while we talked.")
        return Outcome(None, Reply(_handover_question(text),
                                   links=[_open_link(task)],
                                   choices=_yes_no(), confirm=True), offer_handover=True)

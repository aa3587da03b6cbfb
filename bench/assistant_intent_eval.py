"""Assistant intents: accuracy, confusion and false actions on bench/assistant_eval.jsonl.

    .venv/bin/python bench/assistant_intent_eval.py                   # patterns only, and with embeddings
    .venv/bin/python bench/assistant_intent_eval.py --misses tuning   # and the tuning half's misses

Runs the assistant's own `recognise` (portal/domain/assistant.py) on each utterance, with the
regular expressions alone (what tests and a worker without the model use) and with patterns plus
all-MiniLM-L6-v2 similarity to the example phrasings (when `make install` put the model in; the
script says when it did not), and prints for the tuning half and the held-out half side by side:
overall accuracy, accuracy per intent, the confusion matrix (rows expected, columns recognised,
"" = not understood), and the share of false actions. The held-out half is the result; the split
rule (bench/README.md): line n (from 1) is tuning when n is odd, held out when n is even.

Scoring: order_status ("where is my order") and track_shipment ("track my parcel") are one
family: the assistant answers both from the same order (status and its shipments), so either
counts as right for either in the accuracies; the confusion matrix keeps them apart.
A false action is an utterance that should not change an order (anything expected other than
cancel, change address, return, schedule) recognised as one of those four.
No database is needed: `recognise` looks at the text only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from portal.domain import assistant  # noqa: E402
from portal.integrations import embeddings as emb  # noqa: E402

HALVES = ("tune", "heldout")
SET = HERE / "assistant_eval.jsonl"
# Rows and columns of the confusion matrix, in this order; "" = not understood.
INTENTS = [assistant.ORDER_STATUS, assistant.TRACK, assistant.CANCEL, assistant.CHANGE_ADDRESS,
           assistant.SCHEDULE, assistant.RETURN, assistant.HUMAN, assistant.INVOICE, assistant.ARTICLE,
           assistant.GREETING, assistant.THANKS]
SHORT = {assistant.ORDER_STATUS: "status", assistant.TRACK: "track", assistant.CANCEL: "cancel",
         assistant.CHANGE_ADDRESS: "address", assistant.SCHEDULE: "schedule", assistant.RETURN: "return",
         assistant.HUMAN: "human", assistant.INVOICE: "invoice", assistant.ARTICLE: "article",
         assistant.GREETING: "greet", assistant.THANKS: "thanks", "": '""'}
WHERE_IS_MY_ORDER = frozenset({assistant.ORDER_STATUS, assistant.TRACK})
ACTIONS = frozenset({assistant.CANCEL, assistant.CHANGE_ADDRESS, assistant.RETURN, assistant.SCHEDULE})


def load_cases(path: Path = SET) -> list[dict[str, str]]:
    """The utterance set, checked against the split rule and the known intents."""
    cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for n, case in enumerate(cases, start=1):
        expected = "tune" if n % 2 else "heldout"
        if case.get("half") != expected:
            raise SystemExit(f"{path.name} line {n}: half is {case.get('half')!r}, the rule says {expected!r}")
        if case.get("intent") not in INTENTS or not case.get("text"):
            raise SystemExit(f"{path.name} line {n}: unknown intent {case.get('intent')!r} or no text")
    for intent in INTENTS:
        for half in HALVES:
            if not any(c["intent"] == intent and c["half"] == half for c in cases):
                raise SystemExit(f"{path.name}: {intent} has no utterance in the {half} half")
    return cases


def correct(expected: str, got: str) -> bool:
    return got == expected or (expected in WHERE_IS_MY_ORDER and got in WHERE_IS_MY_ORDER)


def is_false_action(expected: str, got: str) -> bool:
    return expected not in ACTIONS and got in ACTIONS


def score(cases: list[dict[str, str]], got: list[str]) -> dict[str, Any]:
    """Accuracy overall and per expected intent, the confusion counts and the false actions."""
    per: dict[str, list[int]] = {i: [0, 0] for i in INTENTS}
    confusion: Counter[tuple[str, str]] = Counter()
    false_actions = non_action = 0
    for case, g in zip(cases, got, strict=True):
        e = case["intent"]
        per[e][0] += correct(e, g)
        per[e][1] += 1
        confusion[(e, g)] += 1
        if e not in ACTIONS:
            non_action += 1
            false_actions += is_false_action(e, g)
    right = sum(r for r, _ in per.values())
    return {"accuracy": right / len(cases), "right": right, "n": len(cases),
            "per": {i: (r / n if n else 0.0, r, n) for i, (r, n) in per.items()},
            "confusion": confusion, "false_actions": false_actions, "non_action": non_action}


def run(cases: list[dict[str, str]], embedder: emb.Embedder | None) -> tuple[list[str], list[float]]:
    got, times = [], []
    for case in cases:
        start = time.perf_counter()
        got.append(assistant.recognise(case["text"], embedder=embedder))
        times.append((time.perf_counter() - start) * 1000)
    return got, times


def _asks_model(text: str) -> bool:
    """Whether recognise goes on to the embeddings: no pattern, or only the question pattern."""
    matched = next((intent for intent, pattern in assistant.PATTERNS if pattern.search(text)), "")
    return matched in ("", assistant.ARTICLE)


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[int(0.95 * (len(ordered) - 1))]


def print_report(label: str, cases: list[dict[str, str]], embedder: emb.Embedder | None,
                 misses_of: str | None) -> None:
    halves = {h: [c for c in cases if c["half"] == h] for h in HALVES}
    results, times = {}, []
    for h in HALVES:
        got, t = run(halves[h], embedder)
        results[h] = (got, score(halves[h], got))
        times += t
    st, sh = results["tune"][1], results["heldout"][1]
    print(f"\n=== {label} ===")
    print(f"{'':22}{'tuning half':>18}{'held-out half = result':>28}")
    print(f"{'accuracy':22}{st['accuracy']:>10.3f} ({st['right']:>3}/{st['n']}){sh['accuracy']:>20.3f} "
          f"({sh['right']:>3}/{sh['n']})")
    for intent in INTENTS:
        at, rt, nt = st["per"][intent]
        ah, rh, nh = sh["per"][intent]
        print(f"  {intent:20}{at:>10.3f} ({rt:>3}/{nt:<2}){ah:>20.3f} ({rh:>3}/{nh:<2})")
    print(f"{'false actions':22}{st['false_actions']:>10} / {st['non_action']:<5}"
          f"{sh['false_actions']:>18} / {sh['non_action']}")
    print(f"time per utterance: median {statistics.median(times):.2f} ms, p95 {p95(times):.2f} ms "
          f"({len(times)} utterances; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    if embedder is not None:  # the ones no pattern settled are the ones that ask the model
        asked = [t for c, t in zip([*halves["tune"], *halves["heldout"]], times, strict=True)
                 if _asks_model(c["text"])]
        if asked:
            print(f"  of which the {len(asked)} that reach the model: median {statistics.median(asked):.2f} ms, "
                  f"p95 {p95(asked):.2f} ms")
    cols = [*INTENTS, ""]
    for h, name in (("tune", "tuning half"), ("heldout", "held-out half")):
        conf = results[h][1]["confusion"]
        print(f"confusion, {name} (rows expected, columns recognised):")
        print(f"  {'':9}" + "".join(f"{SHORT[c]:>9}" for c in cols))
        for e in INTENTS:
            print(f"  {SHORT[e]:9}" + "".join(f"{conf[(e, c)] or '.':>9}" for c in cols))
    if misses_of is not None:  # only the tuning half may be looked at while tuning
        got = results[misses_of][0]
        missed = [(c, g) for c, g in zip(halves[misses_of], got, strict=True) if not correct(c["intent"], g)]
        print(f"misses, {misses_of} half ({len(missed)}):")
        for c, g in missed:
            flag = "  FALSE ACTION" if is_false_action(c["intent"], g) else ""
            print(f"  {c['text']!r}: wanted {c['intent']}, got {g or '(not understood)'}{flag}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--misses", choices=["tuning"], help="list the tuning half's misses")
    parser.add_argument("--patterns-only", action="store_true", help="skip the embedding run")
    args = parser.parse_args()
    cases = load_cases()
    n_tune = sum(c["half"] == "tune" for c in cases)
    model = None if args.patterns_only else emb.load_embedder()
    runtime = type(model).__name__ if model is not None else (
        "not used" if args.patterns_only else "not installed (`make install` puts it in)")
    print(f"utterance set: {len(cases)} ({n_tune} tuning, {len(cases) - n_tune} held out); "
          f"embedding model: {runtime}")
    misses_of = "tune" if args.misses == "tuning" else None
    print_report("patterns only", cases, None, misses_of)
    if model is not None:
        assistant.recognise("warm up the example phrasings", embedder=model)  # their vectors, once
        print_report("patterns + embeddings (all-MiniLM-L6-v2)", cases, model, misses_of)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

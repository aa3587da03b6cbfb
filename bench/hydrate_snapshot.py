"""What a new tab's hydrate costs the event loop in the portal's state methods, against Reflex's
own methods on the same state tree, in the same run.

Reflex 0.10's `hydrate_and_load` puts the fields kept in the browser back to their defaults
(`_reset_client_storage`), snapshots the whole tree (`dict()`: the portal's ~50 states) and keeps
of it what differs from the compiled defaults the browser holds (`_diff_against_initial_state`).
It runs on the event loop for every tab a sign-in or a page load opens. The portal answers a state
that holds nothing of its own yet from a template made once per class (`portal/state/base.py`:
`PortalState.dict`, `_reset_client_storage`); here both are timed on fresh trees, alternating the
portal's methods with Reflex's (the same tree classes, the methods swapped), and the snapshots are
compared: they must be equal.

    .venv/bin/python bench/hydrate_snapshot.py             # 300 trees a round, 5 rounds
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PORTAL_ENV", "test")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trees", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    import reflex as rx
    from reflex.istate.delta import _resolve_delta
    from reflex.state import BaseState, _diff_against_initial_state, cache_initial_snapshot, state_snapshot_hashes

    import portal.portal  # noqa: F401 - every page and state
    from portal.state.base import PortalState

    portal_methods = {name: PortalState.__dict__[name] for name in ("dict", "_reset_client_storage")}
    reflex_methods = {name: getattr(BaseState, name) for name in portal_methods}

    def use(methods: dict[str, Any]) -> None:
        for name, fn in methods.items():
            setattr(PortalState, name, fn)

    async def run() -> None:
        use(reflex_methods)
        initial = await _resolve_delta(rx.State(_reflex_internal_init=True).dict(initial=True))
        cache_initial_snapshot(rx.State, initial)
        hashes = state_snapshot_hashes(initial)

        async def hydrate_cost(methods: dict[str, Any]) -> tuple[float, Any]:
            use(methods)
            trees = [rx.State(_reflex_internal_init=True) for _ in range(args.trees)]
            start = time.perf_counter()
            for tree in trees:
                tree._reset_client_storage()
                sent = await _diff_against_initial_state(rx.State, await _resolve_delta(tree.dict()), hashes)
            took = (time.perf_counter() - start) / args.trees * 1000
            return took, (await _resolve_delta(trees[0].dict()), sent)

        for methods in (reflex_methods, portal_methods):  # warm-up
            await hydrate_cost(methods)
        times: dict[str, list[float]] = {"reflex": [], "portal": []}
        for _ in range(args.rounds):
            for label, methods in (("reflex", reflex_methods), ("portal", portal_methods)):
                took, (snapshot, sent) = await hydrate_cost(methods)
                times[label].append(took)
                if label == "reflex":
                    expected = (snapshot, sent)
                elif (snapshot, sent) != expected:
                    raise SystemExit("the portal's snapshot differs from Reflex's")
        use(portal_methods)
        states = len(initial)
        fields = sum(len(v) for v in initial.values())
        print(f"$ .venv/bin/python bench/hydrate_snapshot.py --trees {args.trees} --rounds {args.rounds}")
        print(f"a new tab's tree: {states} states, {fields} fields shown; python {sys.version.split()[0]}, "
              f"load average {os.getloadavg()[0]:.1f}")
        print("reset client storage + snapshot + diff against the compiled defaults, ms per tab (median of rounds):")
        for label in ("reflex", "portal"):
            print(f"  {label + ' methods':16} {statistics.median(times[label]):6.2f}   "
                  f"rounds {', '.join(f'{t:.2f}' for t in times[label])}")
        print(f"portal / Reflex: {statistics.median(times['portal']) / statistics.median(times['reflex']):.2f}x; "
              "snapshots equal in every round")

    asyncio.run(run())


if __name__ == "__main__":
    main()

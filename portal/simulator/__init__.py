"""A carrier simulator that speaks the AfterShip Tracking API 2026-07 (see core.py).

`python -m portal.simulator` runs it standalone; outside production the portal also runs one
in-process (embedded.py) so the demo's shipments move while a person watches.
"""

from portal.simulator.core import SCENARIOS, Route_, Simulator, Step, VirtualClock

__all__ = ["SCENARIOS", "Route_", "Simulator", "Step", "VirtualClock"]

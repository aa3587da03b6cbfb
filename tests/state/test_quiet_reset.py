"""PortalState._reset_to: the end state of Reflex's reset() plus assignments, but only the fields
whose value changes are assigned (so a page load that shows the same as last time sends nothing)."""

from __future__ import annotations

from typing import Any

import pytest
import reflex as rx

import portal.portal  # noqa: F401 - registers every page and state
from portal.state.shipments import CheckpointRow, ShipmentState, ShipmentView


def _shipment_state() -> Any:
    root: Any = rx.State(_reflex_internal_init=True)
    return root.get_substate(ShipmentState.get_full_name().split(".")[1:])


def _values(st: Any) -> dict[str, Any]:
    return {name: st.get_value(name) for name in ("loaded", "error", "view", "milestones", "checkpoints",
                                                  "announce", "_shipment_id")}


def _shown() -> dict[str, Any]:
    return {"view": ShipmentView(carrier="DHL", tracking_number="B1"), "checkpoints": [
        CheckpointRow(when="1 Dec", label="In transit", message="Scan", location="Venlo", status="in_transit")],
        "loaded": True}


def test_it_ends_where_reset_and_assignment_end() -> None:
    a, b = _shipment_state(), _shipment_state()
    for st in (a, b):
        st.announce, st.error, st._shipment_id, st.loaded = "New tracking update", "old error", 7, True
    a.reset()
    for name, value in {**_shown(), "_shipment_id": 9}.items():
        setattr(a, name, value)
    b._reset_to(_shipment_id=9, **_shown())
    assert _values(a) == _values(b)


def test_only_what_changed_is_dirty() -> None:
    st = _shipment_state()
    st._reset_to(_shipment_id=9, **_shown())
    st.announce = "New tracking update"
    st._clean()
    st._reset_to(_shipment_id=9, **_shown())  # the same page again
    assert st.dirty_vars == {"announce"}  # back to its default; the rest was already so


def test_an_unknown_field_is_an_error() -> None:
    with pytest.raises(AttributeError):
        _shipment_state()._reset_to(no_such_field=1)

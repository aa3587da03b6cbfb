"""A "Get help with this" link for pages about an order, invoice, return or shipment.

The ticket form checks that the thing belongs to the signed-in customer before it is used.
"""

from __future__ import annotations

import reflex as rx

from portal.i18n import t


def help_link(context: str, context_id: rx.Var | int, label: str | rx.Var | None = None,
              test_id: str = "help-link") -> rx.Component:
    """`label`: the text shown (a `t(...)` Var), by default "Get help with this"."""
    assert context in ("order", "invoice", "return", "shipment")
    ident = rx.Var.create(str(context_id)) if isinstance(context_id, int) else context_id.to(str)
    # Only a reference: the form reads what it is about from the customer's own records.
    target = rx.Var.create(f"/support/new?about={context}:") + ident
    text = t("Get help with this") if label is None else label
    return rx.link(rx.hstack(rx.icon("life_buoy", size=16), rx.text(text), spacing="1", align="center"),
                   href=target, size="2", data_testid=test_id)

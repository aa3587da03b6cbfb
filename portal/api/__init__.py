"""Starlette routes mounted beside Reflex's own backend (rx.App(api_transformer=...))."""

"""Reflex state classes: thin; they call the domain and hold display rows, never tables."""

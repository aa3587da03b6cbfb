"""Adapters to the outside world: they never import domain or UI code."""

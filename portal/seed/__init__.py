"""Seed data: the help-center content (always) and a demo business (development only)."""

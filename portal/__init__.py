"""Self-hosted customer portal."""

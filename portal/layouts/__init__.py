"""Page frames."""

"""Deployment helpers: the scale-out topology (several instances behind nginx)."""

"""Page functions; each module registers its routes with register(app)."""

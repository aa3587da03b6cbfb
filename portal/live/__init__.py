"""Live push: domain events delivered to the open browsers of the people concerned."""

"""Tables owned by the inventory context (private to it)."""

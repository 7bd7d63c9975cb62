"""Tables owned by the orders context (private to it)."""

"""Tables owned by the notifications context (private to it)."""

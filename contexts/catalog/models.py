"""Tables owned by the catalog context (private to it)."""

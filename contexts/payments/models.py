"""Tables owned by the payments context (private to it)."""

"""Domain events published by the notifications context (frozen, versioned)."""

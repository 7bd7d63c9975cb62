"""Domain events published by the inventory context (frozen, versioned)."""

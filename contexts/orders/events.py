"""Domain events published by the orders context (frozen, versioned)."""

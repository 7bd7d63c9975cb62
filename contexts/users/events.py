"""Domain events published by the users context (frozen, versioned)."""

"""Domain events published by the catalog context (frozen, versioned)."""

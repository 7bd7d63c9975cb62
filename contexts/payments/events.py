"""Domain events published by the payments context (frozen, versioned)."""

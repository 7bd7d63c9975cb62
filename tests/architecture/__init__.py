"""Architecture tests: the rules of ARCHITECTURE.md that fail CI when broken."""

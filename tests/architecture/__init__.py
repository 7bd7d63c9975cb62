"""Architecture tests: the rules of docs/architecture.md that fail CI when broken."""

"""The inventory context's public interface: the only functions other contexts may call.

Functions take and return plain data (primitives and frozen dataclasses).
"""

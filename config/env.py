"""The one place the settings read the environment: typed, with errors that name the variable.

Every deployment knob is an environment variable read through one of these
functions (environs does the parsing, so ``CONN_MAX_AGE=soon`` stops the
process with ``Environment variable "CONN_MAX_AGE" invalid: Not a valid
integer.``). A variable that is unset or empty takes its default. Each read is
recorded in ``VARIABLES``, which a test compares with the README's table, so
the documentation lists exactly what the code reads.
"""

from __future__ import annotations

import os
from typing import Any

from environs import Env

_env = Env()

#: Every variable the settings read, with its default.
VARIABLES: dict[str, Any] = {}


def _given(name: str, default: Any) -> bool:
    VARIABLES[name] = default
    return os.environ.get(name, "").strip() != ""


def env_str(name: str, default: str) -> str:
    """A string variable."""
    return _env.str(name) if _given(name, default) else default


def env_bool(name: str, default: bool = False) -> bool:
    """A boolean: 1/0, true/false, yes/no, on/off (anything else is an error)."""
    return _env.bool(name) if _given(name, default) else default


def env_int(name: str, default: int) -> int:
    """An integer variable."""
    return _env.int(name) if _given(name, default) else default


def env_float(name: str, default: float) -> float:
    """A number variable (seconds, hours, days)."""
    return _env.float(name) if _given(name, default) else default


def env_list(name: str, default: str) -> list[str]:
    """A comma-separated list; blanks around items are dropped."""
    raw = _env.str(name) if _given(name, default) else default
    return [item.strip() for item in raw.split(",") if item.strip()]

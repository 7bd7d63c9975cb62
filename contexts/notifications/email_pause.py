"""After a failed send, this process sends no email at commit for a while.

A hanging SMTP server makes every send wait ``EMAIL_TIMEOUT``. Sends at
commit run in the worker's pool, in the delivery that stored the
notification, so without a pause every delivery of a notification would
wait that long and hold a pool slot the other events need. After a failure
the process pauses those sends (30 s, doubling while sends keep failing, up
to 10 minutes) and leaves the emails due for the beat sweep, whose sends are
not paused: a sweep that succeeds ends the pause. The state is per process,
so a hanging server costs each pool process at most one ``EMAIL_TIMEOUT``
per pause.
"""

from __future__ import annotations

import time

FIRST_PAUSE_SECONDS = 30.0
MAX_PAUSE_SECONDS = 600.0

_paused_until = 0.0
_failures = 0


def paused() -> bool:
    """True while sends at commit should be left to the sweep."""
    return time.monotonic() < _paused_until


def failed() -> None:
    """A send failed: pause, longer each time in a row."""
    global _paused_until, _failures
    seconds = min(FIRST_PAUSE_SECONDS * 2**_failures, MAX_PAUSE_SECONDS)
    _failures += 1
    _paused_until = time.monotonic() + seconds


def succeeded() -> None:
    """A send went through: no pause."""
    global _paused_until, _failures
    _paused_until, _failures = 0.0, 0

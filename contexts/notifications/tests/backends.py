"""Email backends that fail while a flag file exists (tests of email retries)."""

from __future__ import annotations

import os
from pathlib import Path

from django.core.mail.backends.filebased import EmailBackend as FileBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend

FLAG_ENV = "NOTIFICATIONS_TEST_EMAIL_FAILS_WHILE"


def _fail_while_flagged() -> None:
    flag = os.environ.get(FLAG_ENV)
    if flag and Path(flag).exists():
        raise ConnectionRefusedError("SMTP server unreachable (test)")


class FlakyEmailBackend(LocmemBackend):
    """``locmem``, except that sending raises while the file named by the env var exists."""

    def send_messages(self, messages):
        _fail_while_flagged()
        return super().send_messages(messages)


class FlakyFileBackend(FileBackend):
    """The file backend (a test worker's), failing the same way."""

    def send_messages(self, messages):
        _fail_while_flagged()
        return super().send_messages(messages)

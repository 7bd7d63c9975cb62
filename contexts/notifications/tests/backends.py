"""An email backend that fails while a flag file exists (tests of email retries)."""

from __future__ import annotations

import os
from pathlib import Path

from django.core.mail.backends.locmem import EmailBackend as LocmemBackend

FLAG_ENV = "NOTIFICATIONS_TEST_EMAIL_FAILS_WHILE"


class FlakyEmailBackend(LocmemBackend):
    """``locmem``, except that sending raises while the file named by the env var exists."""

    def send_messages(self, messages):
        flag = os.environ.get(FLAG_ENV)
        if flag and Path(flag).exists():
            raise ConnectionRefusedError("SMTP server unreachable (test)")
        return super().send_messages(messages)

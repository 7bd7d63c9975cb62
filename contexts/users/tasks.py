"""Periodic housekeeping of the users context."""

from celery import shared_task
from django.core.management import call_command


@shared_task(name="users.flush_expired_tokens")
def flush_expired_tokens() -> None:
    """Delete expired refresh tokens from simplejwt's blacklist tables (daily, by beat)."""
    call_command("flushexpiredtokens")

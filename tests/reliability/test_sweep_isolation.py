"""Sweep isolation: a failing database and a hanging SMTP server do not stop other events
(cross-context: the kernel's sweep, the notifications context's email sends).

A real worker runs the sweep (beat embedded) with one context's database
unreachable, while a second worker sends email to an SMTP server that accepts
and never answers. Events whose delivery depends on the sweep (an unpublished
outbox row in the database the sweep visits last, and a failed delivery whose
retry is due) must still be delivered; the hanging sends give up after
``EMAIL_TIMEOUT`` and are recorded for a retry.
"""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from django.utils import timezone

from contexts.kernel.databases import database_for
from contexts.kernel.models import InboxMessage, OutboxMessage
from contexts.kernel.testing import HangingServer, free_port, purge_broker, wait_for
from contexts.kernel.tests.helpers import publish_committed
from contexts.kernel.tests.isolation_probe import LateProbe
from contexts.kernel.tests.probe import CONSUMER, ProbeHappened
from contexts.notifications.models import DeliveryAttempt
from contexts.notifications.services import notification_create

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BROKEN_CONTEXT = "payments"  # visited before the last context's database
DEAD_DATABASE_PORT = free_port()  # nothing listens there
HANDLER = "contexts.kernel.tests.probe.handle_probe"


def unpublished(event) -> None:
    """Publish ``event`` and leave it to the sweep (as after a broker outage)."""
    publish_committed(event)
    OutboxMessage.objects.using(database_for(event.context)).filter(pk=event.event_id).update(
        published_at=None
    )


def failed_once_and_due(event) -> None:
    """A delivery that failed once and whose retry is due: only the sweep's re-drive sends it."""
    envelope = publish_committed(event)
    now = timezone.now()
    InboxMessage.objects.using(database_for(CONSUMER)).create(
        event_id=event.event_id, handler=HANDLER, context=CONSUMER, event_name=event.name,
        event_version=event.version, envelope=envelope, attempts=1, last_error="earlier failure",
        received_at=now, last_attempt_at=now, next_attempt_at=now,
    )  # fmt: skip


@pytest.mark.timeout(240)
def test_a_failing_database_and_hanging_email_do_not_stop_the_other_events(
    start_probe_worker, probe_effects
):
    late, retried = LateProbe(), ProbeHappened()
    unpublished(late)
    failed_once_and_due(retried)
    purge_broker()  # the relay's messages are lost: only the sweep can deliver

    with HangingServer() as smtp:
        for n in range(8):  # sends that hang in turn, each until EMAIL_TIMEOUT
            notification_create(
                user_id=uuid.uuid4(), kind="WELCOME", subject="Welcome", body="Hello",
                source_event_id=uuid.uuid4(), recipient_email=f"hang{n}@example.com",
            )  # fmt: skip
        start_probe_worker(
            queues=[settings.EMAIL_QUEUE],
            env={
                "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": str(smtp.port),
            },
        )
        # The email worker is stuck on the SMTP server from here on.
        wait_for(lambda: smtp.accepted >= 1, timeout=60, message="no email send started")
        main = start_probe_worker(
            queues=[queue.name for queue in settings.CELERY_TASK_QUEUES],
            beat=True,
            include=["contexts.kernel.tests.isolation_probe"],
            env={
                "EVENT_SWEEP_SECONDS": "1",
                "TEST_BROKEN_CONTEXT": BROKEN_CONTEXT,
                "TEST_BROKEN_DATABASE_PORT": str(DEAD_DATABASE_PORT),
            },
        )

        # Other contexts' events flow while the broken database fails every
        # sweep and the email sends hang.
        try:
            wait_for(
                lambda: (
                    probe_effects.count(late.event_id) == 1
                    and probe_effects.count(retried.event_id) == 1
                ),
                timeout=30,
            )
        except AssertionError:
            raise AssertionError(f"not delivered by the sweep:\n{main.logs()[-3000:]}") from None
        assert f"failed for database {BROKEN_CONTEXT}" in main.logs()

        # A hanging send gives up after EMAIL_TIMEOUT (default) and is retried later.
        failure = wait_for(
            lambda: DeliveryAttempt.objects.filter(succeeded=False).first(), timeout=60
        )
        assert "timed out" in failure.error
    assert probe_effects.count() == 2

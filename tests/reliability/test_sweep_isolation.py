"""Sweep isolation: a failing database and a hanging SMTP server do not stop other events
(cross-context: the kernel's sweep, the notifications context's email sends).

One real worker (one pool process) runs the sweep (beat embedded) with one
context's database unreachable, and sends the email of every notification it
stores to an SMTP server that accepts and never answers. Events whose
delivery depends on the sweep (an unpublished outbox row in the database the
sweep visits last, and a failed delivery whose retry is due) must still be
delivered, and every notification must still be stored, although each send
would wait ``EMAIL_TIMEOUT``: the first hanging send gives up after it and is
recorded for a retry, and the process then pauses its sends at commit, leaving
the emails due for the notifications sweep.
"""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from contexts.kernel.databases import database_for
from contexts.kernel.models import InboxMessage, OutboxMessage
from contexts.kernel.testing import HangingServer, free_port, purge_broker, wait_for
from contexts.kernel.tests.helpers import publish_committed
from contexts.kernel.tests.isolation_probe import LateProbe
from contexts.kernel.tests.probe import CONSUMER, ProbeHappened
from contexts.notifications.models import DeliveryAttempt, Notification
from contexts.users.events import UserRegistered

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
        main = start_probe_worker(
            beat=True,
            include=["contexts.kernel.tests.isolation_probe"],
            env={
                "EVENT_SWEEP_SECONDS": "1",
                "TEST_BROKEN_CONTEXT": BROKEN_CONTEXT,
                "TEST_BROKEN_DATABASE_PORT": str(DEAD_DATABASE_PORT),
                "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": str(smtp.port),
            },
        )
        signups = [signup(0)]
        # The worker is stuck on the SMTP server from here on (until EMAIL_TIMEOUT).
        wait_for(lambda: smtp.accepted >= 1, timeout=60, message="no email send started")
        signups += [signup(n) for n in range(1, 8)]  # each send would hang in turn

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
            wait_for(lambda: Notification.objects.count() == len(signups), timeout=30)
        except AssertionError:
            raise AssertionError(f"not delivered:\n{main.logs()[-3000:]}") from None
        assert f"failed for database {BROKEN_CONTEXT}" in main.logs()

        # The hanging send gave up after EMAIL_TIMEOUT (default) and is retried later;
        # the others were not tried at all (one SMTP wait, not eight).
        failure = wait_for(
            lambda: DeliveryAttempt.objects.filter(succeeded=False).first(), timeout=60
        )
        assert "timed out" in failure.error
        assert smtp.accepted <= 2  # the first send, and at most one sweep's
        # No email is lost: each is unsent and due again.
        unsent = Notification.objects.filter(
            email_sent_at__isnull=True, email_next_attempt_at__isnull=False
        )
        assert unsent.count() == len(signups)
    assert probe_effects.count() == 2


def signup(n: int) -> UserRegistered:
    """A registration whose welcome notification the worker stores (and would email)."""
    event = UserRegistered(
        user_id=uuid.uuid4(), email=f"hang{n}@example.com", display_name=f"Hang {n}"
    )
    publish_committed(event)
    return event

"""The admin of the event machinery: outbox, inbox, dead letters and their replay."""

from __future__ import annotations

import pytest
from django.test import Client

from contexts.kernel import delivery
from contexts.kernel.databases import database_for
from contexts.kernel.models import DeadLetter, InboxMessage
from contexts.kernel.testing import purge_broker
from contexts.kernel.tests.helpers import publish_committed, queued_messages
from contexts.kernel.tests.probe import CONSUMER, ProbeHappened

pytestmark = pytest.mark.django_db(transaction=True)

HANDLER = "kernel_tests.handle_probe"


@pytest.fixture
def admin(staff_user) -> Client:
    staff_user.is_superuser = True
    staff_user.save()
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def dead_letter(settings, probe_effects, tmp_path) -> DeadLetter:
    settings.EVENT_MAX_ATTEMPTS = 1
    failing = tmp_path / "fail"
    failing.touch()
    envelope = publish_committed(ProbeHappened(mode="fail_while_file", path=str(failing)))
    assert delivery.deliver(context=CONSUMER, handler=HANDLER, event=envelope) == delivery.DEAD
    return DeadLetter.objects.using(database_for(CONSUMER)).get()


def db_param() -> dict[str, str]:
    return {"db": database_for(CONSUMER)}


@pytest.mark.parametrize("model", ["outboxmessage", "inboxmessage", "deadletter"])
def test_each_event_table_has_a_changelist(admin, dead_letter, model):
    response = admin.get(f"/admin/kernel/{model}/", db_param())
    assert response.status_code == 200


def test_a_dead_letter_shows_its_error_and_can_be_opened(admin, dead_letter):
    listing = admin.get("/admin/kernel/deadletter/", db_param())
    assert "probe handler failing on purpose" in listing.content.decode()

    page = admin.get(f"/admin/kernel/deadletter/{dead_letter.pk}/change/")
    assert page.status_code == 200
    assert HANDLER in page.content.decode()


def test_the_replay_action_delivers_the_dead_letter_again(admin, dead_letter):
    purge_broker()
    query = "&".join(f"{k}={v}" for k, v in db_param().items())

    response = admin.post(
        f"/admin/kernel/deadletter/?{query}",
        {"action": "replay", "_selected_action": [str(dead_letter.pk)]},
    )

    assert response.status_code == 302
    dead_letter.refresh_from_db()
    assert dead_letter.replayed_at is not None
    inbox = InboxMessage.objects.using(database_for(CONSUMER)).get(event_id=dead_letter.event_id)
    assert (inbox.status, inbox.attempts) == (InboxMessage.Status.PENDING, 0)
    [message] = queued_messages(CONSUMER)
    assert message["kwargs"]["event"]["event_id"] == str(dead_letter.event_id)

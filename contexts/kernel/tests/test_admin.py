"""The admin of the event machinery: outbox, inbox, dead letters and their replay."""

from __future__ import annotations

import pytest
from django.test import Client

from contexts.kernel import delivery
from contexts.kernel.databases import database_for
from contexts.kernel.models import DeadLetter, InboxMessage
from contexts.kernel.testing import purge_broker
from contexts.kernel.tests.helpers import publish_committed, queued_deliveries
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
    [message] = queued_deliveries(CONSUMER)
    assert message["kwargs"]["event"]["event_id"] == str(dead_letter.event_id)


def staff_with(staff_user, *codenames: str) -> Client:
    from django.contrib.auth.models import Permission

    staff_user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="kernel", codename__in=codenames)
    )
    client = Client()
    client.force_login(staff_user)
    return client


def post_replay(client: Client, dead_letter: DeadLetter):
    query = "&".join(f"{k}={v}" for k, v in db_param().items())
    return client.post(
        f"/admin/kernel/deadletter/?{query}",
        {"action": "replay", "_selected_action": [str(dead_letter.pk)]},
    )


def test_a_staff_user_who_may_only_view_dead_letters_cannot_replay_them(staff_user, dead_letter):
    viewer = staff_with(staff_user, "view_deadletter")
    purge_broker()
    assert viewer.get("/admin/kernel/deadletter/", db_param()).status_code == 200

    post_replay(viewer, dead_letter)

    dead_letter.refresh_from_db()
    assert dead_letter.replayed_at is None
    assert queued_deliveries(CONSUMER) == []
    listing = viewer.get("/admin/kernel/deadletter/", db_param()).content.decode()
    assert 'value="replay"' not in listing  # the action is not even offered


def test_the_change_permission_on_dead_letters_allows_the_replay(staff_user, dead_letter):
    operator = staff_with(staff_user, "view_deadletter", "change_deadletter")
    purge_broker()
    assert (
        'value="replay"' in operator.get("/admin/kernel/deadletter/", db_param()).content.decode()
    )

    assert post_replay(operator, dead_letter).status_code == 302

    dead_letter.refresh_from_db()
    assert dead_letter.replayed_at is not None
    assert len(queued_deliveries(CONSUMER)) == 1

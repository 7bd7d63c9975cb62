"""Operations on the event machinery: the operator signals (service, command, admin page),
every database in the kernel's changelists, the filtered replay and the long commands'
``--batch-size``/``--dry-run``/progress."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from contexts.kernel.models import DeadLetter, InboxMessage, OutboxMessage
from contexts.kernel.operations import operator_signals
from contexts.kernel.relay import database_contexts
from contexts.kernel.testing import purge_broker

pytestmark = pytest.mark.django_db(transaction=True)


def aliases() -> list[str]:
    return list(database_contexts())


def outbox_row(alias: str, *, age: timedelta = timedelta(0), published: bool = False, **extra):
    row = OutboxMessage.objects.using(alias).create(
        event_id=uuid.uuid4(),
        context="kernel_tests",
        event_name="ops.Probe",
        event_version=1,
        payload={},
        correlation_id="ops",
        occurred_at=timezone.now(),
        published_at=timezone.now() if published else None,
        **extra,
    )
    if age:
        OutboxMessage.objects.using(alias).filter(pk=row.pk).update(created_at=timezone.now() - age)
    return row


def inbox_row(alias: str, *, attempts: int, status=InboxMessage.Status.PENDING, handler="h.one"):
    now = timezone.now()
    return InboxMessage.objects.using(alias).create(
        event_id=uuid.uuid4(),
        handler=handler,
        context="kernel_tests",
        event_name="ops.Probe",
        event_version=1,
        envelope={},
        status=status,
        attempts=attempts,
        received_at=now,
        last_attempt_at=now,
        next_attempt_at=now + timedelta(hours=1),
    )


def dead_letter(alias: str, *, handler="h.one", context="kernel_tests", age=timedelta(0)):
    inbox = inbox_row(alias, attempts=5, status=InboxMessage.Status.DEAD, handler=handler)
    letter = DeadLetter.objects.using(alias).create(
        event_id=inbox.event_id,
        handler=handler,
        context=context,
        event_name="ops.Probe",
        event_version=1,
        envelope={},
        error="boom",
        attempts=5,
    )
    if age:
        DeadLetter.objects.using(alias).filter(pk=letter.pk).update(created_at=timezone.now() - age)
    return letter


@pytest.fixture
def backlog():
    """In every database: two unpublished rows (the older 90 s old), a published one,
    one awaiting re-drive, an open and a replayed dead letter, an inbox row pending retry."""
    for alias in aliases():
        outbox_row(alias, age=timedelta(seconds=90))
        outbox_row(alias)
        outbox_row(alias, published=True)
        outbox_row(
            alias,
            published=True,
            unconfirmed={"h.one": "kernel_tests"},
            redrive_at=timezone.now() + timedelta(minutes=1),
        )
        dead_letter(alias)
        replayed = dead_letter(alias)
        DeadLetter.objects.using(alias).filter(pk=replayed.pk).update(replayed_at=timezone.now())
        inbox_row(alias, attempts=2)
        inbox_row(alias, attempts=0)  # delivered once, not failed yet: not a retry


def test_the_signals_are_computed_for_every_database(backlog):
    signals = operator_signals()

    assert [db.alias for db in signals.databases] == aliases()
    for db in signals.databases:
        assert db.error == ""
        assert db.outbox_unpublished == 2
        assert 90 <= db.oldest_unpublished_age_seconds < 150
        assert db.unconfirmed_awaiting_redrive == 1
        assert db.dead_letters_open == 1
        assert db.inbox_pending_retry == 1


def test_with_nothing_waiting_every_signal_is_zero():
    for db in operator_signals().databases:
        assert (db.outbox_unpublished, db.oldest_unpublished_age_seconds) == (0, None)
        assert (db.dead_letters_open, db.inbox_pending_retry) == (0, 0)


def test_the_command_prints_the_signals_and_json(backlog):
    out = StringIO()
    call_command("operator_signals", stdout=out)
    lines = out.getvalue().splitlines()
    for alias in aliases():
        [line] = [x for x in lines if x.startswith(f"{alias}:")]
        assert "outbox unpublished=2" in line
        assert "dead letters open=1" in line
        assert "inbox pending retry=1" in line

    out = StringIO()
    call_command("operator_signals", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert {db["alias"]: db["outbox_unpublished"] for db in data["databases"]} == {
        alias: 2 for alias in aliases()
    }
    assert all(db["unconfirmed_awaiting_redrive"] == 1 for db in data["databases"])


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_signals_page_is_for_staff_only_and_linked_from_the_index(
    backlog, staff_user, make_user
):
    staff = client_for(staff_user)
    page = staff.get("/admin/operator-signals/")
    assert page.status_code == 200
    body = page.content.decode()
    for alias in aliases():
        assert f'data-alias="{alias}"' in body
    assert body.count('class="outbox-unpublished"') == len(aliases())
    assert "/admin/operator-signals/" in staff.get("/admin/").content.decode()

    customer = client_for(make_user())
    refused = customer.get("/admin/operator-signals/")
    assert refused.status_code == 302
    assert "/admin/login/" in refused["Location"]
    assert Client().get("/admin/operator-signals/").status_code == 302


@pytest.fixture
def superuser(staff_user):
    staff_user.is_superuser = True
    staff_user.save()
    return client_for(staff_user)


@pytest.mark.parametrize("model", ["outboxmessage", "inboxmessage", "deadletter"])
def test_each_changelist_offers_every_database_with_its_row_count(superuser, backlog, model):
    body = superuser.get(f"/admin/kernel/{model}/").content.decode()
    expected = {"outboxmessage": 4, "inboxmessage": 4, "deadletter": 2}[model]
    if len(aliases()) == 1:
        assert "?db=" not in body  # one database: nothing to choose
        return
    for alias in aliases():
        assert f"?db={alias}" in body
        assert f"{alias} ({expected})" in body


def test_the_changelist_lists_the_rows_of_the_database_picked(superuser):
    letters = {alias: dead_letter(alias) for alias in aliases()}
    for alias in aliases():
        body = superuser.get("/admin/kernel/deadletter/", {"db": alias}).content.decode()
        for other, letter in letters.items():
            link = f"/admin/kernel/deadletter/{letter.pk}/change/"
            assert (link in body) == (other == alias)


def staff_with(staff_user, *codenames: str) -> Client:
    staff_user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="kernel", codename__in=codenames)
    )
    return client_for(staff_user)


@pytest.mark.parametrize("allowed", [True, False])
def test_select_all_replays_what_the_filters_match(staff_user, allowed):
    purge_broker()
    alias = aliases()[-1]
    wanted = [dead_letter(alias, handler="h.wanted") for _ in range(3)]
    other = dead_letter(alias, handler="h.other")
    codenames = ["view_deadletter"] + (["change_deadletter"] if allowed else [])
    client = staff_with(staff_user, *codenames)

    client.post(
        f"/admin/kernel/deadletter/?db={alias}&handler=h.wanted",
        {
            "action": "replay",
            "select_across": "1",
            "index": "0",
            "_selected_action": [str(wanted[0].pk)],
        },
    )

    replayed = set(
        DeadLetter.objects.using(alias)
        .filter(replayed_at__isnull=False)
        .values_list("pk", flat=True)
    )
    assert replayed == ({w.pk for w in wanted} if allowed else set())
    assert other.pk not in replayed


def test_replay_command_filters_dry_run_and_batches(capsys):
    alias = aliases()[-1]
    recent = [dead_letter(alias, handler="h.a", context="ctx_a") for _ in range(3)]
    dead_letter(alias, handler="h.a", context="ctx_a", age=timedelta(days=3))
    dead_letter(alias, handler="h.b", context="ctx_a")
    dead_letter(alias, handler="h.a", context="ctx_b")
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    filters = ["--handler", "h.a", "--context", "ctx_a", "--since", since]

    out = StringIO()
    call_command("replay_dead_letters", *filters, "--dry-run", stdout=out)
    assert "would replay 3 dead letter(s)" in out.getvalue()
    assert not DeadLetter.objects.using(alias).filter(replayed_at__isnull=False).exists()

    purge_broker()
    out = StringIO()
    call_command("replay_dead_letters", *filters, "--batch-size", "2", stdout=out)
    text = out.getvalue()
    assert "2 dead letter(s) replayed so far" in text
    assert "3 dead letter(s) replayed so far" in text
    assert "replayed 3 dead letter(s)" in text
    replayed = set(
        DeadLetter.objects.using(alias)
        .filter(replayed_at__isnull=False)
        .values_list("pk", flat=True)
    )
    assert replayed == {r.pk for r in recent}


def test_replay_command_refuses_a_bad_since():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--since"):
        call_command("replay_dead_letters", "--since", "yesterday", stdout=StringIO())


def test_purge_command_dry_run_counts_and_batch_size_shows_progress(settings):
    settings.EVENT_RETENTION_DAYS = 1
    old = timezone.now() - timedelta(days=2)
    for alias in aliases():
        for _ in range(3):
            row = outbox_row(alias, published=True)
            OutboxMessage.objects.using(alias).filter(pk=row.pk).update(published_at=old)
    total = 3 * len(aliases())

    out = StringIO()
    call_command("purge_event_history", "--dry-run", stdout=out)
    assert f"would delete outbox: {total}" in out.getvalue()
    assert OutboxMessage.objects.using(aliases()[0]).count() == 3

    out = StringIO()
    call_command("purge_event_history", "--batch-size", "2", stdout=out)
    lines = out.getvalue().splitlines()
    assert any(line.startswith("deleted so far: outbox: ") for line in lines)
    assert lines[-1].startswith(f"outbox: {total}")
    assert all(not OutboxMessage.objects.using(a).exists() for a in aliases())

"""Services and public interface of the users context, against real PostgreSQL."""

from __future__ import annotations

import threading
from uuid import UUID, uuid4

import pytest
from django.db import connections

from contexts.kernel.databases import database_for
from contexts.kernel.models import OutboxMessage
from contexts.users import contracts, public, services
from contexts.users.errors import EmailAlreadyRegistered, InvalidRegistration
from contexts.users.models import User, UserPreferences, UserProfile
from contexts.users.tests.factories import KNOWN_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

STRONG = "correct-horse-battery"


def registered_events() -> list[OutboxMessage]:
    return list(
        OutboxMessage.objects.using(database_for("users")).filter(event_name="users.UserRegistered")
    )


# --- user_register ----------------------------------------------------------------


def test_register_creates_user_profile_and_preferences():
    user = services.user_register(email=" Ada@Example.COM ", name=" Ada ", password=STRONG)

    stored = User.objects.get(pk=user.pk)
    assert stored.email == "ada@example.com"
    assert stored.name == "Ada"
    assert stored.is_active and not stored.is_staff
    assert stored.check_password(STRONG)
    assert UserProfile.objects.get(user=stored).city == ""
    prefs = UserPreferences.objects.get(user=stored)
    assert (prefs.marketing_emails, prefs.order_updates, prefs.language) == (False, True, "en")


def test_register_publishes_exactly_one_user_registered_event():
    user = services.user_register(email="Bob@Example.com", name="Bob", password=STRONG)

    events = registered_events()
    assert len(events) == 1
    event = events[0]
    assert event.context == "users"
    assert event.event_version == 1
    assert event.payload == {
        "user_id": str(user.id),
        "email": "bob@example.com",
        "display_name": "Bob",
    }


@pytest.mark.parametrize("email", ["taken@example.com", "TAKEN@example.com", " Taken@Example.Com"])
def test_register_rejects_a_taken_email_in_any_case_and_writes_no_event(email):
    UserFactory(email="taken@example.com")

    with pytest.raises(EmailAlreadyRegistered) as caught:
        services.user_register(email=email, name="X", password=STRONG)

    assert caught.value.field == "email"
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1
    assert registered_events() == []


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1", "too short"),
        ("password123", "too common"),
        ("83749218374", "entirely numeric"),
        ("carol.jones@example.com", "too similar"),
    ],
)
def test_register_rejects_a_weak_password_and_writes_nothing(password, reason):
    with pytest.raises(InvalidRegistration) as caught:
        services.user_register(email="carol.jones@example.com", name="Carol", password=password)

    assert caught.value.field == "password"
    assert reason in caught.value.detail
    assert not User.objects.filter(email="carol.jones@example.com").exists()
    assert registered_events() == []


@pytest.mark.parametrize(
    ("email", "name", "field"),
    [
        ("not-an-email", "Dan", "email"),
        ("dan@", "Dan", "email"),
        ("dan@example.com", "   ", "name"),
        ("dan@example.com", "x" * 151, "name"),
    ],
)
def test_register_rejects_invalid_fields(email, name, field):
    with pytest.raises(InvalidRegistration) as caught:
        services.user_register(email=email, name=name, password=STRONG)

    assert caught.value.field == field
    assert registered_events() == []


def test_register_rolls_back_the_user_when_publishing_fails(monkeypatch):
    def broken_publish(event):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(services, "publish", broken_publish)

    with pytest.raises(RuntimeError):
        services.user_register(email="eve@example.com", name="Eve", password=STRONG)

    assert not User.objects.filter(email="eve@example.com").exists()
    assert not UserProfile.objects.filter(user__email="eve@example.com").exists()


def test_register_losing_a_race_on_the_unique_email_is_a_domain_error(monkeypatch):
    """The pre-check passes, then the insert hits the unique constraint: 400, not 500."""
    UserFactory(email="race@example.com")
    real_check = services.user_email_taken
    calls = []

    def stale_first_check(*, email):
        calls.append(email)
        return False if len(calls) == 1 else real_check(email=email)

    monkeypatch.setattr(services, "user_email_taken", stale_first_check)

    with pytest.raises(EmailAlreadyRegistered):
        services.user_register(email="Race@example.com", name="Late", password=STRONG)

    assert len(calls) == 2
    assert User.objects.filter(email="race@example.com").count() == 1
    assert registered_events() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_registrations_create_one_account():
    threads_count = 4
    barrier = threading.Barrier(threads_count)
    outcomes: list[str] = []
    lock = threading.Lock()

    def register(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            email = "SAME@example.com" if i % 2 else "same@EXAMPLE.com"
            services.user_register(email=email, name=f"U{i}", password=STRONG)
            result = "created"
        except EmailAlreadyRegistered:
            result = "taken"
        except Exception as exc:  # reported below, so the assertion names it
            result = f"error: {exc!r}"
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["created"] + ["taken"] * (threads_count - 1)
    assert User.objects.filter(email="same@example.com").count() == 1
    assert len(registered_events()) == 1


# --- user_update -------------------------------------------------------------------


def test_update_changes_only_the_given_fields():
    user = UserFactory(name="Old")
    user.profile.city = "Berlin"
    user.profile.save()

    updated = services.user_update(
        user=user,
        name=" New ",
        profile={"phone": "+49 30 123456", "country": "de"},
        preferences={"marketing_emails": True},
    )

    assert updated.name == "New"
    assert updated.profile.phone == "+49 30 123456"
    assert updated.profile.country == "DE"
    assert updated.profile.city == "Berlin"
    assert updated.preferences.marketing_emails is True
    assert updated.preferences.order_updates is True
    assert User.objects.get(pk=user.pk).name == "New"


def test_update_creates_missing_profile_rows():
    user = User.objects.create(email="bare@example.com", name="Bare")  # no profile rows

    updated = services.user_update(user=user, profile={"city": "Oslo"})

    assert updated.profile.city == "Oslo"
    assert UserProfile.objects.filter(user=user).count() == 1


def test_update_rejects_a_blank_name():
    user = UserFactory(name="Kept")

    with pytest.raises(InvalidRegistration):
        services.user_update(user=user, name="  ")

    assert User.objects.get(pk=user.pk).name == "Kept"


def test_update_refuses_fields_outside_the_profile():
    user = UserFactory()

    with pytest.raises(TypeError):
        services.user_update(user=user, profile={"user_id": uuid4()})


# --- public interface ------------------------------------------------------------


def test_get_user_returns_a_frozen_dto():
    user = UserFactory(email="info@example.com", name="Info", is_staff=True)

    info = public.get_user(user.id)

    assert info == contracts.UserInfo(
        id=user.id, email="info@example.com", name="Info", is_active=True, is_staff=True
    )
    with pytest.raises(AttributeError):
        info.name = "changed"  # type: ignore[misc]


def test_get_user_returns_inactive_users_too():
    user = UserFactory(is_active=False)

    info = public.get_user(user.id)

    assert info is not None
    assert info.is_active is False


@pytest.mark.parametrize("user_id", [uuid4(), "not-a-uuid", str(uuid4())])
def test_get_user_of_an_unknown_or_malformed_id_is_none(user_id):
    assert public.get_user(user_id) is None


def test_user_exists_for_active_users_only():
    active = UserFactory()
    inactive = UserFactory(is_active=False)

    assert public.user_exists(active.id) is True
    assert public.user_exists(str(active.id)) is True
    assert public.user_exists(inactive.id) is False
    assert public.user_exists(uuid4()) is False
    assert public.user_exists("nope") is False  # type: ignore[arg-type]


def test_factory_user_signs_in_with_the_known_password():
    user = UserFactory()

    assert isinstance(user.id, UUID)
    assert user.check_password(KNOWN_PASSWORD)
    assert UserProfile.objects.filter(user=user).exists()
    assert UserPreferences.objects.filter(user=user).exists()

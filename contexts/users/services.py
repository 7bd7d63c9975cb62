"""Write use-cases of the users context; each runs in one ``atomic("users")``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError

from contexts.kernel.outbox import publish
from contexts.kernel.transactions import atomic
from contexts.users.errors import EmailAlreadyRegistered, InvalidRegistration, UserNotFound
from contexts.users.events import UserRegistered
from contexts.users.models import (
    EMAIL_MAX_LENGTH,
    NAME_MAX_LENGTH,
    User,
    UserPreferences,
    UserProfile,
    normalize_email,
)
from contexts.users.selectors import user_email_taken, user_get_with_details

#: Fields of the profile and preferences a user may change themselves.
PROFILE_FIELDS = frozenset(
    {
        "phone",
        "bio",
        "avatar_url",
        "address_line1",
        "address_line2",
        "city",
        "postal_code",
        "country",
    }
)
PREFERENCES_FIELDS = frozenset({"marketing_emails", "order_updates", "language"})

_EMAIL_TAKEN = "A user with this email is already registered."


def user_register(*, email: str, name: str, password: str) -> User:
    """Create an account with an empty profile and default preferences.

    Publishes ``UserRegistered`` in the same transaction. Raises
    ``InvalidRegistration`` for a malformed email, blank name or weak password
    (Django's AUTH_PASSWORD_VALIDATORS), and ``EmailAlreadyRegistered`` when
    the email is taken in any case, also when two registrations race.
    """
    email = normalize_email(email)
    name = name.strip()
    _check_email(email)
    _check_name(name)
    user = User(email=email, name=name)
    _check_password(password, user)
    if user_email_taken(email=email):
        raise EmailAlreadyRegistered(_EMAIL_TAKEN, field="email")
    user.set_password(password)
    try:
        with atomic("users"):
            User.objects.insert_with_details(user)
            publish(UserRegistered(user_id=user.id, email=user.email, display_name=user.name))
    except IntegrityError as exc:
        # A concurrent registration with the same email committed first.
        if user_email_taken(email=email):
            raise EmailAlreadyRegistered(_EMAIL_TAKEN, field="email") from exc
        raise
    return user


def user_update(
    *,
    user: User,
    name: str | None = None,
    profile: Mapping[str, Any] | None = None,
    preferences: Mapping[str, Any] | None = None,
) -> User:
    """Change ``user``'s name and any of its profile and preferences fields.

    Only the given fields change; email, staff flags and ids are not
    changeable here. Returns the user reloaded with its profile and preferences.
    """
    profile = dict(profile or {})
    preferences = dict(preferences or {})
    _check_known(profile, PROFILE_FIELDS, "profile")
    _check_known(preferences, PREFERENCES_FIELDS, "preferences")
    if name is not None:
        name = name.strip()
        _check_name(name)
    if "country" in profile:
        profile["country"] = profile["country"].strip().upper()

    with atomic("users"):
        if name is not None and name != user.name:
            User.objects.filter(pk=user.pk).update(name=name)
        if profile:
            _update_row(UserProfile, user, profile)
        if preferences:
            _update_row(UserPreferences, user, preferences)
    updated = user_get_with_details(user_id=user.pk)
    if updated is None:  # deleted meanwhile (e.g. by an admin)
        raise UserNotFound("Not found.")
    return updated


def _update_row(model: type[UserProfile | UserPreferences], user: User, values: dict) -> None:
    row, _ = model.objects.select_for_update().get_or_create(user=user)
    for field, value in values.items():
        setattr(row, field, value)
    row.save(update_fields=[*values, "updated_at"])


def _check_known(values: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = set(values) - allowed
    if unknown:
        raise TypeError(f"unknown {what} fields: {sorted(unknown)}")


def _check_email(email: str) -> None:
    if len(email) > EMAIL_MAX_LENGTH:
        raise InvalidRegistration("Enter a valid email address.", field="email")
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidRegistration("Enter a valid email address.", field="email") from None


def _check_name(name: str) -> None:
    if not name:
        raise InvalidRegistration("This field may not be blank.", field="name")
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidRegistration(
            f"Ensure this field has no more than {NAME_MAX_LENGTH} characters.", field="name"
        )


def _check_password(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidRegistration(" ".join(exc.messages), field="password") from None

"""Reads of the users context."""

from __future__ import annotations

from uuid import UUID

from django.db.models.functions import Lower

from contexts.users.models import User, UserPreferences, UserProfile


def get_user(*, user_id: UUID) -> User | None:
    """The user with ``user_id`` (active or not), or None."""
    return User.objects.filter(pk=user_id).first()


def user_get_active(*, user_id: UUID) -> User | None:
    """The active user with ``user_id``, or None."""
    return User.objects.filter(pk=user_id, is_active=True).first()


def user_exists(*, user_id: UUID) -> bool:
    """True if an active user has ``user_id``."""
    return User.objects.filter(pk=user_id, is_active=True).exists()


def user_email_taken(*, email: str) -> bool:
    """True if any account (active or not) uses ``email``, whatever its case.

    Filters on ``lower(email)``, which the case-insensitive unique index serves.
    """
    return (
        User.objects.annotate(email_lower=Lower("email"))
        .filter(email_lower=email.strip().lower())
        .exists()
    )


def user_get_with_details(*, user_id: UUID) -> User | None:
    """The user with its profile and preferences loaded in the same query."""
    return User.objects.select_related("profile", "preferences").filter(pk=user_id).first()


def user_profile_of(user: User) -> UserProfile:
    """``user``'s profile; an unsaved default one for accounts created without it."""
    try:
        return user.profile
    except UserProfile.DoesNotExist:
        return UserProfile(user=user)


def user_preferences_of(user: User) -> UserPreferences:
    """``user``'s preferences; unsaved defaults for accounts created without them."""
    try:
        return user.preferences
    except UserPreferences.DoesNotExist:
        return UserPreferences(user=user)

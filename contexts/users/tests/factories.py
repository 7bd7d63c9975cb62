"""Factories for the users context; other contexts' tests use them through the root
``conftest.py`` fixtures (``user``, ``staff_user``, ``auth_client``, ``make_auth_client``)."""

from __future__ import annotations

from uuid import uuid4

import factory
from django.conf import settings
from django.contrib.auth.hashers import make_password

from contexts.users.models import User, normalize_email

#: Every factory user signs in with this password unless given another.
KNOWN_PASSWORD = "correct-horse-battery"

_hashes: dict[tuple[str, tuple[str, ...]], str] = {}


def hashed_password(raw: str) -> str:
    """A hash of ``raw``, computed once per hasher setting: hashing is slow on purpose."""
    key = (raw, tuple(settings.PASSWORD_HASHERS))
    if key not in _hashes:
        _hashes[key] = make_password(raw)
    return _hashes[key]


class UserFactory(factory.django.DjangoModelFactory):
    """An active account with its profile and preferences; password ``KNOWN_PASSWORD``.

    No ``UserRegistered`` event is published (that is ``services.user_register``'s job).
    """

    class Meta:
        model = User

    email = factory.LazyFunction(lambda: f"user-{uuid4().hex[:12]}@example.com")
    name = factory.Faker("name")
    is_active = True
    is_staff = False
    password = KNOWN_PASSWORD

    @classmethod
    def _build(cls, model_class, *args, password: str = KNOWN_PASSWORD, **kwargs):
        user = model_class(*args, **kwargs)
        user.email = normalize_email(user.email)
        user.password = hashed_password(password)
        return user

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return User.objects.insert_with_details(cls._build(model_class, *args, **kwargs))


class StaffUserFactory(UserFactory):
    is_staff = True

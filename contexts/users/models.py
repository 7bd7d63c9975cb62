"""Tables owned by the users context (private to it)."""

from __future__ import annotations

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from contexts.kernel.databases import database_for
from contexts.kernel.transactions import atomic

EMAIL_MAX_LENGTH = 254
NAME_MAX_LENGTH = 150


def normalize_email(email: str) -> str:
    """Emails are compared case-insensitively, so they are stored lower-cased."""
    return email.strip().lower()


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **fields):
        """A new user with its profile and preferences (no event: see services.user_register)."""
        user = self.model(email=normalize_email(email), **fields)
        user.set_password(password)
        return self.insert_with_details(user)

    def create_superuser(self, email: str, password: str | None = None, **fields):
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)

    def insert_with_details(self, user: User) -> User:
        """Insert an unsaved ``user`` and its empty profile and preferences together.

        Joins the caller's ``atomic("users")`` when there is one (no savepoint).
        """
        with atomic("users", savepoint=False):
            user.save(using=database_for("users"), force_insert=True)
            UserProfile.objects.create(user=user)
            UserPreferences.objects.create(user=user)
        return user

    def get_by_natural_key(self, username):
        return self.get(email=normalize_email(username))


class User(AbstractBaseUser, PermissionsMixin):
    """An account; signs in with its email, unique whatever its case."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=EMAIL_MAX_LENGTH, unique=True)  # stored lower-cased
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="users_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email


class UserProfile(models.Model):
    """Contact details and the default shipping address of a user; created with the user."""

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, primary_key=True, related_name="profile"
    )
    phone = models.CharField(max_length=32, blank=True, default="")
    bio = models.CharField(max_length=500, blank=True, default="")
    avatar_url = models.URLField(max_length=500, blank=True, default="")
    address_line1 = models.CharField(max_length=200, blank=True, default="")
    address_line2 = models.CharField(max_length=200, blank=True, default="")
    city = models.CharField(max_length=100, blank=True, default="")
    postal_code = models.CharField(max_length=20, blank=True, default="")
    #: ISO 3166-1 alpha-2 code, upper-case, or empty.
    country = models.CharField(max_length=2, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(country="") | models.Q(country__regex=r"^[A-Z]{2}$"),
                name="users_profile_country_iso_alpha2",
            ),
        ]

    def __str__(self) -> str:
        return f"profile of {self.user_id}"


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    GERMAN = "de", "German"
    FRENCH = "fr", "French"
    SPANISH = "es", "Spanish"
    ITALIAN = "it", "Italian"
    DUTCH = "nl", "Dutch"
    PORTUGUESE = "pt", "Portuguese"
    POLISH = "pl", "Polish"
    SWEDISH = "sv", "Swedish"
    JAPANESE = "ja", "Japanese"


class UserPreferences(models.Model):
    """What a user wants to hear from the shop, and in which language; created with the user."""

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, primary_key=True, related_name="preferences"
    )
    marketing_emails = models.BooleanField(default=False)
    order_updates = models.BooleanField(default=True)
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.ENGLISH)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "user preferences"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(language__in=Language.values),
                name="users_preferences_language_known",
            ),
        ]

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"

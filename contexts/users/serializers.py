"""HTTP shapes of the users context (private; the public interface never uses them).

Strings and booleans are strict: a JSON number where a string is expected (or
``"true"`` where a boolean is) is rejected with 400, not coerced.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
)

from contexts.kernel.fields import (
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictEmailField,
    StrictURLField,
)
from contexts.users import lockout
from contexts.users.models import EMAIL_MAX_LENGTH, NAME_MAX_LENGTH, Language, User
from contexts.users.selectors import user_preferences_of, user_profile_of
from contexts.users.tokens import StaffClaimRefreshToken

#: Django hashes any length; a bound keeps hashing a request cheap.
PASSWORD_MAX_LENGTH = 128
#: A signed token of ours is a few hundred characters; anything far longer is not one.
TOKEN_MAX_LENGTH = 2048


def _password_field(**kwargs) -> StrictCharField:
    return StrictCharField(
        write_only=True,
        trim_whitespace=False,
        max_length=PASSWORD_MAX_LENGTH,
        style={"input_type": "password"},
        **kwargs,
    )


# --- Errors (documentation only) ------------------------------------------


class UsersErrorSerializer(serializers.Serializer):
    """``{"detail": "..."}``: how 401, 404 and 415 are reported."""

    detail = serializers.CharField()


# --- Registration -----------------------------------------------------------


class UserRegistrationSerializer(serializers.Serializer):
    email = StrictEmailField(max_length=EMAIL_MAX_LENGTH)
    name = StrictCharField(max_length=NAME_MAX_LENGTH)
    password = _password_field()


class UserCreatedSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    email = serializers.EmailField(read_only=True)
    name = serializers.CharField(read_only=True)


class UserPublicSerializer(serializers.Serializer):
    """What any signed-in user may see of another: no email."""

    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)


# --- Me: profile and preferences ----------------------------------------------

_phone = RegexValidator(
    r"^\+?[0-9][0-9 ()./-]{1,30}$",
    "Enter a phone number: digits, spaces and + ( ) . / - only.",
)
_country = RegexValidator(r"^[A-Za-z]{2}$", "Enter an ISO 3166-1 alpha-2 country code.")


class UserProfileSerializer(serializers.Serializer):
    phone = StrictCharField(max_length=32, allow_blank=True, validators=[_phone])
    bio = StrictCharField(max_length=500, allow_blank=True)
    avatar_url = StrictURLField(max_length=500, allow_blank=True)
    address_line1 = StrictCharField(max_length=200, allow_blank=True)
    address_line2 = StrictCharField(max_length=200, allow_blank=True)
    city = StrictCharField(max_length=100, allow_blank=True)
    postal_code = StrictCharField(max_length=20, allow_blank=True)
    country = StrictCharField(
        max_length=2,
        allow_blank=True,
        validators=[_country],
        help_text="ISO 3166-1 alpha-2 code (stored upper-case), or empty.",
    )

    def validate_country(self, value: str) -> str:
        return value.upper()


class UserPreferencesSerializer(serializers.Serializer):
    marketing_emails = StrictBooleanField()
    order_updates = StrictBooleanField()
    language = StrictChoiceField(choices=Language.choices)


class UserMeSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    email = serializers.EmailField(read_only=True)
    name = serializers.CharField(read_only=True)
    profile = serializers.SerializerMethodField()
    preferences = serializers.SerializerMethodField()

    @extend_schema_field(UserProfileSerializer)
    def get_profile(self, user: User) -> dict:
        return UserProfileSerializer(user_profile_of(user)).data

    @extend_schema_field(UserPreferencesSerializer)
    def get_preferences(self, user: User) -> dict:
        return UserPreferencesSerializer(user_preferences_of(user)).data


class UserMeUpdateSerializer(serializers.Serializer):
    """Every field optional (PATCH); email, id and staff flags are not accepted."""

    name = StrictCharField(max_length=NAME_MAX_LENGTH)
    profile = UserProfileSerializer()
    preferences = UserPreferencesSerializer()


# --- Tokens ---------------------------------------------------------------------


class AuthCredentialsSerializer(serializers.Serializer):
    email = StrictCharField(max_length=EMAIL_MAX_LENGTH, write_only=True)
    password = _password_field()


class AuthTokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(read_only=True)
    refresh = serializers.CharField(read_only=True)


class AuthRefreshSerializer(serializers.Serializer):
    refresh = StrictCharField(write_only=True, max_length=TOKEN_MAX_LENGTH)


class AuthAccessTokenSerializer(serializers.Serializer):
    access = serializers.CharField(read_only=True)
    refresh = serializers.CharField(
        read_only=True,
        help_text="The next refresh token: refresh tokens rotate, and the one sent is "
        "no longer accepted.",
    )


class EmailTokenObtainPairSerializer(TokenObtainPairSerializer):
    """simplejwt's pair serializer with strict, bounded inputs and a lockout per email.

    A locked-out email is refused (429) before its password is checked; each
    wrong-credentials answer (401) counts towards the lock (``lockout``).
    """

    token_class = StaffClaimRefreshToken

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields[self.username_field] = StrictCharField(
            max_length=EMAIL_MAX_LENGTH, write_only=True
        )
        self.fields["password"] = _password_field()

    def validate(self, attrs):
        email = attrs[self.username_field]
        lockout.login_ensure_allowed(email=email)
        try:
            data = super().validate(attrs)
        except AuthenticationFailed:
            lockout.login_record_failure(email=email)
            raise
        lockout.login_record_success(email=email)
        return data


class SafeTokenRefreshSerializer(TokenRefreshSerializer):
    """simplejwt's refresh serializer, answering 401 (not 500) for a deleted user.

    Refresh tokens rotate (settings ``SIMPLE_JWT``): the answer carries a new
    refresh token and the one sent is blacklisted.
    """

    refresh = StrictCharField(max_length=TOKEN_MAX_LENGTH)
    token_class = StaffClaimRefreshToken

    def validate(self, attrs):
        try:
            return super().validate(attrs)
        except User.DoesNotExist:
            raise AuthenticationFailed(
                self.error_messages["no_active_account"], "no_active_account"
            ) from None

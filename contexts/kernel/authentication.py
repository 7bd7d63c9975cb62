"""The customer as a deployment without the users context sees them: the access token's claims.

Every deployment verifies the customer's JWT locally with the shared signing
key (``JWT_SIGNING_KEY``). Where the users context runs, simplejwt's
``JWTAuthentication`` loads the account; elsewhere
``StatelessJWTAuthentication`` builds this ``TokenUser`` from the token
alone, with no call and no table: ``id`` is the account's UUID (as the
services compare owners with it) and ``is_staff`` the claim the users context
writes into every access token (``contexts.users.tokens``). A token is trusted
until it expires (``JWT_ACCESS_MINUTES``): a deactivation or a staff change
reaches such a deployment when the customer next refreshes.
"""

from __future__ import annotations

from functools import cached_property
from uuid import UUID

from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.models import TokenUser as SimpleJWTTokenUser
from rest_framework_simplejwt.settings import api_settings

#: The access-token claim carrying the account's staff flag.
STAFF_CLAIM = "is_staff"


class TokenUser(SimpleJWTTokenUser):
    """simplejwt's token user with the account id as a UUID (simplejwt gives the raw string)."""

    @cached_property
    def id(self) -> UUID:  # type: ignore[override]  # a UUID, like the users context's accounts
        return UUID(str(self.token[api_settings.USER_ID_CLAIM]))

    @cached_property
    def pk(self) -> UUID:  # type: ignore[override]
        return self.id

    @cached_property
    def is_staff(self) -> bool:
        return self.token.get(STAFF_CLAIM, False) is True


class StatelessJWTAuthentication(JWTStatelessUserAuthentication):
    """simplejwt's stateless authentication; a token whose user id is no UUID is a 401."""

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        try:
            UUID(str(validated_token[api_settings.USER_ID_CLAIM]))
        except ValueError:
            raise InvalidToken("Token contained no recognizable user identification") from None
        return user

"""The tokens the users context issues: access tokens carry the account's staff flag.

A deployment without the users context authenticates the customer from the
access token alone (``contexts.kernel.authentication.TokenUser``), so the
token says whether the account is staff. The flag is read from the account
whenever an access token is made (sign-in and every refresh), so a change
reaches other deployments within one access token's lifetime.
"""

from __future__ import annotations

from uuid import UUID

from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from contexts.kernel.authentication import STAFF_CLAIM
from contexts.users import selectors


class StaffClaimRefreshToken(RefreshToken):
    """A refresh token whose access tokens carry ``is_staff`` as the account has it now."""

    @property
    def access_token(self) -> AccessToken:
        access = super().access_token
        user = selectors.get_user(user_id=UUID(str(self.payload[api_settings.USER_ID_CLAIM])))
        access[STAFF_CLAIM] = bool(user is not None and user.is_staff)
        return access

"""Service-to-service authentication of the internal API: ``Authorization: Service <token>``.

Any token of ``SERVICE_TOKEN`` (a comma list, for rotation) is accepted,
compared in constant time; a missing, malformed or wrong one is 401 JSON with
``WWW-Authenticate: Service``. The customer's ``Bearer`` JWT is never accepted
here, and the service token is accepted nowhere else.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from contexts.kernel.remote.client import KEYWORD


class ServiceCaller:
    """The authenticated caller of an internal endpoint: another deployment of the shop."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    pk = None
    id = None

    def __str__(self) -> str:
        return "service"


def token_is_valid(token: str) -> bool:
    """True when ``token`` equals one of ``SERVICE_TOKEN``'s, compared in constant time."""
    given = token.encode()
    matches = [hmac.compare_digest(given, known.encode()) for known in settings.SERVICE_TOKENS]
    return any(matches)


class ServiceTokenAuthentication(BaseAuthentication):
    """Authenticate a request by its ``Authorization: Service <token>`` header, or refuse it."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].decode(errors="replace") != KEYWORD:
            raise AuthenticationFailed("Send Authorization: Service <SERVICE_TOKEN>.")
        if not token_is_valid(parts[1].decode(errors="replace")):
            raise AuthenticationFailed("Invalid service token.")
        return ServiceCaller(), None

    def authenticate_header(self, request) -> str:
        return KEYWORD


class IsServiceCaller(BasePermission):
    """Only another deployment, authenticated by its service token."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, ServiceCaller)

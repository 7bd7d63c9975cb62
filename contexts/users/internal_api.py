"""The users context's internal API: what other deployments call through ``remote``.

Mounted under ``/internal/v1/users/`` by ``config/internal_urls.py`` where this
deployment runs users; service token only (``contexts.kernel.remote``).
"""

from __future__ import annotations

from uuid import UUID

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from contexts.kernel.remote.codec import encode
from contexts.kernel.remote.schema import contract_serializer
from contexts.kernel.remote.views import InternalView
from contexts.users import local
from contexts.users.contracts import UserInfo
from contexts.users.errors import UserNotFound


class UserView(InternalView):
    @extend_schema(
        operation_id="users_get_user",
        summary="An account, active or not (public.get_user)",
        responses={
            200: contract_serializer(UserInfo),
            404: OpenApiResponse(description="No account has this id."),
        },
    )
    def get(self, request: Request, user_id: UUID) -> Response:
        user = local.get_user(user_id)
        if user is None:
            raise UserNotFound("No account has this id.")
        return Response(encode(user))


urlpatterns = [
    path("users/<uuid:user_id>", UserView.as_view(), name="internal-users-user"),
]

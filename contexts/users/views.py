"""The users context's HTTP surface: validate -> call a service or selector -> serialize."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from contexts.users import selectors, services
from contexts.users.errors import UserNotFound
from contexts.users.serializers import (
    AuthAccessTokenSerializer,
    AuthCredentialsSerializer,
    AuthRefreshSerializer,
    AuthTokenPairSerializer,
    EmailTokenObtainPairSerializer,
    SafeTokenRefreshSerializer,
    UserCreatedSerializer,
    UserMeSerializer,
    UserMeUpdateSerializer,
    UserPublicSerializer,
    UserRegistrationSerializer,
    UsersErrorSerializer,
)

_FIELD_ERRORS = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description='Invalid input: field errors, e.g. `{"email": ["..."]}`.',
)
_NOT_JSON = OpenApiResponse(UsersErrorSerializer, description="The body is not JSON.")
_NOT_AUTHENTICATED = OpenApiResponse(
    UsersErrorSerializer, description="No valid `Authorization: Bearer <access>` header."
)


class UserRegistrationView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_scope = "auth"

    @extend_schema(
        tags=["users"],
        summary="Register an account",
        request=UserRegistrationSerializer,
        responses={
            201: UserCreatedSerializer,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Field errors: invalid or already registered email "
                "(case-insensitive), blank name, weak password, missing or mistyped fields.",
            ),
            415: _NOT_JSON,
        },
    )
    def post(self, request: Request) -> Response:
        serializer = UserRegistrationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(**serializer.validated_data)
        return Response(UserCreatedSerializer(user).data, status=status.HTTP_201_CREATED)


class UserMeView(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        tags=["users"],
        summary="The signed-in user with profile and preferences",
        responses={200: UserMeSerializer, 401: _NOT_AUTHENTICATED},
    )
    def get(self, request: Request) -> Response:
        user = self._me(request)
        return Response(UserMeSerializer(user).data)

    @extend_schema(
        tags=["users"],
        summary="Change name, profile or preferences (partial, nested)",
        description="Only the fields sent change. `email`, `id` and staff flags are read-only "
        "and ignored if sent.",
        request=UserMeUpdateSerializer,
        responses={
            200: UserMeSerializer,
            400: _FIELD_ERRORS,
            401: _NOT_AUTHENTICATED,
            415: _NOT_JSON,
        },
    )
    def patch(self, request: Request) -> Response:
        serializer = UserMeUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.user_update(user=self._me(request), **serializer.validated_data)
        return Response(UserMeSerializer(user).data)

    @staticmethod
    def _me(request: Request):
        user = selectors.user_get_with_details(user_id=request.user.pk)  # type: ignore[arg-type]  # IsAuthenticated: never anonymous
        if user is None:
            raise UserNotFound("Not found.")
        return user


class UserDetailView(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        tags=["users"],
        summary="Another user's public data (no email)",
        responses={
            200: UserPublicSerializer,
            401: _NOT_AUTHENTICATED,
            404: OpenApiResponse(UsersErrorSerializer, description="No such active user."),
        },
    )
    def get(self, request: Request, user_id: UUID) -> Response:
        user = selectors.user_get_active(user_id=user_id)
        if user is None:
            raise UserNotFound("Not found.")
        return Response(UserPublicSerializer(user).data)


class TokenObtainView(TokenObtainPairView):
    serializer_class = EmailTokenObtainPairSerializer
    throttle_scope = "auth"

    @extend_schema(
        tags=["auth"],
        summary="Sign in: exchange email and password for an access and a refresh token",
        description="The email matches whatever its case. Wrong credentials and inactive "
        "accounts get the same 401. After `LOGIN_MAX_FAILURES` failed sign-ins for one email "
        "within `LOGIN_LOCKOUT_SECONDS`, that email gets 429 with `Retry-After` (even with the "
        "right password) until the lock ends.",
        request=AuthCredentialsSerializer,
        responses={
            200: AuthTokenPairSerializer,
            400: _FIELD_ERRORS,
            401: OpenApiResponse(
                UsersErrorSerializer, description="Wrong credentials or inactive account."
            ),
            415: _NOT_JSON,
            429: OpenApiResponse(
                UsersErrorSerializer,
                description="Too many requests from this client, or too many failed sign-ins "
                "for this email; retry after `Retry-After` seconds.",
            ),
        },
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        return super().post(request, *args, **kwargs)


class TokenRefreshAccessView(TokenRefreshView):
    serializer_class = SafeTokenRefreshSerializer
    throttle_scope = "auth"

    @extend_schema(
        tags=["auth"],
        summary="Exchange a refresh token for a new access token (and a new refresh token)",
        description="Refresh tokens rotate: the answer has a new `refresh` too, and the one "
        "sent is blacklisted. 401 for a malformed, expired, already used or access (not "
        "refresh) token, or when the account is no longer active.",
        request=AuthRefreshSerializer,
        responses={
            200: AuthAccessTokenSerializer,
            400: _FIELD_ERRORS,
            401: OpenApiResponse(
                UsersErrorSerializer, description="Invalid or expired refresh token."
            ),
            415: _NOT_JSON,
        },
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        return super().post(request, *args, **kwargs)

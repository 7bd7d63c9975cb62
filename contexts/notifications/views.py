"""HTTP views of the notifications context."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated

from contexts.notifications import selectors
from contexts.notifications.filters import NotificationFilter
from contexts.notifications.serializers import NotificationSerializer


@extend_schema(tags=["notifications"], summary="The caller's notifications, newest first")
class NotificationListView(ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = NotificationSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = NotificationFilter

    def get_queryset(self):
        user_id = self.request.user.id  # IsAuthenticated: never anonymous
        return selectors.list_notifications_for_user(user_id=user_id)  # type: ignore[arg-type]

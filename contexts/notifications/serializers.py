"""The notifications HTTP representation (docs/api.md)."""

from __future__ import annotations

from rest_framework import serializers

from contexts.notifications.models import Notification


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "subject", "body", "order_id", "created_at"]
        read_only_fields = fields

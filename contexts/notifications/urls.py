"""HTTP routes of the notifications context (mounted under /api by config/urls.py)."""

from django.urls import path

from contexts.notifications import views

urlpatterns = [
    path("notifications", views.NotificationListView.as_view(), name="notifications-list"),
]

"""HTTP routes of the users context (mounted under /api by config/urls.py)."""

from django.urls import path

from contexts.users import views

urlpatterns = [
    path("users", views.UserRegistrationView.as_view(), name="users-register"),
    path("users/me", views.UserMeView.as_view(), name="users-me"),
    path("users/<uuid:user_id>", views.UserDetailView.as_view(), name="users-detail"),
    path("auth/token", views.TokenObtainView.as_view(), name="auth-token"),
    path("auth/token/refresh", views.TokenRefreshAccessView.as_view(), name="auth-token-refresh"),
]

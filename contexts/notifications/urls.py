"""HTTP routes of the notifications context (mounted under /api by config/urls.py)."""

urlpatterns: list = []

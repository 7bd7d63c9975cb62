"""HTTP routes of the payments context (mounted under /api by config/urls.py)."""

urlpatterns: list = []

"""HTTP routes of the users context (mounted under /api by config/urls.py)."""

urlpatterns: list = []

"""HTTP routes of the catalog context (mounted under /api by config/urls.py)."""

urlpatterns: list = []

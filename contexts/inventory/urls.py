"""HTTP routes of the inventory context (mounted under /api by config/urls.py)."""

urlpatterns: list = []

"""HTTP routes of the orders context (mounted under /api by config/urls.py)."""

urlpatterns: list = []

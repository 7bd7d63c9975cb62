"""HTTP routes of the inventory context (mounted under /api by config/urls.py)."""

from django.urls import path

from contexts.inventory import views

urlpatterns = [
    path("inventory/<uuid:product_id>", views.StockLevelView.as_view(), name="stock-level"),
    path(
        "inventory/<uuid:product_id>/adjust",
        views.StockAdjustView.as_view(),
        name="stock-adjust",
    ),
]

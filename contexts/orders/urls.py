"""HTTP routes of the orders context (mounted under /api by config/urls.py)."""

from django.urls import path

from contexts.orders import views

urlpatterns = [
    path("orders", views.OrderCollectionView.as_view(), name="orders"),
    path("orders/<uuid:order_id>", views.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<uuid:order_id>/history", views.OrderHistoryView.as_view(), name="order-history"),
    path("orders/<uuid:order_id>/cancel", views.OrderCancelView.as_view(), name="order-cancel"),
]

"""HTTP routes of the catalog context (mounted under /api by config/urls.py)."""

from django.urls import path

from contexts.catalog import views

urlpatterns = [
    path("products", views.ProductCollectionView.as_view(), name="products"),
    path("products/<uuid:product_id>", views.ProductDetailView.as_view(), name="product-detail"),
]

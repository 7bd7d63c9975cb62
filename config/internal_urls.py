"""The internal API: ``/internal/v1/<context>/...`` of each context this deployment runs.

A context offers its internal endpoints in ``contexts/<context>/internal_api.py``
(a ``urlpatterns`` list); the ones this deployment runs (``SHOP_CONTEXTS``) are
mounted here. Their OpenAPI document is ``/internal/schema/`` (config/urls.py).
"""

from importlib.util import find_spec

from django.conf import settings
from django.urls import include, path

urlpatterns = [
    path(f"internal/v1/{name}/", include(f"contexts.{name}.internal_api"))
    for name in settings.SHOP_CONTEXTS
    if find_spec(f"contexts.{name}.internal_api") is not None
]

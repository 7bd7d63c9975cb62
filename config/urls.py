"""Root URLs: service endpoints, the API docs, the admin and each context's routes.

Only the contexts this deployment runs (``SHOP_CONTEXTS``) have their routes
mounted: their public API under ``/api/`` and their internal API under
``/internal/v1/`` (config/internal_urls.py).
"""

from importlib.util import find_spec

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from config import health
from contexts.kernel.admin import operator_signals_view
from contexts.kernel.remote.auth import IsServiceCaller, ServiceTokenAuthentication

handler400 = "contexts.kernel.api.bad_request"
handler403 = "contexts.kernel.api.permission_denied"
handler404 = "contexts.kernel.api.not_found"
handler500 = "contexts.kernel.api.server_error"

urlpatterns = [
    path("health", health.HealthView.as_view(), name="health"),
    path("health/ready", health.ReadyView.as_view(), name="health-ready"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="schema", template_name="api_docs/redoc.html"),
        name="redoc",
    ),
    # The internal API's own document, for other deployments (service token only).
    path(
        "internal/schema/",
        SpectacularAPIView.as_view(
            urlconf="config.internal_urls",
            authentication_classes=[ServiceTokenAuthentication],
            permission_classes=[IsServiceCaller],
            custom_settings={
                "TITLE": "Shop internal API",
                "DESCRIPTION": "Calls between deployments of the shop "
                "(`Authorization: Service <SERVICE_TOKEN>`).",
                "SCHEMA_PATH_PREFIX": "/internal/v1",
                "PREPROCESSING_HOOKS": [],
            },
        ),
        name="internal-schema",
    ),
    path("", include("config.internal_urls")),
    # Staff only (admin_view): the backlog signals of every database.
    path(
        "admin/operator-signals/",
        admin.site.admin_view(operator_signals_view),
        name="operator-signals",
    ),
    path("admin/", admin.site.urls),
    *(
        path("api/", include(f"contexts.{name}.urls"))
        for name in settings.SHOP_CONTEXTS
        if find_spec(f"contexts.{name}.urls") is not None
    ),
]

if "users" in settings.SHOP_CONTEXTS:
    from contexts.users.admin_login import admin_login

    # The admin's sign-in with the API's limits (per-IP allowance, per-email lockout).
    urlpatterns.insert(0, path("admin/login/", admin_login))

if settings.BENCH_ENDPOINTS:
    urlpatterns += [path("", include("bench.bare.urls")), path("", include("bench.plain.urls"))]

"""Root URLs: service endpoints, the API docs, the admin and each context's routes."""

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
from contexts.users.admin_login import admin_login

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
    # The admin's sign-in with the API's limits (per-IP allowance, per-email lockout).
    path("admin/login/", admin_login),
    # Staff only (admin_view): the backlog signals of every database.
    path(
        "admin/operator-signals/",
        admin.site.admin_view(operator_signals_view),
        name="operator-signals",
    ),
    path("admin/", admin.site.urls),
    path("api/", include("contexts.users.urls")),
    path("api/", include("contexts.catalog.urls")),
    path("api/", include("contexts.inventory.urls")),
    path("api/", include("contexts.orders.urls")),
    path("api/", include("contexts.notifications.urls")),
]

if settings.BENCH_ENDPOINTS:
    urlpatterns += [path("", include("bench.bare.urls")), path("", include("bench.plain.urls"))]

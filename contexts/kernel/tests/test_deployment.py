"""SHOP_CONTEXTS chooses what a deployment runs; a misconfigured one never starts.

The settings are read once per process, so each topology is checked in a
fresh interpreter (``django.setup()`` or a real entry point) with its own
environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from contexts.kernel.databases import CONTEXTS
from contexts.kernel.deployment import (
    check_remote_configuration,
    installed_contexts,
    kernel_queue,
    remote_contexts,
)
from contexts.kernel.testing import free_port

ROOT = settings.BASE_DIR


def run(command: list[str], **env: str) -> subprocess.CompletedProcess:
    """``command`` in the checkout with the suite's environment plus ``env``."""
    return subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_default_runs_every_context():
    assert settings.SHOP_CONTEXTS == CONTEXTS


def test_names_are_kept_in_the_canonical_order_whatever_their_order_or_case():
    assert installed_contexts([" Catalog", "users", ""]) == ("users", "catalog")


def test_an_unknown_name_is_refused_by_name():
    with pytest.raises(ImproperlyConfigured, match=r"unknown context.*shipping"):
        installed_contexts(["users", "shipping"])


def test_an_empty_list_is_refused():
    with pytest.raises(ImproperlyConfigured, match="names no context"):
        installed_contexts([" ", ""])


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "manage.py", "check"],
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo"],
        [sys.executable, "-m", "celery", "-A", "config", "beat"],
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", "127.0.0.1:{port}"],
    ],
    ids=["manage.py", "worker", "beat", "gunicorn"],
)
def test_an_unknown_context_stops_every_process_at_start_naming_it(command):
    command = [part.format(port=free_port()) for part in command]

    result = run(command, SHOP_CONTEXTS="users,shipping")

    assert result.returncode != 0
    assert "SHOP_CONTEXTS names unknown context(s): shipping" in result.stdout + result.stderr


def test_a_context_called_remotely_needs_its_url():
    result = run([sys.executable, "manage.py", "check"], SHOP_CONTEXTS="catalog", USERS_URL="")

    assert result.returncode != 0
    assert "Set USERS_URL (SHOP_CONTEXTS=catalog: catalog call(s) users" in result.stderr


def test_the_checks_name_what_is_missing():
    urls = {"users": "http://users:8000"}
    check_remote_configuration(("catalog",), urls, ["token"])  # complete: no error

    with pytest.raises(ImproperlyConfigured, match="SERVICE_TOKEN must be set"):
        check_remote_configuration(("catalog",), urls, [])
    with pytest.raises(ImproperlyConfigured, match="CATALOG_URL"):
        check_remote_configuration(("inventory",), urls, ["token"])
    # A context without a remote adapter yet must run where its callers run.
    with pytest.raises(ImproperlyConfigured, match="catalog cannot be reached remotely yet"):
        check_remote_configuration(("inventory",), {"catalog": "http://catalog"}, ["token"])


def test_only_the_callees_a_deployment_does_not_run_are_remote():
    assert remote_contexts(CONTEXTS) == ()
    assert remote_contexts(("catalog",)) == ("users",)
    assert remote_contexts(("users", "catalog")) == ()
    assert remote_contexts(("orders",)) == ("catalog", "inventory", "payments")


_DESCRIBE = """
import json, django
django.setup()
from django.conf import settings
from django.core import checks
from django.urls import Resolver404, resolve
from contexts.kernel import bus, relay

def routed(path):
    try:
        resolve(path)
        return True
    except Resolver404:
        return False

paths = ["/api/products", "/api/users", "/api/orders", "/admin/login/",
         "/internal/v1/users/users/00000000-0000-0000-0000-000000000000", "/internal/schema/",
         "/internal/v1/payments/charges", "/api/notifications"]
events = [("users.UserRegistered", 1), ("orders.OrderConfirmed", 1), ("catalog.ProductCreated", 1)]
print(json.dumps({
    "apps": [app for app in settings.INSTALLED_APPS if app.startswith("contexts.")],
    "blacklist": "rest_framework_simplejwt.token_blacklist" in settings.INSTALLED_APPS,
    "user_model": settings.AUTH_USER_MODEL,
    "authentication": settings.REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"],
    "queues": [queue.name for queue in settings.CELERY_TASK_QUEUES],
    "routes": sorted(settings.CELERY_TASK_ROUTES),
    "beat": sorted(settings.CELERY_BEAT_SCHEDULE),
    "routed": {path: routed(path) for path in paths},
    "handlers": sorted(sub.handler_id for sub in bus.all_subscriptions()),
    "subscribers": {name: relay.subscribers_of(name, version) for name, version in events},
    "problems": [message.id for message in checks.run_checks() if message.is_serious()],
}))
"""


def describe(**env: str) -> dict:
    result = run([sys.executable, "-c", _DESCRIBE], **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_catalog_deployment_installs_only_the_catalog():
    catalog = describe(
        SHOP_CONTEXTS="catalog", USERS_URL="http://users:8000", SERVICE_TOKEN="token"
    )

    assert catalog["apps"] == ["contexts.kernel", "contexts.catalog"]
    assert catalog["blacklist"] is False
    assert catalog["user_model"] == "auth.User"
    assert catalog["authentication"] == [
        "contexts.kernel.authentication.StatelessJWTAuthentication"
    ]
    # Its kernel tasks have a queue of its own: deployments may share one broker.
    assert catalog["queues"] == ["default-catalog", "catalog"]
    # Messages for contexts run elsewhere still go to their own queues.
    assert {"users.*", "notifications.*", "catalog.*"} <= set(catalog["routes"])
    assert catalog["beat"] == ["kernel.purge_event_history", "kernel.sweep_events"]
    assert catalog["routed"] == {
        "/api/notifications": False,
        "/api/products": True,
        "/api/users": False,
        "/api/orders": False,
        "/admin/login/": True,  # Django's own sign-in: this deployment has no users lockout
        "/internal/v1/users/users/00000000-0000-0000-0000-000000000000": False,
        "/internal/schema/": True,
        "/internal/v1/payments/charges": False,
    }


def test_a_users_deployment_serves_the_users_internal_api():
    users = describe(SHOP_CONTEXTS="users")

    assert users["apps"] == ["contexts.kernel", "contexts.users"]
    assert users["blacklist"] is True
    assert users["user_model"] == "users.User"
    assert users["queues"] == ["default-users", "users"]
    assert users["beat"] == [
        "kernel.purge_event_history",
        "kernel.sweep_events",
        "users.flush_expired_tokens",
    ]
    assert users["routed"]["/internal/v1/users/users/00000000-0000-0000-0000-000000000000"]
    assert not users["routed"]["/api/products"]


def test_a_payments_deployment_runs_payments_and_its_reconciliation_only():
    payments = describe(SHOP_CONTEXTS="payments")

    assert payments["apps"] == ["contexts.kernel", "contexts.payments"]
    assert payments["queues"] == ["default-payments", "payments"]
    assert payments["beat"] == [
        "kernel.purge_event_history",
        "kernel.sweep_events",
        "payments.reconcile_payments",
    ]
    assert payments["routed"]["/internal/v1/payments/charges"]
    assert not payments["routed"]["/api/orders"]


def test_a_monolith_without_payments_calls_it_at_its_url():
    monolith = describe(
        SHOP_CONTEXTS="users,catalog,inventory,orders,notifications",
        PAYMENTS_URL="http://payments:8000",
        SERVICE_TOKEN="token",
    )

    assert "contexts.payments" not in monolith["apps"]
    assert monolith["queues"] == [
        "default-users-catalog-inventory-orders-notifications",
        "users",
        "catalog",
        "inventory",
        "orders",
        "notifications",
    ]
    assert "payments.reconcile_payments" not in monolith["beat"]
    assert not monolith["routed"]["/internal/v1/payments/charges"]


MONOLITH_WITHOUT_NOTIFICATIONS = "users,catalog,inventory,orders,payments"
#: Who consumes what, as the contracts declare it: the same in every deployment.
DECLARED = {
    "users.UserRegistered": {"notifications.welcome_new_user": "notifications"},
    "orders.OrderConfirmed": {"notifications.notify_order_confirmed": "notifications"},
    "catalog.ProductCreated": {"inventory.create_stock_level": "inventory"},
}


def test_a_monolith_without_notifications_still_routes_events_to_it():
    monolith = describe(SHOP_CONTEXTS=MONOLITH_WITHOUT_NOTIFICATIONS)

    assert "contexts.notifications" not in monolith["apps"]
    assert "notifications" not in monolith["queues"]
    assert "notifications.send_due_emails" not in monolith["beat"]
    assert not monolith["routed"]["/api/notifications"]
    # No notifications handler is loaded here, yet its events are routed to it.
    assert [h for h in monolith["handlers"] if h.startswith("notifications.")] == []
    assert monolith["subscribers"] == DECLARED
    assert "notifications.*" in monolith["routes"]
    assert monolith["problems"] == []


def test_a_notifications_deployment_consumes_and_serves_its_own_api():
    notifications = describe(
        SHOP_CONTEXTS="notifications", USERS_URL="http://users:8000", SERVICE_TOKEN="token"
    )

    assert notifications["apps"] == ["contexts.kernel", "contexts.notifications"]
    assert notifications["queues"] == ["default-notifications", "notifications"]
    assert notifications["beat"] == [
        "kernel.purge_event_history",
        "kernel.sweep_events",
        "notifications.send_due_emails",
    ]
    assert notifications["routed"]["/api/notifications"]
    assert not notifications["routed"]["/api/users"]
    assert notifications["handlers"] == [
        "notifications.notify_order_cancelled",
        "notifications.notify_order_confirmed",
        "notifications.welcome_new_user",
    ]
    assert notifications["subscribers"] == DECLARED
    assert notifications["authentication"] == [
        "contexts.kernel.authentication.StatelessJWTAuthentication"
    ]
    assert notifications["problems"] == []


def test_notifications_need_the_users_url_for_addresses():
    result = run(
        [sys.executable, "manage.py", "check"], SHOP_CONTEXTS="notifications", SERVICE_TOKEN="t"
    )

    assert result.returncode != 0
    assert "USERS_URL" in result.stderr


def test_each_deployment_has_a_kernel_queue_of_its_own():
    assert kernel_queue(CONTEXTS) == "default"
    assert kernel_queue(["payments"]) == "default-payments"
    assert kernel_queue(["orders", "users"]) == "default-users-orders"
    assert kernel_queue(["payments"]) != kernel_queue(
        ["users", "catalog", "inventory", "orders", "notifications"]
    )

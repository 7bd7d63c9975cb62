"""``/health/ready`` stays cheap under a flood: one real check per ``HEALTH_READY_CACHE_SECONDS``.

Each call would otherwise run ``SELECT 1`` on every database and open a broker
connection; a load balancer (or an attacker) probing hundreds of times a second
would then cost that many round trips. The checks here are real (PostgreSQL and
Redis); the test only counts them.
"""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from types import SimpleNamespace

import pytest
from django.db import connections

from config import health
from config.celery import app as celery_app
from contexts.kernel.testing import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def probes(monkeypatch):
    """Counts the readiness checks actually run: ``SELECT 1`` per database alias, broker checks."""
    counts: Counter[str] = Counter()
    real_broker_check = health.CHECKS["broker"]

    def counting_broker_check() -> str:
        counts["broker"] += 1
        return real_broker_check()

    monkeypatch.setitem(health.CHECKS, "broker", counting_broker_check)

    def counter_for(alias: str):
        def wrapper(execute, sql, params, many, context):
            if sql.strip().upper() == "SELECT 1":
                counts[alias] += 1
            return execute(sql, params, many, context)

        return wrapper

    with ExitStack() as stack:
        for alias in connections:
            stack.enter_context(connections[alias].execute_wrapper(counter_for(alias)))
        yield counts


@pytest.fixture
def clock(monkeypatch):
    """The readiness cache's clock, movable: ``clock.now += seconds``."""
    fake = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(health, "monotonic", lambda: fake.now)
    return fake


def ready(api_client):
    response = api_client.get("/health/ready")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_flood_of_readiness_probes_checks_each_dependency_once(
    settings, api_client, probes, clock
):
    settings.HEALTH_READY_CACHE_SECONDS = 2

    answers = [ready(api_client) for _ in range(50)]

    assert all(answer == answers[0] for answer in answers)
    assert answers[0]["checks"] == {"database": "ok", "broker": "ok"}
    assert probes == Counter({"broker": 1, **dict.fromkeys(connections, 1)})


def test_the_result_is_checked_again_once_it_is_older_than_the_setting(
    settings, api_client, probes, clock
):
    settings.HEALTH_READY_CACHE_SECONDS = 2
    ready(api_client)

    clock.now += 1.9
    ready(api_client)
    assert probes["broker"] == 1

    clock.now += 0.2
    ready(api_client)
    assert probes["broker"] == 2
    assert all(probes[alias] == 2 for alias in connections)


def test_zero_turns_the_cache_off(settings, api_client, probes, clock):
    settings.HEALTH_READY_CACHE_SECONDS = 0

    for _ in range(3):
        ready(api_client)

    assert probes["broker"] == 3
    assert all(probes[alias] == 3 for alias in connections)


def test_a_failing_dependency_is_reported_and_its_answer_cached_too(
    settings, api_client, monkeypatch, probes, clock
):
    """A struggling dependency is not hammered by the probes either; the 503 names it."""
    settings.HEALTH_READY_CACHE_SECONDS = 2
    # A real broker check against an address where nothing listens (this suite's own port).
    monkeypatch.setitem(celery_app.conf, "broker_write_url", f"redis://127.0.0.1:{free_port()}/0")

    answers = [api_client.get("/health/ready") for _ in range(5)]

    assert {answer.status_code for answer in answers} == {503}
    body = answers[0].json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error: ")
    assert probes["broker"] == 1


def test_the_default_caches_for_about_a_second():
    from django.conf import settings

    assert 0 < settings.HEALTH_READY_CACHE_SECONDS <= 2

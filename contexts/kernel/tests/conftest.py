"""Fixtures of the kernel's tests: the probe handlers' effect table and workers that know them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from django.db import connections

from contexts.kernel.databases import database_for
from contexts.kernel.tests.probe import CONSUMER, EFFECT_TABLE, PUBLISHER

PROBE_MODULE = "contexts.kernel.tests.probe"


class Effects:
    """Reads of the probe handlers' effect rows."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def rows(self) -> list[tuple[str, str, int]]:
        with connections[self.alias].cursor() as cursor:
            cursor.execute(f"SELECT event_id::text, correlation_id, pid FROM {EFFECT_TABLE}")
            return list(cursor.fetchall())

    def per_event(self) -> Counter:
        return Counter(event_id for event_id, _, _ in self.rows())

    def count(self, event_id=None) -> int:
        per_event = self.per_event()
        return per_event[str(event_id)] if event_id is not None else sum(per_event.values())


@pytest.fixture
def probe_effects(transactional_db) -> Iterator[Effects]:
    alias = database_for(CONSUMER)
    with connections[alias].cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {EFFECT_TABLE} (id bigserial PRIMARY KEY,"
            " event_id uuid NOT NULL, correlation_id text NOT NULL, pid integer NOT NULL)"
        )
        cursor.execute(f"TRUNCATE {EFFECT_TABLE}")
    yield Effects(alias)
    with connections[alias].cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {EFFECT_TABLE}")


@pytest.fixture
def start_probe_worker(probe_effects, start_celery_worker):
    """Like ``start_celery_worker``, for a worker that knows the probe handlers."""

    def start(**options):
        include = [PROBE_MODULE, *options.pop("include", [])]
        return start_celery_worker(include=include, **options)

    return start


@pytest.fixture
def publisher_elsewhere(settings):
    """The probe's publisher runs in another deployment: its deliveries are confirmed by
    message, as this process does not write another deployment's outbox."""
    settings.SHOP_CONTEXTS = tuple(c for c in settings.SHOP_CONTEXTS if c != PUBLISHER)

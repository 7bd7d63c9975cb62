"""Every context reads and writes through its own database alias (rule 3
of docs/architecture.md), in shared mode and in split mode (``make test-split``).

The router sends each context's models to ``database_for(context)`` and
migrates its tables there only; so in split mode a write through another
context's alias finds no table and is refused by the database itself, and in
shared mode no other alias exists to write through. Transactions are opened
with the kernel's ``atomic(context)`` on the code's own context, never bare.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connections, router, transaction
from django.db.models import F
from django.db.utils import ConnectionDoesNotExist

from contexts.kernel.checks import KERNEL, owner_of
from contexts.kernel.databases import CONTEXTS, DEFAULT_ALIAS, database_for
from tests.architecture.sources import (
    REPO,
    is_test_code,
    owner_of_path,
    product_files,
    transaction_misuses,
)

SPLIT = len(settings.DATABASES) > 1


def context_models():
    """(context, model) for every concrete model owned by a context."""
    for model in apps.get_models():
        context = owner_of(model._meta.app_label)
        if context not in (None, KERNEL) and not model._meta.proxy:
            yield context, model


def touch_every_row(model, alias: str) -> int:
    """A write of ``model``'s table through ``alias``: ``UPDATE t SET pk = pk``."""
    pk = model._meta.pk.name
    return model._base_manager.using(alias).update(**{pk: F(pk)})


def test_split_mode_gives_every_context_but_users_a_database_of_its_own():
    aliases = {context: database_for(context) for context in CONTEXTS}

    assert aliases["users"] == DEFAULT_ALIAS  # it hosts Django's auth/admin tables
    if SPLIT:
        assert aliases == {
            context: context if context != "users" else "default" for context in CONTEXTS
        }
        names = {alias: connections[alias].settings_dict["NAME"] for alias in settings.DATABASES}
        assert len(set(names.values())) == len(names), names
    else:
        assert set(aliases.values()) == {DEFAULT_ALIAS}


def test_the_router_sends_each_contexts_models_to_its_alias():
    routed = [(context, model) for context, model in context_models()]
    assert routed, "no context model to route"

    for context, model in routed:
        assert router.db_for_read(model) == database_for(context), model
        assert router.db_for_write(model) == database_for(context), model


def test_each_contexts_tables_migrate_on_its_alias_only_and_the_kernels_everywhere():
    for context, model in context_models():
        for alias in settings.DATABASES:
            expected = alias == database_for(context)
            assert router.allow_migrate_model(alias, model) is expected, (model, alias)
    for model in apps.get_app_config("kernel").get_models():
        for alias in settings.DATABASES:
            assert router.allow_migrate_model(alias, model), (model, alias)


@pytest.mark.django_db
def test_each_contexts_tables_exist_in_its_database_only():
    tables = {
        alias: set(connections[alias].introspection.table_names()) for alias in settings.DATABASES
    }
    for context, model in context_models():
        own = database_for(context)
        assert model._meta.db_table in tables[own], (model, own)
        for alias in settings.DATABASES:
            if alias != own:
                assert model._meta.db_table not in tables[alias], (model, alias)


@pytest.mark.django_db
@pytest.mark.skipif(not SPLIT, reason="split mode only: shared mode has one alias")
@pytest.mark.parametrize("context", CONTEXTS)
def test_a_write_through_another_contexts_alias_is_refused(context):
    models = [model for owner, model in context_models() if owner == context]
    if not models:
        pytest.skip(f"{context} has no models yet")
    model = models[0]
    other = next(alias for alias in settings.DATABASES if alias != database_for(context))

    with pytest.raises(DatabaseError, match="does not exist"), transaction.atomic(using=other):
        touch_every_row(model, other)


@pytest.mark.skipif(SPLIT, reason="shared mode only")
def test_in_shared_mode_there_is_no_other_alias_to_write_through():
    _, model = next(iter(context_models()))

    with pytest.raises(ConnectionDoesNotExist):
        touch_every_row(model, "catalog")


def test_transactions_are_opened_on_the_codes_own_context():
    findings = [
        finding
        for path in product_files()
        if owner_of_path(path) != "kernel"  # the kernel's helpers are the one way
        and not is_test_code(path)
        and "migrations" not in path.parts
        for finding in transaction_misuses(
            path.read_text(), owner=owner_of_path(path), path=str(path.relative_to(REPO))
        )
    ]

    assert [str(finding) for finding in findings] == []


@pytest.mark.parametrize(
    "source",
    [
        "from django.db import transaction\nwith transaction.atomic():\n    pass",
        "from django.db import transaction\n@transaction.atomic\ndef f(): pass",
        "from django.db.transaction import atomic",
        "transaction.on_commit(send)",
        'with atomic("orders"):\n    pass',
        'CONTEXT = "payments"\nwith atomic(CONTEXT):\n    pass',
        'on_commit("inventory", send)',
        'Product.objects.using(database_for("orders"))',
    ],
)
def test_the_transaction_scan_catches_bare_and_foreign_transactions(source):
    assert transaction_misuses(source, owner="catalog") != []


def test_the_transaction_scan_accepts_the_contexts_own_alias():
    source = (
        'CONTEXT = "catalog"\n'
        "with atomic(CONTEXT):\n    on_commit(CONTEXT, send)\n"
        'with atomic("catalog"):\n    pass\n'
        "with atomic(context):\n    pass\n"  # a variable: not judged
    )

    assert transaction_misuses(source, owner="catalog") == []

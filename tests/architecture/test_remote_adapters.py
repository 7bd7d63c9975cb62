"""Contexts are reached the same way in every topology (docs/extracting-a-context.md).

Each context declares whom it calls (``calls`` on its ``AppConfig``), and the
declaration matches the import graph, so a deployment knows which URLs it
needs before anything runs. A context with a remote adapter offers every
public function there too, serves an internal API, and its ``public`` facade
imports no module that needs its models at import time (a deployment that
does not run the context imports the facade all the same).
"""

from __future__ import annotations

import ast
import importlib
from importlib.util import find_spec

import pytest

from config.management.commands.contextmap import _sync_dependencies
from contexts.kernel.databases import CONTEXTS
from contexts.kernel.deployment import calls_of, has_remote_adapter
from tests.architecture.sources import REPO

WITH_ADAPTER = [context for context in CONTEXTS if has_remote_adapter(context)]


@pytest.fixture(scope="module")
def sync_dependencies() -> dict[str, list[str]]:
    return _sync_dependencies()


@pytest.mark.parametrize("context", CONTEXTS)
def test_a_context_declares_exactly_the_contexts_it_calls(context, sync_dependencies):
    assert set(calls_of(context)) == set(sync_dependencies[context])


def test_the_users_and_payments_contexts_can_be_reached_remotely():
    assert {"users", "payments"} <= set(WITH_ADAPTER)


@pytest.mark.parametrize("context", WITH_ADAPTER)
def test_the_remote_adapter_offers_every_public_function(context):
    public = importlib.import_module(f"contexts.{context}.public")
    remote = importlib.import_module(f"contexts.{context}.remote")
    local = importlib.import_module(f"contexts.{context}.local")

    for name in public.__all__:
        assert callable(getattr(remote, name, None)), f"remote.{name}"
        assert callable(getattr(local, name, None)), f"local.{name}"
    assert find_spec(f"contexts.{context}.internal_api") is not None


@pytest.mark.parametrize("context", WITH_ADAPTER)
def test_the_facade_imports_nothing_needing_the_models_at_import_time(context):
    tree = ast.parse((REPO / "contexts" / context / "public.py").read_text())
    top_level = [
        node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module
    ] + [
        f"{node.module}.{alias.name}"
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    ]  # fmt: skip
    own = [module for module in top_level if module.startswith(f"contexts.{context}.")]

    assert [m for m in own if not m.startswith(f"contexts.{context}.contracts")] == []

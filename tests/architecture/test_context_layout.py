"""No import circle inside a context (rule 1 of docs/architecture.md), on the import graph.

``public`` is a facade on top of the context: it imports services, selectors
and contracts, and nothing of the context imports it back (not even through
another module), so a DTO or an error can never pull the facade into a circle
again. The wider rule is checked too: the modules of one context (and of the
kernel) form no import circle at all. importlinter.ini holds the facade rule as
a layers contract; this test holds the general one, which a linter contract
per module pair could not.
"""

from __future__ import annotations

from collections.abc import Iterable

import grimp
import pytest

from contexts.kernel.databases import CONTEXTS

#: The modules below the facade that a context's public calls into.
BELOW_THE_FACADE = ("services", "selectors", "models", "contracts")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # No cache directory: the test must see the tree as it is, and write nothing.
    return grimp.build_graph("contexts", "config", cache_dir=None)


def modules_of(graph: grimp.ImportGraph, package: str) -> set[str]:
    return {package, *graph.find_descendants(package)}


def circles(graph: grimp.ImportGraph, modules: Iterable[str]) -> list[list[str]]:
    """The import circles among ``modules`` (strongly connected groups of two or more)."""
    inside = set(modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & inside) for m in inside}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    # Tarjan's algorithm, iteratively (an import graph can be deep).
    for root in sorted(inside):
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(edges[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


@pytest.mark.parametrize("context", CONTEXTS)
def test_nothing_below_the_facade_reaches_public(graph, context):
    public = f"contexts.{context}.public"
    reaches = {
        below: graph.find_shortest_chain(importer=f"contexts.{context}.{below}", imported=public)
        for below in BELOW_THE_FACADE
    }

    assert graph.find_shortest_chain(importer=public, imported=f"contexts.{context}.contracts")
    assert {below: chain for below, chain in reaches.items() if chain} == {}


@pytest.mark.parametrize("context", CONTEXTS)
def test_the_facade_reaches_its_services_one_way(graph, context):
    public = f"contexts.{context}.public"
    below = [f"contexts.{context}.{name}" for name in ("services", "selectors")]
    called = [module for module in below if graph.find_shortest_chain(public, module)]

    assert called != []  # it calls into the context, so the check below means something
    assert [module for module in called if graph.find_shortest_chain(module, public)] == []


@pytest.mark.parametrize(
    "package", [f"contexts.{context}" for context in CONTEXTS] + ["contexts.kernel"]
)
def test_no_import_circle_inside_a_context(graph, package):
    assert circles(graph, modules_of(graph, package)) == []


@pytest.mark.parametrize("context", CONTEXTS)
def test_a_contracts_module_imports_nothing_of_its_context(graph, context):
    contracts = f"contexts.{context}.contracts"
    imported = graph.find_modules_directly_imported_by(contracts)

    assert {m for m in imported if m.startswith(f"contexts.{context}")} == set()


# --- and the checks catch what they are meant to -----------------------------


def test_a_service_importing_its_public_back_is_found(graph):
    graph.add_import(importer="contexts.payments.services", imported="contexts.payments.public")
    try:
        chain = graph.find_shortest_chain(
            importer="contexts.payments.services", imported="contexts.payments.public"
        )
        found = circles(graph, modules_of(graph, "contexts.payments"))
    finally:
        graph.remove_import(
            importer="contexts.payments.services", imported="contexts.payments.public"
        )

    assert chain == ("contexts.payments.services", "contexts.payments.public")
    assert any({"contexts.payments.public", "contexts.payments.services"} <= set(c) for c in found)


def test_an_indirect_circle_is_found():
    graph = grimp.ImportGraph()
    for module in ("a.public", "a.services", "a.tasks", "a.contracts"):
        graph.add_module(module)
    graph.add_import(importer="a.public", imported="a.services")
    graph.add_import(importer="a.services", imported="a.tasks")
    graph.add_import(importer="a.tasks", imported="a.services")
    graph.add_import(importer="a.services", imported="a.contracts")

    assert circles(graph, graph.modules) == [["a.services", "a.tasks"]]

    graph.remove_import(importer="a.tasks", imported="a.services")
    assert circles(graph, graph.modules) == []

"""Public interfaces speak plain data (rules 1, 5 and 6 of docs/architecture.md).

Every public function of ``contexts/<name>/public.py`` is fully annotated and
its annotations name no model, queryset, manager, Django or DRF type: only
primitives and the frozen dataclasses and enums of the context's own
``contracts.py`` (or the kernel's), checked through their fields. A
``contracts`` module imports neither Django nor anything of a context; a
``public`` module defines no type of its own. No code reaches another
context's models by an ``apps.get_model`` string.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType
from uuid import UUID

import pytest
from django.db.models import QuerySet
from rest_framework.request import Request

from contexts.kernel.databases import CONTEXTS
from contexts.users.models import User
from tests.architecture.shapes import shape_problems, type_problems
from tests.architecture.sources import (
    REPO,
    is_test_code,
    model_reaches,
    owner_of_path,
    product_files,
)

FORBIDDEN_IN_PUBLIC = ("rest_framework", "drf_spectacular")


def public_module(context: str) -> ModuleType:
    return importlib.import_module(f"contexts.{context}.public")


def contracts_module(context: str) -> ModuleType:
    return importlib.import_module(f"contexts.{context}.contracts")


def contract_modules(context: str) -> tuple[str, ...]:
    """Where the types a context's public functions speak may be defined."""
    return (f"contexts.{context}.contracts", "contexts.kernel")


def public_functions(module: ModuleType) -> list:
    """The functions a public module offers: in ``__all__``, else every non-underscore name."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [name for name in vars(module) if not name.startswith("_")]
    context_package = module.__name__.rpartition(".")[0]
    return [
        value
        for name in names
        if inspect.isfunction(value := getattr(module, name))
        and value.__module__.startswith(f"{context_package}.")
    ]


# --- the rule holds on the real code -----------------------------------------


@pytest.mark.parametrize("context", CONTEXTS)
def test_public_functions_speak_only_contract_types_and_primitives(context):
    module = public_module(context)
    allowed = contract_modules(context)
    problems = [
        problem for func in public_functions(module) for problem in shape_problems(func, allowed)
    ]

    assert public_functions(module) != []
    assert problems == []


@pytest.mark.parametrize("context", CONTEXTS)
def test_a_public_module_defines_no_type_of_its_own(context):
    module = public_module(context)
    own = [
        name
        for name, value in vars(module).items()
        if inspect.isclass(value) and value.__module__ == module.__name__
    ]

    assert own == []


@pytest.mark.parametrize("context", CONTEXTS)
def test_dataclasses_of_a_contracts_module_are_frozen_plain_data(context):
    module = contracts_module(context)
    dtos = [
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and value.__module__ == module.__name__
        and hasattr(value, "__dataclass_fields__")
    ]

    assert dtos != []
    problems = [
        problem
        for dto in dtos
        for problem in type_problems(dto, contract_modules=(module.__name__,))
    ]
    assert problems == []


@pytest.mark.parametrize("context", CONTEXTS)
def test_a_contracts_module_imports_neither_django_nor_a_context(context):
    path = REPO / "contexts" / context / "contracts.py"
    imported = imported_modules(path.read_text())

    assert [m for m in imported if contract_import_problem(m)] == [], path


#: The kernel modules a contracts module may import: plain Python, the standard library only.
PLAIN_KERNEL_MODULES = ("contexts.kernel.errors", "contexts.kernel.consumes")


def contract_import_problem(module: str) -> bool:
    """True when a contracts module may not import ``module`` (dotted)."""
    root = module.partition(".")[0]
    if root in ("django", "rest_framework", "drf_spectacular", "celery", "config"):
        return True
    # Of this repository only the kernel's plain error base and consumer declaration.
    return root == "contexts" and not module.startswith(PLAIN_KERNEL_MODULES)


@pytest.mark.parametrize(
    ("module", "refused"),
    [
        ("django.db.models", True),
        ("rest_framework.serializers", True),
        ("contexts.orders.models", True),
        ("contexts.payments", True),
        ("contexts.kernel.outbox", True),
        ("contexts.kernel.errors", False),
        ("contexts.kernel.errors.DomainError", False),
        ("contexts.kernel.consumes.Consumes", False),
        ("contexts.kernel.bus", True),
        ("dataclasses", False),
        ("enum.StrEnum", False),
    ],
)
def test_the_contracts_import_check_knows_what_is_plain(module, refused):
    assert contract_import_problem(module) is refused


@pytest.mark.parametrize("module", PLAIN_KERNEL_MODULES)
def test_the_kernel_modules_contracts_import_import_nothing_but_the_standard_library(module):
    path = REPO / (module.replace(".", "/") + ".py")
    imported = imported_modules(path.read_text())
    standard = {"__future__", "typing", "dataclasses"}

    assert [m for m in imported if m.partition(".")[0] not in standard] == []


@pytest.mark.parametrize("context", CONTEXTS)
def test_public_contracts_and_events_modules_import_no_drf_and_no_views(context):
    for name in ("contracts", "public", "events"):
        path = REPO / "contexts" / context / f"{name}.py"
        if name == "events" and not path.exists():
            continue  # a context that publishes nothing has no events module
        imported = imported_modules(path.read_text())

        assert not [m for m in imported if m.startswith(FORBIDDEN_IN_PUBLIC)], path
        assert not [m for m in imported if m.rpartition(".")[2] in {"views", "serializers"}], path


def test_no_code_reaches_another_contexts_models_by_name():
    findings = [
        finding
        for path in product_files()
        for finding in model_reaches(
            path.read_text(),
            owner=owner_of_path(path),
            path=str(path.relative_to(REPO)),
            test_code=is_test_code(path),
        )
    ]

    assert [str(finding) for finding in findings] == []


def imported_modules(source: str) -> list[str]:
    modules = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.append(node.module)
            modules += [f"{node.module}.{alias.name}" for alias in node.names]
    return modules


# --- and the checks catch what they are meant to -----------------------------


@dataclass(frozen=True)
class GoodDto:
    id: UUID
    tags: tuple[str, ...]


@dataclass
class MutableDto:
    id: UUID


@dataclass(frozen=True)
class LeakyDto:
    owner: User


@dataclass(frozen=True)
class DeepLeakDto:
    lines: list[LeakyDto]


class NotADto:
    pass


def fine(*, ids: Iterable[UUID], note: str | None = None) -> dict[UUID, GoodDto]:
    return {}


def unannotated(product_id, *, limit: int):
    return None


def returns_a_model(*, user_id: UUID) -> User | None:
    return None


def returns_a_queryset(*, owner_id: UUID) -> QuerySet[User]:
    raise NotImplementedError


def takes_a_drf_request(*, request: Request) -> bool:
    return True


def returns_a_mutable_dto() -> list[MutableDto]:
    return []


def returns_a_dto_hiding_a_model() -> DeepLeakDto:
    raise NotImplementedError


def returns_a_plain_class() -> NotADto:
    return NotADto()


def test_the_shape_check_accepts_plain_data():
    assert shape_problems(fine) == []


def test_the_contract_check_accepts_types_of_the_named_modules():
    assert shape_problems(fine, contract_modules=(__name__,)) == []


def test_the_contract_check_rejects_a_type_defined_elsewhere():
    problems = shape_problems(fine, contract_modules=("contexts.orders.contracts",))

    assert any("GoodDto is not a contract type" in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("func", "expected"),
    [
        (unannotated, "parameter 'product_id' is not annotated"),
        (unannotated, "the return type is not annotated"),
        (returns_a_model, "returns: User is a Django model"),
        (returns_a_queryset, "returns: QuerySet is a QuerySet"),
        (takes_a_drf_request, "parameter 'request': rest_framework.request.Request"),
        (returns_a_mutable_dto, "MutableDto is a dataclass but not frozen"),
        (returns_a_dto_hiding_a_model, "DeepLeakDto.lines: LeakyDto.owner: User is a Django"),
        (returns_a_plain_class, "NotADto is not a frozen dataclass"),
    ],
)
def test_the_shape_check_rejects_what_is_not_plain_data(func, expected):
    problems = shape_problems(func)

    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    "source",
    [
        'apps.get_model("users", "User")',
        'apps.get_model("users.User")',
        'apps.get_model(app_label="auth", model_name="Group")',
        "apps.get_model(settings.AUTH_USER_MODEL)",
        'LABEL = "catalog"\napps.get_model(LABEL, "Product")',
        "get_user_model()",
        'apps.get_model("kernel", "OutboxMessage")',
    ],
)
def test_the_get_model_scan_catches_reaches_into_another_context(source):
    assert model_reaches(source, owner="orders") != []


@pytest.mark.parametrize(
    "source",
    [
        'apps.get_model("orders", "Order")',
        "apps.get_model(label, name)",  # not spelled out: nothing to judge
        'apps.get_model("staticfiles", "Whatever")',  # no context owns it
    ],
)
def test_the_get_model_scan_lets_a_context_name_its_own_models(source):
    assert model_reaches(source, owner="orders") == []


def test_the_get_model_scan_knows_users_owns_djangos_auth_models():
    assert model_reaches('apps.get_model("auth", "Group")', owner="users") == []
    assert model_reaches("get_user_model()", owner="users") == []
    assert model_reaches("get_user_model()", owner=None) != []  # config


def test_tests_may_make_accounts_through_djangos_auth_api_but_not_reach_other_models():
    assert model_reaches("get_user_model()", owner="catalog", test_code=True) == []
    assert model_reaches('apps.get_model("users.User")', owner="catalog", test_code=True) != []

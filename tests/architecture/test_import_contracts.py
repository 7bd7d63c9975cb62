"""importlinter.ini keeps the contexts apart (rule 1 of docs/architecture.md), and fails
CI when they touch: each contract is shown to pass on the real code and to
break on a copy of the code with one forbidden import added."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from contexts.kernel.databases import CONTEXTS
from tests.architecture.sources import REPO

CONFIG = REPO / "importlinter.ini"
FACADE = (
    "Inside a context, nothing imports its public facade back, and contracts import nothing of it"
)
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the repo's contracts, on the packages found under ``root``."""
    # A wide "terminal", so that no contract name is wrapped over two lines.
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "500"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(CONFIG), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def code_copy(tmp_path: Path) -> Path:
    """A throwaway copy of the product packages, to break on purpose."""
    for package in ("contexts", "config"):
        shutil.copytree(
            REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return tmp_path


def append(root: Path, module: str, line: str) -> None:
    """Append ``line`` to ``module`` (dotted) under ``root``, creating the module if need be."""
    path = root.joinpath(*module.split(".")).with_suffix(".py")
    if not path.exists():
        package = path.parent
        if not package.joinpath("__init__.py").exists():
            package.mkdir(parents=True, exist_ok=True)
            package.joinpath("__init__.py").write_text("")
        path.write_text("")
    with path.open("a") as file:
        file.write(f"\n{line}  # noqa\n")


def broken_contracts(result: subprocess.CompletedProcess[str]) -> set[str]:
    """The names of the contracts the run reported BROKEN."""
    return {
        line.rpartition(" BROKEN")[0].strip()
        for line in result.stdout.splitlines()
        if line.rstrip().endswith(" BROKEN") or " BROKEN (" in line
    }


def test_the_real_code_keeps_every_contract():
    result = lint_imports(REPO)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_copy_under_test_is_clean_before_it_is_broken(code_copy):
    result = lint_imports(code_copy)

    assert result.returncode == 0, result.stdout + result.stderr


def test_a_catalog_module_importing_the_user_model_fails_lint_imports(code_copy):
    """The issue's acceptance: `from contexts.users.models import User` in catalog fails."""
    append(code_copy, "contexts.catalog.models", "from contexts.users.models import User")

    result = lint_imports(code_copy)

    assert result.returncode != 0
    assert "contexts.catalog.models -> contexts.users.models" in result.stdout
    assert "users: other contexts import only users.contracts, users.public and users.events" in (
        broken_contracts(result)
    )


@pytest.mark.parametrize("context", CONTEXTS)
def test_each_context_is_protected_but_its_contracts_public_and_events_modules(code_copy, context):
    # notifications depends on everybody; orders is the importer of notifications
    # (that import closes a cycle, which the acyclic contract reports separately).
    importer = "notifications" if context != "notifications" else "orders"
    protected = (
        f"{context}: other contexts import only {context}.contracts, {context}.public"
        f" and {context}.events"
    )
    append(code_copy, f"contexts.{importer}.intruder", f"import contexts.{context}.contracts")
    append(code_copy, f"contexts.{importer}.intruder", f"import contexts.{context}.public")
    if (code_copy / "contexts" / context / "events.py").exists():
        # (notifications publishes no events and has no events module)
        append(code_copy, f"contexts.{importer}.intruder", f"import contexts.{context}.events")
    assert protected not in broken_contracts(lint_imports(code_copy))

    append(code_copy, f"contexts.{importer}.intruder", f"import contexts.{context}.models")
    result = lint_imports(code_copy)

    assert result.returncode != 0
    assert f"contexts.{importer}.intruder -> contexts.{context}.models" in result.stdout
    assert protected in broken_contracts(result)


def test_a_context_test_may_not_use_another_contexts_factories(code_copy):
    """A context's tests are part of it: they arrange other contexts' data via public."""
    append(code_copy, "contexts.users.tests.factories", "import contexts.users.models")
    append(code_copy, "contexts.orders.tests.test_x", "from contexts.users.tests import factories")

    result = lint_imports(code_copy)

    assert "contexts.orders.tests.test_x -> contexts.users.tests.factories" in result.stdout
    assert result.returncode != 0


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        (
            "contexts.kernel.outbox",
            "import contexts.users.public",
            "The kernel imports no context and no config",
        ),
        (
            "contexts.kernel.events",
            "import config.settings",
            "The kernel imports no context and no config",
        ),
        (
            "contexts.orders.services",
            "from config import celery",
            "No context imports config (contexts are wired by config, never the reverse)",
        ),
        (
            "contexts.catalog.public",
            "import rest_framework.serializers",
            "Public interfaces never import DRF, serializers or views (not even indirectly)",
        ),
        (
            "contexts.payments.events",
            "import drf_spectacular.utils",
            "Public interfaces never import DRF, serializers or views (not even indirectly)",
        ),
        (
            "contexts.payments.services",
            "import contexts.payments.public",
            FACADE,
        ),
        (
            "contexts.orders.selectors",
            "from contexts.orders.public import get_order",
            FACADE,
        ),
        (
            "contexts.inventory.contracts",
            "import contexts.inventory.models",
            FACADE,
        ),
        (
            "contexts.orders.contracts",
            "from django.db import models",
            "Contracts import neither Django nor anything of a context",
        ),
        (
            "contexts.users.contracts",
            "import contexts.catalog.contracts",
            "Contracts import neither Django nor anything of a context",
        ),
    ],
)
def test_forbidden_imports_break_their_contract(code_copy, module, line, contract):
    append(code_copy, module, line)

    result = lint_imports(code_copy)

    assert result.returncode != 0
    assert contract in broken_contracts(result), result.stdout


def test_a_public_module_reaching_views_indirectly_breaks_the_contract(code_copy):
    append(code_copy, "contexts.inventory.helpers", "import contexts.inventory.views")
    append(code_copy, "contexts.inventory.public", "import contexts.inventory.helpers")

    result = lint_imports(code_copy)

    assert result.returncode != 0
    assert (
        "Public interfaces never import DRF, serializers or views (not even indirectly)"
        in broken_contracts(result)
    )


def test_a_service_reaching_its_public_through_another_module_breaks_the_facade_contract(
    code_copy,
):
    append(code_copy, "contexts.payments.helpers", "import contexts.payments.public")
    append(code_copy, "contexts.payments.services", "import contexts.payments.helpers")

    result = lint_imports(code_copy)

    assert result.returncode != 0
    assert FACADE in broken_contracts(result), result.stdout


def test_public_interfaces_calling_each_other_in_a_cycle_break_the_acyclic_contract(code_copy):
    # One direction is fine: orders prices its lines through catalog.public.
    append(code_copy, "contexts.orders.public", "import contexts.catalog.public")
    assert lint_imports(code_copy).returncode == 0

    append(code_copy, "contexts.catalog.public", "import contexts.orders.public")
    result = lint_imports(code_copy)

    assert result.returncode != 0
    assert "Contexts form no import cycle (public calls go one way only)" in (
        broken_contracts(result)
    )

"""``manage.py startcontext`` scaffolds a context that passes every boundary check.

The command runs on a copy of the tree (tmp dir); the copy is then checked as
CI checks the repo: import contracts, system checks, migrations and the
architecture tests that need no database, plus the new context's own test.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from contexts.kernel.management.commands.startcontext import (
    register_in_contexts,
    register_in_import_contracts,
)
from tests.architecture.sources import REPO

NAME = "shipping"
BIN = Path(sys.executable).parent
LAYOUT = {
    "__init__.py", "apps.py", "public.py", "contracts.py", "events.py", "models.py",
    "services.py", "selectors.py", "handlers.py", "tasks.py", "views.py", "serializers.py",
    "urls.py", "admin.py", "migrations/__init__.py", "tests/__init__.py",
    "tests/test_registration.py",
}  # fmt: skip


def run(root: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """``command`` in ``root`` with ``root``'s packages first on the path."""
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "500"}
    env.pop("PYTEST_CURRENT_TEST", None)
    return subprocess.run(
        command, cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def manage(root: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return run(root, sys.executable, "manage.py", *arguments)


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return run(root, str(BIN / "lint-imports"), "--config", "importlinter.ini", "--no-cache")


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A copy of the repository with the ``shipping`` context scaffolded by the command."""
    root = tmp_path_factory.mktemp("tree")
    for package in ("contexts", "config", "tests"):
        shutil.copytree(
            REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    for file in ("manage.py", "importlinter.ini", "pyproject.toml", "conftest.py"):
        shutil.copy(REPO / file, root / file)
    result = manage(root, "startcontext", NAME)
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def test_the_command_writes_the_standard_layout(tree):
    package = tree / "contexts" / NAME
    written = {str(p.relative_to(package)) for p in package.rglob("*") if p.is_file()}

    assert written == LAYOUT


def test_the_scaffold_is_ruff_clean(tree):
    package = f"contexts/{NAME}"
    lint = run(tree, str(BIN / "ruff"), "check", package)
    formatting = run(tree, str(BIN / "ruff"), "format", "--check", package)

    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert formatting.returncode == 0, formatting.stdout + formatting.stderr


def test_the_context_is_registered_with_an_alias_and_an_import_contract(tree):
    databases = (tree / "contexts" / "kernel" / "databases.py").read_text()
    contracts = (tree / "importlinter.ini").read_text()

    assert f'    "{NAME}",\n)' in databases
    assert f"[importlinter:contract:{NAME}-is-private]" in contracts
    assert f"    contexts.{NAME}\n    config\n" in contracts  # the kernel imports no context


def test_the_scaffold_passes_lint_imports_with_its_own_contract(tree):
    result = lint_imports(tree)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{NAME}: other contexts import only" in result.stdout
    assert "0 broken" in result.stdout


def test_the_scaffold_passes_manage_py_check_and_has_no_missing_migration(tree):
    check = manage(tree, "check", "--fail-level", "WARNING")
    migrations = manage(tree, "makemigrations", "--check", "--dry-run")

    assert check.returncode == 0, check.stdout + check.stderr
    assert migrations.returncode == 0, migrations.stdout + migrations.stderr


def test_the_architecture_tests_and_the_contexts_own_test_pass_on_the_scaffold(tree):
    result = run(
        tree, str(BIN / "pytest"), "-v", "-p", "no:cacheprovider", "-m", "not django_db",
        f"contexts/{NAME}", "tests/architecture/test_public_interfaces.py",
        "tests/architecture/test_model_boundaries.py",
        "tests/architecture/test_database_aliases.py",
    )  # fmt: skip

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " failed" not in result.stdout
    # The parametrized checks ran on the new context too.
    assert f"[{NAME}] PASSED" in result.stdout
    assert f"contexts/{NAME}/tests/test_registration.py" in result.stdout


def test_the_new_contract_refuses_a_reach_into_the_scaffolds_private_modules(tree, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tree, broken, ignore=shutil.ignore_patterns("__pycache__"))
    with (broken / "contexts" / "orders" / "services.py").open("a") as file:
        file.write(f"\nfrom contexts.{NAME} import models as _shipping_models  # noqa\n")

    result = lint_imports(broken)

    assert result.returncode != 0
    assert f"{NAME}: other contexts import only" in result.stdout
    assert "1 broken" in result.stdout


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("orders", "already a context"),
        ("auth", "already a context or an installed app"),
        ("Bad-Name", "not a context name"),
        ("class", "not a context name"),
        ("taken_dir", "already exists"),
    ],
)
def test_a_name_that_is_taken_or_malformed_is_refused_and_nothing_is_written(
    tmp_path, name, reason
):
    # In-process, on an empty root: a refusal must come before any file is written.
    (tmp_path / "contexts" / "taken_dir").mkdir(parents=True)
    before = sorted(tmp_path.rglob("*"))

    with override_settings(BASE_DIR=tmp_path), pytest.raises(CommandError, match=reason):
        call_command("startcontext", name, stdout=io.StringIO())

    assert sorted(tmp_path.rglob("*")) == before


def test_registration_that_finds_no_anchor_says_what_to_add_by_hand():
    with pytest.raises(LookupError, match="CONTEXTS"):
        register_in_contexts("CONTEXTS = ['users']\n", NAME)
    with pytest.raises(LookupError, match="kernel-imports-no-context"):
        register_in_import_contracts("[importlinter]\nroot_packages = contexts\n", NAME)

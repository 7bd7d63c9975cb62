"""Static scans of the source tree for boundary crossings no import linter sees.

Each scan takes source text and the name of the context it belongs to, so that
the tests can prove it on a made-up snippet before trusting it on the repo.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from contexts.kernel.databases import CONTEXTS, KERNEL_APP, context_of_app

REPO = Path(__file__).resolve().parents[2]
#: The packages whose code ships: every context, the kernel, and the wiring.
PRODUCT_ROOTS = ("contexts", "config")
#: The kernel helpers that take the name of the context whose alias they use.
ALIAS_HELPERS = frozenset({"atomic", "on_commit", "in_transaction", "database_for"})


@dataclass(frozen=True)
class Finding:
    """One crossing found in a file."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def product_files() -> Iterator[Path]:
    """Every Python file of the product (contexts and config), tests included."""
    for root in PRODUCT_ROOTS:
        yield from sorted((REPO / root).rglob("*.py"))


def owner_of_path(path: Path) -> str | None:
    """The context (or ``kernel``) a file belongs to; None for config."""
    parts = path.resolve().relative_to(REPO).parts
    if len(parts) > 2 and parts[0] == "contexts":
        return parts[1]
    return None


def is_test_code(path: Path) -> bool:
    """True for a file inside a ``tests`` package (or a conftest)."""
    parts = path.resolve().relative_to(REPO).parts
    return "tests" in parts or parts[-1] == "conftest.py"


def owner_of_label(app_label: str) -> str | None:
    """The context (or ``kernel``) owning the tables of ``app_label``."""
    return KERNEL_APP if app_label == KERNEL_APP else context_of_app(app_label)


def _string(node: ast.AST | None, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def _module_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` (and annotated) assignments, to resolve names."""
    constants: dict[str, str] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        value = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            for target in targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = value.value
    return constants


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _get_model_label(call: ast.Call, constants: dict[str, str]) -> str | None:
    """The app label a ``get_model(...)`` call names, if it is spelled in the source."""
    keywords = {kw.arg: kw.value for kw in call.keywords}
    first = call.args[0] if call.args else keywords.get("app_label")
    if isinstance(first, ast.Attribute) and first.attr == "AUTH_USER_MODEL":
        return "users"
    text = _string(first, constants)
    if text is None:
        return None
    has_model_name = len(call.args) > 1 or "model_name" in keywords
    return text if has_model_name else text.partition(".")[0]


def model_reaches(
    source: str, *, owner: str | None, path: str = "<src>", test_code: bool = False
) -> list[Finding]:
    """``get_model``/``get_user_model`` calls reaching a model owned by someone else.

    ``owner`` is the context (or ``kernel``) the code belongs to, None for config.
    In ``test_code``, ``get_user_model()`` is Django's auth API for making the
    signed-in accounts every API test needs, so only spelled-out labels count.
    """
    tree = ast.parse(source)
    constants = _module_constants(tree)
    findings = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _called_name(node)
        if name == "get_user_model":
            if test_code:
                continue
            label = "users"
        elif name == "get_model":
            label = _get_model_label(node, constants)
        else:
            continue
        if label is None:
            continue
        target = owner_of_label(label)
        if target is not None and target != owner:
            findings.append(
                Finding(path, node.lineno, f"{name}() reaches {label!r}, owned by {target}")
            )
    return findings


def transaction_misuses(source: str, *, owner: str | None, path: str = "<src>") -> list[Finding]:
    """Transactions not opened through the kernel on the code's own context's alias.

    Flags ``django.db.transaction.atomic``/``on_commit`` used directly, and the
    kernel helpers (``atomic``, ``on_commit``, ``in_transaction``,
    ``database_for``) given a literal context other than ``owner``.
    """
    tree = ast.parse(source)
    constants = _module_constants(tree)
    findings = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "django.db.transaction":
            for alias in node.names:
                if alias.name in {"atomic", "on_commit"}:
                    findings.append(
                        Finding(path, node.lineno, f"imports django's bare {alias.name}")
                    )
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in {"atomic", "on_commit"}
            and isinstance(node.value, ast.Name)
            and node.value.id == "transaction"
        ):
            findings.append(
                Finding(path, node.lineno, f"bare transaction.{node.attr}: use the kernel's")
            )
        elif isinstance(node, ast.Call) and _called_name(node) in ALIAS_HELPERS:
            first = node.args[0] if node.args else None
            named = _string(first, constants)
            if named in CONTEXTS and named != owner:
                findings.append(
                    Finding(
                        path,
                        node.lineno,
                        f"{_called_name(node)}({named!r}) in {owner or 'config'}: "
                        "a context uses its own alias only",
                    )
                )
    return findings

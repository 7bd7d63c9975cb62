"""manage.py startcontext NAME: scaffold a bounded context and register it.

Writes ``contexts/<name>/`` in the standard layout (docs/adding-a-context.md)
and registers it in the two places every context is listed:

- ``CONTEXTS`` in ``contexts/kernel/databases.py``, from which the settings
  derive the installed app, the database alias (its own database in split
  mode), the Celery queue and the task route;
- ``importlinter.ini``: the kernel's "imports no context" contract names it,
  and a ``protected`` contract lets other contexts import only its
  ``public``, ``contracts`` and ``events`` modules.

Its ``urls.py`` is mounted under ``/api/`` by ``config/urls.py`` in every
deployment that runs it (``SHOP_CONTEXTS``): nothing to add there.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from contexts.kernel.databases import CONTEXTS, KERNEL_APP

NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_CONTEXTS_TUPLE = re.compile(r"(CONTEXTS: tuple\[str, \.\.\.\] = \(\n)(?P<body>(?:    .*\n)*?)(\))")
_KERNEL_CONTRACT = re.compile(
    r"(\[importlinter:contract:kernel-imports-no-context\]\n(?:.+\n)*?forbidden_modules =\n)"
    r"(?P<body>(?:    .+\n)+)"
)


def _files(name: str) -> dict[str, str]:
    """Relative path -> text of every file of the new context."""
    title = name.replace("_", " ").capitalize()
    camel = "".join(part.capitalize() for part in name.split("_"))
    return {
        "__init__.py": "",
        "apps.py": f'''"""The {name} context's Django app."""

from django.apps import AppConfig


class {camel}Config(AppConfig):
    name = "contexts.{name}"
    label = "{name}"
    verbose_name = "{title}"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from contexts.{name} import handlers  # noqa: F401  (subscribes to events)
''',
        "contracts.py": f'''"""What crosses the {name} context's boundary.

The frozen dataclasses, enums and errors that ``public`` returns and raises
and that other contexts may catch.

Imports nothing of Django and nothing else of this context, so that a caller
(or a remote client replacing ``public``) can depend on it alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class {camel}Info:
    """A {name} record as other contexts see it (a starting point: give it real fields)."""

    id: UUID
''',
        "public.py": f'''"""The {name} context's public interface: what other contexts may call.

Functions take and return plain data (primitives and the frozen dataclasses of
``contracts``), never models or querysets, so that an in-process call can become
an HTTP call unchanged. Keep them thin: map models to contracts and call
``services`` (writes) or ``selectors`` (reads). A caller never calls them inside
its own transaction.
"""

from __future__ import annotations

from uuid import UUID

from contexts.{name} import selectors
from contexts.{name}.contracts import {camel}Info


def get_{name}(*, {name}_id: UUID) -> {camel}Info | None:
    """The {name} record with ``{name}_id``, or None (a starting point: replace it)."""
    return selectors.get_{name}({name}_id={name}_id)
''',
        "events.py": f'''"""The events the {name} context publishes (docs/events.md).

Each is a keyword-only frozen dataclass subclassing
``contexts.kernel.events.DomainEvent`` with ``name = "{name}.<EventName>"``,
``version`` and ``context = "{name}"``, published with
``contexts.kernel.outbox.publish`` inside the transaction that makes the change.
"""

from __future__ import annotations
''',
        "models.py": f'''"""The {name} context's tables: private to it.

Other contexts' rows are referred to by UUID, never by a foreign key (the
``boundaries`` system check fails the build on one).
"""
''',
        "services.py": f'''"""Write use-cases of the {name} context (``<entity>_<action>``).

Keyword-only and typed; each opens one transaction on this context's alias,
``with contexts.kernel.transactions.atomic("{name}"):``, and calls other contexts'
``public`` functions only outside it.
"""

from __future__ import annotations
''',
        "selectors.py": f'''"""Read queries of the {name} context."""

from __future__ import annotations

from uuid import UUID

from contexts.{name}.contracts import {camel}Info


def get_{name}(*, {name}_id: UUID) -> {camel}Info | None:
    """Read one record; there is no table yet: add a model, then map its row here."""
    return None
''',
        "handlers.py": f'''"""The {name} context's subscriptions to other contexts' events.

``@contexts.kernel.bus.subscribe(SomeEvent, context="{name}", id="{name}.<handler>")``
on a function
taking the event; it runs in this context's transaction with an inbox row, so a
redelivered event has no second effect (docs/events.md). Declare each one in
``contracts.py`` too (``CONSUMES``, ``contexts.kernel.consumes.Consumes``):
publishers in other deployments route by it, and ``manage.py check`` fails
without it.
"""

from __future__ import annotations
''',
        "tasks.py": f'''"""Thin Celery tasks of the {name} context: load by id, call a service.

Name them ``"{name}.<task>"`` so that they run on this context's queue.
"""

from __future__ import annotations
''',
        "views.py": f'''"""The {name} context's DRF views: validate, call a service, serialize."""

from __future__ import annotations
''',
        "serializers.py": f'''"""Request and response shapes of the {name} context's HTTP API."""

from __future__ import annotations
''',
        "urls.py": f'''"""HTTP routes of the {name} context.

Mounted under /api by ``config/urls.py`` in every deployment that runs the context.
"""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
''',
        "admin.py": f'''"""The {name} context's admin pages (actions call its services)."""
''',
        "migrations/__init__.py": "",
        "tests/__init__.py": "",
        "tests/test_registration.py": f'''"""The {name} context is installed, with an alias."""

from django.apps import apps
from django.conf import settings

from contexts.kernel.databases import CONTEXTS, database_for


def test_the_context_is_installed_and_has_its_database_alias():
    assert "{name}" in CONTEXTS
    assert apps.get_app_config("{name}").name == "contexts.{name}"
    alias = database_for("{name}")
    assert alias in settings.DATABASES
    assert alias == ("{name}" if settings.DB_PER_CONTEXT else "default")
''',
    }


def protected_contract(name: str) -> str:
    """The ``importlinter.ini`` block that keeps ``name``'s modules private."""
    return f"""
[importlinter:contract:{name}-is-private]
name = {name}: other contexts import only {name}.public, {name}.contracts and {name}.events
type = protected
protected_modules =
    contexts.{name}
allowed_importers =
    config
ignore_imports =
    contexts.** -> contexts.{name}.public
    contexts.** -> contexts.{name}.contracts
    contexts.** -> contexts.{name}.events
unmatched_ignore_imports_alerting = none
broken_contract_guidance =
    Import only contexts.{name}.public (functions), contexts.{name}.contracts (DTOs, errors)
    and contexts.{name}.events.
"""


def register_in_contexts(source: str, name: str) -> str:
    """``databases.py`` with ``name`` appended to the ``CONTEXTS`` tuple."""
    match = _CONTEXTS_TUPLE.search(source)
    if match is None:
        raise LookupError("the CONTEXTS tuple")
    end = match.end("body")
    return f'{source[:end]}    "{name}",\n{source[end:]}'


def register_in_import_contracts(source: str, name: str) -> str:
    """``importlinter.ini`` with ``name`` forbidden to the kernel and protected."""
    match = _KERNEL_CONTRACT.search(source)
    if match is None:
        raise LookupError("the kernel-imports-no-context contract")
    body = match.group("body")
    lines = body.splitlines(keepends=True)
    # After the last context, before "config".
    at = max(i for i, line in enumerate(lines) if line.strip().startswith("contexts.")) + 1
    lines.insert(at, f"    contexts.{name}\n")
    source = source[: match.start("body")] + "".join(lines) + source[match.end("body") :]
    return source.rstrip("\n") + "\n" + protected_contract(name)


class Command(BaseCommand):
    help = "Scaffold a bounded context in contexts/NAME and register it (CONTEXTS, importlinter)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the context's name: lowercase, e.g. shipping")

    def handle(self, *args, name: str, **options) -> None:
        root = Path(settings.BASE_DIR)
        self._validate(name, root)
        package = root / "contexts" / name
        for relative, text in _files(name).items():
            path = package / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            self.stdout.write(f"created contexts/{name}/{relative}")

        databases = root / "contexts" / "kernel" / "databases.py"
        contracts = root / "importlinter.ini"
        missing = []
        for path, register, what in (
            (databases, register_in_contexts, f'    "{name}",  (in CONTEXTS)'),
            (contracts, register_in_import_contracts, protected_contract(name)),
        ):
            try:
                path.write_text(register(path.read_text(), name))
            except LookupError as exc:
                missing.append(f"{path.relative_to(root)}: {exc.args[0]} not found; add\n{what}")
            else:
                self.stdout.write(f"registered {name} in {path.relative_to(root)}")
        if missing:
            raise CommandError("register the context by hand:\n" + "\n".join(missing))
        self.stdout.write(
            self.style.SUCCESS(f"context {name} created.")
            + "\nThen: make lint && make test && make test-split (docs/adding-a-context.md)."
        )

    @staticmethod
    def _validate(name: str, root: Path) -> None:
        if not NAME.match(name) or keyword.iskeyword(name):
            raise CommandError(
                f"{name!r} is not a context name: lowercase letters, digits and single "
                "underscores, starting with a letter (e.g. shipping, loyalty_points)"
            )
        taken = {KERNEL_APP, "config", "tests", *CONTEXTS}
        taken |= {config.label for config in apps.get_app_configs()}
        if name in taken:
            raise CommandError(f"{name!r} is already a context or an installed app's label")
        if (root / "contexts" / name).exists():
            raise CommandError(f"contexts/{name} already exists")

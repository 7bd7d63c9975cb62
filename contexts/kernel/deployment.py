"""Which contexts this deployment runs, and where it reaches the others.

``SHOP_CONTEXTS`` (default: all of them) names the contexts a deployment runs:
only their apps, migrations, URLs, Celery queues and beat entries are
installed (``config/settings.py``, ``config/urls.py``). Every other context is
reached over HTTP at ``<CONTEXT>_URL`` through the remote adapter its
``public`` module picks (``contexts/<name>/remote.py``), so the code calling it
is the same in every topology.

A context declares the contexts it calls synchronously on its ``AppConfig``
(``calls = ("users",)``; tests/architecture checks the declaration against the
import graph). A deployment that runs a context whose callee it does not run
refuses to start without that callee's URL, a remote adapter for it and a
``SERVICE_TOKEN`` (``check_remote_configuration``, run by the settings, so by
every process: web, worker, beat, ``manage.py``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable

from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from contexts.kernel.databases import CONTEXTS


def installed_contexts(names: Iterable[str]) -> tuple[str, ...]:
    """The contexts ``names`` lists, in the canonical order; an unknown name stops the process."""
    wanted = [name.strip().lower() for name in names if name.strip()]
    unknown = sorted(set(wanted) - set(CONTEXTS))
    if unknown:
        raise ImproperlyConfigured(
            f"SHOP_CONTEXTS names unknown context(s): {', '.join(unknown)} "
            f"(known: {', '.join(CONTEXTS)})."
        )
    if not wanted:
        raise ImproperlyConfigured(
            f"SHOP_CONTEXTS names no context (known: {', '.join(CONTEXTS)})."
        )
    return tuple(name for name in CONTEXTS if name in wanted)


def kernel_queue(contexts: Iterable[str]) -> str:
    """The Celery queue of this deployment's kernel tasks (the event sweep, retention).

    ``default`` where every context runs (the monolith); elsewhere a name of the
    deployment's own (``default-payments``), so deployments sharing one broker
    never run each other's sweeps: a sweep runs against the databases of the
    process that takes it, so the monolith's sweep taken by the payments worker
    would sweep the payments database and leave the monolith's outbox unswept.
    Each context runs in exactly one deployment, so the name is that deployment's.
    """
    running = [name for name in CONTEXTS if name in set(contexts)]
    if running == list(CONTEXTS):
        return "default"
    return "default-" + "-".join(running)


def url_variable(context: str) -> str:
    """The environment variable holding the address of ``context``'s deployment."""
    return f"{context.upper()}_URL"


def runs_here(context: str) -> bool:
    """True when this deployment runs ``context`` (its ``public`` calls stay in the process)."""
    return context in settings.SHOP_CONTEXTS


def calls_of(context: str) -> tuple[str, ...]:
    """The contexts ``context`` declares it calls (``calls`` on its ``AppConfig``).

    Read from the class in ``contexts/<context>/apps.py``, which imports nothing
    but Django, so the settings can check a deployment before any app loads.
    """
    module = importlib.import_module(f"contexts.{context}.apps")
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, AppConfig)
            and getattr(value, "name", None) == f"contexts.{context}"
        ):
            return tuple(getattr(value, "calls", ()))
    return ()


def remote_contexts(contexts: Iterable[str]) -> tuple[str, ...]:
    """The contexts a deployment running ``contexts`` calls but does not run."""
    running = set(contexts)
    needed = {callee for name in running for callee in calls_of(name)}
    return tuple(name for name in CONTEXTS if name in needed - running)


def has_remote_adapter(context: str) -> bool:
    """True when ``context`` has a remote adapter (``contexts/<context>/remote.py``)."""
    return importlib.util.find_spec(f"contexts.{context}.remote") is not None


def check_remote_configuration(
    contexts: tuple[str, ...], urls: dict[str, str], tokens: list[str]
) -> None:
    """Stop the process when a context it must call remotely has no URL or no adapter,
    or no ``SERVICE_TOKEN`` is set to call it with."""
    remote = remote_contexts(contexts)
    running = ",".join(contexts)
    missing = [
        f"{url_variable(callee)} (SHOP_CONTEXTS={running}: "
        f"{', '.join(n for n in contexts if callee in calls_of(n))} call(s) {callee}, "
        "which this deployment does not run)"
        for callee in remote
        if not urls.get(callee)
    ]
    if missing:
        raise ImproperlyConfigured("Set " + "; ".join(missing) + ".")
    unsupported = [name for name in remote if not has_remote_adapter(name)]
    if unsupported:
        raise ImproperlyConfigured(
            f"SHOP_CONTEXTS={running}: {', '.join(unsupported)} cannot be reached "
            "remotely yet (no contexts/<name>/remote.py); run it in this deployment too."
        )
    if remote and not tokens:
        raise ImproperlyConfigured(
            f"SERVICE_TOKEN must be set: this deployment calls {', '.join(remote)} "
            "over the internal API."
        )

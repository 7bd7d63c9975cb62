"""System checks that fail the build when a model crosses a context boundary.

Rule 2 of docs/architecture.md: a context refers to another context's data by id
only. A ``ForeignKey``, ``OneToOneField`` or ``ManyToManyField`` (or a proxy,
or multi-table inheritance) from one context's model to another's is a join
across what may be two databases, so it is reported as an error by
``manage.py check`` (tag ``boundaries``). The kernel's tables exist in every
context's database and are purged on their own schedule, so the kernel and the
contexts relate by id only too.

Which context owns an app comes from ``contexts.kernel.databases.context_of_app``;
Django's own auth/admin/contenttypes/sessions apps belong to users.

Tag ``events``: the consumers declared with the contracts (``CONSUMES``, which
every deployment routes by) and the handlers the contexts register
(``@subscribe``) must agree, so the declarations cannot rot: a handler of a
context's code that its contracts do not declare would never receive an event
published in another deployment (``events.E001``); a declaration whose handler
is gone would send every event to an id nobody runs (``events.E002``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import cast

from django.apps import AppConfig, apps
from django.conf import settings
from django.core import checks
from django.db import models

from contexts.kernel import bus
from contexts.kernel.databases import CONTEXTS, KERNEL_APP, context_of_app

TAG = "boundaries"
EVENTS_TAG = "events"

#: The owner of the kernel's tables, for messages; it is not a context.
KERNEL = "the kernel"


def owner_of(app_label: str) -> str | None:
    """The context owning ``app_label``'s tables, ``KERNEL`` for the kernel, else None."""
    if app_label == KERNEL_APP:
        return KERNEL
    return context_of_app(app_label)


def _models_of(app_configs: Iterable[AppConfig] | None) -> Iterator[type[models.Model]]:
    configs = apps.get_app_configs() if app_configs is None else app_configs
    for config in configs:
        yield from config.get_models()


def _relations(model: type[models.Model]) -> Iterator[models.Field]:
    """The relations ``model`` itself declares (forward FK, O2O, M2M, parent links)."""
    for field in (*model._meta.local_fields, *model._meta.local_many_to_many):
        if field.is_relation and isinstance(field.related_model, type):
            yield field


@checks.register(TAG)
def check_no_cross_context_relations(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A model relates only to models of its own owner (context or kernel)."""
    errors: list[checks.CheckMessage] = []
    for model in _models_of(app_configs):
        source = owner_of(model._meta.app_label)
        if source is None:
            continue  # reported by check_every_model_has_an_owner
        for field in _relations(model):
            target_model = cast(type[models.Model], field.related_model)  # a class, see _relations
            target = owner_of(target_model._meta.app_label)
            if target == source:
                continue
            if KERNEL in (source, target):
                errors.append(
                    checks.Error(
                        f"{model._meta.label}.{field.name} relates {source} to "
                        f"{target_model._meta.label} ({target or 'no context'}).",
                        hint="The kernel's tables exist in every database and are purged "
                        "on their own schedule: kernel and contexts relate by id only.",
                        obj=field,
                        id="boundaries.E002",
                    )
                )
                continue
            errors.append(
                checks.Error(
                    f"{model._meta.label}.{field.name} ({type(field).__name__}) crosses "
                    f"from context {source} to {target_model._meta.label} "
                    f"(context {target or 'unowned'}).",
                    hint="Contexts refer to each other's data by id only: replace it "
                    "with a UUIDField holding the id, and read the data through "
                    f"contexts.{target}.public.",
                    obj=field,
                    id="boundaries.E001",
                )
            )
    return errors


@checks.register(TAG)
def check_no_cross_context_proxies(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A proxy model reads its concrete model's table: it must stay in that table's context."""
    errors: list[checks.CheckMessage] = []
    for model in _models_of(app_configs):
        if not model._meta.proxy:
            continue
        concrete = cast(type[models.Model], model._meta.concrete_model)  # set on every model class
        source = owner_of(model._meta.app_label)
        target = owner_of(concrete._meta.app_label)
        if source != target:
            errors.append(
                checks.Error(
                    f"Proxy model {model._meta.label} of {source or 'no context'} reads "
                    f"{concrete._meta.label}'s table, owned by {target or 'no context'}.",
                    hint="Read another context's data through its public interface.",
                    obj=model,
                    id="boundaries.E003",
                )
            )
    return errors


@checks.register(TAG)
def check_every_model_has_an_owner(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every model belongs to a context (or the kernel) and lives in its owner's package."""
    errors: list[checks.CheckMessage] = []
    for model in _models_of(app_configs):
        config = model._meta.app_config
        if owner_of(config.label) is None:
            errors.append(
                checks.Error(
                    f"Model {model._meta.label} belongs to no context.",
                    hint="Every table has an owner: move the model into a context, or "
                    "add its app to PLATFORM_APPS in contexts/kernel/databases.py.",
                    obj=model,
                    id="boundaries.E004",
                )
            )
        elif not model.__module__.startswith(f"{config.name}."):
            errors.append(
                checks.Error(
                    f"Model {model._meta.label} is defined in {model.__module__}, outside "
                    f"its app's package {config.name}.",
                    hint="Define a context's models inside the context (no Meta.app_label "
                    "pointing at another app).",
                    obj=model,
                    id="boundaries.E005",
                )
            )
    return errors


def _in_context_code(module: str) -> bool:
    """True for a module of a context's own code (not its tests, not the kernel's probes)."""
    parts = module.split(".")
    return (
        len(parts) > 2 and parts[0] == "contexts" and parts[1] in CONTEXTS and "tests" not in parts
    )


@checks.register(EVENTS_TAG)
def check_consumers_are_declared(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every handler a context registers is declared in its contracts, and every
    declaration of a context this deployment runs has its handler."""
    errors: list[checks.CheckMessage] = []
    declared = {d.handler: d for d in bus.declared_consumers()}
    registered = {s.handler_id: s for s in bus.all_subscriptions()}
    for sub in registered.values():
        if not _in_context_code(sub.handler.__module__):
            continue
        found = declared.get(sub.handler_id)
        wanted = (sub.event_name, sub.event_version, sub.context)
        if found is None or (found.event, found.version, found.context) != wanted:
            errors.append(
                checks.Error(
                    f"Handler {sub.handler_id!r} ({sub.handler.__module__}) consumes "
                    f"{sub.event_name} v{sub.event_version}, which "
                    f"contexts/{sub.context}/contracts.py does not declare.",
                    hint=f"Add Consumes({sub.event_name!r}, {sub.event_version}, "
                    f"handler={sub.handler_id!r}) to CONSUMES there: publishers in other "
                    "deployments route by the declarations.",
                    id="events.E001",
                )
            )
    for item in declared.values():
        if item.context not in settings.SHOP_CONTEXTS:
            continue  # its handlers are not loaded in this deployment
        sub = registered.get(item.handler)
        if sub is None or (sub.event_name, sub.event_version) != (item.event, item.version):
            errors.append(
                checks.Error(
                    f"contexts/{item.context}/contracts.py declares {item.handler!r} as "
                    f"consuming {item.event} v{item.version}, but no handler of "
                    "that event is registered under that id.",
                    hint="Register it with @subscribe(..., id=...) in the context's "
                    "handlers.py, or remove the declaration.",
                    id="events.E002",
                )
            )
    return errors

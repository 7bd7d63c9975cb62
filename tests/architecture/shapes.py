"""What a public interface may speak (rule 5 of docs/architecture.md): plain data.

``shape_problems(func)`` lists what is wrong with one public function: a
missing annotation, or an annotation that names (anywhere inside it, including
the fields of the dataclasses it mentions) a Django model, queryset, manager,
any other Django or DRF type, or a class of ours that is not a frozen dataclass.
Given ``contract_modules``, it also names every class of ours defined anywhere
else: a public function speaks only the types of its context's ``contracts``
(and the kernel's).
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import typing
from collections.abc import Callable

from django.db import models
from django.db.models.manager import BaseManager

#: Libraries whose types never cross an interface: a caller over HTTP has none of them.
FORBIDDEN_LIBRARIES = ("django", "rest_framework", "drf_spectacular")


def _module_root(tp: type) -> str:
    return tp.__module__.partition(".")[0]


def _defined_in(tp: type, modules: tuple[str, ...]) -> bool:
    return any(tp.__module__ == m or tp.__module__.startswith(f"{m}.") for m in modules)


def type_problems(
    tp: object,
    seen: set[object] | None = None,
    contract_modules: tuple[str, ...] | None = None,
) -> list[str]:
    """What in the annotation ``tp`` is not plain data (empty if all is well).

    With ``contract_modules``, a class of ours must also be defined in one of them.
    """
    seen = set() if seen is None else seen

    def inner(item: object) -> list[str]:
        return type_problems(item, seen, contract_modules)

    try:
        if tp in seen:
            return []
        seen.add(tp)
    except TypeError:  # unhashable (e.g. a list of Callable parameters)
        pass

    if tp is None or tp is type(None) or tp is typing.Any or tp is Ellipsis:
        return []
    if isinstance(tp, list | tuple):  # Callable[[A, B], R] parameters
        return [problem for item in tp for problem in inner(item)]
    if isinstance(tp, typing.TypeVar):
        bounds = [tp.__bound__] if tp.__bound__ is not None else list(tp.__constraints__)
        return [problem for bound in bounds for problem in inner(bound)]

    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return []
    if origin is not None:
        problems = inner(origin) if isinstance(origin, type) else []
        return problems + [p for arg in typing.get_args(tp) for p in inner(arg)]

    if not isinstance(tp, type):
        return [f"{tp!r} is not a type"]
    if issubclass(tp, models.Model):
        return [f"{tp.__qualname__} is a Django model"]
    if issubclass(tp, models.QuerySet):
        return [f"{tp.__qualname__} is a QuerySet"]
    if issubclass(tp, BaseManager):
        return [f"{tp.__qualname__} is a Manager"]
    if _module_root(tp) in FORBIDDEN_LIBRARIES:
        return [f"{tp.__module__}.{tp.__qualname__} is a {_module_root(tp)} type"]
    ours = _module_root(tp) in {"contexts", "tests"}
    if ours and contract_modules is not None and not _defined_in(tp, contract_modules):
        return [f"{tp.__module__}.{tp.__qualname__} is not a contract type"]
    if dataclasses.is_dataclass(tp):
        problems = []
        if not tp.__dataclass_params__.frozen:
            problems.append(f"{tp.__qualname__} is a dataclass but not frozen")
        hints = typing.get_type_hints(tp)
        for field in dataclasses.fields(tp):
            problems += [
                f"{tp.__qualname__}.{field.name}: {problem}" for problem in inner(hints[field.name])
            ]
        return problems
    if ours and not issubclass(tp, enum.Enum | tuple):
        return [f"{tp.__qualname__} is not a frozen dataclass (nor an enum or named tuple)"]
    return []


def shape_problems(
    func: Callable[..., object], contract_modules: tuple[str, ...] | None = None
) -> list[str]:
    """What is wrong with the signature of the public function ``func``.

    With ``contract_modules`` (e.g. the context's ``contracts`` and the kernel),
    every class of ours it names must be defined in one of them.
    """
    name = func.__qualname__
    signature = inspect.signature(func)
    problems = [
        f"{name}: parameter {param.name!r} is not annotated"
        for param in signature.parameters.values()
        if param.annotation is inspect.Parameter.empty
    ]
    if signature.return_annotation is inspect.Signature.empty:
        problems.append(f"{name}: the return type is not annotated")
    try:
        hints = typing.get_type_hints(func)
    except Exception as error:
        return [*problems, f"{name}: annotations do not resolve at runtime ({error!r})"]
    for where, hint in hints.items():
        label = "returns" if where == "return" else f"parameter {where!r}"
        problems += [
            f"{name}: {label}: {problem}"
            for problem in type_problems(hint, contract_modules=contract_modules)
        ]
    return problems

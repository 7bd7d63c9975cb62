"""Which context consumes which event is declared with the contracts, and the
declarations agree with the handlers the contexts register.

Publishers route by the declarations (``CONSUMES`` in each context's
``contracts.py``), so an event reaches a consumer in another deployment. The
system check ``contexts.kernel.checks.check_consumers_are_declared`` (run by
``manage.py check`` in ``make lint``, and here) fails when a handler is not
declared or a declaration has no handler; the tests below plant both.
"""

from __future__ import annotations

import pytest

from contexts.kernel import bus
from contexts.kernel.checks import check_consumers_are_declared
from contexts.kernel.consumes import Consumes
from contexts.kernel.databases import CONTEXTS
from contexts.kernel.events import event_type
from contexts.users.events import UserRegistered


def test_every_registered_handler_is_declared_and_every_declaration_has_its_handler():
    assert check_consumers_are_declared() == []


def test_the_declarations_name_published_events_and_their_own_context():
    declared = bus.declared_consumers()

    assert {d.context for d in declared} == {"inventory", "notifications"}
    for item in declared:
        assert item.context in CONTEXTS
        assert item.handler.startswith(f"{item.context}.")
        # The event exists: its publisher's events module defines that version.
        assert event_type(item.event, item.version).name == item.event


def test_an_undeclared_handler_of_a_context_fails_the_check():
    def undeclared(event: UserRegistered) -> None: ...

    undeclared.__module__ = "contexts.notifications.handlers"
    bus.subscribe(UserRegistered, context="notifications", id="notifications.undeclared")(
        undeclared
    )
    try:
        problems = check_consumers_are_declared()
    finally:
        bus.unsubscribe("notifications.undeclared")

    assert [p.id for p in problems] == ["events.E001"]
    assert "notifications.undeclared" in problems[0].msg
    assert "contexts/notifications/contracts.py" in problems[0].msg


def test_a_declaration_without_its_handler_fails_the_check(monkeypatch):
    gone = Consumes("orders.OrderConfirmed", 1, handler="notifications.gone")
    declared = (*bus.declared_consumers(), gone)
    monkeypatch.setattr(bus, "declared_consumers", lambda: declared)

    problems = check_consumers_are_declared()

    assert [p.id for p in problems] == ["events.E002"]
    assert "notifications.gone" in problems[0].msg


def test_a_declaration_of_another_event_than_its_handler_consumes_fails_the_check(monkeypatch):
    real = bus.declared_consumers()
    swapped = tuple(
        Consumes(d.event, 2, handler=d.handler)
        if d.handler == "inventory.create_stock_level"
        else d
        for d in real
    )
    monkeypatch.setattr(bus, "declared_consumers", lambda: swapped)

    assert sorted(p.id for p in check_consumers_are_declared()) == ["events.E001", "events.E002"]


def test_test_probes_need_no_declaration():
    from contexts.kernel.tests import probe  # registers the kernel tests' probe handler

    assert bus.subscription("kernel_tests.handle_probe").handler is probe.handle_probe
    assert check_consumers_are_declared() == []


@pytest.mark.parametrize(
    ("handler", "problem"),
    [("users.welcome", "must look like 'notifications.name'"), ("Not An Id", "must look like")],
)
def test_a_declaration_must_name_its_own_context(monkeypatch, handler, problem):
    from contexts.kernel.consumes import Consumes
    from contexts.notifications import contracts

    monkeypatch.setattr(contracts, "CONSUMES", (Consumes("users.UserRegistered", 1, handler),))
    bus.declared_consumers.cache_clear()
    try:
        with pytest.raises(ValueError, match=problem):
            bus.declared_consumers()
    finally:
        monkeypatch.undo()
        bus.declared_consumers.cache_clear()

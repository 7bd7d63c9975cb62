"""The declaration of an event a context consumes (plain Python: contracts import it).

A consuming context lists, in its ``contracts.py``, every event it consumes
with the stable id of the handler that consumes it::

    CONSUMES = (
        Consumes("users.UserRegistered", 1, handler="notifications.welcome_new_user"),
    )

The declarations live with the contracts, not with the handlers, so that every
deployment knows every consumer, including those it does not run: the kernel
reads the ``CONSUMES`` of all six contexts whatever ``SHOP_CONTEXTS`` says
(``contexts.kernel.bus.declared_consumers``), and a publisher's relay sends
each event to its consumers' queues, wherever they run. The handler itself
is registered with ``@subscribe(..., id=...)`` in the consumer's
``handlers.py``; the system checks ``events.E001``/``E002`` fail the build when
the two disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Consumes"]


@dataclass(frozen=True)
class Consumes:
    """The declaring context consumes version ``version`` of ``event`` with ``handler``."""

    #: The event's name, ``"<publisher>.<EventName>"`` (``DomainEvent.name``).
    event: str
    version: int
    #: The handler's stable id, ``"<consumer>.<name>"`` (``@subscribe(..., id=...)``).
    handler: str

    @property
    def context(self) -> str:
        """The consuming context: the first word of the handler id (checked by the kernel)."""
        return self.handler.split(".", 1)[0]

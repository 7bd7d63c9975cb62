"""Per-database isolation of the periodic jobs (the sweep, the re-drive, retention).

Each job loops over every database. One of them failing (a failover, "too
many clients", an unreachable host in split mode) must not stop the job for
the others: ``isolated(alias, job)`` logs the database error at ERROR and
lets the loop go on with the next database. The failed database's work is
picked up by the next run. Only database errors are absorbed: a broker error
concerns every database alike and still propagates.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import Error as DatabaseError
from django.db import connections

logger = logging.getLogger(__name__)


@contextmanager
def isolated(alias: str, job: str, *, failed: list[str] | None = None) -> Iterator[None]:
    """Run the block for database ``alias``; on a database error, log it and carry on.

    The alias is appended to ``failed`` (if given), and its connection is
    dropped when it is no longer usable, so the next run reconnects.
    """
    try:
        yield
    except DatabaseError:
        logger.error(
            "%s failed for database %s; the other databases go on", job, alias,
            extra={"database": alias, "job": job}, exc_info=True,
        )  # fmt: skip
        if failed is not None and alias not in failed:
            failed.append(alias)
        connection = connections[alias]
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()

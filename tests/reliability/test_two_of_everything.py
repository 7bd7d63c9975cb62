"""Two of everything: two web processes, two workers and one beat under load, every effect once.

Real processes against one PostgreSQL (the test databases, split mode
included) and one Redis: two ``gunicorn config.wsgi`` on their own ports, two
``celery -A config worker`` (so two relays and two saga loops claiming work
side by side with ``SKIP LOCKED``) and one ``celery -A config beat``. Sixteen
clients, each a thread with its own HTTP sessions, register (a welcome
notification each) and, with a token the test makes for them, place orders
spread over both web processes: a mix of
payment tokens (approved, declined, a gateway error then approved), products
with plenty of stock and products that run out (orders cancelled
``OUT_OF_STOCK``), and some orders sent a second time with the same
``Idempotency-Key`` to the other web process.

When every order is final and the engine is idle, each effect happened
exactly once: stock reserved and committed once per confirmed order line (the
levels match the confirmed orders, nothing left reserved), one charge per
confirmed order in the payments table and in the gateway's ledger, one
notification (and one email) per registration and per order, each delivery's
handler run once and none failing, no saga left active, no outbox row
unpublished or unconfirmed, no inbox row pending, no dead letter. And both
workers took a share: each one's relay and saga loop did work
(``loop_tally.py``) and each one ran event deliveries (its log).

On two cores this proves correctness, not speed (``make bench --workers 2``
compares one and two workers).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import RefreshToken

from contexts.inventory import public as inventory
from contexts.inventory.models import Reservation
from contexts.kernel.databases import CONTEXTS, database_for
from contexts.kernel.models import DeadLetter, InboxMessage, OutboxMessage
from contexts.kernel.testing import wait_for
from contexts.notifications.models import Notification
from contexts.orders.models import Order, OrderItem, SagaState, SagaStatus
from contexts.payments.models import Payment, SimulatedGatewayOperation
from tests.reliability.processes import BeatProcess, WebProcess

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CLIENTS = 16
ORDERS_PER_CLIENT = 13  # 208 orders
PLENTY = 10_000
SCARCE = 15
#: Payment tokens and their weights: mostly approved, some declined, some retried.
TOKENS = {"tok_ok": 75, "tok_decline": 15, "tok_fail_once": 10}
#: Every sixth order of a client is sent again, same key, to the other web process.
REPLAY_EVERY = 6
PASSWORD = "a-long-Passw0rd!"
CONFIRMED = ("CONFIRMED", None)
OUT_OF_STOCK = ("CANCELLED", "OUT_OF_STOCK")

#: Fast retries, so that tok_fail_once's retry is due within a fraction of a second.
WORKER_ENV = {"ORDERS_SAGA_RETRY_BASE_SECONDS": "0.05", "EVENT_REDRIVE_SECONDS": "5"}


@dataclass(frozen=True)
class Placed:
    order_id: str
    user_id: str
    token: str
    lines: dict[str, int]  # product id -> quantity


@pytest.fixture
def start_process(transactional_db):
    """``start_process(process)`` -> the started process; every one is stopped at teardown,
    before the test databases are flushed."""
    started: list[Any] = []

    def start(process):
        started.append(process)
        return process.start()

    yield start
    for process in reversed(started):
        process.stop()


def _order_lines(rng: random.Random, plenty: list[str], scarce: list[str]) -> dict[str, int]:
    lines = {rng.choice(plenty): rng.randint(1, 3)}
    if rng.random() < 0.5:
        lines[rng.choice(scarce)] = rng.randint(1, 2)
    return lines


def _register(index: int, web: WebProcess, run_id: str, barrier: threading.Barrier) -> str:
    """One client signs up (a welcome notification); returns the new user's id."""
    with httpx.Client(base_url=web.url, timeout=60) as session:
        barrier.wait(timeout=60)
        registered = session.post(
            "/api/users",
            json={"email": _email(run_id, index), "password": PASSWORD, "name": f"Twin {index}"},
        )
    assert registered.status_code == 201, registered.text
    return registered.json()["id"]


def _email(run_id: str, index: int) -> str:
    return f"twin-{run_id}-{index}@example.com"


def _place_orders(
    index: int,
    access: str,
    user_id: str,
    webs: list[WebProcess],
    products: tuple[list[str], list[str]],
    run_id: str,
    barrier: threading.Barrier,
) -> list[Placed]:
    """One client places its orders, alternating between the web processes; a replay of
    some of them with the same ``Idempotency-Key`` goes to the other one."""
    rng = random.Random(index)
    plenty, scarce = products
    auth = {"Authorization": f"Bearer {access}"}
    sessions = [httpx.Client(base_url=web.url, timeout=60) for web in webs]
    placed: list[Placed] = []
    try:
        barrier.wait(timeout=60)
        for n in range(ORDERS_PER_CLIENT):
            lines = _order_lines(rng, plenty, scarce)
            token = rng.choices(list(TOKENS), weights=list(TOKENS.values()))[0]
            body = {
                "items": [{"product_id": p, "quantity": q} for p, q in lines.items()],
                "payment_token": token,
            }
            web = (index + n) % 2
            headers = dict(auth)
            replay = n % REPLAY_EVERY == REPLAY_EVERY - 1
            if replay:
                headers["Idempotency-Key"] = f"twins-{run_id}-{index}-{n}"
            response = sessions[web].post("/api/orders", json=body, headers=headers)
            assert response.status_code == 201, response.text
            order_id = response.json()["id"]
            if replay:
                again = sessions[1 - web].post("/api/orders", json=body, headers=headers)
                assert again.status_code == 201, again.text
                assert again.json()["id"] == order_id, "a replayed key made a second order"
            placed.append(Placed(order_id, user_id, token, lines))
        return placed
    finally:
        for session in sessions:
            session.close()


def _kernel_rows(model) -> list[Any]:
    """Every row of a kernel table, in every context's database."""
    aliases = {database_for(context) for context in CONTEXTS}
    return [row for alias in sorted(aliases) for row in model.objects.using(alias).all()]


def _idle(order_ids: list[str], users: int) -> Callable[[], bool]:
    """Everything the placed orders set off has ended (the engine is idle)."""

    def idle() -> bool:
        if Order.objects.filter(pk__in=order_ids, status="PENDING").exists():
            return False
        if SagaState.objects.filter(status=SagaStatus.ACTIVE).exists():
            return False
        if Notification.objects.filter(order_id__in=order_ids).count() < len(order_ids):
            return False
        if Notification.objects.filter(kind=Notification.Kind.WELCOME).count() < users:
            return False
        if Notification.objects.filter(email_sent_at__isnull=True).exists():
            return False
        outbox = _kernel_rows(OutboxMessage)
        if any(row.published_at is None or row.unconfirmed for row in outbox):
            return False
        return not any(row.status == "pending" for row in _kernel_rows(InboxMessage))

    return idle


def _deliveries_logged(log: str) -> int:
    """Event deliveries a worker's log says it ran (its ``events delivered`` lines)."""
    ran = 0
    for line in log.splitlines():
        if '"events delivered"' not in line:
            continue
        try:
            ran += int(json.loads(line).get("processed", 0))
        except ValueError:
            continue
    return ran


def _tally(path: Path) -> Counter[str]:
    """Units each background loop of a worker did (``loop_tally.py``'s file)."""
    units: Counter[str] = Counter()
    if path.exists():
        for line in path.read_text().splitlines():
            name, done = line.rsplit(" ", 1)
            units[name] += int(done)
    return units


@pytest.mark.timeout(400)
def test_two_webs_two_workers_and_a_beat_under_load_do_every_effect_exactly_once(
    start_celery_worker, start_process, seller, create_product, tmp_path, caplog
):
    caplog.set_level(logging.WARNING, logger="httpx")  # not a line per request
    began = time.monotonic()
    plenty = [create_product(seller, price=p, stock=PLENTY)["id"] for p in ("4.00", "2.50")]
    scarce = [create_product(seller, price=p, stock=SCARCE)["id"] for p in ("9.00", "7.25")]
    tallies = [tmp_path / f"loops-{n}.txt" for n in range(2)]
    workers = [
        start_celery_worker(
            include=["tests.reliability.loop_tally"],
            env={**WORKER_ENV, "LOOP_TALLY_FILE": str(tally)},
        )
        for tally in tallies
    ]
    start_process(BeatProcess(tmp_path))
    webs = [start_process(WebProcess(tmp_path, name)) for name in ("a", "b")]
    started = time.monotonic()

    run_id = uuid4().hex[:8]
    barrier = threading.Barrier(CLIENTS)
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        signups = [
            pool.submit(_register, index, webs[index % 2], run_id, barrier)
            for index in range(CLIENTS)
        ]
        user_ids = [future.result(timeout=300) for future in signups]
        users = {user_id: _email(run_id, n) for n, user_id in enumerate(user_ids)}
        # Signed in with tokens made with the shared signing key, here (the client
        # threads open no database connection): a sign-in per client would add a
        # password hash (most of a second) and test nothing here.
        accounts = get_user_model().objects.in_bulk(user_ids)
        tokens = [str(RefreshToken.for_user(accounts[UUID(u)]).access_token) for u in user_ids]
        batches = [
            pool.submit(
                _place_orders, n, tokens[n], user_ids[n], webs, (plenty, scarce), run_id, barrier
            )
            for n in range(CLIENTS)
        ]
        placed = [order for future in batches for order in future.result(timeout=300)]
    placed_at = time.monotonic()
    order_ids = [order.order_id for order in placed]
    assert len(set(order_ids)) == CLIENTS * ORDERS_PER_CLIENT

    wait_for(
        _idle(order_ids, len(users)),
        timeout=180,
        interval=0.5,
        message="orders, sagas, deliveries or emails still in flight",
    )
    final_at = time.monotonic()

    # Every order final, with an outcome its token and stock allow.
    orders = {str(o.pk): o for o in Order.objects.filter(pk__in=order_ids)}
    outcomes = Counter((o.status, o.cancel_reason) for o in orders.values())
    for order in placed:
        row = orders[order.order_id]
        paid = ("CANCELLED", "PAYMENT_DECLINED") if order.token == "tok_decline" else CONFIRMED
        allowed = {paid, OUT_OF_STOCK} if set(order.lines) & set(scarce) else {paid}
        assert (row.status, row.cancel_reason) in allowed, (order, row.status, row.cancel_reason)
    assert outcomes[("CONFIRMED", None)] > 0
    assert outcomes[("CANCELLED", "OUT_OF_STOCK")] > 0
    assert outcomes[("CANCELLED", "PAYMENT_DECLINED")] > 0
    confirmed = {order_id for order_id, o in orders.items() if o.status == "CONFIRMED"}

    # Stock: reserved and committed once per confirmed order line; nothing held, nothing negative.
    items: Counter[tuple[str, str]] = Counter()
    for item in OrderItem.objects.filter(order_id__in=confirmed):
        items[(str(item.order_id), str(item.product_id))] += item.quantity
    reservations = Reservation.objects.filter(order_id__in=[UUID(i) for i in order_ids])
    committed: Counter[tuple[str, str]] = Counter()
    for reservation in reservations:
        key = (str(reservation.order_id), str(reservation.product_id))
        if str(reservation.order_id) in confirmed:
            assert reservation.status == Reservation.Status.COMMITTED, reservation
            committed[key] += reservation.quantity
        else:
            assert reservation.status == Reservation.Status.RELEASED, reservation
    assert committed == items
    for product_id, initial in [(p, PLENTY) for p in plenty] + [(p, SCARCE) for p in scarce]:
        sold = sum(q for (_, p), q in items.items() if p == product_id)
        level = inventory.get_stock_level(UUID(product_id))
        assert (level.on_hand, level.reserved) == (initial - sold, 0), product_id
        assert level.available >= 0

    # Charges: one captured payment per confirmed order, money taken once in the gateway.
    payments = {str(p.order_id): p for p in Payment.objects.filter(order_id__in=order_ids)}
    assert {i for i, p in payments.items() if p.status == "CAPTURED"} == confirmed
    declined = {i for i, o in orders.items() if o.cancel_reason == "PAYMENT_DECLINED"}
    assert {i for i, p in payments.items() if p.status == "DECLINED"} == declined
    taken = Counter(
        op.idempotency_key
        for op in SimulatedGatewayOperation.objects.filter(
            kind="CHARGE", outcome="APPROVED", idempotency_key__startswith="charge:"
        )
    )
    assert taken == Counter(f"charge:{order_id}" for order_id in confirmed)

    # Notifications: one per registration and one per order, each emailed once.
    welcomes = Counter(
        str(n.user_id) for n in Notification.objects.filter(kind=Notification.Kind.WELCOME)
    )
    assert all(welcomes[user_id] == 1 for user_id in users)
    per_order = Counter(
        (str(n.order_id), n.kind) for n in Notification.objects.filter(order_id__in=order_ids)
    )
    expected = Counter(
        (order_id, "ORDER_CONFIRMED" if order_id in confirmed else "ORDER_CANCELLED")
        for order_id in order_ids
    )
    assert per_order == expected
    emails = Counter((m["To"], m["Subject"]) for m in workers[0].sent_emails())
    assert all(count == 1 for count in emails.values()), emails.most_common(3)
    assert all(emails[(email, "Welcome to the shop")] == 1 for email in users.values())
    order_subjects = {key for key in emails if key[1].startswith("Your order ")}
    assert len(order_subjects) == len(order_ids)

    # The engine is idle and clean: no saga active, no event waiting, nothing dead.
    assert not SagaState.objects.filter(order_id__in=order_ids).exclude(status=SagaStatus.DONE)
    assert not _kernel_rows(DeadLetter)
    inbox = _kernel_rows(InboxMessage)
    assert {row.status for row in inbox} <= {"processed"}
    duplicates = sum(row.attempts - 1 for row in inbox)
    # Each delivery ran its handler once: a duplicate (two relays, a re-drive) ran nothing.
    logs = [worker.logs() for worker in workers]
    delivered = [_deliveries_logged(log) for log in logs]
    assert sum(delivered) == len(inbox), (delivered, len(inbox))
    failed = [line for log in logs for line in log.splitlines() if "event delivery failed" in line]
    assert not failed, f"{len(failed)} deliveries failed, e.g. {failed[0][:600]}"

    # Both workers took a share of the relaying, the sagas and the deliveries.
    loops = [_tally(path) for path in tallies]
    for n, units in enumerate(loops):
        relayed = sum(v for name, v in units.items() if name.startswith("kernel.relay."))
        assert relayed > 0, f"worker {n} relayed nothing: {units}"
        assert units["orders.sagas"] > 0, f"worker {n} ran no saga: {units}"
        assert delivered[n] > 0, f"worker {n} delivered no event"
    print(
        f"\n{len(order_ids)} orders ({dict(outcomes)}), {len(users)} registrations;"
        f" placed in {placed_at - started:.1f} s, all final and idle"
        f" {final_at - placed_at:.1f} s later, {time.monotonic() - began:.1f} s in all;"
        f" per worker: loops {[dict(u) for u in loops]}, deliveries {delivered};"
        f" duplicate deliveries absorbed by the inbox: {duplicates}"
    )

"""`make bench BENCH_ARGS=--payments-remote`: the order flow again with payments apart.

After the in-process run, bench/run.py calls ``compare`` with its figures. It
starts the extracted topology of docs/extracting-a-context.md on fresh
databases:

- payments, ``SHOP_CONTEXTS=payments``: gunicorn on the bench's port + 1
  (8766), a Celery worker (reconciliation, its event sweep) and beat, on the
  database ``<bench database>_payments``;
- the monolith, ``SHOP_CONTEXTS=users,catalog,inventory,orders,notifications``
  with ``PAYMENTS_URL``: gunicorn on the bench's port, its worker and beat, on
  the bench's database;

both on the bench's Redis database, as deployments share one broker (each
consumes its own queues: docs/extracting-a-context.md, "Queues"). Then the same
measurement as step 3 of bench/run.py (``POST /api/orders`` saturated by wrk,
until every order is final) and step 5 (orders one at a time), printed beside
the in-process figures. Statements and CPU are summed over both deployments'
processes, transactions over both databases, broker messages over the Redis
server.
"""

from __future__ import annotations

import http.client
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis

from bench import run as bench

MONOLITH_CONTEXTS = "users,catalog,inventory,orders,notifications"
SERVICE_TOKEN = "bench-only-service-token"


class BothDatabases(bench.Counters):
    """The bench's counters, with the payments database's transactions added."""

    def __init__(self, payments_db: psycopg.Connection, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.payments_db = payments_db
        self.payments_queries = 0

    def sample(self) -> dict:
        result = super().sample()
        self.payments_queries += 1
        (xacts,) = self.payments_db.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database"
            " WHERE datname = current_database()"
        ).fetchone() or (0,)
        result["transactions"] += xacts - self.payments_queries
        return result


def compare(args, env: dict[str, str], in_process: bench.OrderPhase, alone: list[float]) -> None:
    """Run the order flow with payments as its own deployment; print it beside ``in_process``."""
    bench.PORT = args.port  # this module's copy of bench/run.py (run as a script, it is __main__)
    payments_port = args.port + 1
    for port in (payments_port, bench.PORT):
        if _healthy(port):
            raise SystemExit(f"port {port} is taken by another server: stop it, then run again")
    payments_database = _sibling(args.database, "_payments")
    for url in (args.database, payments_database):
        bench.recreate_database(url)
    statements_dir = Path(tempfile.mkdtemp(prefix="bench-statements-remote-"))
    common = {**env, "BENCH_STATEMENT_COUNTS_DIR": str(statements_dir),
              "SERVICE_TOKEN": SERVICE_TOKEN, "JWT_SIGNING_KEY": env["SECRET_KEY"]}  # fmt: skip
    payments_env = {**common, "SHOP_CONTEXTS": "payments", "DATABASE_URL": payments_database}
    monolith_env = {**common, "SHOP_CONTEXTS": MONOLITH_CONTEXTS,
                    "PAYMENTS_URL": f"http://{bench.HOST}:{payments_port}"}  # fmt: skip
    broker = redis.Redis.from_url(args.broker)
    broker.flushdb()
    migrations = [_migrate(e) for e in (payments_env, monolith_env)]
    if any(m.wait() for m in migrations):
        raise SystemExit("migrate failed for the payments-remote run")

    procs = {
        **_deployment("payments", payments_env, payments_port, args, concurrency=1),
        **_deployment("monolith", monolith_env, bench.PORT, args),
    }
    try:
        bench.wait_until(lambda: _healthy(payments_port), 60, "the payments deployment")
        bench.wait_until(lambda: _healthy(bench.PORT), 60, "the monolith")
        with (
            psycopg.connect(args.database, autocommit=True) as db,
            psycopg.connect(payments_database, autocommit=True) as payments_db,
        ):
            counters = BothDatabases(payments_db, db, broker, statements_dir, procs, monolith_env)
            products = bench.seed_products(args.products, 10_000_000)
            users = [bench.register(bench.Api()) for _ in range(args.connections)]
            remote = bench.order_phase(args, counters, users, products)
            remote_alone = bench.one_at_a_time(counters, products)
    finally:
        bench.stop_processes(procs)
        shutil.rmtree(statements_dir, ignore_errors=True)
    _print(args, payments_port, (in_process, alone), (remote, remote_alone))


def _print(args, port: int, *runs: tuple[bench.OrderPhase, list[float]]) -> None:
    def per(phase: bench.OrderPhase, key: str) -> float:
        return phase.cost[key] / max(phase.placed, 1)

    rows = [
        ("confirmed orders per second",
         lambda p, a: f"{p.rate:.1f} ({len(p.confirmed)} of {p.placed})"),
        ("POST /api/orders at saturation",
         lambda p, a: f"{p.wrk['rps']:.0f} req/s, p50 {p.wrk['p50']:.0f} ms"),
        ("placed -> final at saturation", lambda p, a: bench._pct(bench.to_final_ms(p.rows))),
        ("one order alone, placed -> final", lambda p, a: f"p50 {bench.percentile(a, 50):.0f} ms"),
        ("SQL statements per order", lambda p, a: f"{per(p, 'statements'):.1f}"),
        ("transactions per order", lambda p, a: f"{per(p, 'transactions'):.1f}"),
        ("broker messages per order", lambda p, a: f"{per(p, 'messages'):.2f}"),
        ("machine CPU per order (without wrk)", lambda p, a: f"{p.cpu_ms_per_order():.1f} ms"),
    ]  # fmt: skip
    table = [("measure", "in process", "payments remote")]
    table += [(name, show(*runs[0]), show(*runs[1])) for name, show in rows]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    print()
    print("payments as its own deployment (PAYMENTS_URL; its gunicorn, worker, beat, database):")
    for row in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    print(
        f"payments deployment: gunicorn {args.web_workers} sync workers on :{port}, "
        "celery concurrency 1, beat; statements and CPU of both deployments, transactions "
        "of both databases"
    )


# --- processes and databases ----------------------------------------------------


def _deployment(
    name: str, env: dict[str, str], port: int, args, *, concurrency: int | None = None
) -> dict[str, subprocess.Popen]:
    """One deployment's gunicorn, Celery worker (no -Q: its own queues) and beat."""
    results = bench.ROOT / "bench" / "results"
    commands = {
        "gunicorn": bench.web_command(args, port),
        "celery worker": [str(bench.BIN / "celery"), "-A", "config", "worker", "--concurrency",
                          str(concurrency or args.worker_concurrency), "--loglevel", "WARNING",
                          "--hostname", f"bench-{name}@%h", "--without-gossip",
                          "--without-mingle"],
        "celery beat": [str(bench.BIN / "celery"), "-A", "config", "beat", "--loglevel",
                        "WARNING", "--schedule", str(results / f"celerybeat-schedule-{name}")],
    }  # fmt: skip
    return {
        f"{name} {process}": bench.start_process(f"{name} {process}", command, env)
        for process, command in commands.items()
    }


def _healthy(port: int) -> bool:
    connection = http.client.HTTPConnection(bench.HOST, port, timeout=5)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _migrate(env: dict[str, str]) -> subprocess.Popen:
    command = [str(bench.BIN / "python"), "manage.py", "migrate", "-v0"]
    return subprocess.Popen(command, cwd=bench.ROOT, env=env)


def _sibling(url: str, suffix: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path + suffix))

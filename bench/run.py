"""The order flow side by side with two yardsticks, all driven by wrk in one run.

`make bench` runs this. It creates a fresh PostgreSQL database, starts gunicorn
(2 sync workers), one Celery worker (concurrency 4) and beat on Redis, then:

1. `wrk` saturates the bare insert endpoint `/bench/bare` (one row a request);
2. `wrk` saturates `/bench/plain-checkout`: the same order flow written as one
   plain Django transaction (bench/plain), the parity yardstick;
3. `wrk` saturates `POST /api/orders` with the same threads, connections and
   duration; the run waits until every order is final. Confirmed orders per
   second run from the first order's `created_at` to the last final
   `updated_at`, as the server recorded them;
4. an open-loop sender places orders at half that rate (Debian's wrk has no
   rate option; at half load a Python sender is not the bottleneck), with
   what an order costs there and how busy the cores were (/proc/stat, the
   sender included): smaller batches cost more per order;
5. orders placed one at a time, each waiting for the previous to be final;
6. with ``--workers 2`` (or more), step 3 once more with that many Celery
   workers (the extra ones started beside the first, each running its own
   relay and saga loop), printed as "one vs two workers": on a machine with
   two cores this shows what a second worker costs or buys, not a speed-up
   the cores do not have;
7. with ``--payments-remote``, steps 3 and 5 once more with payments as its own
   deployment (bench/payments_remote.py), printed beside the in-process figures.

Placed -> final is the order's `updated_at - created_at` from the database, so
polling does not distort it. During phases 2 and 3 it samples CPU seconds per
process (/proc), SQL statements (an execute wrapper in every Django process,
bench/counters.py), transactions (`pg_stat_database`) and broker messages
(Redis `INFO commandstats`, LPUSH/RPUSH), and divides by the orders placed:
beat's sweeps and the worker's background work are included.

A benchmark, never a test: it prints numbers and the targets beside them, and
never fails on time. On a machine shared with other work the figures are noise.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WRK_SCRIPTS = ROOT / "bench" / "wrk"
HOST, PORT = "127.0.0.1", 8765
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

sys.path.insert(0, str(ROOT))
from bench.counters import total as statements_so_far  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


class Api:
    """One keep-alive HTTP connection (seeding and the open-loop sender)."""

    def __init__(self, token: str | None = None) -> None:
        self.conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
        self.token = token

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self.conn.request(method, path, body=json.dumps(body) if body else None, headers=headers)
        response = self.conn.getresponse()
        raw = response.read()
        return response.status, (json.loads(raw) if raw else {})


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)  # polling a server that is starting, in a benchmark
    raise SystemExit(f"timed out waiting for {what}")


# --- Processes and their CPU --------------------------------------------------


def recreate_database(url: str) -> None:
    """Drop the database at ``url`` if it exists, and create it empty."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def web_command(args, port: int) -> list[str]:
    """gunicorn with ``args.web_workers`` sync workers on ``port``."""
    return [str(BIN / "gunicorn"), "config.wsgi", "--bind", f"{HOST}:{port}",
            "--workers", str(args.web_workers), "--worker-class", "sync",
            "--log-level", "warning"]  # fmt: skip


def start_services(env: dict[str, str], args) -> dict[str, subprocess.Popen]:
    logs = ROOT / "bench" / "results"
    logs.mkdir(exist_ok=True)
    commands = {
        "gunicorn": web_command(args, PORT),
        "celery worker": worker_command(args, 1),
        "celery beat": [str(BIN / "celery"), "-A", "config", "beat", "--loglevel", "WARNING",
                        "--schedule", str(logs / "celerybeat-schedule")],
    }  # fmt: skip
    return {name: start_process(name, command, env) for name, command in commands.items()}


def worker_command(args, number: int) -> list[str]:
    """``celery -A config worker`` number ``number`` (every queue)."""
    return [str(BIN / "celery"), "-A", "config", "worker", "--concurrency",
            str(args.worker_concurrency), "--loglevel", "WARNING", "--hostname",
            f"bench{number}@%h", "--without-gossip", "--without-mingle"]  # fmt: skip


def start_process(name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
    logs = ROOT / "bench" / "results"
    logs.mkdir(exist_ok=True)
    with open(logs / f"{name.replace(' ', '-')}.log", "w") as log:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_processes(procs: dict[str, subprocess.Popen]) -> None:
    """SIGTERM every process, then wait for each (SIGKILL after 20 s)."""
    for proc in procs.values():
        proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def saga_loops_listening(counters: Counters) -> int:
    """Workers whose saga loop is up: its LISTEN connection (kernel.wakeup names it)."""
    (count,) = counters.query(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name = 'loop orders.sagas'"
    )[0]
    return int(count)


def _stat(pid: int) -> tuple[str, int, float] | None:
    """(command name, parent pid, CPU seconds) of a live process, from /proc."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_seconds(procs: dict[str, subprocess.Popen]) -> dict[str, dict[int, float]]:
    """CPU seconds so far per process of each service's tree, PostgreSQL, Redis and wrk."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))):
            stats[int(entry.name)] = stat
    children: dict[int, list[int]] = {}
    for pid, (_, parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)

    def tree(pid: int) -> list[int]:
        return [pid, *(p for child in children.get(pid, []) for p in tree(child))]

    groups = {name: tree(proc.pid) for name, proc in procs.items()}
    for group, prefix in (("postgresql", "postgres"), ("redis", "redis-server"), ("wrk", "wrk")):
        groups[group] = [pid for pid, s in stats.items() if s[0].startswith(prefix)]
    return {
        name: {pid: stats[pid][2] for pid in pids if pid in stats} for name, pids in groups.items()
    }


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy so far (/proc/stat: all but idle)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLOCK_TICKS  # less idle and iowait


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two samples by the processes alive at the second one."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


# --- Counters -----------------------------------------------------------------


class Counters:
    """Statements, transactions, broker messages and CPU, sampled around a phase."""

    def __init__(self, db: psycopg.Connection, broker: redis.Redis, statements_dir: Path,
                 procs: dict[str, subprocess.Popen], env: dict[str, str]) -> None:  # fmt: skip
        self.db, self.broker, self.statements_dir, self.procs = db, broker, statements_dir, procs
        self.env = env  # of the processes, for those started later (more workers)
        self.own_queries = 0  # the benchmark's own polling, subtracted from transactions

    def query(self, sql: str, params: Iterable = ()) -> list[tuple]:
        self.own_queries += 1
        return self.db.execute(sql, tuple(params)).fetchall()

    def sample(self) -> dict:
        time.sleep(1.2)  # PostgreSQL flushes its statistics at most once a second
        (xacts,) = self.query(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database"
            " WHERE datname = current_database()"
        )[0]
        commands = self.broker.info("commandstats")
        pushes = sum(commands.get(f"cmdstat_{c}", {}).get("calls", 0) for c in ("lpush", "rpush"))
        return {
            "statements": statements_so_far(self.statements_dir),
            "transactions": xacts - self.own_queries,
            "messages": pushes,
            "cpu": cpu_seconds(self.procs),
        }


def delta(before: dict, after: dict) -> dict[str, float]:
    """What a phase cost: counters' differences, and ``cpu:<process>`` CPU seconds."""
    result = {key: after[key] - before[key] for key in after if key != "cpu"}
    for name, pids in after["cpu"].items():
        result[f"cpu:{name}"] = cpu_delta(before["cpu"].get(name, {}), pids)
    return result


# --- wrk ----------------------------------------------------------------------


def wrk(args, path: str, script: str, *script_args: str) -> dict[str, float]:
    """Run wrk against ``path``; requests/s, non-2xx responses and latency percentiles."""
    load = [
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--latency",
        "--timeout",
        "30s",
    ]
    command = ["wrk", *load, "-s", str(WRK_SCRIPTS / script), f"http://{HOST}:{PORT}{path}"]
    if script_args:
        command += ["--", path, *script_args]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    return {
        # wrk always prints both lines (a missing one is a crash worth its traceback).
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "non2xx": int(bad.group(1)) if bad else 0,
        "p50": _ms(latency.get("50", "nan")),
        "p99": _ms(latency.get("99", "nan")),
    }


def _ms(value: str) -> float:
    number = re.match(r"[\d.]+", value)
    if not number:
        return float("nan")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}
    return float(number.group()) * scale[value[number.end() :]]


# --- The order flow -----------------------------------------------------------


def register(api: Api) -> tuple[str, str]:
    """A new user: (user id, access token)."""
    email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
    status, user = api.call(
        "POST", "/api/users", {"email": email, "name": "Bench", "password": "bench-pass-9876"}
    )
    assert status == 201, (status, user)
    status, tokens = api.call(
        "POST", "/api/auth/token", {"email": email, "password": "bench-pass-9876"}
    )
    assert status == 200, (status, tokens)
    return user["id"], tokens["access"]


def seed_products(count: int, stock: int) -> list[str]:
    seller = Api()
    _, seller.token = register(seller)
    ids = []
    for _ in range(count):
        status, product = seller.call(
            "POST", "/api/products",
            {"sku": f"BENCH-{uuid.uuid4().hex[:10]}", "name": "Bench", "price": "1.00"},
        )  # fmt: skip
        assert status == 201, (status, product)
        status, _ = seller.call("POST", f"/api/inventory/{product['id']}/adjust", {"delta": stock})
        assert status == 200, status
        ids.append(product["id"])
    return ids


def wait_final(counters: Counters, user_ids: list[str], timeout: float = 300) -> list[tuple]:
    """Wait until no order of these users is PENDING; their (status, created, updated)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (pending,) = counters.query(
            "SELECT count(*) FROM orders_order WHERE user_id = ANY(%s) AND status = 'PENDING'",
            [user_ids],
        )[0]
        if not pending:
            break
        time.sleep(0.1)  # polling the database, in a benchmark
    else:
        print(f"WARNING: {pending} orders still PENDING after {timeout}s")
    return counters.query(
        "SELECT status, created_at, updated_at FROM orders_order WHERE user_id = ANY(%s)",
        [user_ids],
    )


def to_final_ms(rows: list[tuple]) -> list[float]:
    return [(u - c).total_seconds() * 1000 for s, c, u in rows if s != "PENDING"]


def open_loop(product_ids: list[str], tokens: list[str], rate: float, seconds: float) -> int:
    """Send orders at ``rate``/s for ``seconds`` from one keep-alive connection per token."""
    interval = len(tokens) / rate
    sent = [0]
    lock = threading.Lock()

    def run(index: int, token: str) -> None:
        api = Api(token)
        start = time.perf_counter() + index * interval / len(tokens)
        for j in range(max(1, int(seconds / interval))):
            delay = start + j * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)  # the open loop's schedule
            status, _ = api.call("POST", "/api/orders", order_body(product_ids, j))
            if status == 201:
                with lock:
                    sent[0] += 1

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(tokens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sent[0]


def one_at_a_time(counters: Counters, products: list[str], orders: int = 20) -> list[float]:
    """Orders placed one after the other, each waiting to be final: placed -> final ms."""
    user, token = register(Api())
    api = Api(token)
    for n in range(orders):
        status, order = api.call("POST", "/api/orders", order_body(products, n))
        assert status == 201, (status, order)
        wait_final(counters, [user], timeout=30)
    return to_final_ms(wait_final(counters, [user]))


def order_body(product_ids: list[str], n: int) -> dict:
    return {
        "items": [{"product_id": product_ids[n % len(product_ids)], "quantity": 1}],
        "payment_token": "tok_ok",
    }


# --- The run ------------------------------------------------------------------


def main() -> None:
    global PORT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds of each wrk phase")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--products", type=int, default=20)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=4)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="2 or more: run the order flow again with that many Celery workers (one vs N)",
    )
    parser.add_argument(
        "--payments-remote",
        action="store_true",
        help="then the order flow again with payments as its own deployment, side by side"
        " (bench/payments_remote.py)",
    )
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/shop_bench")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--port", type=int, default=PORT, help="the web server's port")
    args = parser.parse_args()
    PORT = args.port
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk (Debian/Ubuntu)")

    statements_dir = Path(tempfile.mkdtemp(prefix="bench-statements-"))
    env = {
        **os.environ,
        "DATABASE_URL": args.database,
        "CELERY_BROKER_URL": args.broker,
        "SECRET_KEY": "bench-only-secret-key-long-enough-for-hs256-signing",
        "DEBUG": "0",
        "API_THROTTLE": "0",
        "BENCH_ENDPOINTS": "1",
        "BENCH_STATEMENT_COUNTS_DIR": str(statements_dir),
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "LOG_LEVEL": "WARNING",
    }
    recreate_database(args.database)
    broker = redis.Redis.from_url(args.broker)
    broker.flushdb()
    py = str(BIN / "python")
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    plain_products = json.loads(
        subprocess.run(
            [py, "manage.py", "seed_plain_checkout", "--products", str(args.products)],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        ).stdout
    )  # fmt: skip

    procs = start_services(env, args)
    try:
        wait_until(lambda: Api().call("GET", "/health")[0] == 200, 60, "the web server")
        with psycopg.connect(args.database, autocommit=True) as db:
            baseline = report(
                args, Counters(db, broker, statements_dir, procs, env), plain_products
            )
    finally:
        stop_processes(procs)
        shutil.rmtree(statements_dir, ignore_errors=True)
    if args.payments_remote:
        from bench.payments_remote import compare

        compare(args, env, *baseline)


def report(args, counters: Counters, plain_products: list[str]) -> tuple[OrderPhase, list[float]]:
    products = seed_products(args.products, 10_000_000)
    users = [register(Api()) for _ in range(args.connections)]
    tokens = ",".join(token for _, token in users)

    # 1-2. The yardsticks.
    bare = wrk(args, "/bench/bare", "bare.lua")
    before = counters.sample()
    plain = wrk(args, "/bench/plain-checkout", "order.lua", tokens, ",".join(plain_products))
    plain_cost = delta(before, counters.sample())

    # 3. Orders at saturation, until every one is final.
    saturation = order_phase(args, counters, users, products)
    orders, rows, cost = saturation.wrk, saturation.rows, saturation.cost
    placed, confirmed, confirmed_per_s = saturation.placed, saturation.confirmed, saturation.rate

    # 4. Half the saturating rate, open loop, with new users (their orders apart).
    half_users = [register(Api()) for _ in range(args.connections)]
    rate = confirmed_per_s / 2
    half_before = counters.sample()
    busy_before, started = machine_busy_seconds(), time.monotonic()
    half_placed = open_loop(products, [t for _, t in half_users], rate, seconds=10)
    cores_seconds = (time.monotonic() - started) * (os.cpu_count() or 1)
    busy = (machine_busy_seconds() - busy_before) / cores_seconds
    half = to_final_ms(wait_final(counters, [u for u, _ in half_users]))
    half_cost = delta(half_before, counters.sample())

    # 5. One order at a time.
    alone = one_at_a_time(counters, products)

    # 6. Step 3 again with more workers.
    more = more_workers(args, counters, products) if args.workers > 1 else None

    def per(key: str, n: float, source: dict[str, float] = cost) -> float:
        return source[key] / max(n, 1)

    saturated = to_final_ms(rows)
    ratio = confirmed_per_s / bare["rps"]
    cpu_ms, plain_cpu_ms = _cpu_ms(cost), _cpu_ms(plain_cost)
    lines = [
        ("bare insert endpoint /bench/bare", f"{bare['rps']:.0f} req/s", ""),
        ("plain checkout /bench/plain-checkout", f"{plain['rps']:.0f} orders/s "
         f"(ratio {plain['rps'] / bare['rps']:.3f})", ""),
        ("POST /api/orders at saturation", f"{orders['rps']:.0f} req/s, "
         f"p50 {orders['p50']:.0f} ms, p99 {orders['p99']:.0f} ms", ""),
        ("confirmed orders per second", f"{confirmed_per_s:.1f} ({len(confirmed)} of {placed})",
         ""),
        ("  ratio to the bare endpoint", f"{ratio:.3f}", _target(ratio >= 0.12, ">= 0.12"
                                                                 " (stretch 0.25)")),
        ("  ratio to the plain checkout", f"{confirmed_per_s / plain['rps']:.2f}",
         _target(confirmed_per_s >= plain["rps"], ">= 1")),
        ("placed -> final at saturation", _pct(saturated), ""),
        (f"placed -> final at half rate ({rate:.0f}/s)", _pct(half),
         _target(percentile(half, 50) <= 30 and percentile(half, 99) <= 150,
                 "p50 <= 30 ms, p99 <= 150 ms")),
        ("  its cost per order", f"CPU {_cpu_ms(half_cost) / max(half_placed, 1):.1f} ms, "
         f"{per('statements', half_placed, half_cost):.1f} statements, "
         f"{per('transactions', half_placed, half_cost):.1f} transactions; "
         f"the cores {100 * busy:.0f} % busy", ""),
        ("one order alone", f"p50 {percentile(alone, 50):.0f} ms",
         _target(percentile(alone, 50) <= 50, "<= 50 ms")),
        ("SQL statements per order", f"{per('statements', placed):.1f} "
         f"(plain {per('statements', plain['requests'], plain_cost):.1f})",
         _target(per("statements", placed) <= 30, "<= 30")),
        ("transactions per order", f"{per('transactions', placed):.1f} "
         f"(plain {per('transactions', plain['requests'], plain_cost):.1f})", ""),
        ("broker messages per order", f"{per('messages', placed):.2f} "
         f"(plain {per('messages', plain['requests'], plain_cost):.2f})",
         _target(per("messages", placed) <= 2, "<= 2")),
        ("machine CPU per order (without wrk)", f"{cpu_ms / max(placed, 1):.1f} ms "
         f"(plain {plain_cpu_ms / max(plain['requests'], 1):.1f} ms)", ""),
    ]  # fmt: skip
    if more is not None:
        lines += [
            (f"one vs {args.workers} workers (orders at saturation)", "", ""),
            *(
                (f"  {n} worker{'s' if n > 1 else ''}", phase.summary(), "")
                for n, phase in ((1, saturation), (args.workers, more))
            ),
        ]
    cpu = ", ".join(
        f"{k[4:]} {v:.1f}" for k, v in sorted(cost.items(), key=lambda kv: -kv[1])
        if k.startswith("cpu:")
    )  # fmt: skip
    width = max(len(name) for name, _, _ in lines)
    print()
    print(f"{'measure':<{width}}  result  [target]")
    for name, value, target in lines:
        print(f"{name:<{width}}  {value}  {target}".rstrip())
    print(f"CPU seconds during the order phase: {cpu}")
    print(
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s; gunicorn "
        f"{args.web_workers} sync workers; celery concurrency {args.worker_concurrency} "
        f"({args.workers} worker{'s' if args.workers > 1 else ''} in the last step); "
        f"{os.cpu_count()} cores; non-2xx: bare {bare['non2xx']}, plain {plain['non2xx']}, "
        f"orders {orders['non2xx']}"
    )
    return saturation, alone


class OrderPhase:
    """``POST /api/orders`` saturated by wrk, until every order is final; what it cost."""

    def __init__(self, orders: dict[str, float], rows: list[tuple], cost: dict[str, float]):
        self.wrk, self.rows, self.cost = orders, rows, cost
        self.placed = len(rows)
        self.confirmed = [r for r in rows if r[0] == "CONFIRMED"]
        span = (max(r[2] for r in rows) - min(r[1] for r in rows)).total_seconds()
        self.rate = len(self.confirmed) / span if span > 0 else float("nan")

    def cpu_ms_per_order(self) -> float:
        return _cpu_ms(self.cost) / max(self.placed, 1)

    def summary(self) -> str:
        return (
            f"{self.rate:.1f} confirmed/s ({len(self.confirmed)} of {self.placed}), "
            f"placed -> final {_pct(to_final_ms(self.rows))}, "
            f"CPU {self.cpu_ms_per_order():.1f} ms/order"
        )


def order_phase(args, counters: Counters, users: list[tuple[str, str]], products: list[str]):
    tokens = ",".join(token for _, token in users)
    before = counters.sample()
    orders = wrk(args, "/api/orders", "order.lua", tokens, ",".join(products))
    rows = wait_final(counters, [user_id for user_id, _ in users])
    return OrderPhase(orders, rows, delta(before, counters.sample()))


def more_workers(args, counters: Counters, products: list[str]) -> OrderPhase:
    """Start workers 2..N beside the first, wait for their saga loops, run step 3 again."""
    procs = counters.procs
    for number in range(2, args.workers + 1):
        procs[f"celery worker {number}"] = start_process(
            f"celery worker {number}", worker_command(args, number), counters.env
        )
    wait_until(
        lambda: saga_loops_listening(counters) >= args.workers, 120, f"{args.workers} workers"
    )
    users = [register(Api()) for _ in range(args.connections)]
    return order_phase(args, counters, users, products)


def _cpu_ms(cost: dict[str, float]) -> float:
    """CPU milliseconds of the services in a phase's cost (wrk, the load, left out)."""
    return 1000 * sum(v for k, v in cost.items() if k.startswith("cpu:") and k != "cpu:wrk")


def _pct(values: list[float]) -> str:
    return f"p50 {percentile(values, 50):.0f} ms, p99 {percentile(values, 99):.0f} ms"


def _target(met: bool, target: str) -> str:
    return f"[{target}: {'met' if met else 'NOT met'}]"


if __name__ == "__main__":
    main()

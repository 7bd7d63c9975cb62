"""Order throughput and latency, side by side with a bare insert endpoint.

`make bench` runs this: it creates a fresh PostgreSQL database, starts gunicorn
(2 sync workers) and a Celery worker on Redis, then

1. saturates the bare endpoint (one row per request) from C clients;
2. places N orders from C concurrent clients and waits until every one is
   final: confirmed orders per second, placement latency, placed -> final;
3. places orders again at half the saturating rate (open loop) for the
   placed -> final latency the performance budget names.

Placed -> final latency is the order's own ``updated_at - created_at`` as the
server recorded it, so polling does not distort it. A benchmark, not a test:
it prints numbers and never fails on time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST, PORT = "127.0.0.1", 8765


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


class Api:
    """One keep-alive HTTP connection (one per client thread)."""

    def __init__(self, token: str | None = None) -> None:
        self.conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
        self.token = token

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body) if body is not None else None
        self.conn.request(method, path, body=data, headers=headers)
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
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def start_services(env: dict[str, str], workers: int, concurrency: int) -> list[subprocess.Popen]:
    logs = ROOT / "bench" / "results"
    logs.mkdir(exist_ok=True)
    commands = {
        "web": [str(BIN / "gunicorn"), "config.wsgi", "--bind", f"{HOST}:{PORT}",
                "--workers", str(workers), "--worker-class", "sync", "--log-level", "warning"],
        "worker": [str(BIN / "celery"), "-A", "config", "worker", "--concurrency",
                   str(concurrency), "--loglevel", "WARNING", "--without-gossip",
                   "--without-mingle"],
        "email-worker": [str(BIN / "celery"), "-A", "config", "worker", "-Q", "email",
                         "--hostname", "email@%h", "--concurrency", "1", "--loglevel",
                         "WARNING", "--without-gossip", "--without-mingle"],
        "beat": [str(BIN / "celery"), "-A", "config", "beat", "--loglevel", "WARNING",
                 "--schedule", str(logs / "celerybeat-schedule")],
    }  # fmt: skip
    procs = []
    for name, command in commands.items():
        with open(logs / f"{name}.log", "w") as log:
            procs.append(
                subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            )
    return procs


def closed_loop(clients: list[Api], per_client: int, request: Callable[[Api, int], float]):
    """Each client sends its requests back to back; returns latencies and wall time."""
    latencies: list[float] = []
    lock = threading.Lock()

    def run(api: Api) -> None:
        mine = [request(api, i) for i in range(per_client)]
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(api,)) for api in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=4)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/shop_bench")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()

    env = {
        **os.environ,
        "DATABASE_URL": args.database,
        "CELERY_BROKER_URL": args.broker,
        "SECRET_KEY": "bench-only-secret-key-long-enough-for-hs256-signing",
        "DEBUG": "0",
        "API_THROTTLE": "0",
        "BENCH_BARE_ENDPOINT": "1",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "LOG_LEVEL": "WARNING",
    }
    dbname = args.database.rsplit("/", 1)[1]
    subprocess.run(["dropdb", "-h", HOST, "-U", "postgres", "--if-exists", dbname], check=True)
    subprocess.run(["createdb", "-h", HOST, "-U", "postgres", dbname], check=True)
    subprocess.run(["redis-cli", "-u", args.broker, "flushdb"], check=True, capture_output=True)
    py = str(BIN / "python")
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)

    procs = start_services(env, args.web_workers, args.worker_concurrency)
    try:
        wait_until(lambda: Api().call("GET", "/health")[0] == 200, 30, "the web server")
        report(args)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def register(api: Api) -> str:
    email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
    status, _ = api.call(
        "POST", "/api/users", {"email": email, "name": "Bench", "password": "bench-pass-9876"}
    )
    assert status == 201, status
    status, tokens = api.call(
        "POST", "/api/auth/token", {"email": email, "password": "bench-pass-9876"}
    )
    assert status == 200, status
    return tokens["access"]


def report(args) -> None:
    n, c = args.orders, args.clients
    per_client = max(1, n // c)

    # 1. The yardstick.
    def bare(api: Api, i: int) -> float:
        t0 = time.perf_counter()
        status, _ = api.call("POST", "/bench/bare", {"payload": f"row {i}"})
        assert status == 201, status
        return time.perf_counter() - t0

    bare_lat, bare_wall = closed_loop([Api() for _ in range(c)], per_client, bare)
    bare_rps = len(bare_lat) / bare_wall

    # 2. Orders at saturation.
    seller = Api()
    seller.token = register(seller)
    status, product = seller.call(
        "POST",
        "/api/products",
        {"sku": f"BENCH-{uuid.uuid4().hex[:8]}", "name": "Bench", "price": "1.00"},
    )
    assert status == 201, (status, product)
    status, _ = seller.call(
        "POST", f"/api/inventory/{product['id']}/adjust", {"delta": 10 * n + 10}
    )
    assert status == 200, status
    clients = [Api() for _ in range(c)]
    for api in clients:
        api.token = register(api)

    placed: list[tuple[Api, str]] = []
    lock = threading.Lock()

    def place(api: Api, i: int) -> float:
        t0 = time.perf_counter()
        status, order = api.call(
            "POST", "/api/orders",
            {"items": [{"product_id": product["id"], "quantity": 1}], "payment_token": "tok_ok"},
        )  # fmt: skip
        elapsed = time.perf_counter() - t0
        assert status == 201, (status, order)
        with lock:
            placed.append((api, order["id"]))
        return elapsed

    started = time.perf_counter()
    place_lat, _ = closed_loop(clients, per_client, place)
    finals = wait_final(placed)
    wall = time.perf_counter() - started
    confirmed = [o for o in finals if o["status"] == "CONFIRMED"]
    to_final = [final_latency(o) for o in finals]
    orders_per_s = len(confirmed) / wall

    # 3. Half the saturating load, open loop.
    rate = orders_per_s / 2
    half = open_loop(clients, product["id"], rate, max(50, min(n // 2, int(rate * 20))))
    half_final = [final_latency(o) for o in half]

    def pct(values: list[float]) -> str:
        p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
        return f"p50 {p50:6.1f} ms  p99 {p99:6.1f} ms"

    ratio = orders_per_s / bare_rps
    print()
    print(f"bare insert endpoint      {bare_rps:8.1f} req/s  {pct(bare_lat)}")
    print(f"confirmed orders          {orders_per_s:8.1f} /s     ratio to bare {ratio:.2f}")
    print(f"  {len(confirmed)} of {len(finals)} orders confirmed")
    print(f"placement (POST)          {pct(place_lat)}")
    print(f"placed -> final (sat.)    {pct(to_final)}")
    print(f"placed -> final (half)    {pct(half_final)}  at {rate:.1f}/s, {len(half)} orders")
    print(
        f"clients {c}, web workers {args.web_workers}, "
        f"worker concurrency {args.worker_concurrency}, cores {os.cpu_count()}"
    )
    if len(finals) < len(placed):
        print("WARNING: some orders did not reach a final state")


def final_latency(order: dict) -> float:
    created = datetime.fromisoformat(order["created_at"].replace("Z", "+00:00"))
    updated = datetime.fromisoformat(order["updated_at"].replace("Z", "+00:00"))
    return (updated - created).total_seconds()


def wait_final(placed: list[tuple[Api, str]], timeout: float = 300) -> list[dict]:
    """Poll every order until it is final; one connection per client, gently."""
    pending = list(placed)
    done: list[dict] = []
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        still = []
        for api, order_id in pending:
            status, order = api.call("GET", f"/api/orders/{order_id}")
            if status == 200 and order["status"] != "PENDING":
                done.append(order)
            else:
                still.append((api, order_id))
        pending = still
        if pending:
            time.sleep(0.2)  # a polling interval in a benchmark, not a test
    if pending:
        print(f"WARNING: {len(pending)} orders still PENDING after {timeout}s")
    return done


def open_loop(clients: list[Api], product_id: str, rate: float, count: int) -> list[dict]:
    """Send ``count`` orders at ``rate``/s spread over the clients; wait until final."""
    placed: list[tuple[Api, str]] = []
    lock = threading.Lock()
    interval = len(clients) / rate

    def run(api: Api, offset: float, k: int) -> None:
        start = time.perf_counter() + offset
        for j in range(k):
            delay = start + j * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            status, order = api.call(
                "POST", "/api/orders",
                {"items": [{"product_id": product_id, "quantity": 1}], "payment_token": "tok_ok"},
            )  # fmt: skip
            if status == 201:
                with lock:
                    placed.append((api, order["id"]))

    per = max(1, count // len(clients))
    threads = [
        threading.Thread(target=run, args=(api, i * interval / len(clients), per))
        for i, api in enumerate(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return wait_final(placed)


if __name__ == "__main__":
    main()

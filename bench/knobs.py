"""A/B of the per-request knobs on the two yardsticks, interleaved, repeated.

`make bench-knobs` runs this. Each round runs the baseline, then a variant,
then the baseline again, and so on through every variant (a variant is a set
of environment variables and gunicorn options): gunicorn is started for each
run, loaded by wrk on `/bench/bare` and then `/bench/plain-checkout`, and
stopped. A variant is compared with the mean of the two baseline runs around
it, so a neighbour's load on a shared machine falls on both sides of the
comparison alike; the summary gives the median of that ratio over the rounds.
Besides requests per second it counts CPU milliseconds per request of
gunicorn's processes and of the PostgreSQL backends serving the benchmark's
database (from /proc): on a machine other work shares, throughput swings
with the neighbours' load, the CPU a request costs much less. Only the web
tier runs (the plain checkout's notification task waits in Redis): these
knobs act per request.

    make bench-knobs BENCH_ARGS="--rounds 3 --duration 8 --only binding,sync-3"

A benchmark, never a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import bench.run as bench  # noqa: E402
from bench.run import BIN, HOST, Api, cpu_delta, register, wait_until, wrk  # noqa: E402

#: name -> (environment, gunicorn options); the baseline is the settings' defaults.
#: Server-side binding and the health checks are switched by bench/knob_settings.py.
VARIANTS: dict[str, tuple[dict[str, str], list[str]]] = {
    "baseline": ({}, ["--workers", "2"]),
    "binding": ({"BENCH_SERVER_SIDE_BINDING": "1"}, ["--workers", "2"]),
    "no-health-check": ({"BENCH_NO_HEALTH_CHECKS": "1"}, ["--workers", "2"]),
    # Its PostgreSQL backends end with each request: their CPU is not counted.
    "conn-per-request": ({"CONN_MAX_AGE": "0"}, ["--workers", "2"]),
    "sync-3": ({}, ["--workers", "3"]),
    "sync-4": ({}, ["--workers", "4"]),
    "gthread-2x4": ({}, ["--workers", "2", "--worker-class", "gthread", "--threads", "4"]),
}


def start_web(env: dict[str, str], options: list[str], log: Path) -> subprocess.Popen:
    command = [str(BIN / "gunicorn"), "config.wsgi", "--bind", f"{HOST}:{bench.PORT}",
               "--log-level", "warning", *options]  # fmt: skip
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_until(lambda: Api().call("GET", "/health")[0] == 200, 60, "the web server")
    return proc


def cpu_of(web: subprocess.Popen, db: psycopg.Connection) -> dict[int, float]:
    """CPU seconds so far of gunicorn's processes and this database's backends."""
    row = db.execute(
        "SELECT array_agg(pid) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid()"
    ).fetchone()
    pids = row[0] if row else None
    groups = bench.cpu_seconds({"web": web})
    backends = {pid: cpu for pid, cpu in groups["postgresql"].items() if pid in (pids or [])}
    return {**groups["web"], **backends}


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds of each wrk run")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--products", type=int, default=20)
    parser.add_argument("--only", default="", help="comma-separated variants (default: all)")
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/shop_knobs")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--port", type=int, default=8766, help="gunicorn's port")
    args = parser.parse_args()
    bench.PORT = args.port
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk (Debian/Ubuntu)")
    names = [n for n in args.only.split(",") if n] or list(VARIANTS)
    unknown = set(names) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variants: {', '.join(sorted(unknown))}")

    env = {
        **os.environ,
        "DATABASE_URL": args.database,
        "CELERY_BROKER_URL": args.broker,
        "SECRET_KEY": "bench-only-secret-key-long-enough-for-hs256-signing",
        "DEBUG": "0",
        "API_THROTTLE": "0",
        "BENCH_ENDPOINTS": "1",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "bench.knob_settings",
    }
    dbname = args.database.rsplit("/", 1)[1]
    subprocess.run(["dropdb", "-h", HOST, "-U", "postgres", "--if-exists", dbname], check=True)
    subprocess.run(["createdb", "-h", HOST, "-U", "postgres", dbname], check=True)
    py = str(BIN / "python")
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    products = json.loads(
        subprocess.run(
            [py, "manage.py", "seed_plain_checkout", "--products", str(args.products)],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        ).stdout
    )  # fmt: skip
    logs = ROOT / "bench" / "results"
    logs.mkdir(exist_ok=True)

    web = start_web(env, VARIANTS["baseline"][1], logs / "knobs-gunicorn.log")
    try:
        tokens = ",".join(register(Api())[1] for _ in range(args.connections))
    finally:
        stop(web)

    db = psycopg.connect(args.database, autocommit=True)

    def load(web: subprocess.Popen, path: str, *script: str) -> tuple[float, float]:
        """(requests/s, CPU ms per request) of one wrk run."""
        before = cpu_of(web, db)
        result = wrk(args, path, *script)
        spent = cpu_delta(before, cpu_of(web, db))
        if result["non2xx"]:
            print(f"  {result['non2xx']} non-2xx responses on {path}")
        return result["rps"], 1000 * spent / max(result["requests"], 1)

    def run(name: str) -> dict[str, float]:
        extra, options = VARIANTS[name]
        web = start_web({**env, **extra}, options, logs / "knobs-gunicorn.log")
        try:
            bare = load(web, "/bench/bare", "bare.lua")
            plain = load(web, "/bench/plain-checkout", "order.lua", tokens, ",".join(products))
        finally:
            stop(web)
        print(
            f"  {name:<18} bare {bare[0]:7.0f} req/s {bare[1]:5.2f} ms CPU"
            f"  plain {plain[0]:6.0f} req/s {plain[1]:5.2f} ms CPU",
            flush=True,
        )
        return {"bare": bare[0], "bare_cpu": bare[1], "plain": plain[0], "plain_cpu": plain[1]}

    keys = ("bare", "bare_cpu", "plain", "plain_cpu")
    variants = [n for n in names if n != "baseline"]
    ratios: dict[str, dict[str, list[float]]] = {n: {k: [] for k in keys} for n in variants}
    for round_ in range(1, args.rounds + 1):
        print(f"round {round_}", flush=True)
        before = run("baseline")
        for name in variants:
            measured = run(name)
            after = run("baseline")
            for key in keys:
                ratios[name][key].append(measured[key] / ((before[key] + after[key]) / 2))
            before = after

    print(
        f"\nvariant / neighbouring baselines, median of {args.rounds} rounds "
        f"(wrk -t{args.threads} -c{args.connections} -d{args.duration}s, {os.cpu_count()} cores)"
    )
    for name in variants:
        median = {k: statistics.median(ratios[name][k]) - 1 for k in keys}
        print(
            f"{name:<18} bare {median['bare']:+5.0%} req/s {median['bare_cpu']:+5.0%} CPU/req"
            f"   plain {median['plain']:+5.0%} req/s {median['plain_cpu']:+5.0%} CPU/req"
        )


if __name__ == "__main__":
    main()

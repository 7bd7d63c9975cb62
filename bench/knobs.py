"""A/B of the per-request knobs on the two yardsticks, interleaved, repeated.

`make bench-knobs` runs this. Each round runs the baseline, then a variant,
then the baseline again, and so on through every variant (a variant is a set
of environment variables and gunicorn options): gunicorn is started for each
run, loaded by wrk on `/bench/bare` and then `/bench/plain-checkout`, and
stopped. A variant is compared with the mean of the two baseline runs around
it, so a neighbour's load on a shared machine falls on both sides of the
comparison alike; the summary gives the median of that ratio over the rounds.
Only the web tier runs (the plain checkout's notification task waits in
Redis): these knobs act per request.

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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.run import BIN, HOST, PORT, Api, register, wait_until, wrk  # noqa: E402

#: name -> (environment, gunicorn options); the baseline is the settings' defaults.
VARIANTS: dict[str, tuple[dict[str, str], list[str]]] = {
    "baseline": ({}, ["--workers", "2"]),
    "binding": ({"DATABASE_SERVER_SIDE_BINDING": "1"}, ["--workers", "2"]),
    "no-health-check": ({"CONN_HEALTH_CHECKS": "0"}, ["--workers", "2"]),
    "conn-per-request": ({"CONN_MAX_AGE": "0"}, ["--workers", "2"]),
    "sync-3": ({}, ["--workers", "3"]),
    "sync-4": ({}, ["--workers", "4"]),
    "gthread-2x4": ({}, ["--workers", "2", "--worker-class", "gthread", "--threads", "4"]),
}


def start_web(env: dict[str, str], options: list[str], log: Path) -> subprocess.Popen:
    command = [str(BIN / "gunicorn"), "config.wsgi", "--bind", f"{HOST}:{PORT}",
               "--log-level", "warning", *options]  # fmt: skip
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_until(lambda: Api().call("GET", "/health")[0] == 200, 60, "the web server")
    return proc


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
    args = parser.parse_args()
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

    def run(name: str) -> tuple[float, float]:
        extra, options = VARIANTS[name]
        web = start_web({**env, **extra}, options, logs / "knobs-gunicorn.log")
        try:
            bare = wrk(args, "/bench/bare", "bare.lua")
            plain = wrk(args, "/bench/plain-checkout", "order.lua", tokens, ",".join(products))
        finally:
            stop(web)
        bad = bare["non2xx"] + plain["non2xx"]
        print(
            f"  {name:<18} bare {bare['rps']:7.0f} req/s  plain {plain['rps']:6.0f} req/s"
            + (f"  non-2xx {bad}" if bad else ""),
            flush=True,
        )
        return bare["rps"], plain["rps"]

    variants = [n for n in names if n != "baseline"]
    ratios: dict[str, dict[str, list[float]]] = {n: {"bare": [], "plain": []} for n in variants}
    for round_ in range(1, args.rounds + 1):
        print(f"round {round_}", flush=True)
        before = run("baseline")
        for name in variants:
            measured = run(name)
            after = run("baseline")
            for key, value, b0, b1 in zip(("bare", "plain"), measured, before, after, strict=True):
                ratios[name][key].append(value / ((b0 + b1) / 2))
            before = after

    print(
        f"\nvariant / neighbouring baselines, median of {args.rounds} rounds "
        f"(wrk -t{args.threads} -c{args.connections} -d{args.duration}s, {os.cpu_count()} cores)"
    )
    for name in variants:
        bare, plain = (statistics.median(ratios[name][k]) for k in ("bare", "plain"))
        spread = ", ".join(
            f"{k} {min(ratios[name][k]):.2f}-{max(ratios[name][k]):.2f}" for k in ("bare", "plain")
        )
        print(f"{name:<18} bare {bare - 1:+6.0%}  plain {plain - 1:+6.0%}  (range {spread})")


if __name__ == "__main__":
    main()

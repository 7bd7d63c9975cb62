"""Settings of `make bench-knobs`: the project's, plus the knobs it measures that
the project does not keep (docs/performance.md, "Knobs"), switched on by the
benchmark's own environment variables. Never used outside bench/knobs.py."""

import os

from config.settings import *  # noqa: F403
from config.settings import DATABASES

for _database in DATABASES.values():
    if os.environ.get("BENCH_SERVER_SIDE_BINDING") == "1":
        _database.setdefault("OPTIONS", {})["server_side_binding"] = True
    if os.environ.get("BENCH_NO_HEALTH_CHECKS") == "1":
        _database["CONN_HEALTH_CHECKS"] = False

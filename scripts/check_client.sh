#!/usr/bin/env bash
# The OpenAPI schema checks of `make lint`, all offline:
#   1. drf-spectacular generates /api/schema/ with no warning;
#   2. openapi-spec-validator accepts it as OpenAPI 3;
#   3. openapi-python-client generates a client from it with no warning (a schema
#      it cannot understand is dropped from the client with a warning only, so
#      `--fail-on-warning` is what catches it), and every module of that client
#      imports with Python warnings turned into errors.
# Runs with the environment `make lint` sets (DATABASE_URL and friends).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$(cd "${BIN:-.venv/bin}" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$BIN/python" manage.py spectacular --validate --fail-on-warn --file "$work/schema.yaml"
"$BIN/openapi-spec-validator" "$work/schema.yaml"
# The generator formats its output with ruff, which it looks up on PATH.
(cd "$work" && PATH="$BIN:$PATH" "$BIN/openapi-python-client" generate \
  --path schema.yaml --output-path shop_client --meta none --fail-on-warning)
PYTHONPATH="$work" "$BIN/python" -W error - <<'PY'
import importlib
import pkgutil

import shop_client

modules = [info.name for info in pkgutil.walk_packages(shop_client.__path__, "shop_client.")]
for name in modules:
    importlib.import_module(name)
print(f"generated client: {len(modules)} modules import cleanly")
PY

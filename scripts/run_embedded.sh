#!/usr/bin/env bash
# Start web, worker and beat together; Ctrl-C stops all three.
set -euo pipefail
PY=${PYTHON:-.venv/bin/python}
# Log lines for a human at a terminal (JSON is the default everywhere else).
export LOG_FORMAT=${LOG_FORMAT:-console}
BIN=$(dirname "$PY")
mkdir -p .run
trap 'kill 0' EXIT INT TERM
"$BIN/celery" -A config worker --loglevel=INFO --concurrency=2 &
"$BIN/celery" -A config beat --loglevel=INFO --schedule=.run/celerybeat-schedule &
"$PY" manage.py runserver 127.0.0.1:8000 --noreload &
wait -n

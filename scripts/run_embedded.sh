#!/usr/bin/env bash
# Start web, worker, email worker and beat together; Ctrl-C stops them all.
# Email sends run on their own queue and worker, so a slow SMTP server never
# holds the pool the sweeps and event deliveries run in.
set -euo pipefail
PY=${PYTHON:-.venv/bin/python}
BIN=$(dirname "$PY")
mkdir -p .run
trap 'kill 0' EXIT INT TERM
"$BIN/celery" -A config worker --loglevel=INFO --concurrency=2 &
"$BIN/celery" -A config worker -Q email --hostname=email@%h --loglevel=INFO --concurrency=1 &
"$BIN/celery" -A config beat --loglevel=INFO --schedule=.run/celerybeat-schedule &
"$PY" manage.py runserver 127.0.0.1:8000 --noreload &
wait -n

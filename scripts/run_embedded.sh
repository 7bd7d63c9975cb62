#!/usr/bin/env bash
# Start web, worker and beat together; Ctrl-C stops them all.
# The worker sends each notification's email in the delivery that stores it.
# WEB=runserver (default): Django's development server with DEBUG on.
# WEB=gunicorn: the production web server with DEBUG off, static files served by
# whitenoise from STATIC_ROOT (`make run` collects them first).
set -euo pipefail
PY=${PYTHON:-.venv/bin/python}
# Log lines for a human at a terminal (JSON is the default everywhere else).
export LOG_FORMAT=${LOG_FORMAT:-console}
BIN=$(dirname "$PY")
WEB=${WEB:-runserver}
PORT=${PORT:-8000}
case "$WEB" in
  runserver)
    export DEBUG=1
    web=("$PY" manage.py runserver "127.0.0.1:$PORT" --noreload)
    ;;
  gunicorn)
    export DEBUG=0
    # A throwaway key for this run (sessions end with it), unless one is given.
    SECRET_KEY=${SECRET_KEY:-$("$PY" -c 'import secrets; print(secrets.token_urlsafe(50))')}
    export SECRET_KEY
    export EMAIL_BACKEND=${EMAIL_BACKEND:-django.core.mail.backends.console.EmailBackend}
    web=("$BIN/gunicorn" config.wsgi --bind "127.0.0.1:$PORT" --workers 2)
    ;;
  *)
    echo "WEB must be runserver or gunicorn, not '$WEB'" >&2
    exit 2
    ;;
esac
mkdir -p .run
trap 'kill 0' EXIT INT TERM
"$BIN/celery" -A config worker --loglevel=INFO --concurrency=2 &
"$BIN/celery" -A config beat --loglevel=INFO --schedule=.run/celerybeat-schedule &
"${web[@]}" &
wait -n

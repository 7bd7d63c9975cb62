# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

# `make test` talks to the real PostgreSQL and Redis on localhost; override freely.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/shop
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15
TEST_ENV = DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
	SECRET_KEY=test-only-secret-key-not-for-production DEBUG=0 API_THROTTLE=0 STATIC_MANIFEST=0
ARGS ?=

.PHONY: install run test test-split lint format check-deploy bench bench-knobs clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

## Embedded mode: SQLite + SQLAlchemy-on-SQLite broker; web, worker and beat.
## `make run WEB=gunicorn`: the web process as in production (gunicorn, DEBUG off).
WEB ?= runserver
PORT ?= 8000
run: install
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py seed_demo
	DEBUG=1 $(PY) manage.py collectstatic --noinput --verbosity 0
	PYTHON=$(PY) WEB=$(WEB) PORT=$(PORT) bash scripts/run_embedded.sh

## The whole suite against PostgreSQL and Redis (shared database mode).
test: install
	$(TEST_ENV) $(BIN)/pytest $(ARGS)

## The whole suite with one database per context.
test-split: install
	$(TEST_ENV) DB_PER_CONTEXT=1 $(BIN)/pytest $(ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --config importlinter.ini
	$(TEST_ENV) $(BIN)/mypy
	$(TEST_ENV) $(PY) manage.py check --fail-level WARNING
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run
	$(TEST_ENV) $(PY) manage.py contextmap --check
	$(TEST_ENV) BIN=$(BIN) bash scripts/check_client.sh

## Django's deployment checklist with a production-like environment.
PROD_ENV = SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') DEBUG=0 \
	ALLOWED_HOSTS=shop.example.com SECURE_SSL_REDIRECT=1 SECURE_HSTS_SECONDS=31536000 \
	SECURE_HSTS_INCLUDE_SUBDOMAINS=1 SECURE_HSTS_PRELOAD=1 SESSION_COOKIE_SECURE=1 \
	CSRF_COOKIE_SECURE=1 SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https \
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL)
check-deploy: install
	$(PROD_ENV) $(PY) manage.py check --deploy --fail-level WARNING

## The order flow vs a bare insert endpoint and a plain checkout, all loaded by wrk.
BENCH_ARGS ?=
bench: install
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk; } \
		|| { echo "wrk is needed: apt-get install wrk"; exit 1; }
	$(PY) bench/run.py $(BENCH_ARGS)

## A/B of the per-request knobs (server-side binding, health checks, gunicorn workers).
bench-knobs: install
	@command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk"; exit 1; }
	$(PY) bench/knobs.py $(BENCH_ARGS)

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) db.sqlite3 celery-broker.sqlite3 celerybeat-schedule* .run staticfiles

"""docker-compose.yml is a valid Compose file, and every process in it is one of the project's.

There is no Docker engine here, so nothing is started: the file is validated against the
Compose Specification's JSON schema (vendored in ``tests/schemas/``, source and licence in
its README), and each service that runs the project's image is checked against the code.
Its command must parse as the real program would parse it (gunicorn's own argument parser
and app loader, Celery's command line, Django's management commands), its queues must be
queues the Celery settings declare for its deployment (computed in a fresh interpreter from
the service's environment, as its process would compute them), and every variable it sets
must be one the settings read (``config.env.VARIABLES``). Each check is also shown to fail
on a broken copy.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import click
import jsonschema
import pytest
import yaml
from celery.app.utils import find_app
from celery.bin.base import CLIContext
from celery.bin.celery import celery as celery_cli
from django.conf import settings
from django.core.management import CommandError, get_commands, load_command_class
from gunicorn.config import Config as GunicornConfig
from gunicorn.util import import_app

from config.env import VARIABLES
from contexts.kernel import deployment
from contexts.kernel.databases import CONTEXTS
from contexts.kernel.deployment import has_remote_adapter

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = ROOT / "tests" / "schemas" / "compose-spec.json"

#: What the shell gives the file's ``${...}``, as in the documented
#: ``SECRET_KEY=... SERVICE_TOKEN=... docker compose --profile extracted up``.
SHELL = {"SECRET_KEY": "compose-file-test-secret-key", "SERVICE_TOKEN": "compose-file-test-token"}

DEFAULT_SERVICES = {
    "postgres",
    "redis",
    "migrate",
    "web",
    *(f"worker-{name}" for name in CONTEXTS),
    "beat",
}
EXTRACTED_SERVICES = {
    f"{deployment}-{process}"
    for deployment in ("monolith", "payments", "notifications")
    for process in ("db", "migrate", "web", "worker", "beat")
}
# What each extracted deployment runs (its SHOP_CONTEXTS).
EXTRACTED_CONTEXTS = {
    "monolith": {"users", "catalog", "inventory", "orders"},
    "payments": {"payments"},
    "notifications": {"notifications"},
}


# --- Reading the file --------------------------------------------------------------


def load(text: str) -> dict[str, Any]:
    """The Compose model as Compose reads it: YAML with anchors and merge keys resolved."""
    document = yaml.safe_load(text)
    assert isinstance(document, dict)
    return document


def compose_file() -> dict[str, Any]:
    return load(COMPOSE_FILE.read_text())


def schema_errors(document: dict[str, Any]) -> list[str]:
    """Where ``document`` breaks the Compose Specification, one line per error."""
    schema = json.loads(SCHEMA_FILE.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def enabled(document: dict[str, Any], profiles: set[str]) -> dict[str, dict[str, Any]]:
    """The services ``docker compose --profile P up`` starts for each P in ``profiles``:
    those without profiles, and those listing one of them (Compose Specification, Profiles)."""
    return {
        name: service
        for name, service in document["services"].items()
        if not service.get("profiles") or set(service["profiles"]) & profiles
    }


def project_services(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the project's image (the others run postgres or redis)."""
    return {name: s for name, s in document["services"].items() if "build" in s}


def extracted_services(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The project's services of the `extracted` profile."""
    return {
        n: s for n, s in project_services(document).items() if "extracted" in s.get("profiles", ())
    }


def environment(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):  # the KEY=VALUE form
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {key: "" if value is None else str(value) for key, value in raw.items()}


def interpolated(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with each ``${NAME}``, ``${NAME:-default}`` or ``${NAME:?error}`` replaced
    by the value of NAME in ``SHELL`` (Compose Specification, Interpolation)."""
    return {
        key: re.sub(r"\$\{(\w+)(?::?[-?][^}]*)?\}", lambda m: SHELL[m.group(1)], value)
        for key, value in env.items()
    }


def contexts_of(service: dict[str, Any]) -> set[str]:
    """The contexts a service's deployment runs: SHOP_CONTEXTS, all six when unset."""
    listed = environment(service).get("SHOP_CONTEXTS", "")
    return {name.strip() for name in listed.split(",") if name.strip()} or set(CONTEXTS)


# --- The settings of a deployment ------------------------------------------------

# Prints the Celery queues config/settings.py computes. The settings refuse to load
# where a context must be called remotely and has no adapter yet; the queues do not
# depend on it, so here every adapter counts as present (whether each deployment
# starts is test_each_extracted_deployment_starts_or_refuses_naming_the_missing_adapter).
_QUEUES_PROBE = """
import json
from contexts.kernel import deployment
deployment.has_remote_adapter = lambda context: True
from config import settings
print(json.dumps({
    "queues": [queue.name for queue in settings.CELERY_TASK_QUEUES],
    "default": settings.CELERY_TASK_DEFAULT_QUEUE,
}))
"""


def run_settings(code: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter whose environment is only ``env`` (and PATH), as
    the settings of a process of a service with that environment read it."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), **interpolated(env)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@functools.cache
def _queues(env: frozenset[tuple[str, str]]) -> tuple[frozenset[str], str]:
    result = run_settings(_QUEUES_PROBE, dict(env))
    assert result.returncode == 0, result.stderr
    computed = json.loads(result.stdout)
    return frozenset(computed["queues"]), computed["default"]


def declared_queues(env: Mapping[str, str]) -> frozenset[str]:
    """The queues a worker started without -Q consumes (CELERY_TASK_QUEUES) in a
    deployment whose processes have the environment ``env``."""
    return _queues(frozenset(env.items()))[0]


def deployment_queues(env: Mapping[str, str]) -> frozenset[str]:
    """Every queue the tasks of that deployment go to: CELERY_TASK_QUEUES and the
    default queue (the kernel's tasks: the event sweep, retention)."""
    declared, default = _queues(frozenset(env.items()))
    return declared | {default}


def env_running(contexts: AbstractSet[str]) -> dict[str, str]:
    """The environment of a deployment running ``contexts``, reaching the others at URLs."""
    return {
        "SECRET_KEY": "${SECRET_KEY}",
        "SERVICE_TOKEN": "${SERVICE_TOKEN}",
        "SHOP_CONTEXTS": ",".join(contexts),
        **{f"{name.upper()}_URL": f"http://{name}:8000" for name in CONTEXTS},
    }


def routed_queues() -> set[str]:
    """The queues a task can be sent to from this process: the contexts' (the routes name
    every context's queue in every deployment) and its default queue."""
    routes = settings.CELERY_TASK_ROUTES.values()
    return {route["queue"] for route in routes} | {settings.CELERY_TASK_DEFAULT_QUEUE}


# --- Entry points ------------------------------------------------------------------


def _gunicorn_problems(args: list[str]) -> list[str]:
    parser = GunicornConfig().parser()
    parser.exit_on_error = False
    try:
        parsed, unknown = parser.parse_known_args(args)
    except argparse.ArgumentError as error:
        return [f"gunicorn: {error}"]
    problems = [f"gunicorn: unrecognised {' '.join(unknown)}"] if unknown else []
    if len(parsed.args) != 1:
        return [*problems, f"gunicorn: one application expected, got {parsed.args}"]
    try:
        import_app(parsed.args[0])  # what gunicorn does with it at start
    except Exception as error:
        problems.append(f"gunicorn: cannot load {parsed.args[0]}: {error}")
    return problems


def _celery_problems(
    app_name: str, command: str, args: list[str], queues: AbstractSet[str]
) -> list[str]:
    try:
        app = find_app(app_name)
    except Exception as error:
        return [f"celery: no app {app_name!r}: {error}"]
    parent = click.Context(
        celery_cli,
        info_name="celery",
        obj=CLIContext(app=app, no_color=True, workdir=None, quiet=True),
    )
    program = celery_cli.get_command(parent, command)
    if program is None or command not in ("worker", "beat"):
        return [f"celery: {command!r} is not a worker or beat"]
    try:
        parsed = program.make_context(command, list(args), parent=parent)
    except click.ClickException as error:
        return [f"celery {command}: {error.format_message()}"]
    problems = []
    for queue in parsed.params.get("queues") or ():
        if queue not in queues | routed_queues():
            problems.append(f"celery worker: no queue {queue!r} in the Celery settings")
        elif queue not in queues:
            problems.append(f"celery worker: {queue!r} is not a queue of {sorted(queues)}")
    return problems


def _manage_problems(name: str, args: list[str]) -> list[str]:
    commands = get_commands()
    if name not in commands:
        return [f"manage.py: no command {name!r}"]
    parser = load_command_class(commands[name], name).create_parser("manage.py", name)
    try:
        parser.parse_args(args)
    except CommandError as error:
        return [f"manage.py {name}: {str(error).splitlines()[0]}"]
    return []


def command_problems(command: list[str], queues: AbstractSet[str]) -> list[str]:
    """Why ``command`` is not a real entry point of the project (none: it is one), run
    in a deployment whose tasks go to ``queues``."""
    match command:
        case ["gunicorn", *args]:
            return _gunicorn_problems(args)
        case ["celery", "-A", app_name, subcommand, *args]:
            return _celery_problems(app_name, subcommand, args, queues)
        case ["python", "manage.py", name, *args]:
            return _manage_problems(name, args)
    return [f"not gunicorn, celery -A ... worker|beat or python manage.py: {command}"]


def celery_program(command: list[str]) -> str | None:
    """``worker`` or ``beat`` for a Celery command, None for any other."""
    return command[3] if command[:3] == ["celery", "-A", "config"] else None


def consumed_queues(services: dict[str, dict[str, Any]]) -> set[str]:
    """The queues the workers among ``services`` consume; one without -Q consumes its
    deployment's CELERY_TASK_QUEUES."""
    consumed: set[str] = set()
    for service in services.values():
        command = service["command"]
        if celery_program(command) != "worker":
            continue
        if "-Q" in command:
            consumed |= set(command[command.index("-Q") + 1].split(","))
        else:
            consumed |= declared_queues(environment(service))
    return consumed


def deployments(document: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """The project's services grouped by deployment (the database they run on)."""
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    for name, service in project_services(document).items():
        groups.setdefault(environment(service)["DATABASE_URL"], {})[name] = service
    return groups


def deployment_problems(document: dict[str, Any]) -> list[str]:
    """Per deployment: a queue no worker consumes, or not exactly one beat and one migrate."""
    problems = []
    for services in deployments(document).values():
        names = sorted(services)
        expected = deployment_queues(environment(next(iter(services.values()))))
        if missing := expected - consumed_queues(services):
            problems.append(f"{names}: no worker consumes {sorted(missing)}")
        beats = [n for n, s in services.items() if celery_program(s["command"]) == "beat"]
        if len(beats) != 1:  # none runs no sweep; two run every periodic task twice
            problems.append(f"{names}: {len(beats)} beat processes")
        migrations = [
            n for n, s in services.items() if s["command"][1:3] == ["manage.py", "migrate"]
        ]
        if len(migrations) != 1:
            problems.append(f"{names}: {len(migrations)} migrate services")
    return problems


def variable_problems(service: dict[str, Any]) -> list[str]:
    return [
        f"{name} is read by nothing in config/settings.py"
        for name in environment(service)
        if name not in VARIABLES
    ]


# --- The file ----------------------------------------------------------------------


def test_the_file_is_valid_against_the_compose_specification():
    jsonschema.Draft202012Validator.check_schema(json.loads(SCHEMA_FILE.read_text()))
    assert schema_errors(compose_file()) == []


def test_every_service_runs_the_project_s_image_or_postgres_or_redis():
    """So that the checks below, which read the project's services, miss none."""
    others = set(compose_file()["services"]) - set(project_services(compose_file()))
    images = {compose_file()["services"][name]["image"] for name in others}
    assert images == {"postgres:16", "redis:7"}


BREAKAGES: dict[str, Callable[[dict[str, Any]], None]] = {
    "a misspelt key": lambda d: d["services"]["web"].update(comand=d["services"]["web"]["command"]),
    "an unknown depends_on condition": lambda d: d["services"]["web"].update(
        depends_on={"migrate": {"condition": "service_done"}}
    ),
    "profiles as a string": lambda d: d["services"]["payments-web"].update(profiles="extracted"),
    "a command that is a mapping": lambda d: d["services"]["beat"].update(command={"run": "beat"}),
    "a top-level key Compose does not know": lambda d: d.update(service={}),
}


@pytest.mark.parametrize("breakage", BREAKAGES, ids=list(BREAKAGES))
def test_the_schema_rejects_a_broken_copy(breakage):
    document = copy.deepcopy(compose_file())
    BREAKAGES[breakage](document)
    assert schema_errors(document) != []


def test_without_a_profile_the_stack_is_the_all_in_one_deployment():
    assert set(enabled(compose_file(), set())) == DEFAULT_SERVICES


def test_the_extracted_profile_adds_three_deployments():
    document = compose_file()
    assert set(enabled(document, {"extracted"})) == DEFAULT_SERVICES | EXTRACTED_SERVICES
    for name in EXTRACTED_SERVICES:
        assert document["services"][name]["profiles"] == ["extracted"], name


@pytest.mark.parametrize("profiles", [set(), {"extracted"}], ids=["default", "extracted"])
def test_every_dependency_is_started_with_its_dependant(profiles):
    """Compose refuses a model where an enabled service depends on a disabled one."""
    services = enabled(compose_file(), profiles)
    for name, service in services.items():
        assert set(service.get("depends_on") or ()) <= set(services), name


def test_docker_compose_up_needs_only_the_secret_key():
    """Compose interpolates the whole file before it applies profiles: a ``${X:?...}`` in
    an extracted service would stop ``docker compose up`` without X too."""
    required = set(re.findall(r"\$\{(\w+):?\?", COMPOSE_FILE.read_text()))
    assert required == {"SECRET_KEY"}


def test_host_ports_are_not_taken_twice():
    published = [
        port.split(":")[0]
        for service in compose_file()["services"].values()
        for port in service.get("ports") or ()
    ]
    assert sorted(published) == sorted(set(published)) == ["8000", "8001", "8002", "8003"]


# --- Every process is a real entry point -----------------------------------------


@pytest.mark.parametrize("name", sorted(project_services(compose_file())))
def test_each_service_runs_an_entry_point_of_the_project(name):
    service = compose_file()["services"][name]
    queues = deployment_queues(environment(service))
    assert command_problems(service["command"], queues) == []


def test_the_image_s_default_command_is_an_entry_point_too():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    command = next(line.removeprefix("CMD ") for line in lines if line.startswith("CMD "))
    assert command_problems(json.loads(command), deployment_queues(env_running(ALL))) == []


ALL = frozenset(CONTEXTS)
BAD_COMMANDS: dict[str, tuple[list[str], AbstractSet[str]]] = {
    "a wsgi module that does not exist": (
        ["gunicorn", "config.wsgy", "--bind", "0.0.0.0:8000"],
        ALL,
    ),
    "a gunicorn option that does not exist": (["gunicorn", "config.wsgi", "--wrokers", "2"], ALL),
    "a gunicorn option with a bad value": (["gunicorn", "config.wsgi", "--workers", "two"], ALL),
    "a Celery app that does not exist": (["celery", "-A", "confg", "worker"], ALL),
    "a queue that does not exist": (["celery", "-A", "config", "worker", "-Q", "shipping"], ALL),
    "a queue of a context the deployment does not run": (
        ["celery", "-A", "config", "worker", "-Q", "orders"],
        {"payments"},
    ),
    "a Celery option with a bad value": (
        ["celery", "-A", "config", "worker", "--concurrency", "many"],
        ALL,
    ),
    "a Celery option that does not exist": (
        ["celery", "-A", "config", "beat", "--shedule", "/tmp/s"],
        ALL,
    ),
    "a Celery program that is not worker or beat": (["celery", "-A", "config", "purge"], ALL),
    "a management command that does not exist": (["python", "manage.py", "migrat"], ALL),
    "a management option that does not exist": (
        ["python", "manage.py", "migrate", "--no-input-please"],
        ALL,
    ),
    "a shell line": (["sh", "-c", "python manage.py migrate && gunicorn config.wsgi"], ALL),
}


@pytest.mark.parametrize("case", BAD_COMMANDS, ids=list(BAD_COMMANDS))
def test_a_command_that_is_no_entry_point_is_caught(case):
    command, contexts = BAD_COMMANDS[case]
    assert command_problems(command, deployment_queues(env_running(contexts))) != []


def test_each_deployment_has_a_worker_for_every_queue_one_beat_and_one_migrate():
    document = compose_file()
    assert len(deployments(document)) == 4  # the default stack and the three extracted
    assert deployment_problems(document) == []


@pytest.mark.parametrize(
    "service", ["worker-notifications", "notifications-worker", "payments-beat", "migrate"]
)
def test_a_deployment_missing_a_process_is_caught(service):
    document = copy.deepcopy(compose_file())
    del document["services"][service]
    assert deployment_problems(document) != []


def test_a_second_beat_is_caught():
    document = copy.deepcopy(compose_file())
    document["services"]["monolith-beat-2"] = document["services"]["monolith-beat"]
    [problem] = deployment_problems(document)
    assert "'monolith-beat-2'" in problem and problem.endswith(": 2 beat processes")


# --- The extracted topology ------------------------------------------------------


def test_the_extracted_deployments_run_every_context_once_each_on_its_own_database():
    document = compose_file()
    extracted = extracted_services(document)
    for name, service in extracted.items():
        deployment = name.split("-", 1)[0]
        env = environment(service)
        assert contexts_of(service) == EXTRACTED_CONTEXTS[deployment], name
        assert f"@{deployment}-db:" in env["DATABASE_URL"], name
    assert set().union(*EXTRACTED_CONTEXTS.values()) == set(CONTEXTS)
    assert sum(map(len, EXTRACTED_CONTEXTS.values())) == len(CONTEXTS)


def test_the_extracted_deployments_share_a_broker_apart_from_the_default_stack():
    """One broker carries the events between them; the default stack's workers, which
    consume every queue, must not see their tasks."""
    document = compose_file()
    default_broker = environment(document["services"]["web"])["CELERY_BROKER_URL"]
    brokers = {environment(s)["CELERY_BROKER_URL"] for s in extracted_services(document).values()}
    assert len(brokers) == 1 and default_broker not in brokers


def test_a_context_url_reaches_the_web_process_of_the_deployment_running_it():
    document = compose_file()
    services = document["services"]
    for name, service in project_services(document).items():
        for variable, url in environment(service).items():
            if not variable.endswith("_URL") or variable.split("_")[0].lower() not in CONTEXTS:
                continue
            context = variable.split("_")[0].lower()
            assert context not in contexts_of(service), f"{name} runs {context}, yet calls it"
            match = re.fullmatch(r"http://([a-z-]+):(\d+)", url)
            assert match, f"{name}: {variable}={url}"
            host, port = match.groups()
            target = services[host]
            assert context in contexts_of(target), f"{name}: {host} does not run {context}"
            assert target["command"][:2] == ["gunicorn", "config.wsgi"]
            assert f"0.0.0.0:{port}" in target["command"]
            assert host in environment(target)["ALLOWED_HOSTS"].split(",")


def test_the_extracted_deployments_share_the_service_token_and_the_jwt_key():
    document = compose_file()
    extracted = [environment(s) for s in extracted_services(document).values()]
    assert len({env["SERVICE_TOKEN"] for env in extracted}) == 1
    # The customer's JWT is signed with JWT_SIGNING_KEY, SECRET_KEY when it is unset.
    assert len({env.get("JWT_SIGNING_KEY") or env["SECRET_KEY"] for env in extracted}) == 1


def test_each_extracted_deployment_reaches_exactly_the_contexts_it_calls_and_does_not_run():
    """The callees its contexts declare (``calls`` on their AppConfig) that it does not run:
    orders calls payments, notifications calls users; payments calls nothing."""
    reached = {
        name.split("-", 1)[0]: {
            variable.removesuffix("_URL").lower()
            for variable in environment(service)
            if variable.endswith("_URL") and variable.removesuffix("_URL").lower() in CONTEXTS
        }
        for name, service in extracted_services(compose_file()).items()
    }
    for name, contexts in EXTRACTED_CONTEXTS.items():
        assert reached[name] == set(deployment.remote_contexts(contexts)), name
    assert reached == {"monolith": {"payments"}, "payments": set(), "notifications": {"users"}}


@pytest.mark.parametrize("name", sorted(EXTRACTED_CONTEXTS))
def test_each_extracted_deployment_starts_or_refuses_naming_the_missing_adapter(name):
    """Every process checks its deployment when the settings load: a callee it does not
    run needs its URL, a remote adapter and a SERVICE_TOKEN. A callee without an adapter
    yet (payments, until contexts/payments/remote.py exists) stops it with that error."""
    service = compose_file()["services"][f"{name}-web"]
    result = run_settings("import config.settings", environment(service))
    missing = [
        c for c in deployment.remote_contexts(contexts_of(service)) if not has_remote_adapter(c)
    ]
    if missing:
        assert result.returncode != 0
        assert f"{', '.join(missing)} cannot be reached remotely yet" in result.stderr
    else:
        assert result.returncode == 0, result.stderr


def test_deployments_sharing_a_broker_share_no_queue():
    """A sweep runs against the databases of the worker that takes it: the monolith's
    event sweep taken by the payments worker would sweep the payments outbox instead."""
    by_broker: dict[str, list[frozenset[str]]] = {}
    for services in deployments(compose_file()).values():
        env = environment(next(iter(services.values())))
        by_broker.setdefault(env["CELERY_BROKER_URL"], []).append(deployment_queues(env))
    for queue_sets in by_broker.values():
        for index, queues in enumerate(queue_sets):
            for others in queue_sets[index + 1 :]:
                assert queues & others == set()


# --- Every variable is one the settings read -------------------------------------


@pytest.mark.parametrize("name", sorted(project_services(compose_file())))
def test_each_variable_a_service_sets_is_read_by_the_settings(name):
    assert variable_problems(compose_file()["services"][name]) == []


def test_a_variable_the_settings_do_not_read_is_caught():
    service = copy.deepcopy(compose_file()["services"]["web"])
    service["environment"]["DATABSE_URL"] = "postgres://elsewhere/shop"
    assert variable_problems(service) == ["DATABSE_URL is read by nothing in config/settings.py"]

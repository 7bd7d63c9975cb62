"""The README's configuration table lists exactly the variables the settings read."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from config.env import VARIABLES

ROOT = Path(__file__).resolve().parent.parent


def documented_variables() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def test_every_variable_the_settings_read_is_in_the_readme_and_vice_versa():
    read = set(VARIABLES)
    documented = documented_variables()
    assert read - documented == set(), "read by config/settings.py but not in the README"
    assert documented - read == set(), "in the README but not read by config/settings.py"


def test_settings_read_the_environment_only_through_config_env():
    source = (ROOT / "config" / "settings.py").read_text()
    assert "os.environ" not in source and "getenv" not in source


def test_an_invalid_value_stops_the_process_naming_the_variable():
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1", "CONN_MAX_AGE": "soon"},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert 'Environment variable "CONN_MAX_AGE" invalid' in result.stderr


def _manage(*args: str) -> subprocess.CompletedProcess:
    """``manage.py args`` with no environment but PATH: no SECRET_KEY, DEBUG off."""
    import os

    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
    )


def test_checking_migrations_needs_no_secret():
    result = _manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout


def test_anything_else_without_a_secret_stops_when_debug_is_off():
    result = _manage("check")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off." in result.stderr

"""The README's curl walk-through works as written when pasted into a shell.

The ``sh`` blocks of its "Five minutes with curl" section run in one bash
process against a live server on the test databases and a real Celery worker;
only the address changes (``localhost:8000`` becomes the live server's).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Five minutes with curl"

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (shutil.which("curl") and shutil.which("jq") and shutil.which("bash")),
        reason="the walk-through needs bash, curl and jq",
    ),
]


def walkthrough_script() -> str:
    """The shell blocks of the README's walk-through, in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(SECTION)
    end = readme.index("\n## ", start + len(SECTION))
    blocks = re.findall(r"```sh\n(.*?)```", readme[start:end], re.DOTALL)
    assert len(blocks) >= 7, "register, token, product, stock, order, history, notifications"
    return "\n".join(blocks)


def test_the_readme_walkthrough_runs_as_written(live_server, celery_worker):
    script = walkthrough_script()
    assert "http://localhost:8000/api" in script
    script = script.replace("http://localhost:8000", live_server.url)

    result = subprocess.run(
        ["bash", "-c", "set -o pipefail\n" + script],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert '"status": "CONFIRMED"' in out, out
    assert '"total": "25.00"' in out, out
    history = re.findall(r"^\d+ ([A-Z_]+)$", out, re.MULTILINE)
    assert history == ["ORDER_PLACED", "STOCK_RESERVED", "PAYMENT_CAPTURED", "ORDER_CONFIRMED"]
    assert '"on_hand": 8' in out, out
    kinds = re.findall(r"^([A-Z_]+): ", out, re.MULTILINE)
    assert sorted(kinds) == ["ORDER_CONFIRMED", "WELCOME"], out

"""The repository's documentation stands alone.

Every relative link in README.md and docs/*.md resolves to a file in the
repository, and a ``#anchor`` into a Markdown file to one of its headings; no
file points outside the repository or cites a design note that is not in it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])

# Built from pieces so that this file does not match itself.
OUTSIDE = ".." + "/shared"
FOREIGN_NOTES = tuple(name + ".md" for name in ("ARCHITECTURE", "API", "RELIABILITY", "STYLE"))

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_CODE_SPAN = re.compile(r"`[^`]*`")
# [text](target) and ![alt](target); the target ends at whitespace or ")".
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:


def _prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, numbered like GitHub's for repeats."""
    seen: dict[str, int] = {}
    result = set()
    for line in _prose_lines(path.read_text(encoding="utf-8")):
        match = _HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def links(path: Path) -> list[str]:
    """The link targets of a Markdown file, outside code blocks and code spans."""
    targets = []
    for line in _prose_lines(path.read_text(encoding="utf-8")):
        targets.extend(_LINK.findall(_CODE_SPAN.sub("", line)))
    return targets


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """The relative links of ``path`` that lead to no file in ``root``, or to no heading of it."""
    broken = []
    for target in links(path):
        if _EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        if not destination.exists():
            broken.append(f"{target} (no such file)")
            continue
        try:
            destination.relative_to(root)
        except ValueError:
            broken.append(f"{target} (outside the repository)")
            continue
        if anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{target} (no heading #{anchor} in {destination.name})")
    return broken


def tracked_files() -> list[Path]:
    """The files git tracks, or every file of the tree outside a checkout."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout.decode()
        paths = [ROOT / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        skipped = {".git", ".venv", "node_modules", "__pycache__", ".run"}
        paths = [p for p in ROOT.rglob("*") if not skipped & set(p.relative_to(ROOT).parts)]
    return [p for p in paths if p.is_file()]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(path):
    assert broken_links(path) == []


_DOCS_REFERENCE = re.compile(r"\bdocs/([\w-]+\.md)(?:#([\w-]+))?")


def test_docs_pages_named_in_code_exist_with_their_anchors():
    """A comment such as ``docs/reliability.md#database-blink`` leads somewhere."""
    missing = []
    for path in tracked_files():
        if path.suffix not in {".py", ".ini", ".toml", ".cfg", ".yml", ".yaml", ""}:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for page, anchor in _DOCS_REFERENCE.findall(text):
            target = ROOT / "docs" / page
            if not target.is_file() or (anchor and anchor not in anchors(target)):
                missing.append(
                    f"{path.relative_to(ROOT)}: docs/{page}{'#' + anchor if anchor else ''}"
                )
    assert missing == []


_TEST_REFERENCE = re.compile(r"`([\w/.-]+\.py)::(\w+)`")


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_test_the_docs_name_exists(path):
    """``path.py::test_name`` in the docs (the proofs of docs/reliability.md) is a real test."""
    missing = []
    for file_name, function in _TEST_REFERENCE.findall(path.read_text(encoding="utf-8")):
        source = ROOT / file_name
        if not source.is_file() or not re.search(
            rf"^\s*def {function}\(", source.read_text(encoding="utf-8"), re.MULTILINE
        ):
            missing.append(f"{file_name}::{function}")
    assert missing == []


def test_the_docs_pages_exist_and_are_linked_from_the_readme():
    readme_targets = {t.partition("#")[0] for t in links(ROOT / "README.md")}
    for page in ("docs/architecture.md", "docs/api.md", "docs/reliability.md"):
        assert (ROOT / page).is_file(), page
        assert page in readme_targets, f"README.md does not link {page}"


def test_no_tracked_file_refers_outside_the_repository():
    offenders = []
    for path in tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE in line or any(note in line for note in FOREIGN_NOTES):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_checker_finds_a_broken_link_a_missing_anchor_and_an_outside_link(tmp_path):
    """The checks above can fail: each kind of bad link is reported, code is not read."""
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "api.md").write_text("# API\n\n## Users and auth\n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("# Notes\n", encoding="utf-8")
    page = root / "docs" / "probe.md"
    page.write_text(
        "# Probe\n\n"
        "[ok](api.md#users-and-auth) [self](#probe) [web](https://example.com) `[x](y.md)`\n"
        "[gone](no-such-page.md) [anchor](api.md#no-such-heading) [outside](../../notes.md)\n"
        "```\n[in code](nowhere.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page, root=root) == [
        "no-such-page.md (no such file)",
        "api.md#no-such-heading (no heading #no-such-heading in api.md)",
        "../../notes.md (outside the repository)",
    ]


def test_slugs_follow_githubs_rules():
    assert slug("Worker killed mid-handler") == "worker-killed-mid-handler"
    assert slug("Retried POST with the same Idempotency-Key") == (
        "retried-post-with-the-same-idempotency-key"
    )
    assert slug("Users and auth") == "users-and-auth"
    assert slug("`make run`: embedded mode") == "make-run-embedded-mode"

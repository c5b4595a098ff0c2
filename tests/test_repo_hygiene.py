"""Rules of the repository that no single feature test covers (issue 14): tests never assert
on time, committed files name no machine's absolute paths, and the Textual range in
pyproject.toml is the one the SVG snapshots were checked against."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".cache", "build", "dist", "runs"}
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".tcss", ".txt", ".cfg", ".ini", ".json", ".sh", ""}
# absolute paths that only exist on one machine (home folders, the benchmark box's work area)
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|home|Users|root|mnt|scratch)/\w")
CLOCK = re.compile(r"\b(perf_counter|monotonic|time\.time|process_time)\(\)")


def repo_text_files():
    for path in REPO.rglob("*"):
        rel = path.relative_to(REPO)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts):
            continue
        if path.is_file() and path.suffix in TEXT_SUFFIXES and path.name != ".git":
            yield rel, path.read_text(encoding="utf-8", errors="replace")


def test_no_test_asserts_on_speed():
    """An upper bound on elapsed time fails on a busy machine; speed belongs in benchmarks/.
    (Deadlines of polling loops and lower bounds, e.g. "a retry waited", are not speed.)"""
    offenders = []
    for path in sorted((REPO / "tests").glob("*.py")):
        if path.name == Path(__file__).name:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith("assert") and CLOCK.search(line) and "<" in line:
                offenders.append(f"{path.name}:{n}")
    assert offenders == []


def test_committed_files_name_no_absolute_machine_path():
    offenders = [
        f"{rel}:{n}" for rel, text in repo_text_files() for n, line in enumerate(text.splitlines(), 1) if MACHINE_PATH.search(line)
    ]
    assert offenders == []


def test_benchmarks_write_nowhere_absolute_by_default():
    for rel, text in repo_text_files():
        if rel.parts[0] == "benchmarks":
            assert "/tmp/" not in text, rel


def test_textual_is_pinned_to_the_range_the_snapshots_hold_for():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    textual = next(Requirement(d) for d in deps if Requirement(d).name == "textual")
    assert Version(version("textual")) in textual.specifier
    # the snapshots were made with 8.2.8 and checked against older releases; a new major may render differently
    assert Version("8.2.8") in textual.specifier and Version("9.0.0") not in textual.specifier
    assert Version("1.0.0") not in textual.specifier


def test_readme_troubleshooting_explains_the_errors_users_meet():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "## Troubleshooting" in readme
    section = readme.split("## Troubleshooting", 1)[1].split("\n## ", 1)[0]
    from auditor import cli

    interrupted = "interrupted: finished stages are kept; run the same command again to resume"
    assert interrupted in Path(cli.__file__).read_text(encoding="utf-8") and interrupted in section
    for phrase in (
        "Permission denied", "No space left on device", "is unreadable", "no sentences in the file",
        "IOB2 violation", "never in training", "cannot be reached", "not a saved token-classification model",
        "metrics.json: corrupt", "holds no decisions", "deleted or replaced while open",
        "not an earlier auditor export", "failed in rank 0",
    ):
        assert phrase in section, phrase

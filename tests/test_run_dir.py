"""The run folder has one owner: auditor.run_dir spells every artifact's name and reads the
recorded config; no other module knows a file name of runs/<name>/."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from auditor import run_dir as layout
from auditor.run_dir import RunDir

PACKAGE = Path(__file__).resolve().parent.parent / "auditor"
NAMES = [layout.CONFIG, layout.CORPUS, layout.PREDICTIONS, layout.ISSUES, layout.STORE, layout.CLEANED,
         layout.CHANGELOG, layout.METRICS, layout.STAGES]


def test_a_runs_recorded_config(tmp_path):
    from auditor.errors import ConfigError

    assert RunDir(tmp_path).read_config() is None  # a run without one
    (tmp_path / "config.yaml").write_text("name: r\ndata: {audit: [validation]}\n")
    assert RunDir(tmp_path).read_config().data.audit == ["validation"]
    (tmp_path / "config.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="config.yaml: unreadable"):
        RunDir(tmp_path).read_config()
    (tmp_path / "config.yaml").write_text("- a list\n")
    with pytest.raises(ConfigError, match="not a config"):
        RunDir(tmp_path).read_config()


def test_paths_are_inside_the_run_folder(tmp_path):
    rd = RunDir(tmp_path)
    assert rd.issues == tmp_path / "issues.parquet"
    assert rd.model("after", "all") == tmp_path / "models" / "after" / "all"
    assert rd.stamp("load") == tmp_path / ".stages" / "load.json"
    assert not rd.looks_like_run()
    rd.corpus.mkdir()
    assert rd.looks_like_run()


@pytest.mark.parametrize("name", NAMES)
def test_each_artifact_name_is_spelled_in_one_module(name):
    # a JSON key of the CLI's output ("cleaned": ...) names a field, not a path
    quoted = re.compile(rf"""["']{re.escape(name)}["'](?!:)""")
    spelled = sorted(
        str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if quoted.search(p.read_text(encoding="utf-8"))
    )
    # "corpus" is also a metrics.json section and a report anchor, and the brat document that
    # sentences without a document go to; those name a section or a file of an export, not a path
    if name == layout.CORPUS:
        spelled = [
            p for p in spelled if not p.startswith(("reporting/", "data/stats.py", "pipeline.py", "stages/", "data/formats/brat.py"))
        ]
    assert spelled == ["run_dir.py"], f"{name!r} is spelled in {spelled}"


def test_the_review_app_reads_the_adaptive_options_through_the_run_config(tmp_path):
    from auditor.review.app import run_adaptive_config

    assert run_adaptive_config(tmp_path).enabled is False  # no config: defaults
    (tmp_path / "config.yaml").write_text("name: r\nreview: {adaptive: {enabled: true}}\n")
    assert run_adaptive_config(tmp_path).enabled is True
    (tmp_path / "config.yaml").write_text("name: [unclosed\n")
    assert run_adaptive_config(tmp_path).enabled is False  # unreadable: the review still opens


def test_the_apply_command_and_the_apply_stage_refuse_a_missing_store_alike(tmp_path):
    """One body for both: before, the stage applied nothing where `auditor apply` refused."""
    from rich.console import Console
    from typer.testing import CliRunner

    from auditor.cli import app
    from auditor.config import config_from_dict
    from auditor.errors import DataError
    from auditor.stages import apply as stage
    from auditor.stages.context import RunContext
    from auditor.tables import ISSUE_COLUMNS

    cfg = config_from_dict({"name": "a", "runs_dir": str(tmp_path / "runs")})
    rd = RunDir(cfg.run_dir)
    rd.corpus.mkdir(parents=True)
    pd.DataFrame({c: [] for c in ISSUE_COLUMNS}).to_parquet(rd.issues)
    with pytest.raises(DataError) as stage_err:
        stage.run(RunContext(cfg, cfg.run_dir, Console(quiet=True)))
    result = CliRunner().invoke(app, ["apply", str(cfg.run_dir)])
    assert result.exit_code != 0 and str(result.exception) == str(stage_err.value)
    assert "no decisions yet" in str(stage_err.value)

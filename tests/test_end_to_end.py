"""The whole cycle with the real stages on a small synthetic corpus and the tiny model:
load -> crossval -> score -> review (oracle) -> apply -> retrain -> report -> export,
a second run that skips every stage, and a run killed during cross-validation that
resumes without redoing the finished folds.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from auditor.config import load_config
from auditor.pipeline import STAGES, run_pipeline

SMALL = {
    "name": "e2e",
    "data": {
        "source": "synthetic",
        "languages": {"de": 1.0, "fr": 1.0},
        "synthetic": {"sentences": {"train": 150, "validation": 40, "test": 60}, "noise_rate": 0.15},
    },
    "model": {"name": "tiny", "max_length": 64, "stride": 16,
              "tiny": {"vocab_size": 800, "hidden_size": 48, "num_layers": 1, "num_heads": 2, "intermediate_size": 96}},
    "crossval": {"mode": "finetune", "folds": 3},
    "training": {"epochs": 3, "batch_size": 32, "learning_rate": 2.0e-3},
    "review": {"policy": "interactive", "unattended": "oracle"},
    "retrain": {"experiments": [{"train": ["de"], "test": "all"}]},
    "export": {"formats": ["jsonl"]},
}


def write_pipeline(tmp_path: Path, **changes) -> Path:
    raw = json.loads(json.dumps(SMALL))
    raw.update(runs_dir=str(tmp_path / "runs"), report={"dir": str(tmp_path / "reports")}, **changes)
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.slow
def test_whole_cycle_then_second_run_skips_everything(tmp_path):
    cfg = load_config(write_pipeline(tmp_path))
    quiet = Console(quiet=True)
    result = run_pipeline(cfg, interactive=False, progress=False, console=quiet)
    assert [s.status for s in result.stages] == ["ran"] * len(STAGES)
    run_dir = cfg.run_dir
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for section in ("corpus", "crossval", "scoring", "detection", "review", "apply", "retrain", "analysis"):
        assert section in metrics, section
    # the oracle curator changed exactly the flagged noisy spans; the report says a policy decided
    assert metrics["review"]["policy"] == "oracle"
    assert metrics["apply"]["changed_sentences"] > 0
    from auditor.review.store import DecisionStore

    # a policy's decisions remember their sentence, as the UI's do: a re-score cannot strand them
    assert all(d.sentence for d in DecisionStore(run_dir / "review.sqlite").latest().values())
    langs = {r["lang"] for e in metrics["retrain"]["experiments"] for r in e["results"]}
    assert langs == {"de", "fr"}
    html = (tmp_path / "reports" / "e2e" / "report.html").read_text()
    assert "oracle" in html.lower()
    assert (run_dir / "export" / "jsonl" / "train.jsonl").exists()
    assert (run_dir / "models" / "after" / "de" / "README.md").exists()  # model card

    again = run_pipeline(cfg, interactive=False, progress=False, console=quiet)
    assert [s.status for s in again.stages] == ["skipped"] * len(STAGES)


def test_interactive_policy_without_terminal_stops_after_scoring(tmp_path, monkeypatch):
    cfg = load_config(write_pipeline(tmp_path))
    cfg.review.unattended = "stop"
    cfg.crossval.folds = 2
    cfg.training.epochs = 1
    result = run_pipeline(cfg, interactive=False, progress=False, console=Console(quiet=True))
    assert result.stopped and f"auditor review {cfg.run_dir}" in result.stopped
    assert [s.name for s in result.stages if s.status == "ran"] == ["load", "crossval", "score"]
    assert not (cfg.run_dir / "cleaned").exists()


@pytest.mark.slow
def test_killed_during_crossval_resumes_at_the_unfinished_fold(tmp_path):
    pipeline = write_pipeline(tmp_path, crossval={"mode": "finetune", "folds": 3})
    run_dir = tmp_path / "runs" / "e2e"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "auditor", "run", str(pipeline), "--until", "crossval"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    fold0 = run_dir / "folds" / "fold-0" / "result.json"
    deadline = time.time() + 240
    while not fold0.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert fold0.exists(), "fold 0 never finished"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "predictions.parquet").exists() or (run_dir / "folds" / "fold-2" / "result.json").exists()
    stamp = fold0.stat().st_mtime_ns

    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (run_dir / "predictions.parquet").exists()
    assert fold0.stat().st_mtime_ns == stamp, "the finished fold was recomputed"

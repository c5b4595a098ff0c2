"""Kill the cycle (SIGKILL and Ctrl-C) at several stages - a fold, score, apply, retrain and
its model save, report, export - resume each time, and check that the run ends with the same
artifacts as a run that was never interrupted (issues 14 and 24)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

CONFIG = {
    "name": "fault",
    "data": {
        "languages": {"de": 1.0, "fr": 1.0},
        "synthetic": {"sentences": {"train": 80, "validation": 16, "test": 24}, "noise_rate": 0.15},
    },
    "model": {"name": "tiny", "max_length": 32, "stride": 8,
              "tiny": {"vocab_size": 300, "hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32}},
    "crossval": {"mode": "finetune", "folds": 2},
    "training": {"epochs": 1, "max_steps": 6, "batch_size": 16, "learning_rate": 2.0e-3},
    "review": {"policy": "oracle"},
    "retrain": {"experiments": [{"train": "all", "test": "all"}]},
    "export": {"formats": ["jsonl"]},
}


def write_pipeline(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    raw = {**CONFIG, "runs_dir": str(root / "runs"), "report": {"dir": str(root / "reports")}}
    path = root / "p.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


class Job:
    """`auditor run` in a subprocess whose stderr is read as it comes."""

    def __init__(self, pipeline: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "auditor", "run", str(pipeline)],
            cwd=pipeline.parent, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)

    def wait_for(self, seen) -> None:
        """Poll until seen(self) is true; fail when the job ended first."""
        deadline = time.monotonic() + 600
        while not seen(self):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the run ended before the point to interrupt it:\n" + "".join(self.lines)[-3000:])
            time.sleep(0.05)

    def finish(self) -> tuple[int, str]:
        code = self.proc.wait(timeout=900)
        self._reader.join(timeout=10)
        return code, "".join(self.lines)


def stage_started(stage: str):
    return lambda job: any(f"{stage:<9} running" in line for line in job.lines)


def interrupt(pipeline: Path, sig: signal.Signals, seen) -> None:
    job = Job(pipeline)
    job.wait_for(seen)
    job.proc.send_signal(sig)
    code, err = job.finish()
    if sig == signal.SIGKILL:
        assert code == -signal.SIGKILL
    else:
        assert code == 130, err[-3000:]
        assert "interrupted: finished stages are kept; run the same command again to resume" in err


def complete(pipeline: Path) -> str:
    code, err = Job(pipeline).finish()
    assert code == 0, err[-3000:]
    return err


# --- comparing two runs --------------------------------------------------------------------


def corpus_rows(folder: Path) -> dict:
    from datasets import load_from_disk

    dsd = load_from_disk(str(folder))
    return {split: ds.to_dict() for split, ds in dsd.items()}


def assert_same_run(a: Path, b: Path) -> None:
    from auditor.review.store import DecisionStore
    from auditor.tables import OofPredictions, read_issues

    assert corpus_rows(a / "corpus") == corpus_rows(b / "corpus")
    pa_, pb = OofPredictions.read(a / "predictions.parquet"), OofPredictions.read(b / "predictions.parquet")
    assert list(pa_.ids) == list(pb.ids) and np.allclose(pa_.probs, pb.probs, atol=1e-5)
    ia, ib = read_issues(a / "issues.parquet"), read_issues(b / "issues.parquet")
    assert list(ia["issue_id"]) == list(ib["issue_id"])
    assert np.allclose(ia["score"], ib["score"], atol=1e-6)

    def decisions(run: Path):
        with DecisionStore(run / "review.sqlite") as store:
            return {k: (d.action, d.start, d.end, d.tags) for k, d in store.latest().items()}

    assert decisions(a) == decisions(b)
    changes = [pq.read_table(r / "changelog.parquet").drop_columns(["at"]).to_pylist() for r in (a, b)]
    assert changes[0] == changes[1]
    assert corpus_rows(a / "cleaned") == corpus_rows(b / "cleaned")
    ma, mb = (json.loads((r / "metrics.json").read_text()) for r in (a, b))
    for section in ("corpus", "scoring", "review", "apply"):
        assert ma[section] == mb[section], section
    fa = [r["f1"] for e in ma["retrain"]["experiments"] for r in e["results"]]
    fb = [r["f1"] for e in mb["retrain"]["experiments"] for r in e["results"]]
    assert np.allclose(fa, fb, atol=1e-6)
    for name in ("train.jsonl", "validation.jsonl", "test.jsonl"):
        assert (a / "export" / "jsonl" / name).read_text() == (b / "export" / "jsonl" / name).read_text()
    assert [p.name for p in sorted((a / ".stages").iterdir())] == [p.name for p in sorted((b / ".stages").iterdir())]


@pytest.mark.slow
def test_interrupted_and_resumed_run_ends_like_an_uninterrupted_one(tmp_path):
    reference = write_pipeline(tmp_path / "reference")
    complete(reference)

    pipeline = write_pipeline(tmp_path / "chain")
    run_dir = tmp_path / "chain" / "runs" / "fault"
    fold0 = run_dir / "folds" / "fold-0" / "result.json"
    interrupt(pipeline, signal.SIGKILL, lambda job: fold0.exists())  # after the first of two folds
    interrupt(pipeline, signal.SIGINT, stage_started("score"))
    interrupt(pipeline, signal.SIGKILL, stage_started("apply"))
    interrupt(pipeline, signal.SIGKILL, stage_started("retrain"))
    # while the first model is being saved
    interrupt(pipeline, signal.SIGKILL, lambda job: (run_dir / "models" / "before").exists())
    interrupt(pipeline, signal.SIGINT, stage_started("report"))
    interrupt(pipeline, signal.SIGKILL, stage_started("export"))
    err = complete(pipeline)
    assert "export" in err

    assert_same_run(run_dir, tmp_path / "reference" / "runs" / "fault")

"""Several processes on one run (torchrun / accelerate launch): rank 0 alone runs the stages
that do not train and writes every file; the others wait for the outcome instead of racing
on the same folders, and learn about a failure instead of waiting forever (issue 14).

Two real processes on CPU (gloo), with recorder stage bodies so nothing trains.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from dataclasses import replace
    from auditor import pipeline
    from auditor.config import config_from_dict
    from auditor.errors import AuditorError

    log, runs, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    rank = os.environ["RANK"]

    def body(name):
        def run(ctx):
            with open(log, "a") as fh:
                fh.write(f"{name} {rank}\\n")
            if mode == "fail" and name == "score":
                raise AuditorError("score broke")
            if mode == "stop" and name == "review":
                raise pipeline.StopPipeline("review first")
            if rank == "0":
                for p in pipeline.PIPELINE[name].artifacts(ctx):
                    p.parent.mkdir(parents=True, exist_ok=True)
                    p.write_text(name)
            return f"{name} ok"
        return run

    pipeline.PIPELINE = {
        n: replace(st, run=body(n), check=None, output_state=(lambda ctx: "d0") if n == "review" else None)
        for n, st in pipeline.PIPELINE.items()
    }
    cfg = config_from_dict({"name": "d", "runs_dir": runs, "report": {"dir": runs + "/rep"}})
    try:
        result = pipeline.run_pipeline(cfg, interactive=False, progress=False)
    except AuditorError as err:
        print(json.dumps({"error": str(err)}))
        sys.exit(2)
    print(json.dumps({"statuses": [s.status for s in result.stages], "stopped": result.stopped}))
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(tmp_path: Path, mode: str, runs: str = "runs") -> tuple[list[dict], list[int], list[str]]:
    """Both ranks of a 2-process job; (their JSON lines, exit codes, the stage log lines)."""
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    log = tmp_path / f"{mode}-{runs}.log"
    port = str(free_port())
    procs = []
    for rank in (0, 1):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "OMP_NUM_THREADS": "1"}
        procs.append(subprocess.Popen(
            [sys.executable, str(script), str(log), str(tmp_path / runs), mode],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    outs = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("a rank hung")
        outs.append((out, err, p.returncode))
    results = [json.loads(out.strip().splitlines()[-1]) if out.strip() else {"stderr": err[-2000:]} for out, err, _ in outs]
    lines = log.read_text().splitlines() if log.exists() else []
    return results, [code for _, _, code in outs], lines


def test_only_rank0_runs_what_does_not_train_and_a_second_run_skips_everywhere(tmp_path):
    results, codes, lines = launch(tmp_path, "ok")
    assert codes == [0, 0], results
    assert results[0]["statuses"] == results[1]["statuses"] == ["ran"] * 9
    by_stage: dict[str, set[str]] = {}
    for line in lines:
        stage, rank = line.split()
        by_stage.setdefault(stage, set()).add(rank)
    assert by_stage.pop("crossval") == by_stage.pop("retrain") == {"0", "1"}  # DDP training
    assert by_stage == {name: {"0"} for name in ("load", "score", "review", "apply", "judge", "report", "export")}

    again, codes, lines_again = launch(tmp_path, "ok")
    assert codes == [0, 0] and again[0]["statuses"] == again[1]["statuses"] == ["skipped"] * 9
    assert lines_again == lines  # nothing ran


def test_a_failure_in_rank0_ends_every_rank(tmp_path):
    results, codes, lines = launch(tmp_path, "fail")
    assert codes == [2, 2], results
    assert results[0]["error"] == "score broke"
    assert "failed in rank 0: score broke" in results[1]["error"]
    assert "score 1" not in lines


def test_a_stop_in_rank0_stops_every_rank(tmp_path):
    results, codes, _ = launch(tmp_path, "stop")
    assert codes == [0, 0], results
    assert results[0]["stopped"] == results[1]["stopped"] == "review first"


def test_a_tagger_is_saved_by_rank0_only(tmp_path, monkeypatch):
    from auditor.modeling.training import TrainedTagger

    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    # rank 1 must not touch the folder rank 0 is writing; model and tokenizer are never used
    TrainedTagger(model=None, tokenizer=None, label_names=["O"], eval_f1=None).save(tmp_path / "model")
    assert not (tmp_path / "model").exists()

"""A verified sample through the real stages and the CLI: `auditor sample` draws it, the
curator corrects it, scoring.reference.file feeds it to the score stage (which re-runs when the
file changes and only then), and its corrections lead the issue list."""

import json
from pathlib import Path

import pytest
import yaml
from datasets import load_from_disk
from rich.console import Console
from typer.testing import CliRunner

from auditor.cli import app
from auditor.config import load_config
from auditor.pipeline import run_pipeline
from auditor.tables import read_issues

SMALL = {
    "name": "ref",
    "data": {
        "source": "synthetic",
        "languages": {"de": 1.0},
        "synthetic": {"sentences": {"train": 120, "test": 20}, "noise_rate": 0.2},
        "splits": ["train", "test"],
    },
    "model": {"name": "tiny", "max_length": 64, "stride": 16,
              "tiny": {"vocab_size": 600, "hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64}},
    "crossval": {"mode": "finetune", "folds": 2},
    "training": {"epochs": 1, "batch_size": 32, "learning_rate": 2.0e-3},
}


def _pipeline(tmp_path: Path, reference: str | None = None, decisions: bool = False) -> Path:
    raw = json.loads(json.dumps(SMALL))
    raw.update(runs_dir=str(tmp_path / "runs"), report={"dir": str(tmp_path / "reports")})
    if reference:
        raw["scoring"] = {"reference": {"file": reference, "decisions": decisions}}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _run(path: Path):
    return run_pipeline(load_config(path), interactive=False, progress=False, console=Console(quiet=True), until="score")


def _verify(sample: Path, corpus) -> set[str]:
    """The curator's work: every sampled sentence gets its true tags; returns the corrected ids."""
    names = corpus["train"].features["ner_tags"].feature.names
    truth = {r["id"]: [names[t] for t in r["clean_ner_tags"]] for r in corpus["train"]}
    rows = [json.loads(line) for line in sample.read_text().splitlines()]
    corrected = {r["id"] for r in rows if r["ner_tags"] != truth[r["id"]]}
    sample.write_text("".join(json.dumps({**r, "ner_tags": truth[r["id"]], "verified": True}) + "\n" for r in rows))
    return corrected


@pytest.mark.slow
def test_sample_verify_rescore(tmp_path):
    first = _run(_pipeline(tmp_path))
    assert [s.status for s in first.stages] == ["ran"] * 3
    run_dir = tmp_path / "runs" / "ref"
    sample = tmp_path / "sample.jsonl"
    res = CliRunner().invoke(app, ["sample", str(run_dir), "--out", str(sample), "--n", "30", "--seed", "1"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in sample.read_text().splitlines()]
    assert len(rows) == 30 and {"id", "lang", "tokens", "ner_tags", "given_tags", "verified"} <= set(rows[0])
    assert not any(r["verified"] for r in rows)
    assert all(r["id"].startswith("de/train/") for r in rows)  # audited sentences only
    corrected = _verify(sample, load_from_disk(str(run_dir / "corpus")))
    assert corrected  # noise rate 0.2: some sampled sentences were wrong

    second = _run(_pipeline(tmp_path, str(sample)))
    assert [s.status for s in second.stages] == ["skipped", "skipped", "ran"]
    assert "verified sample: 30 sentences" in second.stages[2].note
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["scoring"]["reference"]["corrected_sentences"] == len(corrected)
    issues = read_issues(run_dir / "issues.parquet")
    top = issues.head(len(corrected) * 3)
    assert corrected <= set(top["id"])  # the sample's corrections lead the queue
    truth = {json.loads(line)["id"]: json.loads(line)["ner_tags"] for line in sample.read_text().splitlines()}
    for row in issues[issues["id"].isin(corrected)].itertuples():
        assert list(row.suggested) == truth[row.id][row.start : row.end]

    # detection quality, in the stage and from the CLI's function, leaves the verified sentences out
    from auditor.scoring.detection import evaluate_run_dir

    assert metrics["detection"]["n_sentences"] == 120 - 30
    assert evaluate_run_dir(run_dir).n_sentences == 120 - 30

    assert [s.status for s in _run(_pipeline(tmp_path, str(sample))).stages] == ["skipped"] * 3
    sample.write_text(sample.read_text().splitlines()[0] + "\n")  # the file changed: score again
    assert [s.status for s in _run(_pipeline(tmp_path, str(sample))).stages] == ["skipped", "skipped", "ran"]


def test_sample_command_never_overwrites_and_needs_a_corpus(tmp_path):
    out = tmp_path / "s.jsonl"
    out.write_text("a curator's work\n")
    res = CliRunner().invoke(app, ["sample", str(tmp_path), "--out", str(out)])
    assert res.exit_code != 0 and "exists" in str(res.exception)
    assert out.read_text() == "a curator's work\n"
    res = CliRunner().invoke(app, ["sample", str(tmp_path), "--out", str(tmp_path / "new.jsonl")])
    assert res.exit_code != 0 and "no corpus/ folder" in str(res.exception)
    assert not (tmp_path / "new.jsonl").exists()


def test_a_missing_sample_file_stops_the_score_stage_with_one_line(tmp_path):
    from auditor.errors import DataError

    _run(_pipeline(tmp_path))
    with pytest.raises(DataError, match="scoring.reference.file .* does not exist"):
        _run(_pipeline(tmp_path, str(tmp_path / "missing.jsonl")))


@pytest.mark.slow
def test_a_second_pass_rescores_when_the_decisions_change_and_only_then(tmp_path):
    from auditor.cleaning import apply_decisions
    from auditor.review.store import DecisionStore, issue_sentences

    _run(_pipeline(tmp_path))
    run_dir = tmp_path / "runs" / "ref"
    sample = tmp_path / "sample.jsonl"
    assert CliRunner().invoke(app, ["sample", str(run_dir), "--out", str(sample), "--n", "30"]).exit_code == 0
    corpus = load_from_disk(str(run_dir / "corpus"))
    _verify(sample, corpus)
    path = _pipeline(tmp_path, str(sample), decisions=True)
    first = _run(path)
    assert first.stages[2].status == "ran" and "second pass" not in first.stages[2].note  # no decision yet

    issues = read_issues(run_dir / "issues.parquet")
    sampled = {json.loads(line)["id"] for line in sample.read_text().splitlines()}
    open_ = issues[~issues["id"].isin(sampled)].head(6)
    store = DecisionStore(run_dir / "review.sqlite", curator="ann", sentences=issue_sentences(issues))
    store.record_many([(r.issue_id, "accept", int(r.start), int(r.end), list(r.suggested)) for r in open_.itertuples()])
    second = _run(path)
    assert [s.status for s in second.stages] == ["skipped", "skipped", "ran"]
    covered = int((open_["end"] - open_["start"]).sum())
    assert f"second pass: {covered} decided words" in second.stages[2].note
    ref = json.loads((run_dir / "metrics.json").read_text())["scoring"]["reference"]
    assert ref["decided_words"] == covered and ref["verified_sentences"] == 30
    assert [s.status for s in _run(path).stages] == ["skipped"] * 3  # the same decisions: no re-score
    # the decisions still apply to the re-scored issue table
    rescored = read_issues(run_dir / "issues.parquet")
    assert apply_decisions(corpus, rescored, store.latest()).summary.stale == 0
    store.record_many([(open_.iloc[0]["issue_id"], "keep")])  # a changed mind: score again
    assert [s.status for s in _run(path).stages] == ["skipped", "skipped", "ran"]

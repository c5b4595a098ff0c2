"""A stage's inputs are what it reads: the files a pipeline names (by content, not by name),
a local model folder's weights, the artifacts it writes (a deleted one is rebuilt) and its own
metrics.json sections (a section it no longer writes does not survive)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from auditor import pipeline
from auditor.config import config_from_dict
from auditor.metrics import read_metrics, update_metrics
from auditor.stages.inputs import DigestCache, data_digest, model_digest

CONLL = "-DOCSTART- O\n\nAnna B-PER\nlebt O\nin O\nBern B-LOC\n\nOtto B-PER\nkam O\n"


def quiet_run(cfg, **kw):
    return pipeline.run_pipeline(cfg, interactive=False, progress=False, console=Console(quiet=True), **kw)


def statuses(result) -> dict[str, str]:
    return {s.name: s.status for s in result.stages}


def conll_cfg(tmp_path: Path, **data):
    for split in ("train", "test"):
        (tmp_path / f"{split}.conll").write_text(CONLL, encoding="utf-8")
    return config_from_dict({
        "name": "inputs",
        "runs_dir": str(tmp_path / "runs"),
        "data": {
            "source": "conll", "languages": {"de": 1.0}, "default_lang": "de", "splits": ["train", "test"],
            "files": {"train": str(tmp_path / "train.conll"), "test": str(tmp_path / "test.conll")}, **data,
        },
    })


def test_a_fixed_typo_in_a_data_file_loads_again(tmp_path):
    cfg = conll_cfg(tmp_path)
    assert statuses(quiet_run(cfg, until="load"))["load"] == "ran"
    assert statuses(quiet_run(cfg, until="load"))["load"] == "skipped"
    (tmp_path / "train.conll").write_text(CONLL.replace("Bern B-LOC", "Bern B-ORG"), encoding="utf-8")
    assert statuses(quiet_run(cfg, until="load"))["load"] == "ran"
    from auditor.run_dir import RunDir

    assert "B-ORG" in RunDir(cfg.run_dir).read_corpus()["train"].features["ner_tags"].feature.names


def test_the_digest_is_by_content_and_cached_by_size_and_mtime(tmp_path):
    cfg = conll_cfg(tmp_path)
    cache = DigestCache(tmp_path / "digests.json")
    first = data_digest(cfg, cache)
    cache.save()
    # same bytes, new mtime: same digest (the content hash is computed again and agrees)
    os.utime(tmp_path / "train.conll", ns=(1, 1))
    assert data_digest(cfg, DigestCache(tmp_path / "digests.json")) == first
    (tmp_path / "test.conll").write_text(CONLL + "\nmehr O\n", encoding="utf-8")
    assert data_digest(cfg, DigestCache(tmp_path / "digests.json")) != first
    # a missing file has a digest of its own, so the stage runs and says what is missing
    (tmp_path / "test.conll").unlink()
    assert data_digest(cfg, DigestCache(None)) not in (first, "")


def test_a_truth_file_is_an_input_of_the_load_stage(tmp_path):
    (tmp_path / "truth.conll").write_text(CONLL, encoding="utf-8")
    cfg = conll_cfg(tmp_path, truth={"train": str(tmp_path / "truth.conll")})
    before = data_digest(cfg, DigestCache(None))
    (tmp_path / "truth.conll").write_text(CONLL.replace("Otto B-PER", "Otto B-LOC"), encoding="utf-8")
    assert data_digest(cfg, DigestCache(None)) != before


def fake_model(folder: Path, weights: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text('{"model_type": "xlm-roberta"}')
    (folder / "model.safetensors").write_bytes(weights)
    return folder


def test_a_replaced_local_model_folder_changes_the_crossval_key_and_fold_fingerprints(tmp_path):
    from auditor.modeling import crossval

    model = fake_model(tmp_path / "m", b"old weights")
    cfg = config_from_dict({"name": "m", "runs_dir": str(tmp_path / "runs"), "model": {"name": str(model)}})
    ctx = pipeline.RunContext(cfg, cfg.run_dir, Console(quiet=True))
    stage = pipeline.PIPELINE["crossval"]
    outputs = {"load": "x"}
    key = pipeline._input_hash(ctx, stage, outputs)
    digest = model_digest(str(model))
    fake_model(model, b"new weights")  # same path, other model
    assert model_digest(str(model)) != digest
    assert pipeline._input_hash(ctx, stage, outputs) != key
    assert crossval.model_identity(cfg) != {**crossval.model_identity(cfg), "weights": digest}
    assert model_digest("xlm-roberta-base") == "" and model_digest("tiny") == ""


def test_force_computes_folds_and_features_again(tmp_path, monkeypatch):
    from auditor.stages import crossval as stage

    seen = {}

    def fake_run_crossval(corpus, cfg, run_dir, progress=True):
        seen["folds_left"] = sorted(p.name for p in (Path(run_dir) / "folds").glob("*"))
        raise RuntimeError("stop here")

    monkeypatch.setattr("auditor.modeling.crossval.run_crossval", fake_run_crossval)
    monkeypatch.setattr(pipeline.RunContext, "load_corpus", lambda self: None)
    cfg = config_from_dict({"name": "f", "runs_dir": str(tmp_path / "runs")})
    folds = cfg.run_dir / "folds"
    (folds / "fold-0").mkdir(parents=True)
    (folds / "probe-features").mkdir()
    for force, left in ((False, ["fold-0", "probe-features"]), (True, [])):
        ctx = pipeline.RunContext(cfg, cfg.run_dir, Console(quiet=True), progress=False, force=force)
        with pytest.raises(RuntimeError, match="stop here"):
            stage.run(ctx)
        assert seen["folds_left"] == left


@pytest.fixture
def recorded(monkeypatch, tmp_path):
    """Stage bodies that write their declared artifacts; retrain saves two models and their
    test predictions (and metrics.json["curve"] while state["curve"]), judge writes
    metrics.json["retrain"]."""
    calls: list[str] = []
    state = {"curve": True}

    def body(name):
        def run(ctx):
            calls.append(name)
            if name == "retrain":
                from auditor.test_predictions import TestPrediction, write_test_predictions

                for m in ("before", "after"):
                    (ctx.rd.model(m, "all")).mkdir(parents=True, exist_ok=True)
                write_test_predictions(ctx.rd.test_predictions,
                                       [TestPrediction("all", m, "de/test/000000", ["O"]) for m in ("before", "after")])
                if state["curve"]:
                    update_metrics(ctx.run_dir, "curve", {"points": []})
            if name == "judge":
                from auditor.evaluation import ExperimentResult, RetrainResult

                update_metrics(ctx.run_dir, "retrain", RetrainResult([ExperimentResult("all", ["de"], ["de"])]).to_dict())
            for p in pipeline.PIPELINE[name].artifacts(ctx):
                p.parent.mkdir(parents=True, exist_ok=True)
                if not p.exists():
                    p.mkdir() if name in ("export", "retrain") else p.write_text(name)
            return "ok"

        return run

    stages = {n: replace(st, run=body(n), check=None, output_state=None) for n, st in pipeline.PIPELINE.items()}
    monkeypatch.setattr(pipeline, "PIPELINE", stages)
    cfg = config_from_dict({
        "name": "t", "runs_dir": str(tmp_path / "runs"), "report": {"dir": str(tmp_path / "rep")},
        "export": {"formats": ["hf", "conll"]},
    })
    return cfg, calls, state


def test_deleted_models_are_trained_again(recorded):
    import shutil

    cfg, calls, _ = recorded
    quiet_run(cfg)
    calls.clear()
    quiet_run(cfg)
    assert calls == []
    shutil.rmtree(cfg.run_dir / "models")
    quiet_run(cfg)
    assert calls == ["retrain"]  # the same inputs: the report stays


def test_deleted_or_damaged_test_predictions_are_made_again(recorded):
    from auditor.stages import retrain
    from auditor.stages.context import RunContext

    cfg, calls, _ = recorded
    quiet_run(cfg)
    calls.clear()
    path = cfg.run_dir / "test-predictions.parquet"
    path.unlink()
    quiet_run(cfg)
    assert calls == ["retrain"]
    ctx = RunContext(cfg, cfg.run_dir, Console(quiet=True))
    assert retrain.check(ctx) is None
    path.write_text("not parquet")  # the runner's check (left out by this fixture) re-runs the stage
    assert "cannot read test predictions" in retrain.check(ctx)


def test_a_verified_test_file_re_judges_and_never_retrains(recorded, tmp_path):
    cfg, calls, _ = recorded
    quiet_run(cfg)
    calls.clear()
    verified = tmp_path / "test_verified.jsonl"
    verified.write_text("{}\n")
    cfg.retrain.verified_test = str(verified)
    quiet_run(cfg)
    assert calls == ["judge", "report"]
    calls.clear()
    verified.write_text("{}\n{}\n")  # the curator verified more
    quiet_run(cfg)
    assert calls == ["judge", "report"]


def test_every_export_format_is_an_artifact(recorded):
    import shutil

    cfg, calls, _ = recorded
    quiet_run(cfg)
    calls.clear()
    shutil.rmtree(cfg.run_dir / "export" / "conll")
    quiet_run(cfg)
    assert calls == ["export"]


def test_a_section_a_stage_no_longer_writes_is_removed(recorded):
    cfg, calls, state = recorded
    quiet_run(cfg)
    assert "curve" in read_metrics(cfg.run_dir)
    state["curve"] = False
    cfg.curve.enabled = not cfg.curve.enabled  # any change of the retrain stage's config
    quiet_run(cfg)
    metrics = read_metrics(cfg.run_dir)
    assert "curve" not in metrics and "retrain" in metrics


def test_sections_of_other_stages_stay(recorded):
    cfg, calls, _ = recorded
    quiet_run(cfg)
    update_metrics(cfg.run_dir, "scoring", {"issues": 3})
    cfg.report.top_sentences = 5
    quiet_run(cfg)
    assert json.loads((cfg.run_dir / "metrics.json").read_text())["scoring"] == {"issues": 3}
    assert json.loads((cfg.run_dir / "metrics.json").read_text())["retrain"]

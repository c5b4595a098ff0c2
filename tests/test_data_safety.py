"""Nothing decided is lost: a vanished or replaced decision store never empties a cleaning,
and a store deleted under an open review is noticed (issue 14).

Cross-validation is replaced by simulated out-of-fold probabilities so the real load, score,
review and apply stages run in a second or two.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pyarrow.parquet as pq
import pytest
from rich.console import Console

from auditor import pipeline
from auditor.config import config_from_dict
from auditor.errors import AuditorError, StoreError
from auditor.review.store import DecisionStore


def _simulated_crossval(ctx) -> str:
    from simulated_oof import simulate_oof

    simulate_oof(ctx.load_corpus(), list(ctx.cfg.data.audit), seed=1, strength=3.0).write(ctx.predictions_path)
    return "simulated"


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.setitem(pipeline.PIPELINE, "crossval", replace(pipeline.PIPELINE["crossval"], run=_simulated_crossval))
    return config_from_dict(
        {
            "name": "safe",
            "runs_dir": str(tmp_path / "runs"),
            "data": {
                "languages": {"de": 1.0},
                "synthetic": {"sentences": {"train": 150, "test": 20}, "noise_rate": 0.2},
                "splits": ["train", "test"],
            },
            "review": {"policy": "oracle"},
        }
    )


def run(cfg, **kw):
    return pipeline.run_pipeline(cfg, until="apply", interactive=False, progress=False, console=Console(quiet=True), **kw)


def changelog_rows(cfg) -> int:
    return pq.read_metadata(cfg.run_dir / "changelog.parquet").num_rows


def test_deleted_store_after_apply_keeps_the_cleaning(cfg):
    run(cfg)
    rows = changelog_rows(cfg)
    decided = json.loads((cfg.run_dir / "metrics.json").read_text())["apply"]["decisions"]
    assert rows > 0 and decided > 0
    (cfg.run_dir / "review.sqlite").unlink()
    result = run(cfg)
    statuses = {s.name: s.status for s in result.stages}
    assert statuses["review"] == "ran"  # its artifact vanished: the policy decides again
    assert changelog_rows(cfg) == rows
    assert json.loads((cfg.run_dir / "metrics.json").read_text())["apply"]["decisions"] == decided


def test_empty_store_in_place_of_the_decisions_is_refused(cfg):
    run(cfg)
    rows = changelog_rows(cfg)
    cleaned = sorted(p.name for p in (cfg.run_dir / "cleaned").iterdir())
    (cfg.run_dir / "review.sqlite").unlink()
    DecisionStore(cfg.run_dir / "review.sqlite").close()  # e.g. a review opened and quit at once
    with pytest.raises(AuditorError, match="holds no decisions") as err:
        run(cfg)
    assert "\n" not in str(err.value) and "cleaned" in str(err.value)
    assert changelog_rows(cfg) == rows
    assert sorted(p.name for p in (cfg.run_dir / "cleaned").iterdir()) == cleaned


def test_apply_command_refuses_an_empty_store_too(cfg):
    from auditor.run_dir import RunDir
    from auditor.stages.apply import apply_run

    run(cfg)
    rows = changelog_rows(cfg)
    (cfg.run_dir / "review.sqlite").unlink()
    DecisionStore(cfg.run_dir / "review.sqlite").close()
    with pytest.raises(AuditorError, match="holds no decisions"):
        apply_run(RunDir(cfg.run_dir))
    assert changelog_rows(cfg) == rows


def test_undoing_every_decision_still_applies(cfg):
    run(cfg)
    with DecisionStore(cfg.run_dir / "review.sqlite") as store:
        # an undo withdraws its own curator's decision: undo each as the curator who made it
        store.record_many([{"issue_id": i, "action": "undo", "curator": d.curator} for i, d in store.latest().items()])
    run(cfg)
    curators = [a for a in pq.read_table(cfg.run_dir / "changelog.parquet")["action"].to_pylist() if a != "iob2-repair"]
    assert curators == []


def test_store_deleted_under_an_open_store_is_an_error_and_rescued(tmp_path):
    path = tmp_path / "review.sqlite"
    store = DecisionStore(path, curator="ann")
    store.record("de/train/000001:0-1", "keep")
    path.unlink()
    with pytest.raises(StoreError, match="deleted or replaced while open") as err:
        store.record("de/train/000002:0-1", "keep")
    rescued = list(tmp_path.glob("review.sqlite.rescued-*"))
    assert len(rescued) == 1 and str(rescued[0]) in str(err.value)
    with DecisionStore(rescued[0]) as back:
        assert list(back.latest()) == ["de/train/000001:0-1"]
    store.close()


def test_store_replaced_under_an_open_store_is_an_error(tmp_path):
    path = tmp_path / "review.sqlite"
    store = DecisionStore(path)
    path.unlink()
    DecisionStore(path).close()
    with pytest.raises(StoreError, match="deleted or replaced"):
        store.record("x:0-1", "skip")
    store.close()


def test_store_deleted_while_the_review_ui_is_open_stops_the_run(cfg, monkeypatch):
    import auditor.review.app

    pipeline.run_pipeline(cfg, until="score", interactive=False, progress=False, console=Console(quiet=True))

    def review_then_delete(run_dir, curator=None, **kw):
        DecisionStore(run_dir / "review.sqlite").close()
        (run_dir / "review.sqlite").unlink()

    monkeypatch.setattr(auditor.review.app, "run_review", review_then_delete)
    cfg.review.policy = "interactive"
    with pytest.raises(AuditorError, match="deleted or replaced while the review was open"):
        pipeline.run_pipeline(cfg, until="apply", interactive=True, progress=False, console=Console(quiet=True))
    assert not (cfg.run_dir / "cleaned").exists()

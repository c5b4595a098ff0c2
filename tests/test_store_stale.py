"""A decision remembers its sentence (issue 24, row 3): ids are positions, so after a sentence is
inserted into a data file and load/score run again, `en/train/000001` names another sentence.
apply places a decision only on the sentence content it was made on and lists every decision it
could not place."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from auditor.cleaning import apply_decisions
from auditor.review.store import DecisionStore, issue_sentences, sentence_digest
from auditor.tables import ISSUE_COLUMNS, write_issues
from tests.test_cleaning import NAMES, issue, make_corpus, tags_of  # noqa: F401

BEFORE = {
    "en/train/000000": (["Paris", "is", "big"], ["B-LOC", "O", "O"]),
    "en/train/000001": (["Paris", "Hilton", "sang"], ["B-LOC", "O", "O"]),
    "en/train/000002": (["Rome", "is", "old"], ["B-LOC", "O", "O"]),
}
# a sentence inserted at the top of the data file: every id after it moved by one
AFTER = {
    "en/train/000000": (["Oslo", "is", "cold"], ["B-LOC", "O", "O"]),
    "en/train/000001": (["Paris", "is", "big"], ["B-LOC", "O", "O"]),
    "en/train/000002": (["Paris", "Hilton", "sang"], ["B-LOC", "O", "O"]),
    "en/train/000003": (["Rome", "is", "old"], ["B-LOC", "O", "O"]),
}


def _issues(sentences: dict, rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame([issue(i, s, e, sug, sentences=sentences) for i, s, e, sug in rows])


def _decide_before(store: DecisionStore) -> None:
    """The curator's review of the old scoring: Paris Hilton is a person."""
    old = _issues(BEFORE, [("en/train/000001", 0, 2, ["B-PER", "I-PER"]), ("en/train/000002", 0, 1, ["B-PER"])])
    store.sentences = issue_sentences(old)
    store.decide("en/train/000001:0-2", "accept", 0, 2, ["B-PER", "I-PER"])
    store.decide("en/train/000002:0-1", "keep")


def test_a_decision_records_the_sentence_it_was_made_on(tmp_path) -> None:
    with DecisionStore(tmp_path / "review.sqlite", curator="ana") as store:
        _decide_before(store)
        d = store.latest()["en/train/000001:0-2"]
        assert d.sentence == sentence_digest(*BEFORE["en/train/000001"])
    with DecisionStore(tmp_path / "review.sqlite", read_only=True) as again:
        assert again.latest()["en/train/000001:0-2"].sentence == d.sentence


def test_after_ids_moved_a_decision_lands_on_its_own_sentence_not_on_the_new_owner_of_its_id(tmp_path) -> None:
    with DecisionStore(tmp_path / "review.sqlite", curator="ana") as store:
        _decide_before(store)
        decisions = store.latest()
    # re-scored on the new file: the same issue id now points at "Paris is big"
    rescored = _issues(AFTER, [("en/train/000001", 0, 2, ["B-PER", "I-PER"])])
    result = apply_decisions(make_corpus(AFTER), rescored, decisions)
    train = result.cleaned["train"]
    assert tags_of(train, "en/train/000001") == ["B-LOC", "O", "O"]  # untouched: not the sentence decided
    assert tags_of(train, "en/train/000002") == ["B-PER", "I-PER", "O"]  # found by its content
    assert result.stale == []
    row = result.changelog.iloc[0]
    assert row["id"] == "en/train/000002" and "en/train/000001" in row["note"]


def test_a_decision_whose_sentence_is_gone_is_listed_as_stale_everywhere(tmp_path) -> None:
    from auditor.cleaning import ApplySummary
    from auditor.cli import app
    from auditor.metrics import read_metrics

    run = tmp_path / "run"
    edited = dict(AFTER)
    edited["en/train/000002"] = (["Paris", "Hilton", "sang", "loudly"], ["B-PER", "I-PER", "O", "O"])
    edited["en/train/000003"] = (["Rome", "is", "old"], ["B-PER", "O", "O"])
    make_corpus(edited).save_to_disk(str(run / "corpus"))
    write_issues(_issues(edited, [("en/train/000001", 0, 2, ["B-PER", "I-PER"])])[list(ISSUE_COLUMNS)], run / "issues.parquet")
    with DecisionStore(run / "review.sqlite", curator="ana") as store:
        _decide_before(store)
    out = CliRunner().invoke(app, ["apply", str(run)])
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "2 stale decision(s) not applied" in text
    assert "en/train/000001:0-2" in text and "en/train/000002:0-1" in text
    stale = read_metrics(run).section(ApplySummary).stale_list
    assert [s["issue_id"] for s in stale] == ["en/train/000001:0-2", "en/train/000002:0-1"]
    assert {s["kind"] for s in stale} == {"sentence changed"}
    out = CliRunner().invoke(app, ["apply", str(run), "--json"])
    assert [s["issue_id"] for s in json.loads(out.stdout)["stale_decisions"]] == ["en/train/000001:0-2", "en/train/000002:0-1"]


def test_copies_of_a_moved_sentence_are_not_guessed_between(tmp_path) -> None:
    with DecisionStore(tmp_path / "review.sqlite", curator="ana") as store:
        _decide_before(store)
        decisions = {k: v for k, v in store.latest().items() if v.action == "accept"}
    twice = dict(AFTER)
    twice["en/train/000003"] = BEFORE["en/train/000001"]
    result = apply_decisions(make_corpus(twice), _issues(twice, []).reindex(columns=list(ISSUE_COLUMNS)), decisions)
    assert [(s.issue_id, s.kind) for s in result.stale] == [("en/train/000001:0-2", "ambiguous")]
    assert not any(result.cleaned["train"]["changed"])


def test_the_review_ui_records_each_decisions_sentence(tmp_path) -> None:
    from auditor.review.app import open_review
    from tests.test_cleaning import SENTENCES, make_run

    run = make_run(tmp_path, decide=False)
    app = open_review(run, curator="ana")
    try:
        d = app.store.decide("de/train/000002:3-4", "accept", 3, 4, ["B-LOC"])
        assert d.sentence == sentence_digest(*SENTENCES["de/train/000002"])
        bulk, _ = app.store.decide_many([("de/train/000002:3-4", "keep")])
        assert bulk[0].sentence == d.sentence
        assert app.store.undo_many(["de/train/000002:3-4"])[0].sentence is None
    finally:
        app.store.close()


def test_the_report_lists_every_stale_decision(tmp_path) -> None:
    from auditor.reporting.build import build_report
    from tests.test_reporting import full_metrics, make_run

    metrics = full_metrics()
    metrics["apply"] = {**metrics["apply"], "stale": 2, "moved": 1, "stale_list": [
        {"issue_id": "en/train/000001:0-2", "id": "en/train/000001", "action": "accept", "kind": "sentence changed",
         "reason": "the sentence en/train/000001 had when this was decided is no longer in the corpus"},
        {"issue_id": "en/train/000007:3-4", "id": "en/train/000007", "action": "keep", "kind": "ambiguous",
         "reason": "now at 2 places"},
    ]}
    run_dir, _ = make_run(tmp_path, metrics, with_artifacts=False)
    md = build_report(run_dir, tmp_path / "out").markdown.read_text()
    assert "Decisions not applied" in md
    assert "en/train/000001:0-2" in md and "en/train/000007:3-4" in md and "ambiguous" in md
    assert "1 decisions were applied to their sentence under a new id" in md

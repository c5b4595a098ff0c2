"""The review UI explains itself: why an issue was flagged (from the issue row), a decided
issue shows the decision, the context view (neighbouring sentences, other occurrences), the
help covers kinds, glyphs and the score's direction."""

from __future__ import annotations

from pathlib import Path

import pytest
from review_rows import issue_row, make_issues

from auditor.data.corpus import dataset_from_records
from auditor.review.app import open_review
from auditor.review.bindings import HELP
from auditor.review.context import SentenceIndex
from auditor.review.dialogs import ContextScreen
from auditor.review.queue import IssueTable
from auditor.review.store import DecisionStore
from auditor.review.why import why_flagged
from auditor.tables import write_issues

pytestmark = pytest.mark.anyio
NAMES = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]


def _issue(**extra):
    row = issue_row("en/train/000001", "The United Nations met in Geneva .", "O B-PER I-PER O O B-LOC O", 1, 3,
                    "B-ORG I-ORG", "type", 0.05)
    row.update(consistency_score=0.2, cleanlab_score=0.04, **extra)
    import pandas as pd
    import pyarrow as pa

    from auditor.tables import ISSUES_SCHEMA, with_optional_columns

    extra_fields = [
        pa.field(k, pa.list_(pa.float64()) if isinstance(v, list) else pa.int64())
        for k, v in extra.items()
        if k not in ISSUES_SCHEMA.names
    ]
    schema = pa.schema(list(ISSUES_SCHEMA) + extra_fields)
    frame = with_optional_columns(pd.DataFrame([row]))
    return IssueTable(pa.Table.from_pandas(frame, schema=schema, preserve_index=False)).row(0)


def test_why_comes_from_the_rows_own_signals() -> None:
    why = why_flagged(_issue())
    # the loss of the given tag is -log p: 3.0 nats on "Nations" = 5%
    assert why[0] == "the model gives “Nations” the given I-PER 5% and predicts I-ORG (all 2 words' given tags below 10%)"
    assert why[1] == "“United Nations” is labelled like this in only 20% of its occurrences in the corpus"
    assert why[-1] == "cleanlab label quality 0.04"


def test_why_uses_the_optional_scoring_columns_when_present() -> None:
    why = why_flagged(_issue(given_prob=[0.03, 0.2], suggested_prob=[0.91, 0.7], form_count=14, form_same=3))
    assert why[0].startswith("the model gives “United” the given B-PER 3%, the suggested B-ORG 91%")
    assert why[1] == "“United Nations” is labelled like this in 3 of its 14 occurrences in the corpus"


def test_why_says_what_the_verified_sample_said() -> None:
    # the model agrees with the given tags; the suggestion B-ORG I-ORG came from the sample
    agrees = "O B-PER I-PER O O B-LOC O".split()
    corrected = why_flagged(_issue(reference_score=0.0, predicted=agrees))
    assert corrected[0] == "the curator corrected this sentence in the verified sample"
    assert "the suggestion is the curator's tags from the verified sample, not the model's" in corrected
    similar = why_flagged(_issue(reference_score=0.4, predicted=agrees))
    assert similar[0] == "the curator corrected similar words (evidence 0.40; 1 = none corrected)"
    # the example says where the curator made the correction: the sample, or the review queue
    # (a second pass, scoring.reference.decisions)
    for where in ("verified sample", "decided in review"):
        example = f"“EU” in “The EU met .” (B-LOC→B-ORG, {where})"
        quoted = why_flagged(_issue(reference_score=0.4, reference_example=example, predicted=agrees))
        assert quoted[0] == f"the curator corrected similar words, e.g. {example} (evidence 0.40; 1 = none corrected)"
    assert "the suggestion follows the curator's corrections of similar words, not the model" in similar
    for quiet in (1.0, float("nan")):  # no corrected neighbours, or no sample at all
        assert not any("curator" in line for line in why_flagged(_issue(reference_score=quiet)))


def test_a_faint_doubt_is_no_reason() -> None:
    # a corrected neighbour too far to doubt the word (quality at or above the evidence's own
    # flagging threshold): not "similar words were corrected ... (evidence 1.00)", and the
    # suggestion is not said to follow the curator
    from auditor.scoring.reference import REFERENCE_FLAG_BELOW

    example = "“EU” in “The EU met .” (B-LOC→B-ORG, verified sample)"
    agrees = "O B-PER I-PER O O B-LOC O".split()
    for faint in (REFERENCE_FLAG_BELOW, 0.92, 0.996):
        why = why_flagged(_issue(reference_score=faint, reference_example=example, predicted=agrees))
        assert not any("verified sample" in line or "curator" in line for line in why), why
    doubt = why_flagged(_issue(reference_score=REFERENCE_FLAG_BELOW - 0.01, predicted=agrees))
    assert doubt[0].startswith("the curator corrected similar words")


async def test_a_decided_issue_shows_the_decision_who_and_when(run_dir: Path) -> None:
    with DecisionStore(run_dir / "review.sqlite", curator="bob") as bob:
        bob.record("en/train/000001:1-3", "relabel", 0, 3, ["B-ORG", "I-ORG", "I-ORG"])
    app = open_review(run_dir, curator="ana")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("n")
        text = str(app.screen.query_one("#sentence").render())
        assert "relabelled by bob: B-ORG I-ORG I-ORG" in text and " UTC" in text
        decided_row = next(line for line in text.splitlines() if line.startswith("decided"))
        assert decided_row.split() == ["decided", "B-ORG", "I-ORG", "I-ORG"]  # the stored tags, not the suggestion
        assert "why: the model gives" in text and "#2" in text and "lower = more suspicious" in text
        # and bob's name in the queue row
        assert "bob" in str(app.screen.query_one("#queue").render_line(1).text)


def test_the_help_explains_kinds_glyphs_and_the_scores_direction() -> None:
    text = " ".join(f"{k} {v}" for _, rows in HELP for k, v in rows)
    for word in ("type", "boundary", "missing", "spurious", "lower = more suspicious", "✓", "✎", "»", "!",
                 "curators disagree", "only ever your own"):
        assert word in text, word


def _corpus_dir(tmp_path: Path) -> Path:
    records = [
        {"id": "de/train/000000", "tokens": ["Die", "Vereinten", "Nationen", "tagten"], "ner_tags": ["O", "B-ORG", "I-ORG", "O"], "lang": "de"},
        {"id": "de/train/000001", "tokens": ["Die", "United", "Nations", "tagten"], "ner_tags": ["O", "B-PER", "I-PER", "O"], "lang": "de"},
        {"id": "de/train/000002", "tokens": ["In", "Genf", "."], "ner_tags": ["O", "B-LOC", "O"], "lang": "de"},
        {"id": "en/train/000000", "tokens": ["United", "Nations", "staff"], "ner_tags": ["B-ORG", "I-ORG", "O"], "lang": "en"},
        {"id": "en/train/000001", "tokens": ["The", "United", "States"], "ner_tags": ["O", "B-LOC", "I-LOC"], "lang": "en"},
    ]
    from datasets import DatasetDict

    path = tmp_path / "corpus"
    DatasetDict({"train": dataset_from_records(records, NAMES)}).save_to_disk(str(path))
    return path


def test_context_from_the_corpus_neighbours_and_occurrences(tmp_path: Path) -> None:
    index = SentenceIndex.from_corpus(_corpus_dir(tmp_path))
    assert index.complete and len(index) == 5
    assert [s.id for s in index.neighbours("de/train/000001", k=1)] == ["de/train/000000", "de/train/000001", "de/train/000002"]
    occ = index.occurrences(["United", "Nations"])
    assert occ.total == 2  # not "United States"
    assert {tags: dict(langs) for tags, langs in occ.by_tags.items()} == {("B-PER", "I-PER"): {"de": 1}, ("B-ORG", "I-ORG"): {"en": 1}}
    assert index.neighbours("no-number-here") == []


async def test_context_screen_falls_back_to_the_flagged_sentences(run_dir: Path) -> None:
    app = open_review(run_dir, curator="ana")
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("n", "c")
        assert isinstance(app.screen, ContextScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = str(app.screen.query_one("#context-text").render())
        assert "the flagged sentences (no corpus/ in the run folder): 5 occurrences" in text.replace("\n", " ")
        assert "B-PER I-PER" in text and "×4" in text and "B-LOC I-LOC" in text
        await pilot.press("escape")
        assert app.screen is app.review


async def test_context_screen_reads_the_runs_corpus(tmp_path: Path) -> None:
    run = tmp_path / "run"
    row = ("de/train/000001", "Die United Nations tagten", "O B-PER I-PER O", 1, 3, "B-ORG I-ORG", "type", 0.1)
    write_issues(make_issues([row]), run / "issues.parquet")
    _corpus_dir(run)
    app = open_review(run, curator="ana")
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("c")
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = str(app.screen.query_one("#context-text").render())
        assert "▶ de/train/000001" in text and "de/train/000000" in text and "de/train/000002" in text
        assert "in the corpus: 2 occurrences" in text


async def test_a_long_sentence_is_shown_from_its_flagged_words_and_scrolls(tmp_path: Path) -> None:
    run = tmp_path / "run"
    words = " ".join(f"Wort{i}" for i in range(60))
    write_issues(make_issues([("de/train/000001", words, " ".join(["O"] * 60), 55, 56, "B-LOC", "missing", 0.1)]),
                 run / "issues.parquet")
    app = open_review(run, curator="ana")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        view = app.screen.query_one("#sentence")
        shown = str(view.render())
        assert "Wort55" in shown and "Wort0 " not in shown  # the span's words, not the sentence's start
        assert shown.startswith("↑") and "lines above" in shown
        view._scroll(-100)  # the mouse wheel, up to the top
        shown = str(view.render())
        assert shown.lstrip().startswith("missing") and "more lines (mouse wheel)" in shown and "Wort0 " in shown

"""apply_decisions: decisions + corpus -> cleaned corpus, changelog, stale decisions."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest
from datasets import DatasetDict, load_from_disk
from typer.testing import CliRunner

from auditor.cleaning import (
    CHANGED_COLUMN,
    CHANGELOG_SCHEMA,
    ORIGINAL_COLUMN,
    REPAIR_ACTION,
    apply_decisions,
    save_cleaned,
)
from auditor.data.corpus import dataset_from_records, label_names
from auditor.data.iob import violations
from auditor.errors import AuditorError
from auditor.review.store import DecisionStore
from auditor.tables import ISSUE_COLUMNS, write_issues

NAMES = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
SENTENCES = {
    "de/train/000000": (["Er", "besuchte", "New", "York", "City", "gestern"], ["O", "O", "B-ORG", "I-ORG", "O", "O"]),
    "de/train/000001": (["Die", "Vereinten", "Nationen", "tagten", "heute"], ["B-ORG", "I-ORG", "I-ORG", "O", "O"]),
    "de/train/000002": (["Angela", "Merkel", "in", "Berlin"], ["B-PER", "I-PER", "O", "B-ORG"]),
    "de/train/000003": (["8.", "Juli", "2001"], ["B-ORG", "I-ORG", "O"]),
}


def make_corpus(sentences: dict = SENTENCES) -> DatasetDict:
    records = [{"id": k, "tokens": t, "ner_tags": g, "lang": "de"} for k, (t, g) in sentences.items()]
    return DatasetDict({"train": dataset_from_records(records, NAMES)})


def issue(id_: str, start: int, end: int, suggested: list[str], score: float = 0.1, sentences: dict = SENTENCES) -> dict:
    """One issue row with every ISSUE_COLUMNS column, as the score stage writes it."""
    tokens, tags = sentences[id_]
    return {
        "issue_id": f"{id_}:{start}-{end}", "id": id_, "lang": "de", "split": "train", "start": start, "end": end,
        "kind": "type", "entity_type": "ORG", "surface": " ".join(tokens[start:end]), "given": tags[start:end],
        "suggested": suggested, "score": score, "cleanlab_score": score, "token_loss": 1.0,
        "consistency_score": 1.0, "sequence_loss": 2.0, "sequence_loss_mean": 0.5, "tokens": tokens, "tags": tags,
        "predicted": tags, "token_losses": [0.1] * len(tokens), "model_score": score, "reference_score": float("nan"), "reference_example": "",
        "given_prob": [0.2] * (end - start), "suggested_prob": [0.7] * (end - start),
    }


def tags_of(ds, id_: str, column: str = "ner_tags") -> list[str]:
    names = ds.features[column].feature.names
    row = ds[list(ds["id"]).index(id_)]
    return [names[t] for t in row[column]]


@pytest.fixture
def store(tmp_path):
    with DecisionStore(tmp_path / "review.sqlite", curator="ana") as s:
        yield s


def test_accept_relabel_keep_skip_apply_and_are_logged(store):
    corpus = make_corpus()
    issues = pd.DataFrame([
        issue("de/train/000000", 2, 4, ["B-LOC", "I-LOC"]),
        issue("de/train/000002", 3, 4, ["B-LOC"]),
        issue("de/train/000003", 0, 2, ["O", "O"]),
        issue("de/train/000001", 0, 3, ["O", "O", "O"]),
    ])
    # relabel moves the boundary: the issue covers New York, the curator tags New York City
    store.record("de/train/000000:2-4", "relabel", 2, 5, ["B-LOC", "I-LOC", "I-LOC"])
    store.record("de/train/000002:3-4", "accept", 3, 4, ["B-LOC"])
    store.record("de/train/000003:0-2", "keep")
    store.record("de/train/000001:0-3", "skip")
    result = apply_decisions(corpus, issues, store.latest())
    train = result.cleaned["train"]

    assert tags_of(train, "de/train/000000") == ["O", "O", "B-LOC", "I-LOC", "I-LOC", "O"]
    assert tags_of(train, "de/train/000002") == ["B-PER", "I-PER", "O", "B-LOC"]
    assert tags_of(train, "de/train/000003") == ["B-ORG", "I-ORG", "O"]
    assert tags_of(train, "de/train/000001") == ["B-ORG", "I-ORG", "I-ORG", "O", "O"]
    # the original tags ride along, with the same label set, and `changed` marks edited sentences
    assert tags_of(train, "de/train/000000", ORIGINAL_COLUMN) == SENTENCES["de/train/000000"][1]
    assert train.features[ORIGINAL_COLUMN].feature.names == NAMES
    assert label_names(result.cleaned) == NAMES
    assert dict(zip(train["id"], train[CHANGED_COLUMN])) == {
        "de/train/000000": True, "de/train/000001": False, "de/train/000002": True, "de/train/000003": False,
    }

    log = result.changelog.set_index("issue_id")
    assert list(result.changelog.columns) == CHANGELOG_SCHEMA.names
    assert set(log.index) == {"de/train/000000:2-4", "de/train/000002:3-4", "de/train/000003:0-2"}  # no skip
    row = log.loc["de/train/000000:2-4"]
    assert (row["start"], row["end"], row["before"], row["after"]) == (
        2, 5, ["B-ORG", "I-ORG", "O"], ["B-LOC", "I-LOC", "I-LOC"]
    )
    assert row["action"] == "relabel" and row["curator"] == "ana" and row["at"]
    assert log.loc["de/train/000003:0-2", "before"] == log.loc["de/train/000003:0-2", "after"]

    s = result.summary.to_dict()
    assert s["decisions"] == 4
    assert s["by_action"] == {"accept": 1, "keep": 1, "relabel": 1, "skip": 1}
    assert (s["changed_sentences"], s["changed_tokens"], s["stale"]) == (2, 4, 0)


def test_stale_decisions_are_reported_and_not_applied(store):
    issues = pd.DataFrame([
        issue("de/train/000000", 2, 4, ["B-LOC", "I-LOC"]),
        issue("de/train/000001", 0, 3, ["O", "O", "O"]),
        issue("de/train/000002", 3, 4, ["B-LOC"]),
        issue("de/train/000003", 0, 2, ["O", "O"]),
    ])
    # the corpus changed after scoring: a word edited, a tag edited, a sentence removed
    changed = dict(SENTENCES)
    changed["de/train/000000"] = (["Er", "besuchte", "New", "Jersey", "City", "gestern"], SENTENCES["de/train/000000"][1])
    changed["de/train/000001"] = (SENTENCES["de/train/000001"][0], ["B-LOC", "I-LOC", "I-LOC", "O", "O"])
    del changed["de/train/000002"]
    corpus = make_corpus(changed)
    for row in issues.itertuples():
        store.record(row.issue_id, "accept", row.start, row.end, list(row.suggested))
    store.record("de/train/000009:0-1", "accept", 0, 1, ["B-PER"])  # an issue no longer in the table
    result = apply_decisions(corpus, issues, store.latest())

    kinds = {s.issue_id: s.kind for s in result.stale}
    assert kinds == {
        "de/train/000000:2-4": "tokens changed",
        "de/train/000001:0-3": "tags changed",
        "de/train/000002:3-4": "sentence gone",
        "de/train/000009:0-1": "issue gone",
    }
    assert all(s.reason for s in result.stale)
    train = result.cleaned["train"]
    assert tags_of(train, "de/train/000000") == changed["de/train/000000"][1]
    assert tags_of(train, "de/train/000001") == changed["de/train/000001"][1]
    assert tags_of(train, "de/train/000003") == ["O", "O", "O"]  # the one fresh decision applied
    assert set(result.changelog["issue_id"]) == {"de/train/000003:0-2"}
    assert result.summary.stale == 4 and result.summary.stale_kinds["tokens changed"] == 1


def test_relabel_reaching_words_that_changed_outside_the_issue_span_is_stale(store):
    issues = pd.DataFrame([issue("de/train/000000", 2, 4, ["B-LOC", "I-LOC"])])
    changed = dict(SENTENCES)
    changed["de/train/000000"] = (SENTENCES["de/train/000000"][0], ["O", "O", "B-ORG", "I-ORG", "I-ORG", "O"])
    store.record("de/train/000000:2-4", "relabel", 2, 5, ["B-LOC", "I-LOC", "I-LOC"])
    result = apply_decisions(make_corpus(changed), issues, store.latest())
    assert [s.kind for s in result.stale] == ["tags changed"]
    assert not result.cleaned["train"][0][CHANGED_COLUMN]


def test_invalid_decisions_are_refused_not_applied(store):
    issues = pd.DataFrame([issue("de/train/000002", 3, 4, ["B-LOC"]), issue("de/train/000003", 0, 2, ["O", "O"])])
    store.record("de/train/000002:3-4", "relabel", 3, 4, ["B-MISC"])  # not in the corpus label set
    store.record("de/train/000003:0-2", "relabel", 1, 4, ["O", "O", "O"])  # past the sentence end
    result = apply_decisions(make_corpus(), issues, store.latest())
    assert {s.kind for s in result.stale} == {"invalid decision"}
    assert "B-MISC" in next(s.reason for s in result.stale if s.issue_id == "de/train/000002:3-4")
    assert result.summary.changed_sentences == 0


def test_shrinking_an_entity_repairs_iob2_at_the_seam(store):
    issues = pd.DataFrame([issue("de/train/000001", 0, 1, ["O"])])
    store.record("de/train/000001:0-1", "accept", 0, 1, ["O"])
    result = apply_decisions(make_corpus(), issues, store.latest())
    tags = tags_of(result.cleaned["train"], "de/train/000001")
    assert tags == ["O", "B-ORG", "I-ORG", "O", "O"]
    repair = result.changelog[result.changelog["action"] == REPAIR_ACTION]
    assert len(repair) == 1
    assert (repair.iloc[0]["start"], list(repair.iloc[0]["before"]), list(repair.iloc[0]["after"])) == (1, ["I-ORG"], ["B-ORG"])
    assert repair.iloc[0]["issue_id"] == "de/train/000001:0-1"
    assert result.summary.repaired == 1


def test_a_curator_relabel_with_a_leading_i_tag_is_written_as_valid_iob2(store):
    issues = pd.DataFrame([issue("de/train/000003", 0, 2, ["O", "O"])])
    store.record("de/train/000003:0-2", "relabel", 0, 2, ["I-PER", "I-PER"])
    result = apply_decisions(make_corpus(), issues, store.latest())
    assert tags_of(result.cleaned["train"], "de/train/000003") == ["B-PER", "I-PER", "O"]


def test_input_violations_outside_decided_spans_are_left_alone(store):
    sentences = {"x/train/0": (["a", "b", "c", "d", "e"], ["I-LOC", "O", "B-PER", "O", "O"])}
    issues = pd.DataFrame([issue("x/train/0", 2, 3, ["B-ORG"], sentences=sentences)])
    store.record("x/train/0:2-3", "accept", 2, 3, ["B-ORG"])
    result = apply_decisions(make_corpus(sentences), issues, store.latest())
    assert tags_of(result.cleaned["train"], "x/train/0") == ["I-LOC", "O", "B-ORG", "O", "O"]
    assert result.summary.repaired == 0


def test_overlapping_decisions_apply_in_commit_order_and_report_the_conflict(store):
    id_ = "de/train/000000"
    issues = pd.DataFrame([issue(id_, 2, 4, ["B-LOC", "I-LOC"]), issue(id_, 3, 5, ["I-ORG", "I-ORG"])])
    # the later commit carries the earlier clock (curators' machines disagree on the time):
    # commit order, not the wall clock, decides
    store.record_many([
        {"issue_id": f"{id_}:3-5", "action": "relabel", "start": 2, "end": 5, "tags": ["B-ORG", "I-ORG", "I-ORG"],
         "at": "2026-01-02T10:00:00.000+00:00"},
        {"issue_id": f"{id_}:2-4", "action": "accept", "start": 2, "end": 4, "tags": ["B-LOC", "I-LOC"],
         "at": "2026-01-01T10:00:00.000+00:00"},
    ])
    result = apply_decisions(make_corpus(), issues, store.latest())
    # the accept overwrote words 2-3; the relabel's I-ORG left on word 4 is repaired to B-ORG
    assert tags_of(result.cleaned["train"], id_) == ["O", "O", "B-LOC", "I-LOC", "B-ORG", "O"]
    assert len(result.conflicts) == 1
    c = result.conflicts[0]
    assert (c.id, c.earlier, c.later, c.words) == (id_, f"{id_}:3-5", f"{id_}:2-4", (2, 3))
    assert result.summary.conflicts == 1
    later = result.changelog.set_index("issue_id").loc[f"{id_}:2-4"]
    assert "overrides" in later["note"] and later["before"] == ["B-ORG", "I-ORG"]


def test_curators_disagreeing_on_an_issue_resolve_by_commit_order_and_are_listed(tmp_path):
    issue_id = "de/train/000002:3-4"
    issues = pd.DataFrame([issue("de/train/000002", 3, 4, ["B-LOC"])])
    path = tmp_path / "review.sqlite"
    with DecisionStore(path, curator="bob") as bob, DecisionStore(path, curator="alice") as alice:
        bob.record(issue_id, "keep")
        # alice's clock is an hour behind, but she commits after bob: hers applies
        alice.record_many([{"issue_id": issue_id, "action": "accept", "start": 3, "end": 4, "tags": ["B-LOC"],
                            "at": "2000-01-01T00:00:00.000+00:00"}])
        decisions = alice.latest()
    result = apply_decisions(make_corpus(), issues, decisions)
    assert tags_of(result.cleaned["train"], "de/train/000002") == ["B-PER", "I-PER", "O", "B-LOC"]
    assert result.summary.curator_conflicts == 1
    listed = result.summary.to_dict()["curator_conflict_list"]
    assert listed == [{"issue_id": issue_id, "applied": "alice: accept B-LOC", "overruled": "bob: keep",
                       "curators": ["alice", "bob"]}]


def test_no_decisions_gives_an_unchanged_copy():
    corpus = make_corpus()
    result = apply_decisions(corpus, pd.DataFrame([issue("de/train/000000", 2, 4, ["B-LOC", "I-LOC"])]), {})
    assert list(result.cleaned["train"]["ner_tags"]) == list(corpus["train"]["ner_tags"])
    assert not any(result.cleaned["train"][CHANGED_COLUMN])
    assert result.changelog.empty and list(result.changelog.columns) == CHANGELOG_SCHEMA.names
    assert result.summary.to_dict()["changed_sentences"] == 0


def test_cleaning_a_cleaned_corpus_keeps_the_first_original(tmp_path):
    issues = pd.DataFrame([issue("de/train/000002", 3, 4, ["B-LOC"])])
    with DecisionStore(tmp_path / "a.sqlite") as first:
        first.record("de/train/000002:3-4", "accept", 3, 4, ["B-LOC"])
        once = apply_decisions(make_corpus(), issues, first.latest()).cleaned
    again_sentences = {"de/train/000002": (SENTENCES["de/train/000002"][0], ["B-PER", "I-PER", "O", "B-LOC"])}
    issues2 = pd.DataFrame([issue("de/train/000002", 0, 2, ["B-ORG", "I-ORG"], sentences=again_sentences)])
    with DecisionStore(tmp_path / "b.sqlite") as second:
        second.record("de/train/000002:0-2", "accept", 0, 2, ["B-ORG", "I-ORG"])
        twice = apply_decisions(once, issues2, second.latest()).cleaned["train"]
    assert tags_of(twice, "de/train/000002") == ["B-ORG", "I-ORG", "O", "B-LOC"]
    assert tags_of(twice, "de/train/000002", ORIGINAL_COLUMN) == SENTENCES["de/train/000002"][1]
    assert dict(zip(twice["id"], twice[CHANGED_COLUMN]))["de/train/000002"] is True


def test_a_selected_subset_of_a_split_is_cleaned_row_for_row(store):
    corpus = make_corpus()
    subset = DatasetDict({"train": corpus["train"].select([3, 0])})
    store.record("de/train/000000:2-4", "accept", 2, 4, ["B-LOC", "I-LOC"])
    result = apply_decisions(subset, pd.DataFrame([issue("de/train/000000", 2, 4, ["B-LOC", "I-LOC"])]), store.latest())
    assert list(result.cleaned["train"]["id"]) == ["de/train/000003", "de/train/000000"]
    assert tags_of(result.cleaned["train"], "de/train/000000")[2:4] == ["B-LOC", "I-LOC"]
    assert tags_of(result.cleaned["train"], "de/train/000003") == SENTENCES["de/train/000003"][1]


def test_save_cleaned_round_trips(tmp_path, store):
    issues = pd.DataFrame([issue("de/train/000002", 3, 4, ["B-LOC"])])
    store.record("de/train/000002:3-4", "accept", 3, 4, ["B-LOC"])
    result = apply_decisions(make_corpus(), issues, store.latest())
    cleaned_dir, log_path = save_cleaned(result, tmp_path / "run")
    back = load_from_disk(str(cleaned_dir))
    assert back["train"].features == result.cleaned["train"].features
    assert back["train"][:] == result.cleaned["train"][:]
    table = pq.read_table(log_path)
    assert table.schema.names == CHANGELOG_SCHEMA.names and table.num_rows == 1
    # a second save replaces the first atomically, leaving no temporary folders behind
    save_cleaned(result, tmp_path / "run")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["changelog.parquet", "cleaned"]


def test_every_output_sentence_is_valid_iob2(store):
    issues = pd.DataFrame([issue("de/train/000001", 1, 2, ["O"]), issue("de/train/000000", 3, 5, ["B-PER", "I-PER"])])
    store.record("de/train/000001:1-2", "accept", 1, 2, ["O"])
    store.record("de/train/000000:3-5", "accept", 3, 5, ["B-PER", "I-PER"])
    result = apply_decisions(make_corpus(), issues, store.latest())
    names = label_names(result.cleaned)
    for tags in result.cleaned["train"]["ner_tags"]:
        assert violations([names[t] for t in tags]) == []
    assert tags_of(result.cleaned["train"], "de/train/000001") == ["B-ORG", "O", "B-ORG", "O", "O"]
    assert tags_of(result.cleaned["train"], "de/train/000000") == ["O", "O", "B-ORG", "B-PER", "I-PER", "O"]


# --- the `auditor apply` command -------------------------------------------------------


def make_run(tmp_path, decide: bool = True):
    run = tmp_path / "run"
    make_corpus().save_to_disk(str(run / "corpus"))
    write_issues(pd.DataFrame([issue("de/train/000002", 3, 4, ["B-LOC"])])[list(ISSUE_COLUMNS)], run / "issues.parquet")
    if decide:
        with DecisionStore(run / "review.sqlite", curator="ana") as s:
            s.record("de/train/000002:3-4", "accept", 3, 4, ["B-LOC"])
    return run


def test_cli_apply_writes_cleaned_changelog_and_metrics(tmp_path):
    from auditor.cleaning import ApplySummary
    from auditor.cli import app
    from auditor.metrics import read_metrics

    run = make_run(tmp_path)
    corpus_files = sorted((run / "corpus").rglob("*"))
    out = CliRunner().invoke(app, ["apply", str(run)])
    assert out.exit_code == 0, out.output
    assert sorted((run / "corpus").rglob("*")) == corpus_files  # the input corpus is untouched
    assert "1 sentence" in out.output
    assert tags_of(load_from_disk(str(run / "cleaned"))["train"], "de/train/000002")[-1] == "B-LOC"
    assert (run / "changelog.parquet").is_file()
    assert read_metrics(run).section(ApplySummary).changed_tokens == 1


def test_cli_apply_json(tmp_path):
    import json

    from auditor.cli import app

    run = make_run(tmp_path)
    out = CliRunner().invoke(app, ["apply", str(run), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["changed_sentences"] == 1 and data["changed_tokens"] == 1
    assert data["stale_decisions"] == [] and data["cleaned"].endswith("cleaned")


def test_cli_apply_without_a_store_says_to_review_first(tmp_path):
    from auditor.cli import app

    run = make_run(tmp_path, decide=False)
    out = CliRunner().invoke(app, ["apply", str(run)])
    assert isinstance(out.exception, AuditorError)
    assert "auditor review" in str(out.exception)
    assert not (run / "cleaned").exists()


def test_cli_apply_on_a_folder_that_is_not_a_run(tmp_path):
    from auditor.cli import app

    out = CliRunner().invoke(app, ["apply", str(tmp_path)])
    assert isinstance(out.exception, AuditorError)
    assert "corpus" in str(out.exception)

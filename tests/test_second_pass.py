"""A second pass (scoring.reference.decisions): after a round of review, the words the curator
decided join the verified sample's words as neighbours, so the rest of a corrected convention
the sample never showed rises; only the words a decision covered count; the weight is still
fitted on the random sample; decisions reach the evidence through apply's own placing rules.

The corpus has two wrong conventions the model agrees with: countries in match reports (LOC,
truly ORG; the random sample holds some) and clubs in league tables (LOC, truly ORG; the
sample holds none, so only decisions can reveal them).
"""

import json

import numpy as np
import pytest
from datasets import DatasetDict
from simulated_oof import agreeing_oof

from auditor.cleaning import apply_decisions, decided_words
from auditor.config import ReferenceConfig, ScoringConfig, config_from_dict
from auditor.data.corpus import dataset_from_records
from auditor.errors import ConfigError, DataError
from auditor.review.store import DecisionStore, issue_sentences
from auditor.scoring.reference import REFERENCE_FLAG_BELOW, DecidedWords, decided_mask
from auditor.scoring.score import score_corpus
from auditor.tables import SentenceVectors

LABELS = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
COUNTRIES = ["Japan", "Syria", "Italy", "Chile", "Ghana", "Peru", "Wales", "Spain"]
CLUBS = ["Milan", "Porto", "Lyon", "Celtic", "Ajax", "Roma"]
KINDS = ("sport", "politics", "league")


def _rows() -> list[dict]:
    rows = []
    for i in range(20):
        a, b = COUNTRIES[i % 8], COUNTRIES[(i + 3) % 8]
        rows.append({"tokens": [a, "beat", b, "2-1"], "ner_tags": ["B-LOC", "O", "B-LOC", "O"],
                     "clean_ner_tags": ["B-ORG", "O", "B-ORG", "O"], "kind": "sport"})
    for i in range(20):
        rows.append({"tokens": ["talks", "in", COUNTRIES[(i + 5) % 8], "today"], "ner_tags": ["O", "O", "B-LOC", "O"],
                     "clean_ner_tags": ["O", "O", "B-LOC", "O"], "kind": "politics"})
    for i in range(12):
        rows.append({"tokens": [CLUBS[i % 6], "top", "of", "table"], "ner_tags": ["B-LOC", "O", "O", "O"],
                     "clean_ner_tags": ["B-ORG", "O", "O", "O"], "kind": "league"})
    for j, r in enumerate(rows):
        r.update(id=f"en/train/{j:06d}", lang="en")
    return rows


def _vectors(rows: list[dict]) -> SentenceVectors:
    """An entity's vector says which kind of sentence it is in (a contextual encoder would);
    O words are centred noise, so the evidence's centring leaves the kinds apart."""
    rng = np.random.default_rng(0)
    basis = {k: np.eye(8)[i] for i, k in enumerate(KINDS)}
    vecs, offsets = [], [0]
    for r in rows:
        for t in r["ner_tags"]:
            vecs.append(basis[r["kind"]] + rng.normal(0, 0.05, 8) if t != "O" else rng.normal(0, 0.3, 8))
        offsets.append(len(vecs))
    return SentenceVectors(np.array([r["id"] for r in rows], dtype=object), np.array(offsets), np.array(vecs, np.float32))


@pytest.fixture
def world(tmp_path):
    rows = _rows()
    corpus = DatasetDict({"train": dataset_from_records(
        [{k: r[k] for k in ("id", "tokens", "ner_tags", "lang", "clean_ner_tags")} for r in rows], LABELS)})
    sample = tmp_path / "verified.jsonl"
    picked = [r for r in rows if r["kind"] == "sport"][:5] + [r for r in rows if r["kind"] == "politics"][:8]
    sample.write_text("".join(json.dumps({"id": r["id"], "ner_tags": r["clean_ner_tags"]}) + "\n" for r in picked))
    cfg = ScoringConfig(reference=ReferenceConfig(file=str(sample)))
    return rows, corpus, cfg


def _league(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["kind"] == "league"]


def _relabelled(rows: list[dict], n: int) -> DecidedWords:
    """The curator relabelled the club of n league sentences LOC -> ORG (word 0 only)."""
    out = DecidedWords()
    for r in _league(rows)[:n]:
        out.tags[r["id"]] = ["B-ORG", "O", "O", "O"]
        out.covered[r["id"]] = [True, False, False, False]
    return out


def _score(world, decided=None):
    rows, corpus, cfg = world
    return score_corpus(corpus, agreeing_oof(rows, LABELS), cfg, progress=False, vectors=_vectors(rows), decided=decided)


def test_decided_corrections_raise_the_rest_of_a_convention_the_sample_never_showed(world):
    rows = world[0]
    league = {r["id"] for r in _league(rows)}
    first = _score(world)
    assert not league & set(first.issues["id"])  # the sample has no club: nothing doubts them
    second = _score(world, _relabelled(rows, 3))
    undecided = league - {r["id"] for r in _league(rows)[:3]}
    flagged = second.issues[second.issues["id"].isin(undecided)]
    assert set(flagged["id"]) == undecided  # every other club sentence is now in the queue
    assert all(list(s) == ["B-ORG"] for s in flagged["suggested"])
    assert (flagged["reference_score"] < REFERENCE_FLAG_BELOW).all()
    # the why-text's example says the correction was made in review, not in the sample
    assert all(e.endswith("(B-LOC→B-ORG, decided in review)") for e in flagged["reference_example"])
    ref = second.summary.reference
    assert ref["decided_words"] == 3 and ref["decided_corrected_words"] == 3
    assert "decided_words" not in first.summary.reference  # a first pass says nothing of decisions


def test_decided_keeps_are_neighbours_that_were_not_corrected(world):
    rows = world[0]
    decided = _relabelled(rows, 2)
    for r in _league(rows)[2:8]:  # six clubs the curator looked at and kept
        decided.tags[r["id"]] = list(r["ner_tags"])
        decided.covered[r["id"]] = [True, False, False, False]
    quiet = _score(world, decided).issues
    loud = _score(world, _relabelled(rows, 2)).issues
    rest = {r["id"] for r in _league(rows)[8:]}

    def doubt(issues):
        return issues[issues["id"].isin(rest)]["reference_score"].min()

    assert doubt(quiet) > doubt(loud)  # the kept ones outweigh the two corrections
    assert _score(world, decided).summary.reference["decided_corrected_words"] == 2


def test_only_the_words_a_decision_covered_count(world):
    rows = world[0]
    # the club word was not looked at (only "table" was decided): its tag in the row says
    # B-ORG, but it is not evidence
    decided = DecidedWords()
    for r in _league(rows)[:4]:
        decided.tags[r["id"]] = ["B-ORG", "O", "O", "O"]
        decided.covered[r["id"]] = [False, False, False, True]
    second = _score(world, decided)
    assert not {r["id"] for r in _league(rows)} & set(second.issues["id"])
    assert second.summary.reference["decided_corrected_words"] == 0


def test_the_weight_is_fitted_on_the_random_sample_only(world):
    rows, _, cfg = world
    first = _score(world).summary.reference
    # decisions that contradict every sport country of the sample: if the decided words were
    # fitting targets, the fit would change; as neighbours only, the sample's LOO fit is the same
    decided = DecidedWords()
    for r in _league(rows):
        decided.tags[r["id"]] = ["B-ORG", "O", "O", "O"]
        decided.covered[r["id"]] = [True, False, False, False]
    second = _score(world, decided).summary.reference
    assert second["fit_sentence_ap"] == first["fit_sentence_ap"]  # no club in the sample: the same AP per weight
    assert second["weight"] == first["weight"] > 0
    assert second["verified_sentences"] == first["verified_sentences"] == 13


def test_a_sample_sentence_stays_the_samples():
    ids = np.array(["a", "b"], dtype=object)
    offsets = np.array([0, 2, 4])
    decided = DecidedWords({"a": ["B-ORG", "O"], "zz": ["O"]}, {"a": [True, False], "zz": [True]})
    mask, tags = decided_mask(ids, offsets, decided, LABELS)
    assert mask.tolist() == [True, False, False, False]  # "zz" is not audited: left out
    assert tags.tolist() == [3, -1, -1, -1]
    with pytest.raises(DataError, match="has 3 words but the corpus sentence has 2"):
        decided_mask(ids, offsets, DecidedWords({"b": ["O"] * 3}, {"b": [True] * 3}), LABELS)
    with pytest.raises(DataError, match="tag 'B-FOO'"):
        decided_mask(ids, offsets, DecidedWords({"b": ["B-FOO", "O"]}, {"b": [True, True]}), LABELS)


def test_decided_words_follow_the_apply_rules(world, tmp_path):
    rows, corpus, _ = world
    issues = _score(world, _relabelled(rows, 3)).issues
    store = DecisionStore(tmp_path / "review.sqlite", curator="ann", sentences=issue_sentences(issues))
    league = issues[issues["id"].isin({r["id"] for r in _league(rows)})].reset_index(drop=True)
    accept, keep, skip = league.iloc[0], league.iloc[1], league.iloc[2]
    sport = issues[issues["id"] == next(r["id"] for r in rows if r["kind"] == "sport")].iloc[0]
    store.record_many([
        (accept["issue_id"], "accept", int(accept["start"]), int(accept["end"]), list(accept["suggested"])),
        (keep["issue_id"], "keep"),
        (skip["issue_id"], "skip"),
        # relabels the whole sentence: its four words count, with the curator's tags
        (sport["issue_id"], "relabel", 0, 4, ["B-ORG", "O", "B-ORG", "O"]),
    ])
    words = decided_words(apply_decisions(corpus, issues, store.latest()))
    assert set(words.covered) == {accept["id"], keep["id"], sport["id"]}  # a skip covers nothing
    assert words.covered[accept["id"]] == [True, False, False, False]
    assert words.tags[accept["id"]][0] == "B-ORG"
    assert words.tags[keep["id"]][0] == "B-LOC"  # kept: the given tag, confirmed
    assert words.covered[sport["id"]] == [True] * 4
    assert len(words) == 6
    # re-scored with them, a correction keeps its issue (its own decision doubts the word), so it
    # stays decided in the queue; every decision still applies
    rescored = _score(world, words).issues
    assert {accept["issue_id"], sport["issue_id"]} <= set(rescored["issue_id"])
    assert apply_decisions(corpus, rescored, store.latest()).summary.stale == 0


def test_the_second_pass_needs_a_sample_and_curators():
    with pytest.raises(ConfigError, match="needs scoring.reference.file"):
        config_from_dict({"scoring": {"reference": {"decisions": True}}})
    for review in ({"policy": "oracle"}, {"unattended": "threshold"}):
        with pytest.raises(ConfigError, match="set review.policy: interactive and review.unattended: stop"):
            config_from_dict({"scoring": {"reference": {"decisions": True, "file": "s.jsonl"}}, "review": review})
    assert config_from_dict({"scoring": {"reference": {"decisions": True, "file": "s.jsonl"}}}).scoring.reference.decisions

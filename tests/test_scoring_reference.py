"""A verified sample's evidence (auditor.scoring.reference): words like the ones a curator
corrected become suspicious, the weight is fitted on the sample, bad sample files fail cleanly.

The corpus is built so that the model agrees with a wrong convention (countries in match
reports tagged LOC, p = 0.98): only the verified sample can reveal it.
"""

import json

import numpy as np
import pytest
from datasets import DatasetDict
from simulated_oof import agreeing_oof

from auditor.config import ReferenceConfig, ScoringConfig
from auditor.data.corpus import dataset_from_records
from auditor.errors import ConfigError, DataError
from auditor.scoring.detection import evaluate_detection
from auditor.scoring.reference import (
    VerifiedSample,
    fit_weight,
    neighbour_evidence,
    read_verified_sample,
    verified_words,
)
from auditor.scoring.score import score_corpus
from auditor.tables import SentenceVectors

LABELS = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
COUNTRIES = ["Japan", "Syria", "Italy", "Chile", "Ghana", "Peru", "Wales", "Spain"]


def _sentences(n_sport: int = 30, n_politics: int = 30) -> list[dict]:
    """Match reports ("Japan beat Syria") and politics ("talks in Japan"); countries are LOC
    in both, the truth says ORG in match reports."""
    rows = []
    for i in range(n_sport):
        a, b = COUNTRIES[i % 8], COUNTRIES[(i + 3) % 8]
        rows.append({"tokens": [a, "beat", b, "2-1"], "ner_tags": ["B-LOC", "O", "B-LOC", "O"],
                     "clean_ner_tags": ["B-ORG", "O", "B-ORG", "O"], "kind": "sport"})
    for i in range(n_politics):
        a = COUNTRIES[(i + 5) % 8]
        rows.append({"tokens": ["talks", "in", a, "today"], "ner_tags": ["O", "O", "B-LOC", "O"],
                     "clean_ner_tags": ["O", "O", "B-LOC", "O"], "kind": "politics"})
    order = np.random.default_rng(0).permutation(len(rows))
    out = []
    for j, i in enumerate(order):
        r = dict(rows[i])
        r["id"] = f"en/train/{j:06d}"
        r["lang"] = "en"
        out.append(r)
    return out


def _vectors(rows: list[dict], seed: int = 0) -> SentenceVectors:
    """A country's vector says which kind of sentence it is in (a contextual encoder would)."""
    rng = np.random.default_rng(seed)
    basis = {"sport": np.eye(8)[0], "politics": np.eye(8)[1], "O": np.eye(8)[2]}
    vecs, offsets = [], [0]
    for r in rows:
        for t in r["ner_tags"]:
            v = basis[r["kind"]] if t != "O" else basis["O"]
            vecs.append(v + rng.normal(0, 0.1, 8))
        offsets.append(len(vecs))
    return SentenceVectors(np.array([r["id"] for r in rows], dtype=object), np.array(offsets), np.array(vecs, np.float32))


def _corpus(rows: list[dict]) -> DatasetDict:
    recs = [{k: r[k] for k in ("id", "tokens", "ner_tags", "lang", "clean_ner_tags")} for r in rows]
    return DatasetDict({"train": dataset_from_records(recs, LABELS)})


def _write_sample(rows: list[dict], path, n_sport: int = 6, n_politics: int = 12) -> None:
    picked = [r for r in rows if r["kind"] == "sport"][:n_sport] + [r for r in rows if r["kind"] == "politics"][:n_politics]
    path.write_text("".join(json.dumps({"id": r["id"], "ner_tags": r["clean_ner_tags"]}) + "\n" for r in picked))


@pytest.fixture
def world(tmp_path):
    rows = _sentences()
    sample = tmp_path / "verified.jsonl"
    _write_sample(rows, sample)
    return rows, _corpus(rows), agreeing_oof(rows, LABELS), _vectors(rows), sample


# --- the pure parts ---------------------------------------------------------------------------


def test_neighbours_of_corrected_words_lose_quality_and_suggest_the_verified_tag():
    x = np.array([[1, 0], [1, 0.05], [0, 1], [0.05, 1], [1, 0.02], [0.02, 1]], dtype=np.float32)
    given_type = np.array([1, 1, 1, 1, 1, 1])
    source = np.array([True, True, True, True, False, False])
    corrected = np.array([True, True, False, False, False, False])
    tags = np.array([3, 3, 1, 1, -1, -1])
    q, s, example = neighbour_evidence(x, given_type, source, ~source, corrected, tags, n_labels=5, k=2)
    assert q[4] < 0.5 and s[4] == 3  # like the corrected ones
    assert example[4] in (0, 1)  # its most similar corrected neighbour: what the UI quotes
    assert q[5] > 0.9 and s[5] == -1 and example[5] == -1  # like the confirmed ones
    assert (q[:4] == 1.0).all()  # only targets are judged


def test_neighbours_of_another_entity_type_are_not_consulted():
    x = np.ones((3, 2), dtype=np.float32) + np.arange(6).reshape(3, 2) * 0.01
    q, s, _ = neighbour_evidence(
        x, np.array([1, 2, 1]), np.array([True, True, False]), np.array([False, False, True]),
        np.array([False, True, False]), np.array([1, 3, -1]), n_labels=5, k=5,
    )
    assert q[2] == 1.0 and s[2] == -1  # the corrected word was of type 2, this one is type 1


def test_leave_one_sentence_out_never_reads_its_own_sentence():
    x = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    sentence = np.array([0, 0, 1])
    both = np.array([True, True, True])
    q, _, _ = neighbour_evidence(x, np.zeros(3, int), both, both, np.array([True, False, False]), np.array([3, 0, 0]), 5, k=3, sentence=sentence)
    assert q[1] > 0.99  # its sentence-mate was corrected, but that is its own sentence


def test_weight_fit_prefers_evidence_that_finds_the_sample_errors_and_drops_noise():
    offsets = np.arange(41)  # 40 one-word sentences
    wrong = np.zeros(40, bool)
    wrong[:10] = True
    verified = np.ones(40, bool)
    base = np.full(40, 0.9)
    helpful = np.where(wrong, 0.3, 0.95)
    w, table = fit_weight(base, helpful, offsets, verified, wrong, "min")
    assert w > 0 and table[w] == pytest.approx(1.0)
    noise = np.random.default_rng(0).uniform(0.2, 1.0, 40)
    base_informative = np.where(wrong, 0.5, 0.9)
    w0, table0 = fit_weight(base_informative, noise, offsets, verified, wrong, "min")
    assert w0 == 0.0 and table0[0.0] == pytest.approx(1.0)
    assert fit_weight(base, helpful, offsets, verified, np.zeros(40, bool), "min") == (0.0, {})


# --- sample files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"id": "a", "ner_tags": ["O"]}\nnot json\n', ":2: not a JSON object"),
        ('{"id": "a"}\n', ":1: not a JSON object with 'id' and 'ner_tags'"),
        ('{"id": "a", "ner_tags": ["B-PER"]}\n', "'B-PER' is not one of the corpus's labels"),
        ('{"id": "a", "ner_tags": ["O"]}\n{"id": "a", "ner_tags": ["O"]}\n', "appears twice"),
        ("\n", "holds no verified sentence: it is empty"),
        ('{"id": "a", "tokens": ["x", "y"], "ner_tags": ["O"]}\n', ":1: 2 tokens but 1 ner_tags"),
    ],
)
def test_bad_sample_files_fail_with_one_clear_line(tmp_path, content, message):
    p = tmp_path / "s.jsonl"
    p.write_text(content)
    with pytest.raises(DataError, match=message) as e:
        read_verified_sample(p, LABELS)
    assert "\n" not in str(e.value)


def test_missing_sample_file_names_the_setting(tmp_path):
    with pytest.raises(DataError, match="scoring.reference.file .* does not exist; draw one with `auditor sample"):
        read_verified_sample(tmp_path / "nope.jsonl", LABELS)


def test_sample_must_match_audited_sentences():
    ids, offsets = np.array(["a", "b"], dtype=object), np.array([0, 2, 5])
    with pytest.raises(DataError, match="'c' .* is not an audited sentence"):
        verified_words(ids, offsets, VerifiedSample({"c": np.array([0])}))
    with pytest.raises(DataError, match="has 1 tags but the corpus sentence has 3 words"):
        verified_words(ids, offsets, VerifiedSample({"b": np.array([0])}))
    mask, tags = verified_words(ids, offsets, VerifiedSample({"b": np.array([0, 1, 2])}))
    assert mask.tolist() == [False, False, True, True, True] and tags[2:].tolist() == [0, 1, 2]


# --- through score_corpus ---------------------------------------------------------------------


def test_a_wrong_convention_the_model_agrees_with_is_found_through_the_sample(world):
    rows, corpus, preds, vectors, sample = world
    plain = score_corpus(corpus, preds, ScoringConfig(), progress=False)
    assert plain.issues.empty  # the model agrees with every given tag: nothing to see

    cfg = ScoringConfig(reference=ReferenceConfig(file=str(sample)))
    result = score_corpus(corpus, preds, cfg, progress=False, vectors=vectors)
    issues = result.issues
    verified_ids = {json.loads(line)["id"] for line in sample.read_text().splitlines()}
    sport = {r["id"] for r in rows if r["kind"] == "sport"}
    flagged = set(issues["id"])
    assert flagged == sport  # every match report, no politics sentence
    assert all(list(s) == ["B-ORG"] for s in issues["suggested"])
    # the sample's own corrections are known errors: first in the queue
    n_verified_sport = len(verified_ids & sport)
    assert set(issues["id"].head(2 * n_verified_sport)) == verified_ids & sport
    verified_rows = issues["id"].isin(verified_ids)
    assert (issues.loc[verified_rows, "reference_score"] == 0.0).all()  # the curator's own corrections
    assert issues.loc[~verified_rows, "reference_score"].between(0.0, 0.85, inclusive="neither").all()
    # each doubt names a corrected verified word it rests on, in its sentence, with the change
    for example in issues.loc[~verified_rows, "reference_example"]:
        assert example.startswith("“") and " beat " in example and example.endswith("(B-LOC→B-ORG, verified sample)")
    assert (issues.loc[verified_rows, "reference_example"] == "").all()
    ref = result.summary.reference
    assert ref["verified_sentences"] == 18 and ref["corrected_sentences"] == 6 and ref["weight"] > 0
    assert result.summary.to_dict()["reference"] == ref


def test_detection_quality_leaves_the_verified_sentences_out(world):
    rows, corpus, preds, vectors, sample = world
    cfg = ScoringConfig(reference=ReferenceConfig(file=str(sample)))
    result = score_corpus(corpus, preds, cfg, progress=False, vectors=vectors)
    report = evaluate_detection(corpus, result.issues, preds, cfg, vectors=vectors)
    assert report.n_sentences == len(rows) - 18
    assert report.n_error_sentences == 30 - 6
    assert report.row("sentence", "combined").ap == pytest.approx(1.0)
    baseline = ScoringConfig(reference=ReferenceConfig(file=str(sample), weight=0))
    base = evaluate_detection(corpus, result.issues, preds, baseline, vectors=vectors)
    assert base.n_sentences == report.n_sentences
    assert base.row("sentence", "combined").ap < 0.6  # without the evidence: about the error rate


def test_evidence_weighed_zero_flags_only_the_samples_own_corrections(world):
    _, corpus, preds, vectors, sample = world
    cfg = ScoringConfig(reference=ReferenceConfig(file=str(sample), weight=0))
    issues = score_corpus(corpus, preds, cfg, progress=False, vectors=vectors).issues
    verified = {json.loads(line)["id"] for line in sample.read_text().splitlines()}
    assert len(issues) and set(issues["id"]) <= verified  # the known errors, nothing spread


def test_a_fixed_weight_is_used_as_given(world):
    _, corpus, preds, vectors, sample = world
    cfg = ScoringConfig(reference=ReferenceConfig(file=str(sample), weight=3.0))
    ref = score_corpus(corpus, preds, cfg, progress=False, vectors=vectors).summary.reference
    assert ref["weight"] == 3.0 and ref["fit_sentence_ap"] == {}


def test_reference_without_vectors_is_a_config_error(world):
    _, corpus, preds, _, sample = world
    with pytest.raises(ConfigError, match="encoder vectors"):
        score_corpus(corpus, preds, ScoringConfig(reference=ReferenceConfig(file=str(sample))), progress=False)


def test_vectors_must_cover_every_audited_sentence(world):
    rows, corpus, preds, vectors, sample = world
    short = SentenceVectors(vectors.ids[:-1], vectors.offsets[:-1], vectors.vectors)
    with pytest.raises(DataError, match="no word vectors for sentence"):
        score_corpus(corpus, preds, ScoringConfig(reference=ReferenceConfig(file=str(sample))), progress=False, vectors=short)


def test_sample_with_other_words_than_the_corpus_is_refused():
    ids, offsets = np.array(["a"], dtype=object), np.array([0, 2])
    sample = VerifiedSample({"a": np.array([0, 0])}, "s.jsonl", {"a": ["Paris", "rain"]})
    with pytest.raises(DataError, match="other words than the corpus sentence"):
        verified_words(ids, offsets, sample, np.array(["Rome", "rain"], dtype=object))
    mask, _ = verified_words(ids, offsets, sample, np.array(["Paris", "rain"], dtype=object))
    assert mask.all()


def test_drawn_sample_is_seeded_random_and_spans_every_audited_split(world):
    from auditor.data.sample import draw_sample

    rows, corpus, *_ = world
    corpus = DatasetDict({"train": corpus["train"], "dev": corpus["train"].map(lambda r: {"id": "dev-" + r["id"]})})
    a = draw_sample(corpus, ["train", "dev"], 40, seed=3)
    assert [r.id for r in a] == [r.id for r in draw_sample(corpus, ["train", "dev"], 40, seed=3)]
    assert [r.id for r in a] != [r.id for r in draw_sample(corpus, ["train", "dev"], 40, seed=4)]
    assert len({r.id for r in a}) == 40
    assert any(r.id.startswith("dev-") for r in a) and any(r.id.startswith("en/") for r in a)
    assert set(a[0].tags) <= set(LABELS) and len(a[0].tokens) == len(a[0].tags)
    assert a[0].given == a[0].tags and not any(r.verified for r in a)  # nothing is verified yet
    assert len(draw_sample(corpus, ["train"], 10_000)) == len(rows)
    with pytest.raises(DataError, match="no split"):
        draw_sample(corpus, ["test"], 5)


def test_only_verified_lines_count(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text(
        '{"id": "a", "ner_tags": ["B-LOC"], "verified": true}\n'
        '{"id": "b", "ner_tags": ["B-ORG"], "verified": false}\n'
        '{"id": "c", "ner_tags": ["O"]}\n'  # a hand-made line: whoever wrote the tags checked them
    )
    sample = read_verified_sample(p, LABELS)
    assert sorted(sample.tags) == ["a", "c"]
    p.write_text('{"id": "b", "ner_tags": ["B-ORG"], "verified": false}\n')
    with pytest.raises(DataError, match="none of its 1 sentences is verified yet; check them with `auditor verify"):
        read_verified_sample(p, LABELS)


def test_the_evidence_suggests_and_quotes_only_where_it_doubts():
    """One rule for the score, the suggestion and the why-text: a faint corrected neighbour
    (quality above REFERENCE_FLAG_BELOW) is no doubt, so it offers no tag and no example; a
    weight of 0 says nothing outside the sample."""
    from auditor.scoring.reference import (
        REFERENCE_FLAG_BELOW,
        ReferenceEvidence,
        _speaks_where_it_doubts,
    )

    def evidence(weight):
        return ReferenceEvidence(
            quality=np.array([0.996, 0.5, 0.0, 1.0]), suggestion=np.array([3, 3, 3, -1]),
            verified=np.array([False, False, True, True]), verified_tags=np.array([-1, -1, 3, 1]),
            example=np.array([2, 2, -1, -1]), weight=weight, n_sentences=1, n_corrected_sentences=1,
        )

    ev = _speaks_where_it_doubts(evidence(1.0))
    assert ev.suggestion.tolist() == [-1, 3, 3, -1] and ev.example.tolist() == [-1, 2, -1, -1]
    assert ev.quality.tolist() == [0.996, 0.5, 0.0, 1.0]  # the score still weighs every word
    assert (ev.doubted() == _speaks_where_it_doubts(ev).doubted()).all()  # applying it twice changes nothing
    zero = _speaks_where_it_doubts(evidence(0.0))
    assert zero.quality.tolist() == [1.0, 1.0, 0.0, 1.0] and zero.suggestion.tolist() == [-1, -1, 3, -1]
    assert (zero.example == -1).all() and zero.doubted().tolist() == [-1, -1, 3, -1]
    assert REFERENCE_FLAG_BELOW < 0.996


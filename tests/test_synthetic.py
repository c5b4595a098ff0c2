"""The synthetic demo corpus and the corpus builder on top of it."""

from __future__ import annotations

from collections import Counter

import pytest

from auditor.config import DataConfig, SyntheticConfig
from auditor.data.build import load_corpus
from auditor.data.corpus import CLEAN_COLUMN, has_clean_tags, label_names
from auditor.data.iob import spans, violations
from auditor.data.synthetic import LABEL_NAMES, NOISE_KINDS, generate_synthetic, noise_report
from auditor.errors import DataError

LANGS = ["de", "fr", "it", "en"]


@pytest.fixture(scope="module")
def corpus():
    return generate_synthetic(SyntheticConfig(), LANGS, seed=0)


def _tags(ds, column):
    names = ds.features[column].feature.names
    return [[names[t] for t in row] for row in ds[column]]


def test_shape_and_columns(corpus):
    assert set(corpus) == {"train", "validation", "test"}
    for split, n in SyntheticConfig().sentences.items():
        ds = corpus[split]
        assert ds.column_names == ["id", "tokens", "ner_tags", "lang", CLEAN_COLUMN]
        assert ds.num_rows == n * len(LANGS)
        assert Counter(ds["lang"]) == {lang: n for lang in LANGS}
        assert ds.features[CLEAN_COLUMN] == ds.features["ner_tags"]
    assert label_names(corpus) == LABEL_NAMES
    assert set(LABEL_NAMES) == {"O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"}
    assert has_clean_tags(corpus)
    assert corpus["train"][0]["id"] == "de/train/000000"
    assert len(set(corpus["train"]["id"])) == corpus["train"].num_rows


def test_sentences_are_pan_x_like(corpus):
    ds = corpus["train"]
    lengths = [len(t) for t in ds["tokens"]]
    assert min(lengths) >= 5 and max(lengths) <= 25
    clean = _tags(ds, CLEAN_COLUMN)
    types = Counter(t for tags in clean for _, _, t in spans(tags))
    assert set(types) == {"PER", "ORG", "LOC"} and min(types.values()) > 300
    text = [" ".join(t) for t in ds["tokens"]]
    assert any("Juli" in s for s in text)  # German dates such as "8. Juli"
    assert any(" ( " in s for s in text)  # parentheses
    assert any("United Nations" in s for s in text) and any("Vereinte Nationen" in s for s in text)


def test_every_tag_sequence_is_valid_iob2(corpus):
    for split in corpus:
        for column in ("ner_tags", CLEAN_COLUMN):
            assert all(not violations(tags) for tags in _tags(corpus[split], column))


def test_deterministic_for_a_seed_and_different_across_seeds():
    cfg = SyntheticConfig(sentences={"train": 50})
    a = generate_synthetic(cfg, ["de", "en"], seed=3)
    b = generate_synthetic(cfg, ["de", "en"], seed=3)
    c = generate_synthetic(cfg, ["de", "en"], seed=4)
    assert a["train"].to_list() == b["train"].to_list()
    assert a["train"]["tokens"] != c["train"]["tokens"]


@pytest.mark.parametrize("rate", [0.05, 0.1, 0.3])
def test_noise_rate_is_honoured_on_noisy_splits_only(rate):
    cfg = SyntheticConfig(sentences={"train": 400, "test": 100}, noise_rate=rate, noisy_splits=["train"])
    ds = generate_synthetic(cfg, LANGS, seed=1)
    train = ds["train"]
    noisy = sum(g != c for g, c in zip(train["ner_tags"], train[CLEAN_COLUMN]))
    assert noisy / train.num_rows == pytest.approx(rate, abs=0.01)
    assert all(g == c for g, c in zip(ds["test"]["ner_tags"], ds["test"][CLEAN_COLUMN]))


def test_each_noise_kind_appears_and_type_swaps_are_partly_systematic(corpus):
    records = noise_report(corpus["train"])
    kinds = Counter(k for r in records for k in r.kinds)
    assert set(NOISE_KINDS) <= set(kinds)
    assert len(records) == round(0.1 * corpus["train"].num_rows)
    # the same surface form mislabelled the same way in several sentences
    rows = {r["id"]: r for r in corpus["train"]}
    swapped = Counter()
    for rec in records:
        for d in rec.diffs:
            if d.kind == "type":
                a, b, t = d.given
                swapped[(" ".join(rows[rec.id]["tokens"][a:b]), d.clean[2], t)] += 1
    assert swapped.most_common(1)[0][1] >= 5
    assert ("United Nations", "ORG", "PER") in swapped
    # a swallowed parenthesis is among the boundary errors
    assert any(
        d.kind == "boundary" and rows[rec.id]["tokens"][d.given[1] - 1] == ")" for rec in records for d in rec.diffs
    )
    # spurious dates
    assert any(d.kind == "spurious" and rows[rec.id]["tokens"][d.given[0]][:-1].isdigit() for rec in records for d in rec.diffs)


def test_noise_report_needs_clean_tags(corpus):
    with pytest.raises(DataError):
        noise_report(corpus["train"].remove_columns(CLEAN_COLUMN))


def test_generation_of_a_demo_sized_split():
    # speed is measured in benchmarks/, not asserted here
    ds = generate_synthetic(SyntheticConfig(sentences={"train": 600}), LANGS, seed=0)["train"]
    assert len(ds) == 600 * len(LANGS)


def test_unknown_language_is_a_data_error():
    with pytest.raises(DataError, match="xx"):
        generate_synthetic(SyntheticConfig(), ["de", "xx"], seed=0)


def test_load_corpus_synthetic_applies_fractions_and_keeps_ids():
    full = load_corpus(DataConfig(languages={"de": 1.0, "fr": 1.0}))
    cfg = DataConfig(languages={"de": 0.5, "fr": 0.25})
    part = load_corpus(cfg)
    n = SyntheticConfig().sentences["train"]
    assert Counter(part["train"]["lang"]) == {"de": int(0.5 * n), "fr": int(0.25 * n)}
    # ids name the same sentence as in the unsampled corpus
    by_id = {r["id"]: r["tokens"] for r in full["train"]}
    assert all(by_id[r["id"]] == r["tokens"] for r in part["train"])
    assert part["train"]["id"] == load_corpus(cfg)["train"]["id"]
    assert part["train"]["id"] != load_corpus(cfg.model_copy(update={"seed": 1}))["train"]["id"]


def test_load_corpus_caps_sentences_proportionally():
    cfg = DataConfig(languages={"de": 1.0, "en": 0.5}, max_sentences=90, splits=["train", "test"])
    ds = load_corpus(cfg)
    assert set(ds) == {"train", "test"}
    assert ds["train"].num_rows == 90
    assert Counter(ds["train"]["lang"]) == {"de": 60, "en": 30}
    # a capped sample is a subset of the uncapped one
    uncapped = set(load_corpus(cfg.model_copy(update={"max_sentences": None}))["train"]["id"])
    assert set(ds["train"]["id"]) <= uncapped

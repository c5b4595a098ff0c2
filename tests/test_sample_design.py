"""A verified test sample drawn where the before and after taggers disagree: the draw, the
weights each sentence gets, the weighted F1 and its stratified bootstrap, the test
predictions the draw reads, and `auditor sample --where disagree`."""

from __future__ import annotations

import numpy as np
import pytest

from auditor.data.corpus import label_names
from auditor.data.sample import draw_sample, read_sample, write_sample
from auditor.data.synthetic import generate_synthetic
from auditor.errors import DataError
from auditor.evaluation import bootstrap_f1, micro_f1, paired_bootstrap_delta, seqeval_scores, weighted_scores
from auditor.sample_design import FOCUS_SHARE, SampleDesign, design_from_strata, is_focus
from auditor.test_predictions import TestPrediction, disagreement_mask, read_test_predictions, write_test_predictions
from auditor.verified_test import read_verified_test


@pytest.fixture(scope="module")
def corpus():
    from auditor.config import SyntheticConfig

    return generate_synthetic(SyntheticConfig(sentences={"train": 10, "test": 60}, noise_rate=0.2), ["de", "fr"], seed=0)


def _focus(corpus, every: int = 4) -> np.ndarray:
    return np.arange(len(corpus["test"])) % every == 0


# --- the weights ------------------------------------------------------------------------------


def test_each_verified_sentence_stands_for_its_strata_share():
    d = design_from_strata(["a", "b", "a", "b", "b"], {"a": 10, "b": 3})
    assert d.weights.tolist() == [5.0, 1.0, 5.0, 1.0, 1.0]  # 10 / 2 and 3 / 3
    assert d.fraction.tolist() == [0.2, 1.0, 0.2, 1.0, 1.0]
    assert d.weights.sum() == 13  # the whole test split
    sub = d.subset([4, 0])  # one language's sentences keep the weight of their place in the sample
    assert sub.weights.tolist() == [1.0, 5.0] and len(sub) == 2
    with pytest.raises(ValueError, match="stratum 'a' has 3 verified sentences but only 2"):
        design_from_strata(["a", "a", "a"], {"a": 2})
    with pytest.raises(ValueError, match="2 strata, 1 weights"):
        SampleDesign(np.zeros(2, dtype=int), np.ones(1), np.ones(2))


def test_the_rescaled_bootstrap_keeps_a_census_fixed_and_is_unbiased():
    d = design_from_strata(["a"] * 5 + ["b"] * 20, {"a": 5, "b": 200})
    w = d.bootstrap_weights(4000, np.random.default_rng(0))
    assert w.shape == (4000, 25) and (w >= 0).all()
    assert (w[:, :5] == 1.0).all()  # stratum a was verified in full: it is the population, no noise
    assert w[:, 5:].mean(axis=0) == pytest.approx(np.full(20, 10.0), rel=0.05)  # E[w*] = w
    assert w[:, 5:].sum(axis=1).std() < 1e-9  # the stratum's total is fixed by design (n_h draws, rescaled)
    assert w[:, 5:].std() > 1.0


def test_a_stratum_with_one_verified_sentence_is_pooled_so_its_noise_shows():
    # one verified sentence stands for 100: resampled alone it would always be itself, and the
    # interval would leave its stratum's noise out; pooled with its language's other stratum,
    # its weight varies across resamples (and stays unbiased)
    strata = ["agree/de"] + ["disagree/de"] * 6 + ["agree/fr"] * 3 + ["disagree/fr"] * 3
    d = design_from_strata(strata, {"agree/de": 100, "disagree/de": 30, "agree/fr": 50, "disagree/fr": 10})
    assert d.weights[0] == 100.0  # the point estimate is untouched
    assert len(set(d.groups[:7])) == 1 and len(set(d.groups[7:])) == 2  # only de's one-line stratum is pooled
    w = d.bootstrap_weights(4000, np.random.default_rng(0))
    assert w[:, 0].std() > 10.0
    assert w[:, 0].mean() == pytest.approx(100.0, rel=0.05)
    assert d.subset([0, 3]).groups.tolist() == [d.groups[0]] * 2  # a language's subset keeps the pooling
    # a stratum verified in full stays the population, one sentence or not
    census = design_from_strata(["agree/de", "disagree/de", "disagree/de"], {"agree/de": 1, "disagree/de": 20})
    assert (census.bootstrap_weights(100, np.random.default_rng(0))[:, 0] == 1.0).all()


# --- the weighted F1 --------------------------------------------------------------------------

TRUE = [["B-PER", "O"], ["B-LOC", "O"], ["B-PER", "I-PER"], ["O", "B-ORG"]]
PRED = [["B-PER", "O"], ["B-PER", "O"], ["B-PER", "O"], ["O", "B-ORG"]]


def test_equal_weights_give_seqeval_and_a_weight_counts_a_sentence_twice():
    plain = seqeval_scores(TRUE, PRED)
    same = weighted_scores(TRUE, PRED, np.full(4, 3.0))
    assert (same.f1, same.precision, same.recall, same.support) == pytest.approx((plain.f1, plain.precision, plain.recall, plain.support))
    assert {t: s.f1 for t, s in same.per_type.items()} == pytest.approx({t: s.f1 for t, s in plain.per_type.items()})
    doubled = weighted_scores(TRUE, PRED, np.array([1.0, 2.0, 1.0, 1.0]))
    assert doubled.f1 == pytest.approx(seqeval_scores(TRUE + [TRUE[1]], PRED + [PRED[1]]).f1)
    with pytest.raises(ValueError, match="3 weights"):
        weighted_scores(TRUE, PRED, np.ones(3))


def test_a_design_weights_the_point_and_a_census_has_no_width():
    equal = design_from_strata(["a"] * 4, {"a": 40})
    assert bootstrap_f1(TRUE, PRED, design=equal).f1 == pytest.approx(bootstrap_f1(TRUE, PRED).f1)
    census = design_from_strata(["a"] * 4, {"a": 4})
    iv = bootstrap_f1(TRUE, PRED, design=census)
    assert iv.low == iv.high == iv.f1
    weighted = design_from_strata(["a", "b", "a", "a"], {"a": 3, "b": 10})
    assert bootstrap_f1(TRUE, PRED, design=weighted).f1 == pytest.approx(weighted_scores(TRUE, PRED, weighted.weights).f1)
    with pytest.raises(ValueError, match="design has 2 sentences but 4"):
        paired_bootstrap_delta(TRUE, PRED, TRUE, design=design_from_strata(["a", "a"], {"a": 2}))


def test_counts_taken_once_give_the_same_interval_as_the_tags():
    from auditor.evaluation import entity_counts, paired_counts_delta

    design = design_from_strata(["a", "b", "a", "a"], {"a": 30, "b": 5})
    for d in (None, design):
        tags = paired_bootstrap_delta(TRUE, PRED, TRUE, n_boot=50, seed=3, design=d)
        counts = paired_counts_delta(entity_counts(TRUE, PRED), entity_counts(TRUE, TRUE), n_boot=50, seed=3, design=d)
        assert tags == counts
    with pytest.raises(ValueError, match="shape"):
        paired_counts_delta(entity_counts(TRUE, PRED), entity_counts(TRUE[:2], PRED[:2]))


def _population(n: int = 400, n_disagree: int = 60, seed: int = 0):
    """n sentences with one PER each; 'before' misses a random fifth of them, 'after' fixes two
    thirds of before's misses among the first n_disagree and breaks the rest there."""
    rng = np.random.default_rng(seed)
    true = [["B-PER", "O"] for _ in range(n)]
    before = [["B-PER", "O"] if rng.random() > 0.2 else ["O", "O"] for _ in range(n)]
    after = [list(b) for b in before]
    for i in range(n_disagree):
        after[i] = ["B-PER", "O"] if before[i] == ["O", "O"] and rng.random() < 0.67 else ["O", "B-LOC"]
    return true, before, after


def test_a_draw_where_the_taggers_disagree_measures_the_change_far_tighter():
    """The behaviour the draw exists for: the weighted estimate of after - before from a sample
    drawn mostly where the taggers disagree is centred on the whole split's difference and its
    spread over draws is a fraction of a uniform sample's of the same size."""
    true, before, after = _population()
    full = micro_f1(_counts(true, after)) - micro_f1(_counts(true, before))
    focus = np.array([b != a for b, a in zip(before, after)])
    hot, cold = np.flatnonzero(focus), np.flatnonzero(~focus)
    k_hot = int(np.ceil(FOCUS_SHARE * 40))
    uniform, focused = [], []
    for d in range(60):
        rng = np.random.default_rng(d)
        idx = rng.choice(len(true), 40, replace=False)
        uniform.append(paired_bootstrap_delta(*_at(idx, true, before, after), n_boot=1).f1)
        idx = np.concatenate([rng.choice(hot, k_hot, replace=False), rng.choice(cold, 40 - k_hot, replace=False)])
        design = design_from_strata(["d"] * k_hot + ["a"] * (40 - k_hot), {"d": len(hot), "a": len(cold)})
        focused.append(paired_bootstrap_delta(*_at(idx, true, before, after), n_boot=1, design=design).f1)
    assert abs(np.mean(focused) - full) < 0.01
    assert np.std(focused) < 0.5 * np.std(uniform)


def _counts(true, pred):
    from auditor.evaluation import entity_counts

    return entity_counts(true, pred).sum(axis=0)


def _at(idx, *lists):
    return [[xs[i] for i in idx] for xs in lists]


# --- the draw ---------------------------------------------------------------------------------


def test_a_focus_draw_takes_most_of_each_language_where_the_taggers_disagree(corpus):
    focus = _focus(corpus)  # a quarter of the test sentences
    rows = draw_sample(corpus, ["test"], 20, seed=2, by_language=True, focus=focus)
    assert len(rows) == 20
    position = {sid: i for i, sid in enumerate(corpus["test"]["id"])}
    for r in rows:
        lang, hot = r.lang, bool(focus[position[r.id]])
        assert r.extra["stratum"] == f"{'disagree' if hot else 'agree'}/{lang}"
        langs = np.asarray(corpus["test"]["lang"])
        assert r.extra["stratum_size"] == int(((langs == lang) & (focus == hot)).sum())
    hot = sum(is_focus(r.extra["stratum"]) for r in rows)
    assert hot == sum(int(np.ceil(FOCUS_SHARE * k)) for k in (10, 10))  # 8 of each language's 10
    assert [r.id for r in rows] == [r.id for r in draw_sample(corpus, ["test"], 20, seed=2, by_language=True, focus=focus)]
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    # weights add up to the whole test split: every sentence is stood for once
    design = design_from_strata([r.extra["stratum"] for r in rows], {r.extra["stratum"]: r.extra["stratum_size"] for r in rows})
    assert design.weights.sum() == pytest.approx(len(corpus["test"]))


def test_a_focus_draw_keeps_both_strata_and_fills_from_either_when_one_runs_short(corpus):
    n = len(corpus["test"])
    few = np.zeros(n, dtype=bool)
    few[:2] = True  # two disagreeing sentences: all of them, the rest from the others
    rows = draw_sample(corpus, ["test"], 12, seed=0, focus=few)
    assert len(rows) == 12 and sum(is_focus(r.extra["stratum"]) for r in rows) == 2
    assert {r.extra["stratum"] for r in rows} == {"disagree", "agree"}  # not by language: two strata
    most = ~few  # nearly all disagree: still one 'agree' sentence, so that stratum is stood for
    rows = draw_sample(corpus, ["test"], 4, seed=0, focus=most)
    assert sum(not is_focus(r.extra["stratum"]) for r in rows) == 1
    none = np.zeros(n, dtype=bool)
    assert len(draw_sample(corpus, ["test"], 5, seed=0, focus=none)) == 5
    with pytest.raises(DataError, match="focus mask has 3 entries but the split"):
        draw_sample(corpus, ["test"], 5, focus=np.ones(3, dtype=bool))


# --- reading a weighted sample --------------------------------------------------------------


def _weighted_file(corpus, path, verify_every: int = 1):
    rows = draw_sample(corpus, ["test"], 20, seed=2, by_language=True, focus=_focus(corpus))
    seen: set[str] = set()
    for i, r in enumerate(rows):  # every verify_every-th line, and each stratum's first
        r.verified = i % verify_every == 0 or r.extra["stratum"] not in seen
        seen.add(r.extra["stratum"])
    write_sample(path, rows)
    return rows


def test_a_weighted_sample_reads_back_with_its_design(corpus, tmp_path):
    path = tmp_path / "t.jsonl"
    rows = _weighted_file(corpus, path, verify_every=2)
    vt = read_verified_test(path, corpus["test"], label_names(corpus))
    assert vt.design is not None and len(vt.design) == len(vt) == sum(r.verified for r in rows) < 20
    verified = [r for r in rows if r.verified]
    counts = {s: sum(r.extra["stratum"] == s for r in verified) for s in {r.extra["stratum"] for r in verified}}
    # partly verified: each verified sentence stands for its stratum's size over the verified ones
    assert vt.design.weights.tolist() == [r.extra["stratum_size"] / counts[r.extra["stratum"]] for r in verified]
    ids = [verified[3].id, verified[0].id]
    assert vt.design_of(ids).weights.tolist() == [vt.design.weights[3], vt.design.weights[0]]
    # a stratum drawn but with no verified line yet would count for nothing: said, not guessed
    for r in rows:
        r.verified = not is_focus(r.extra["stratum"]) or r.lang == "de"
    write_sample(path, rows)
    with pytest.raises(DataError, match="no sentence of stratum 'disagree/fr' is verified yet.*verify at least one"):
        read_verified_test(path, corpus["test"], label_names(corpus))
    # a uniform sample has no design
    write_sample(path, draw_sample(corpus, ["test"], 4, seed=0, by_language=True))
    plain = read_sample(path)
    for r in plain:
        r.verified = True
    write_sample(path, plain)
    assert read_verified_test(path, corpus["test"], label_names(corpus)).design is None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda rows: rows[0].extra.pop("stratum"), "has no 'stratum' but other lines do"),
        (lambda rows: rows[0].extra.update(stratum_size=0), "'stratum_size' must be a whole number >= 1"),
        (lambda rows: rows[0].extra.update(stratum_size="9"), "'stratum_size' must be a whole number >= 1"),
        (lambda rows: rows[0].extra.update(stratum_size=rows[0].extra["stratum_size"] + 1), "has two sizes"),
        (lambda rows: [r.extra.update(stratum_size=1) for r in rows if r.extra["stratum"] == rows[0].extra["stratum"]],
         "verified sentences but only 1 in the test split"),
    ],
)
def test_a_damaged_weighted_sample_is_one_line(corpus, tmp_path, edit, message):
    path = tmp_path / "t.jsonl"
    rows = _weighted_file(corpus, path)
    edit(rows)
    write_sample(path, rows)
    with pytest.raises(DataError, match=message):
        read_verified_test(path, corpus["test"], label_names(corpus))


# --- the test predictions ---------------------------------------------------------------------


def test_test_predictions_round_trip_and_say_where_the_taggers_disagree(tmp_path):
    rows = [
        TestPrediction("all", "before", "t/0", ["B-PER", "O"]),
        TestPrediction("all", "after", "t/0", ["B-PER", "O"]),
        TestPrediction("all", "before", "t/1", ["O", "O"]),
        TestPrediction("all", "after", "t/1", ["B-LOC", "O"]),
        TestPrediction("de", "before", "t/2", ["O"]),  # another experiment disagrees on t/2
        TestPrediction("de", "after", "t/2", ["B-ORG"]),
        TestPrediction("fr", "before", "t/0", ["O", "O"]),  # no 'after' in fr: it says nothing
    ]
    path = tmp_path / "p.parquet"
    write_test_predictions(path, rows)
    back = read_test_predictions(path)
    assert back == rows
    assert disagreement_mask(back, ["t/0", "t/1", "t/2", "t/3"]).tolist() == [False, True, True, False]
    with pytest.raises(DataError, match="'t/9' .* is not in the test split"):
        disagreement_mask([*rows, TestPrediction("all", "after", "t/9", ["O"])], ["t/0", "t/1", "t/2"])
    with pytest.raises(DataError, match="no experiment with both a before and an after tagger"):
        disagreement_mask([r for r in rows if r.model == "before"], ["t/0"])
    with pytest.raises(DataError, match="no test predictions yet; run the pipeline through the retrain stage"):
        read_test_predictions(tmp_path / "none.parquet")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(DataError, match="cannot read test predictions"):
        read_test_predictions(tmp_path / "bad.parquet")


# --- the command ------------------------------------------------------------------------------


def test_sample_where_disagree_draws_from_the_runs_test_predictions(corpus, tmp_path):
    from typer.testing import CliRunner

    from auditor.cli import app
    from auditor.run_dir import RunDir

    run = tmp_path / "run"
    corpus.save_to_disk(str(run / "corpus"))
    out = tmp_path / "t.jsonl"
    args = ["sample", str(run), "--split", "test", "--where", "disagree", "--n", "8", "--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code != 0 and "no test predictions yet" in str(res.exception) and not out.exists()

    names = label_names(corpus)
    preds = []
    for i, r in enumerate(corpus["test"]):
        tags = [names[t] for t in r["ner_tags"]]
        preds += [TestPrediction("all", "before", r["id"], tags),
                  TestPrediction("all", "after", r["id"], tags if i % 6 else ["O"] * len(tags))]
    write_test_predictions(RunDir(run).test_predictions, preds)
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "where the taggers disagree, weighted" in res.output
    rows = read_sample(out)
    assert len(rows) == 8 and all("stratum" in r.extra and "stratum_size" in r.extra for r in rows)
    assert sum(is_focus(r.extra["stratum"]) for r in rows) == 6  # ceil(0.75 * 4) per language, of 5 each

    res = CliRunner().invoke(app, ["sample", str(run), "--where", "disagree", "--out", str(tmp_path / "x.jsonl")])
    assert res.exit_code != 0 and "add --split test" in str(res.exception)
    res = CliRunner().invoke(app, ["sample", str(run), "--split", "test", "--where", "most", "--out", str(tmp_path / "x.jsonl")])
    assert res.exit_code == 2 and "'most' is not one of 'disagree'" in res.output, res.output  # a choice, listed in --help

"""Retrain before/after cleaning and cross-lingual seqeval scores (auditor.evaluation)."""

from __future__ import annotations

import json

import pytest
from datasets import DatasetDict, Value

from auditor.config import Experiment, PipelineConfig, config_from_dict
from auditor.data.corpus import CLEAN_COLUMN
from auditor.data.synthetic import generate_synthetic
from auditor.errors import DataError
from auditor.evaluation import (
    RetrainResult,
    plan_experiments,
    primary_labels,
    run_retrain,
    seqeval_scores,
)
from auditor.modeling.training import load_tagger

# --- seqeval_scores on hand-made tags ----------------------------------------------------


def test_seqeval_scores_exact_numbers():
    true = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-PER"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O", "O"]]
    s = seqeval_scores(true, pred)
    # true entities: PER(0,2) LOC(3) ORG(0) PER(2) = 4; predicted: PER(0,2) ORG(3) ORG(0) = 3; correct 2
    assert s.support == 4
    assert s.precision == pytest.approx(2 / 3)
    assert s.recall == pytest.approx(2 / 4)
    assert s.f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert list(s.per_type) == ["LOC", "ORG", "PER"]
    assert s.per_type["LOC"].support == 1 and s.per_type["LOC"].f1 == 0.0
    assert s.per_type["ORG"].precision == pytest.approx(0.5) and s.per_type["ORG"].recall == 1.0
    assert s.per_type["PER"].precision == 1.0 and s.per_type["PER"].recall == 0.5
    assert s.per_type["PER"].support == 2


def test_seqeval_scores_boundary_error_is_a_miss_and_default_mode_accepts_lone_i():
    # a boundary error counts as one false positive and one false negative
    s = seqeval_scores([["B-ORG", "I-ORG", "O"]], [["B-ORG", "O", "O"]])
    assert (s.precision, s.recall, s.f1, s.support) == (0.0, 0.0, 0.0, 1)
    # default (conlleval) mode: an I-X after O opens an entity instead of being dropped
    s = seqeval_scores([["O", "B-LOC", "I-LOC"]], [["O", "I-LOC", "I-LOC"]])
    assert s.f1 == 1.0


def test_seqeval_scores_perfect_and_empty():
    tags = [["B-PER", "O"], ["O", "B-LOC", "I-LOC"]]
    s = seqeval_scores(tags, tags)
    assert (s.precision, s.recall, s.f1, s.support) == (1.0, 1.0, 1.0, 2)
    empty = seqeval_scores([["O", "O"]], [["O", "O"]])
    assert (empty.f1, empty.support, empty.per_type) == (0.0, 0, {})


def test_seqeval_scores_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="sentence 0"):
        seqeval_scores([["O", "O"]], [["O"]])
    with pytest.raises(ValueError, match="2 true sentences"):
        seqeval_scores([["O"], ["O"]], [["O"]])


# --- experiment planning -----------------------------------------------------------------


def test_plan_experiments_expands_each_and_all_and_names_uniquely():
    langs = ["de", "fr", "it"]
    plans = plan_experiments(
        [
            Experiment(train=["de"], test=["de", "fr"]),
            Experiment(train="each"),
            Experiment(train="all"),
            Experiment(train=["de"], test=["de", "fr"]),  # exact duplicate: dropped
        ],
        langs,
    )
    assert [(p.name, p.train, p.test) for p in plans] == [
        ("de", ["de"], ["de", "fr"]),
        ("de-2", ["de"], langs),
        ("fr", ["fr"], langs),
        ("it", ["it"], langs),
        ("all", langs, langs),
    ]


def test_plan_experiments_unknown_language_is_a_clear_error():
    with pytest.raises(DataError, match="language 'xx' is not in the corpus"):
        plan_experiments([Experiment(train=["xx"])], ["de", "fr"])


# --- retraining with the tiny model -------------------------------------------------------


def _cfg(run_dir, sentences, experiments, epochs=1, tiny=None, noise=0.3, **training) -> PipelineConfig:
    return config_from_dict(
        {
            "name": "t",
            "runs_dir": str(run_dir.parent),
            "data": {
                "source": "synthetic",
                "languages": {"de": 1.0, "fr": 1.0},
                "synthetic": {"sentences": sentences, "noise_rate": noise},
            },
            "model": {
                "name": "tiny",
                "max_length": 64,
                "stride": 16,
                "tiny": tiny or {"vocab_size": 300, "hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64},
            },
            "training": {"epochs": epochs, "batch_size": 16, "learning_rate": 3e-3, "warmup": 0.0, "seed": 3, **training},
            "retrain": {"experiments": experiments},
        }
    )


def _oracle_cleaned(corpus: DatasetDict) -> DatasetDict:
    """The cleaned-corpus shape (original_ner_tags, changed) with every train tag set to the clean tag."""

    def clean(row):
        return {
            "original_ner_tags": row["ner_tags"],
            "ner_tags": row[CLEAN_COLUMN],
            "changed": row["ner_tags"] != row[CLEAN_COLUMN],
        }

    out = {}
    for split, ds in corpus.items():
        if split == "train":
            features = ds.features.copy()
            features["original_ner_tags"] = ds.features["ner_tags"]
            features["changed"] = Value("bool")
            ds = ds.map(clean, features=features)
        out[split] = ds
    return DatasetDict(out)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("retrain") / "t"
    cfg = _cfg(run_dir, {"train": 40, "validation": 10, "test": 12}, [{"train": ["de"], "test": "all"}])
    corpus = generate_synthetic(cfg.data.synthetic, list(cfg.data.languages), seed=0)
    result = run_retrain(corpus, _oracle_cleaned(corpus), cfg, run_dir, progress=False)
    return cfg, corpus, run_dir, result


def test_retrain_scores_every_test_language_both_models_and_label_sets(small_run):
    cfg, corpus, run_dir, result = small_run
    [exp] = result.experiments
    assert (exp.name, exp.train, exp.test) == ("de", ["de"], ["de", "fr"])
    got = {(r.model, r.labels, r.lang) for r in exp.results}
    # the test split was not audited: no "reviewed" label set
    assert got == {(m, lab, lang) for m in ("before", "after") for lab in ("silver", "clean") for lang in ("de", "fr")}
    for r in exp.results:
        assert 0.0 <= r.scores.f1 <= 1.0
        assert r.scores.support > 0
    assert primary_labels(result) == "clean"


def test_retrain_saves_loadable_models(small_run):
    cfg, corpus, run_dir, result = small_run
    for model in ("before", "after"):
        tagger = load_tagger(run_dir / "models" / model / "de")
        assert tagger.label_names == corpus["train"].features["ner_tags"].feature.names


def test_retrain_result_round_trips_through_metrics_json(small_run):
    _, _, _, result = small_run
    d = json.loads(json.dumps(result.to_dict()))
    row = d["experiments"][0]["results"][0]
    assert set(row) == {"model", "labels", "lang", "f1", "precision", "recall", "support", "per_type"}
    assert set(next(iter(row["per_type"].values()))) == {"precision", "recall", "f1", "support"}
    assert RetrainResult.from_dict(d).to_dict() == result.to_dict()


def test_reviewed_test_tags_are_scored_when_the_test_split_was_audited(tmp_path):
    run_dir = tmp_path / "t"
    cfg = _cfg(run_dir, {"train": 16, "validation": 4, "test": 6}, [{"train": "all", "test": ["fr"]}], max_steps=2)
    cfg.data.audit = ["train", "test"]
    corpus = generate_synthetic(cfg.data.synthetic, list(cfg.data.languages), seed=1)
    cleaned = _oracle_cleaned(corpus)
    # a reviewed test split: here the curators restored the clean tags
    cleaned["test"] = corpus["test"].map(lambda r: {"ner_tags": r[CLEAN_COLUMN]})
    result = run_retrain(corpus, cleaned, cfg, run_dir, progress=False)
    rows = {(r.model, r.labels): r.scores for r in result.experiments[0].results}
    assert {lab for _, lab in rows} == {"silver", "clean", "reviewed"}
    # reviewed tags equal the clean ones, so the scores must agree exactly
    assert rows[("after", "reviewed")] == rows[("after", "clean")]


def test_retrain_without_cleaned_corpus_trains_only_before(tmp_path):
    run_dir = tmp_path / "t"
    cfg = _cfg(run_dir, {"train": 16, "validation": 4, "test": 4}, [{"train": ["fr"], "test": ["fr"]}], max_steps=1)
    corpus = generate_synthetic(cfg.data.synthetic, list(cfg.data.languages), seed=2)
    result = run_retrain(corpus, None, cfg, run_dir, progress=False)
    assert {r.model for r in result.experiments[0].results} == {"before"}
    assert not (run_dir / "models" / "after").exists()


def test_retrain_without_test_split_is_a_clear_error(tmp_path):
    run_dir = tmp_path / "t"
    cfg = _cfg(run_dir, {"train": 8, "validation": 4}, [{"train": ["de"]}], max_steps=1)
    corpus = generate_synthetic(cfg.data.synthetic, list(cfg.data.languages), seed=0)
    with pytest.raises(DataError, match="no 'test' split"):
        run_retrain(corpus, None, cfg, run_dir, progress=False)


@pytest.mark.slow
def test_oracle_cleaning_does_not_lower_f1_against_clean_test_tags(tmp_path):
    """The issue's acceptance test: training on oracle-cleaned data is at least as good,
    measured against the known clean test tags, on every test language."""
    run_dir = tmp_path / "t"
    # half the CPU of the first version (400 train / 300 test sentences, batch 16) with a wider
    # margin: after - before >= 0.08 on each language for training seeds 3, 5 and 11
    cfg = _cfg(
        run_dir,
        {"train": 250, "validation": 40, "test": 150},
        [{"train": "all", "test": "all"}],
        epochs=8,
        noise=0.5,
        tiny={"vocab_size": 600, "hidden_size": 64, "num_layers": 1, "num_heads": 2, "intermediate_size": 128},
        batch_size=32,
        learning_rate=6e-3,
    )
    corpus = generate_synthetic(cfg.data.synthetic, list(cfg.data.languages), seed=0)
    result = run_retrain(corpus, _oracle_cleaned(corpus), cfg, run_dir, progress=False)
    [exp] = result.experiments
    clean = {(r.model, r.lang): r.scores.f1 for r in exp.results if r.labels == "clean"}
    langs = sorted(cfg.data.languages)
    # every test language scored for both taggers
    assert exp.name == "all" and set(clean) == {(m, g) for m in ("before", "after") for g in langs}
    before = {g: clean[("before", g)] for g in langs}
    after = {g: clean[("after", g)] for g in langs}
    # the models learned something, so the comparison is meaningful
    assert min(before.values()) > 0.3, before
    assert all(after[g] >= before[g] for g in langs), (before, after)
    # with half the training sentences carrying an error, cleaning must help clearly
    assert sum(after.values()) / len(langs) - sum(before.values()) / len(langs) > 0.03, (before, after)


def test_silver_equal_to_clean_is_hidden_by_one_rule_in_the_report_and_the_summary():
    import io

    from rich.console import Console

    from auditor.evaluation import EvalRow, ExperimentResult, Scores
    from auditor.f1_summary import f1_summary_table

    def result(silver_f1: float) -> RetrainResult:
        rows = [EvalRow(m, "clean", "de", Scores(0.5, 0.5, f1, 10)) for m, f1 in (("before", 0.5), ("after", 0.6))]
        rows += [EvalRow(m, "silver", "de", Scores(0.5, 0.5, f1, 10)) for m, f1 in (("before", 0.5), ("after", silver_f1))]
        return RetrainResult([ExperimentResult("de", ["de"], ["de"], rows)])

    def judges(r: RetrainResult) -> str:
        console = Console(width=200, file=io.StringIO())
        console.print(f1_summary_table(r))
        return console.file.getvalue()

    same, differ = result(0.6), result(0.55)
    assert same.same_scores("silver", "clean") and same.shown_label_sets() == ["clean"]
    assert not differ.same_scores("silver", "clean") and differ.shown_label_sets() == ["silver", "clean"]
    assert "silver" not in judges(same) and "silver" in judges(differ)

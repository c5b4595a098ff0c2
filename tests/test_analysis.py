"""The chapter's error analysis: tables from word probabilities, and `auditor analyze` on a run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from auditor.analysis.error_analysis import AnalysisResult, analyze_predictions, run_analysis
from auditor.config import ModelConfig, PipelineConfig, SyntheticConfig, TinyModelConfig, TrainingConfig
from auditor.errors import DataError, ModelError
from auditor.metrics import read_metrics

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _onehotish(rows: list[tuple[int, float]], k: int = len(LABELS)) -> np.ndarray:
    """(n, k) probabilities: p on the given class, the rest spread evenly."""
    out = np.zeros((len(rows), k))
    for i, (cls, p) in enumerate(rows):
        out[i, :] = (1 - p) / (k - 1)
        out[i, cls] = p
    return out


# --- the tables from probabilities ---------------------------------------------------------


@pytest.fixture
def toy():
    tokens = [["Anna", "lebt", "in", "Bern"], ["Bern", "!"], [], ["Anna", "Bern"]]
    tags = [[1, 0, 0, 3], [3, 0], [], [1, 3]]
    probs = [
        _onehotish([(1, 0.9), (0, 0.99), (0, 0.99), (3, 0.5)]),
        _onehotish([(1, 0.8), (0, 0.9)]),  # "Bern" predicted B-PER, given B-LOC
        np.zeros((0, len(LABELS))),
        _onehotish([(1, 0.9), (1, 0.7)]),  # "Bern" predicted B-PER again
    ]
    ids = ["de/validation/0", "de/validation/1", "de/validation/2", "fr/validation/0"]
    return ids, ["de", "de", "de", "fr"], tokens, tags, probs


def test_tables_account_for_every_word(toy):
    res = analyze_predictions(*toy, LABELS, split="validation", model="after", top_tokens=10, top_sentences=10)
    assert res.n_words == 8 and res.n_sentences == 4
    assert sum(r.count for r in res.loss_per_tag) == 8
    assert sum(r.count for r in res.top_tokens) == 8  # all 5 distinct tokens fit in the top 10
    # loss of a word = -ln p(given tag); "Bern" as B-LOC: p = 0.5, 0.05, (1 - 0.7) / 4
    bern = next(r for r in res.top_tokens if r.key == "Bern")
    expected = -math.log(0.5) - math.log(0.2 / 4) - math.log(0.3 / 4)
    assert bern.count == 3 and bern.sum == pytest.approx(expected) and bern.mean == pytest.approx(expected / 3)
    assert res.top_tokens[0].key == "Bern"  # the label error stands out first
    sums = [r.sum for r in res.top_tokens]
    assert sums == sorted(sums, reverse=True)
    assert res.accuracy == pytest.approx(6 / 8)


def test_confusion_matrix_is_row_normalized(toy):
    res = analyze_predictions(*toy, LABELS, split="validation", model="after")
    m = res.confusion
    assert m.shape == (5, 5) and res.labels == LABELS
    b_loc = LABELS.index("B-LOC")
    assert m[b_loc, LABELS.index("B-PER")] == pytest.approx(2 / 3)
    assert m[b_loc, b_loc] == pytest.approx(1 / 3)
    present = [0, 1, 3]
    assert np.allclose(m[present].sum(axis=1), 1.0)
    assert np.all(m[[2, 4]] == 0)  # tags absent from the split: empty rows, not NaN


def test_worst_sentences_by_summed_loss(toy):
    res = analyze_predictions(*toy, LABELS, split="validation", model="after", top_sentences=2)
    # sums: -ln 0.05 - ln 0.9 = 3.10 > -ln 0.9 - ln 0.075 = 2.69 > the first sentence's 0.82
    assert [s.id for s in res.worst_sentences] == ["de/validation/1", "fr/validation/0"]
    worst = res.worst_sentences[0]
    assert worst.tokens == ["Bern", "!"] and worst.labels == ["B-LOC", "O"]
    assert worst.predictions == ["B-PER", "O"]
    assert worst.loss == pytest.approx(-math.log(0.05) - math.log(0.9))
    d = res.to_dict()
    assert set(d) >= {"split", "model", "top_tokens", "loss_per_tag", "confusion", "worst_sentences"}
    assert set(d["worst_sentences"][0]) >= {"id", "tokens", "labels", "predictions", "losses"}
    assert set(d["top_tokens"][0]) == {"token", "count", "mean", "sum"}
    assert set(d["loss_per_tag"][0]) == {"tag", "count", "mean", "sum"}
    json.dumps(d)  # the metrics section must be plain JSON


def test_mismatched_probabilities_are_rejected(toy):
    ids, langs, tokens, tags, probs = toy
    with pytest.raises(ValueError, match="one \\(n_words, K\\)"):
        analyze_predictions(ids, langs, tokens, tags, probs[:-1] + [probs[-1][:1]], LABELS, split="v", model="after")


# --- on a run directory --------------------------------------------------------------------

TINY = TinyModelConfig(vocab_size=400, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)


def make_run(run_dir: Path, experiments: dict[str, list[str]], steps: int = 30) -> PipelineConfig:
    """A run directory as the pipeline leaves it: config.yaml, corpus/, models/after/<exp>/."""
    from auditor.data.synthetic import generate_synthetic
    from auditor.evaluation import training_data
    from auditor.modeling.factory import resolve_model
    from auditor.modeling.training import train_tagger

    cfg = PipelineConfig(
        name=run_dir.name,
        runs_dir=str(run_dir.parent),
        data={"languages": {"de": 1.0, "fr": 1.0}, "synthetic": SyntheticConfig(sentences={"train": 120, "validation": 30, "test": 30})},
        model=ModelConfig(name="tiny", max_length=48, stride=12, tiny=TINY),
        training=TrainingConfig(epochs=1, max_steps=steps, batch_size=16, learning_rate=3e-3),
    )
    corpus = generate_synthetic(cfg.data.synthetic, list(cfg.data.languages), seed=0)
    run_dir.mkdir(parents=True)
    corpus.save_to_disk(str(run_dir / "corpus"))
    (run_dir / "config.yaml").write_text(cfg.to_yaml(), encoding="utf-8")
    names = corpus["train"].features["ner_tags"].feature.names
    base = resolve_model(cfg.model, corpus, run_dir)
    for name, langs in experiments.items():
        train, _ = training_data(corpus, ["train"], langs, cfg.training.seed)
        train_tagger(train, None, names, base, cfg.model, cfg.training, run_dir / "models" / "after" / name, progress=False)
    return cfg


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "r1"
    make_run(run, {"all": ["de", "fr"]})
    return run


def test_run_analysis_writes_tables_and_figure(run_dir):
    from datasets import load_from_disk

    res = run_analysis(run_dir, progress=False)
    validation = load_from_disk(str(run_dir / "corpus"))["validation"]
    n_words = sum(len(t) for t in validation["tokens"])
    assert res.n_words == n_words and res.n_sentences == len(validation)
    assert sum(r.count for r in res.loss_per_tag) == n_words
    assert res.experiment == "all" and res.model == "after"
    section = read_metrics(run_dir).section(AnalysisResult)
    assert section.split == "validation" and section.model == "after"
    assert sum(r.count for r in section.loss_per_tag) == n_words
    assert section.labels == validation.features["ner_tags"].feature.names
    losses = [s.loss for s in section.worst_sentences]
    assert losses == sorted(losses, reverse=True) and len(losses) == 10
    assert res.figure == run_dir / "analysis" / "confusion_validation.png"
    assert res.figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_analysis_one_language_and_split(run_dir):
    res = run_analysis(run_dir, split="test", lang="fr", progress=False, write=False)
    from datasets import load_from_disk

    test = load_from_disk(str(run_dir / "corpus"))["test"]
    fr = [t for t, lang in zip(test["tokens"], test["lang"]) if lang == "fr"]
    assert res.n_sentences == len(fr) and res.n_words == sum(len(t) for t in fr)
    assert {s.lang for s in res.worst_sentences} == {"fr"}


def test_run_analysis_sad_paths(run_dir, tmp_path):
    with pytest.raises(DataError, match="no split 'dev'"):
        run_analysis(run_dir, split="dev", progress=False)
    with pytest.raises(DataError, match="no sentences in 'it'"):
        run_analysis(run_dir, lang="it", progress=False)
    with pytest.raises(ModelError, match="no saved 'before' model"):
        run_analysis(run_dir, model="before", progress=False)
    with pytest.raises(ModelError, match="saved: all"):
        run_analysis(run_dir, experiment="de", progress=False)
    with pytest.raises(DataError, match="not a run directory"):
        run_analysis(tmp_path, progress=False)


def test_analyze_command(run_dir):
    from auditor.cli import app

    result = CliRunner().invoke(app, ["analyze", str(run_dir), "--sentences", "1"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Loss per gold tag" in result.output and "Normalized confusion matrix" in result.output
    assert "confusion_validation.png" in result.output


def test_analyze_command_json(run_dir):
    import json

    from auditor.cli import app

    result = CliRunner().invoke(app, ["analyze", str(run_dir), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    section = read_metrics(run_dir).section(AnalysisResult).to_dict()
    assert data["n_words"] == section["n_words"] and data["confusion"] == section["confusion"]
    assert sum(r["count"] for r in data["loss_per_tag"]) == data["n_words"]
    assert data["figure"].endswith("confusion_validation.png")

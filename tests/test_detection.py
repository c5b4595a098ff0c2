"""Detection quality against known clean tags, and the `auditor evaluate-detection` command."""

import json
from pathlib import Path

import numpy as np
import pytest
from datasets import DatasetDict
from simulated_oof import simulate_oof
from typer.testing import CliRunner

from auditor.cli import app
from auditor.config import ScoringConfig, SyntheticConfig
from auditor.data.corpus import CLEAN_COLUMN, dataset_from_records
from auditor.data.synthetic import generate_synthetic
from auditor.errors import DataError
from auditor.scoring.detection import METHODS, evaluate_detection
from auditor.scoring.score import score_corpus
from auditor.tables import OofPredictions, write_issues


@pytest.fixture(scope="module")
def noisy():
    """A noisy synthetic corpus (10% of train sentences carry an injected error) and simulated
    out-of-fold probabilities of an imperfect model that never saw the sentence."""
    corpus = generate_synthetic(SyntheticConfig(sentences={"train": 800, "test": 100}, noise_rate=0.1), ["de", "fr"], 7)
    preds = simulate_oof(corpus, ["train"], seed=7, strength=3.0, error_rate=0.05)
    cfg = ScoringConfig()
    issues = score_corpus(corpus, preds, cfg, progress=False).issues
    return corpus, preds, cfg, issues


@pytest.fixture(scope="module")
def report(noisy):
    corpus, preds, cfg, issues = noisy
    return evaluate_detection(corpus, issues, preds, cfg, ks=(10, 100, 1600))


def test_counts_match_the_injected_noise(report, noisy):
    corpus = noisy[0]["train"]
    n_err = sum(a != b for a, b in zip(corpus["ner_tags"], corpus[CLEAN_COLUMN]))
    assert report.n_error_sentences == n_err
    assert report.noise_rate == pytest.approx(n_err / len(corpus))
    assert report.n_error_spans >= n_err


def test_every_method_at_both_levels(report):
    for level in ("sentence", "span"):
        assert [r.method for r in getattr(report, level)] == list(METHODS)
        for r in getattr(report, level):
            assert set(r.precision_at) == set(r.recall_at) == {"10", "100", "1600"}


def test_combined_ranking_beats_random(report):
    for level in ("sentence", "span"):
        assert report.row(level, "combined").ap > 3 * report.noise_rate
    assert report.row("sentence", "random").ap == pytest.approx(report.noise_rate, abs=0.05)
    assert report.row("sentence", "combined").auroc > 0.9


def _real_oof_corpus():
    """Real out-of-fold probabilities of the default CPU probe (e5-small, 12-layer scalar mix,
    MLP head) on 800 CoNLL-2003 dev sentences, with their original and CleanCoNLL tags (no text:
    tokens are placeholders). Written by benchmarks/make_oof_fixture.py."""
    data = np.load(Path(__file__).parent / "data" / "conll_dev_oof.npz")
    names = [str(n) for n in data["label_names"]]
    offsets = data["offsets"].astype(np.int64)
    records = []
    for i in range(len(offsets) - 1):
        a, b = offsets[i], offsets[i + 1]
        records.append(
            {
                "id": f"en/dev/{i:06d}",
                "tokens": [f"w{i}_{j}" for j in range(b - a)],
                "ner_tags": [names[t] for t in data["given"][a:b]],
                "lang": "en",
                CLEAN_COLUMN: [names[t] for t in data["clean"][a:b]],
            }
        )
    corpus = DatasetDict({"dev": dataset_from_records(records, names)})
    words = np.concatenate([np.arange(offsets[i + 1] - offsets[i]) for i in range(len(offsets) - 1)])
    ids = np.repeat(np.asarray([r["id"] for r in records], dtype=object), np.diff(offsets))
    preds = OofPredictions(ids, words.astype(np.int32), np.zeros(len(words), np.int16), data["probs"].astype(np.float32), names)
    return corpus, preds


def test_default_ranking_beats_cleanlab_alone_on_real_errors():
    # measured, not simulated: real model output and expert corrections (CleanCoNLL)
    corpus, preds = _real_oof_corpus()
    cfg = ScoringConfig()
    issues = score_corpus(corpus, preds, cfg, progress=False).issues
    rep = evaluate_detection(corpus, issues, preds, cfg, ks=(100,))
    for level in ("sentence", "span"):
        assert rep.row(level, "combined").ap >= rep.row(level, "cleanlab").ap
        assert rep.row(level, "combined").ap > rep.row(level, "sequence_loss").ap
    assert rep.row("sentence", "combined").ap > 2.5 * rep.noise_rate


def test_sentence_rankings_cover_every_sentence_so_recall_reaches_one(report):
    for r in report.sentence:
        assert r.recall_at["1600"] == pytest.approx(1.0)


def test_perfect_model_gives_perfect_span_precision():
    corpus = generate_synthetic(SyntheticConfig(sentences={"train": 300}, noise_rate=0.2), ["de"], 2)
    # a model that knows the clean tags for sure
    preds = simulate_oof(corpus, ["train"], seed=0, strength=20.0, given_pull=0.0, noise=0.0, error_rate=0.0)
    cfg = ScoringConfig()
    issues = score_corpus(corpus, preds, cfg, progress=False).issues
    rep = evaluate_detection(corpus, issues, preds, cfg, ks=(10,))
    combined = rep.row("span", "combined")
    assert combined.precision_at["10"] == 1.0
    assert combined.ap > 0.95
    assert rep.row("sentence", "cleanlab").ap == pytest.approx(1.0)


def test_without_clean_tags_it_fails_clearly(noisy):
    corpus, preds, cfg, issues = noisy
    plain = DatasetDict({k: v.remove_columns(CLEAN_COLUMN) for k, v in corpus.items()})
    with pytest.raises(DataError, match="clean tags"):
        evaluate_detection(plain, issues, preds, cfg)


def test_markdown_table(report):
    md = report.to_markdown()
    assert "| sentence | combined |" in md and "| span | random |" in md


# --- the CLI ----------------------------------------------------------------------------


def _run_dir(tmp_path, noisy, with_clean=True):
    corpus, preds, _, issues = noisy
    run = tmp_path / "run"
    run.mkdir()
    if not with_clean:
        corpus = DatasetDict({k: v.remove_columns(CLEAN_COLUMN) for k, v in corpus.items()})
    corpus.save_to_disk(str(run / "corpus"))
    preds.write(run / "predictions.parquet")
    write_issues(issues, run / "issues.parquet")
    (run / "metrics.json").write_text(json.dumps({"scoring": {"n_issues": len(issues)}}))
    return run


def test_cli_prints_the_table_and_merges_metrics(tmp_path, noisy, report):
    run = _run_dir(tmp_path, noisy)
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["evaluate-detection", str(run)])
    assert result.exit_code == 0, result.output
    assert "combined" in result.output and "sequence_loss" in result.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["scoring"] == {"n_issues": len(noisy[3])}  # other sections kept
    det = metrics["detection"]
    assert det["n_error_sentences"] == report.n_error_sentences
    assert [r["method"] for r in det["span"]] == list(METHODS)
    combined = next(r for r in det["span"] if r["method"] == "combined")
    assert combined["ap"] == pytest.approx(report.row("span", "combined").ap)


def test_cli_off_a_terminal_prints_full_width_and_json_holds_the_numbers(tmp_path, noisy, report):
    run = _run_dir(tmp_path, noisy)
    as_json = CliRunner().invoke(app, ["evaluate-detection", str(run), "--json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert data["n_error_spans"] == report.n_error_spans and data["n_issues"] == report.n_issues
    assert [r["method"] for r in data["span"]] == list(METHODS)
    assert data == json.loads((run / "metrics.json").read_text())["detection"]
    # no COLUMNS: CliRunner's stdout is not a terminal, as in CI or `> log`
    table = CliRunner(env={"COLUMNS": None}).invoke(app, ["evaluate-detection", str(run)])
    assert table.exit_code == 0, table.output
    assert "…" not in table.stdout
    lines = table.stdout.splitlines()
    for level in ("sentence", "span"):
        for r in data[level]:  # every number of every row, on one line
            numbers = [r["ap"], r["auroc"], *r["precision_at"].values(), *r["recall_at"].values()]
            cells = [level, r["method"], *(f"{v:.3f}" for v in numbers if v is not None)]
            assert any(all(c in line for c in cells) for line in lines), cells


def test_cli_truth_file_supplies_the_clean_tags(tmp_path, noisy, report):
    run = _run_dir(tmp_path, noisy, with_clean=False)
    corpus = noisy[0]
    names = corpus["train"].features["ner_tags"].feature.names
    truth = tmp_path / "truth.jsonl"
    with truth.open("w") as fh:  # the corrected copy of the audited split, same order, no ids
        for row in corpus["train"]:
            fh.write(json.dumps({"tokens": row["tokens"], "ner_tags": [names[t] for t in row[CLEAN_COLUMN]]}) + "\n")
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["evaluate-detection", str(run), "--truth", str(truth)])
    assert result.exit_code == 0, result.output
    det = json.loads((run / "metrics.json").read_text())["detection"]
    assert det["n_error_sentences"] == report.n_error_sentences
    assert det["n_error_spans"] == report.n_error_spans


def test_cli_truth_with_other_tokens_fails_clearly(tmp_path, noisy):
    run = _run_dir(tmp_path, noisy, with_clean=False)
    truth = tmp_path / "truth.jsonl"
    lines = [json.dumps({"tokens": r["tokens"], "ner_tags": ["O"] * len(r["tokens"])}) for r in noisy[0]["train"]]
    lines[2] = json.dumps({"tokens": ["x"], "ner_tags": ["O"]})
    truth.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(app, ["evaluate-detection", str(run), "--truth", str(truth)])
    assert isinstance(result.exception, DataError)
    assert "truth.jsonl:3: truth sentence has other tokens than corpus sentence de/train/000002" in str(
        result.exception
    )


def test_cli_without_clean_tags_or_truth_fails_clearly(tmp_path, noisy):
    run = _run_dir(tmp_path, noisy, with_clean=False)
    result = CliRunner().invoke(app, ["evaluate-detection", str(run)])
    assert isinstance(result.exception, DataError) and "--truth" in str(result.exception)


def test_cli_on_a_missing_run_dir_fails_clearly(tmp_path):
    result = CliRunner().invoke(app, ["evaluate-detection", str(tmp_path / "nope")])
    assert isinstance(result.exception, DataError) and "no such run directory" in str(result.exception)


def test_cli_truth_matched_by_id_must_cover_every_audited_sentence(tmp_path, noisy, report):
    run = _run_dir(tmp_path, noisy, with_clean=False)
    corpus = noisy[0]
    names = corpus["train"].features["ner_tags"].feature.names
    rows = list(corpus["train"])
    truth = tmp_path / "truth.jsonl"

    def write(rows_):
        with truth.open("w") as fh:
            for row in rows_:
                tags = [names[t] for t in row[CLEAN_COLUMN]]
                fh.write(json.dumps({"id": row["id"], "tokens": row["tokens"], "ner_tags": tags}) + "\n")

    write(reversed(rows))  # by id, so order does not matter
    result = CliRunner().invoke(app, ["evaluate-detection", str(run), "--truth", str(truth)])
    assert result.exit_code == 0, result.output
    assert json.loads((run / "metrics.json").read_text())["detection"]["n_error_spans"] == report.n_error_spans
    write(rows[1:])
    result = CliRunner().invoke(app, ["evaluate-detection", str(run), "--truth", str(truth)])
    assert isinstance(result.exception, DataError)
    assert f"no sentence with id {rows[0]['id']}" in str(result.exception)


def test_clean_tags_are_needed_on_the_audited_split_only(noisy, report):
    corpus, preds, cfg, issues = noisy
    mixed = DatasetDict({"train": corpus["train"], "test": corpus["test"].remove_columns(CLEAN_COLUMN)})
    again = evaluate_detection(mixed, issues, preds, cfg, ks=(10, 100, 1600))
    assert again.to_dict() == report.to_dict()

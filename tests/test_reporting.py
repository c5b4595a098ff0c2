"""The run report (auditor.reporting): Markdown + self-contained HTML + figures."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from auditor.cli import app
from auditor.config import PipelineConfig, config_from_dict
from auditor.data.corpus import CLEAN_COLUMN
from auditor.data.iob import spans
from auditor.data.stats import corpus_stats
from auditor.data.synthetic import generate_synthetic
from auditor.errors import DataError
from auditor.metrics import read_metrics
from auditor.reporting.build import build_report
from auditor.reporting.builder import ReportDerived
from auditor.review.store import DecisionStore
from auditor.tables import ISSUE_COLUMNS, OofPredictions, write_issues

LANGS = ["de", "fr"]


def _cfg() -> PipelineConfig:
    return config_from_dict(
        {
            "name": "hand",
            "data": {
                "source": "synthetic",
                "languages": {lang: 1.0 for lang in LANGS},
                "synthetic": {"sentences": {"train": 30, "validation": 5, "test": 8}, "noise_rate": 0.3},
            },
            "model": {"name": "tiny", "max_length": 64, "stride": 16},
            "review": {"policy": "oracle"},
            "report": {"top_sentences": 4, "top_tokens": 5},
        }
    )


def _predictions(train, names: list[str]) -> OofPredictions:
    """Probabilities peaked on the clean tag (0.7), so noisy words get a high loss."""
    ids, word_index, fold, probs = [], [], [], []
    k = len(names)
    for n, (sid, clean) in enumerate(zip(train["id"], train[CLEAN_COLUMN])):
        for w, tag in enumerate(clean):
            p = np.full(k, 0.3 / (k - 1), dtype=np.float32)
            p[tag] = 0.7
            ids.append(sid)
            word_index.append(w)
            fold.append(n % 3)
            probs.append(p)
    return OofPredictions(np.array(ids, dtype=object), np.array(word_index), np.array(fold), np.stack(probs), names)


def _issues(train, names: list[str]) -> pd.DataFrame:
    """One issue per noisy sentence covering its first differing word (the shape scoring writes)."""
    rows = []
    for sid, lang, tokens, tags, clean in zip(train["id"], train["lang"], train["tokens"], train["ner_tags"], train[CLEAN_COLUMN]):
        if tags == clean:
            continue
        w = next(i for i, (a, b) in enumerate(zip(tags, clean)) if a != b)
        given, suggested = [names[tags[w]]], [names[clean[w]]]
        losses = [1.2 if a != b else 0.36 for a, b in zip(tags, clean)]
        entity = next((t for s, e, t in spans([names[x] for x in clean]) if s <= w < e), "O")
        rows.append(
            {
                "issue_id": f"{sid}:{w}-{w + 1}", "id": sid, "lang": lang, "split": "train", "start": w, "end": w + 1,
                "kind": "type" if given[0] != "O" and suggested[0] != "O" else ("missing" if given[0] == "O" else "spurious"),
                "entity_type": entity if entity != "O" else names[tags[w]][2:], "surface": tokens[w],
                "given": given, "suggested": suggested, "score": 0.1 + 0.01 * len(rows), "cleanlab_score": 0.05,
                "token_loss": 1.2, "consistency_score": 0.5, "sequence_loss": float(sum(losses)),
                "sequence_loss_mean": float(np.mean(losses)), "tokens": list(tokens),
                "tags": [names[x] for x in tags], "predicted": [names[x] for x in clean], "token_losses": losses,
            }
        )
    return pd.DataFrame(rows, columns=list(ISSUE_COLUMNS))


def _retrain_rows() -> list[dict]:
    rows = []
    for model, base in (("before", 0.60), ("after", 0.70)):
        for labels in ("silver", "clean"):
            for i, lang in enumerate(LANGS):
                f1 = base - 0.1 * i - (0.05 if labels == "silver" else 0.0)
                per_type = {t: {"precision": f1, "recall": f1, "f1": f1, "support": 10} for t in ("LOC", "ORG", "PER")}
                # one type gets worse after cleaning, to show a red delta
                if model == "after":
                    per_type["LOC"]["f1"] = 0.2
                rows.append({"model": model, "labels": labels, "lang": lang, "f1": f1, "precision": f1, "recall": f1, "support": 30, "per_type": per_type})
    return rows


def full_metrics() -> dict:
    """Every metrics.json section; "corpus" is filled by make_run from the corpus it builds."""
    return {
        "corpus": None,
        "crossval": {
            "mode": "finetune",
            "folds": [
                {"fold": k, "f1": 0.8 + 0.01 * k, "ece_before": 0.1, "ece_after": 0.03, "temperature": 1.4, "n_train": 20, "n_heldout": 10, "seconds": 2.5}
                for k in range(3)
            ],
            "words_per_second": 1234.5,
        },
        "scoring": {
            "n_issues": 9, "n_sentences": 60, "n_tokens": 480, "n_flagged_sentences": 9,
            "by_kind": {"type": 4, "boundary": 2, "missing": 2, "spurious": 1},
            "by_lang": {"de": 5, "fr": 4},
            "by_type": {"PER": 3, "ORG": 4, "LOC": 2},
            "top_tokens": [{"token": f"tok{i}", "count": 10 - i, "mean": 0.5, "sum": 5.0 - i} for i in range(8)],
            "loss_per_tag": [{"tag": "B-ORG", "count": 12, "mean": 0.9, "sum": 10.8}, {"tag": "O", "count": 300, "mean": 0.05, "sum": 15.0}],
        },
        "detection": {
            "noise_rate": 0.3, "n_sentences": 30, "n_error_sentences": 9, "n_error_spans": 10, "n_issues": 9,
            "sentence": [{"method": "combined", "ap": 0.7, "auroc": 0.9, "precision_at": {"5": 0.8, "10": 0.6}, "recall_at": {"5": 0.4, "10": 0.6}}],
            "span": [
                {"method": "combined", "ap": 0.65, "auroc": 0.88, "precision_at": {"5": 0.8, "10": 0.5}, "recall_at": {"5": 0.4, "10": 0.5}},
                {"method": "cleanlab", "ap": 0.55, "auroc": 0.8, "precision_at": {"5": 0.6, "10": 0.4}, "recall_at": {"5": 0.3, "10": 0.4}},
            ],
        },
        "review": {"policy": "oracle", "total": 9, "decided": 9, "by_action": {"accept": 7, "keep": 2}},
        "apply": {"decisions": 9, "by_action": {"accept": 7, "keep": 2}, "changed_sentences": 7, "changed_tokens": 8, "stale": 0},
        "retrain": {"experiments": [{"name": "de", "train": ["de"], "test": LANGS, "results": _retrain_rows()}]},
        "analysis": {
            "top_tokens": [{"token": "Nations", "count": 4, "mean": 1.1, "sum": 4.4}],
            "loss_per_tag": [{"tag": "I-ORG", "count": 8, "mean": 1.0, "sum": 8.0}],
            "confusion": {"labels": ["O", "B-PER"], "matrix": [[0.9, 0.1], [0.2, 0.8]]},
            "split": "test", "model": "after", "experiment": "de", "lang": "fr", "n_sentences": 8, "n_words": 101,
            "accuracy": 0.93,
            "worst_sentences": [
                {"id": "fr/test/000003", "lang": "fr", "tokens": ["Les", "Nations", "unies"], "labels": ["O", "B-ORG", "I-ORG"],
                 "predictions": ["O", "B-PER", "I-PER"], "losses": [0.01, 2.5, 2.0]}
            ],
        },
        "curve": {
            "source": "de", "target": "fr", "labels": "clean", "sizes": [50, 100, 200], "zero_shot": {"before": 0.5, "after": 0.55},
            "points": [{"size": s, "model": m, "f1": 0.4 + s / 1000 + (0.05 if m == "after" else 0)} for s in (50, 100, 200) for m in ("before", "after")],
        },
    }


def make_run(root, metrics: dict | None, *, with_artifacts: bool = True):
    cfg = _cfg()
    run_dir = root / "runs" / cfg.name
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(cfg.to_yaml(), encoding="utf-8")
    corpus = generate_synthetic(cfg.data.synthetic, LANGS, seed=0)
    names = corpus["train"].features["ner_tags"].feature.names
    if with_artifacts:
        corpus.save_to_disk(str(run_dir / "corpus"))
        _predictions(corpus["train"], names).write(run_dir / "predictions.parquet")
        issues = _issues(corpus["train"], names)
        write_issues(issues, run_dir / "issues.parquet")
        store = DecisionStore(run_dir / "review.sqlite", curator="policy:oracle")
        store.record_many([(r.issue_id, "accept", r.start, r.end, list(r.suggested)) for r in issues.head(3).itertuples()])
        store.record(issues["issue_id"][3], "keep")
    if metrics is not None:
        if "corpus" in metrics:
            metrics = {**metrics, "corpus": corpus_stats(corpus).to_dict()}
        (run_dir / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return run_dir, corpus


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    run_dir, corpus = make_run(root, full_metrics())
    paths = build_report(run_dir, root / "reports" / "hand")
    return run_dir, corpus, paths


SECTION_TITLES = [
    "Overview", "Corpus", "Cross-validation", "Issues found", "Detection quality", "Review", "Cleaning",
    "F1 before and after cleaning", "Error analysis (out-of-fold)", "Highest-loss sentences (top 4)",
    "Error analysis of the final tagger", "word accuracy 0.930", "fr/test/000003", "Zero-shot transfer",
]


def test_full_report_has_every_section(full_report):
    _, _, paths = full_report
    md = paths.markdown.read_text()
    html = paths.html.read_text()
    for title in SECTION_TITLES:
        assert title in md, title
        assert title in html, title
    assert "Not in this run" not in md
    # the plain statement that no human decided
    assert "No human reviewed these issues: the oracle policy" in md
    assert {p.name for p in paths.figures} == {
        "detection.png", "f1_before_after.png", "confusion.png", "analysis_confusion.png", "sequence_loss.png",
        "learning_curve.png",
    }
    for p in paths.figures:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_html_is_self_contained(full_report):
    _, _, paths = full_report
    html = paths.html.read_text()
    assert "http://" not in html and "https://" not in html
    srcs = re.findall(r'src="([^"]*)"', html)
    assert len(srcs) == len(paths.figures)
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<link" not in html and "<script" not in html and "url(" not in html


def test_numbers_in_tables_and_deltas(full_report):
    run_dir, _, paths = full_report
    html = paths.html.read_text()
    md = paths.markdown.read_text()
    # clean-tag F1 of the "de" experiment: before 0.600/0.500, after 0.700/0.600, delta +0.100
    f1 = read_metrics(run_dir).section(ReportDerived).tables["f1_clean"]
    assert f1["columns"] == ["trained on", "model", "de", "fr", "mean"]
    assert f1["rows"][0] == ["de", "before", 0.6, 0.5, pytest.approx(0.55)]
    assert f1["rows"][2][:2] == ["de", "Δ"] and f1["rows"][2][2] == pytest.approx(0.1)
    assert '<td class="num pos">+0.100</td>' in html
    # LOC dropped from 0.6 to 0.2 after cleaning: a red negative delta
    assert '<td class="num neg">-0.400</td>' in html
    assert "| de | Δ | +0.100 | +0.100 | +0.100 |" in md
    # numeric columns are right-aligned in both formats
    assert '<th class="num">de</th>' in html
    assert "|:---|:---|---:|---:|---:|" in md


def test_derived_numbers_are_written_to_metrics(full_report):
    run_dir, corpus, paths = full_report
    report = read_metrics(run_dir).section(ReportDerived)
    corpus_rows = report.tables["corpus"]["rows"]
    train_de = next(r for r in corpus_rows if r[:2] == ["train", "de"])
    assert train_de[2] == sum(1 for x in corpus["train"]["lang"] if x == "de")
    conf = np.array(report.values["confusion"]["matrix"])
    assert conf.shape == (7, 7) and np.allclose(conf.sum(axis=1)[conf.sum(axis=1) > 0], 1.0)
    hist = report.values["loss_histogram"]
    assert sum(hist["flagged"]) + sum(hist["not_flagged"]) == len(corpus["train"])
    # the hand-made issue table flags exactly the noisy sentences
    noisy = sum(a != b for a, b in zip(corpus["train"]["ner_tags"], corpus["train"][CLEAN_COLUMN]))
    assert noisy > 0 and sum(hist["flagged"]) == noisy
    worst = report.values["worst_sentences"]
    assert len(worst) == 4  # report.top_sentences
    assert [w["loss"] for w in worst] == sorted((w["loss"] for w in worst), reverse=True)
    # curators come from review.sqlite (latest decision per issue)
    assert report.tables["review_curators"]["rows"] == [["policy:oracle", 3, 1, 4]]
    assert report.missing == []
    # and every table of the report is in metrics.json
    for key in re.findall(r'<table id="t-([^"]+)"', paths.html.read_text()):
        assert key in report.tables


def test_worst_sentences_show_given_and_predicted(full_report):
    run_dir, _, paths = full_report
    worst = read_metrics(run_dir).section(ReportDerived).values["worst_sentences"]
    md, html = paths.markdown.read_text(), paths.html.read_text()
    top = worst[0]
    assert top["id"] in md and top["id"] in html
    assert top["given"] != top["predicted"]  # the highest-loss sentences are the noisy ones
    assert 'class="word diff"' in html


def test_report_is_deterministic(full_report, tmp_path):
    run_dir, _, paths = full_report
    again = build_report(run_dir, tmp_path / "again")
    assert again.html.read_bytes() == paths.html.read_bytes()
    assert again.markdown.read_text() == paths.markdown.read_text().replace(str(paths.markdown.parent), str(tmp_path / "again"))
    for a, b in zip(sorted(again.figures), sorted(paths.figures)):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_report_with_missing_sections_still_builds(tmp_path):
    metrics = {"retrain": full_metrics()["retrain"]}
    run_dir, _ = make_run(tmp_path, metrics, with_artifacts=False)
    paths = build_report(run_dir, tmp_path / "out")
    md = paths.markdown.read_text()
    assert "Not in this run" in md
    for what in ("cross-validation metrics", "issue statistics", "review summary", "cleaning summary", "detection quality"):
        assert what in md, what
    assert "F1 before and after cleaning" in md and "+0.100" in md
    assert "No out-of-fold predictions" in md
    assert [p.name for p in paths.figures] == ["f1_before_after.png"]
    assert set(read_metrics(run_dir).section(ReportDerived).missing) == {
        "corpus", "crossval", "scoring", "detection", "review", "apply", "analysis", "curve"
    }


def test_report_from_an_empty_run_dir_says_everything_is_missing(tmp_path):
    run_dir = tmp_path / "runs" / "empty"
    run_dir.mkdir(parents=True)
    paths = build_report(run_dir, tmp_path / "out")
    md = paths.markdown.read_text()
    assert "No readable config.yaml" in md and "xlm-roberta-base" not in md
    assert "before/after F1" in md and "the retrain and judge stages" in md
    assert paths.figures == []


def test_unreadable_artifact_is_named_not_fatal(tmp_path):
    run_dir, _ = make_run(tmp_path, full_metrics(), with_artifacts=False)
    (run_dir / "issues.parquet").write_text("not parquet")
    paths = build_report(run_dir, tmp_path / "out")
    assert "Could not read issues.parquet (" in paths.markdown.read_text()


def test_the_cleaning_section_says_what_the_verified_sample_did(tmp_path):
    metrics = full_metrics()
    metrics["apply"] = {**metrics["apply"], "verified_sentences": 30, "verified_changed": 4, "verified_stale": 0,
                        "verified_superseded": 2, "superseded_list": ["de/train/000001:0-1", "de/train/000002:1-2"]}
    run_dir, _ = make_run(tmp_path, metrics, with_artifacts=False)
    md = build_report(run_dir, tmp_path / "out").markdown.read_text()
    assert "The verified sample was applied directly: 30 sentences the curator checked word by word got its tags (4 of them changed)." in md
    assert "2 of the decisions lie inside those sentences and were superseded" in md
    plain, _ = make_run(tmp_path / "plain", full_metrics(), with_artifacts=False)
    assert "verified sample was applied" not in build_report(plain, tmp_path / "out2").markdown.read_text()


def test_missing_run_dir_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no such run directory"):
        build_report(tmp_path / "nope", tmp_path / "out")


def test_cli_report_prints_paths(tmp_path, monkeypatch):
    run_dir, _ = make_run(tmp_path, {"retrain": full_metrics()["retrain"]}, with_artifacts=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "reports/hand/report.html" in result.output
    assert (tmp_path / "reports" / "hand" / "report.md").is_file()
    out = tmp_path / "elsewhere"
    result = CliRunner().invoke(app, ["report", str(run_dir), "--out", str(out)])
    assert result.exit_code == 0 and (out / "report.html").is_file()


def test_cli_report_on_missing_run_dir_exits_2(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "auditor", "report", str(tmp_path / "nope")], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error:") and len(proc.stderr.strip().splitlines()) == 1


def test_worst_sentences_carry_known_clean_tags(full_report):
    run_dir, corpus, paths = full_report
    worst = read_metrics(run_dir).section(ReportDerived).values["worst_sentences"][0]
    names = corpus["train"].features["ner_tags"].feature.names
    row = corpus["train"][corpus["train"]["id"].index(worst["id"])]
    assert worst["clean"] == [names[t] for t in row[CLEAN_COLUMN]]
    assert "\nclean     " in paths.markdown.read_text()


def test_identical_silver_and_clean_scores_give_one_table(tmp_path):
    retrain = full_metrics()["retrain"]
    rows = retrain["experiments"][0]["results"]
    clean = {(r["model"], r["lang"]): r for r in rows if r["labels"] == "clean"}
    retrain["experiments"][0]["results"] = [
        {**clean[(r["model"], r["lang"])], "labels": "silver"} if r["labels"] == "silver" else r for r in rows
    ]
    run_dir, _ = make_run(tmp_path, {"retrain": retrain}, with_artifacts=False)
    build_report(run_dir, tmp_path / "out")
    tables = read_metrics(run_dir).section(ReportDerived).tables
    assert "f1_clean" in tables and "f1_silver" not in tables
    assert "one table for both" in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.skipif(not __import__("shutil").which("chromium"), reason="chromium not installed")
def test_check_report_html_script_screenshots_the_report(full_report, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    _, _, paths = full_report
    script = Path(__file__).parents[1] / "scripts" / "check_report_html.py"
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [sys.executable, str(script), str(paths.html), "--out", str(shot), "--height", "800"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a page that reaches outside itself is reported
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><img src="figure.png"><a href="https://example.org">x</a></body></html>')
    proc = subprocess.run([sys.executable, str(script), str(bad), "--out", str(tmp_path / "bad.png"), "--height", "200"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "src to a file: figure.png" in proc.stdout and "external URL https://example.org" in proc.stdout


def test_report_names_the_tagger_and_whether_its_word_embeddings_were_frozen():
    from auditor.reporting.sections.crossval import out_of_fold_tagger
    from auditor.reporting.sections.retrain import _final_tagger

    frozen = config_from_dict({"model": {"name": "models/e5-small"}, "training": {"freeze_word_embeddings": True}})
    plain = config_from_dict({"model": {"name": "models/e5-small"}})
    assert "e5-small fine-tuned per fold" in out_of_fold_tagger(frozen, "finetune")
    assert "word embeddings frozen" in out_of_fold_tagger(frozen, "finetune")
    assert "frozen" not in out_of_fold_tagger(plain, "finetune")
    assert "word embeddings frozen" in _final_tagger(frozen) and "frozen" not in _final_tagger(plain)
    assert "mean sub-word" in out_of_fold_tagger(plain, "probe")


def test_report_says_when_a_verified_sample_weighed_in(tmp_path):
    metrics = full_metrics()
    metrics["scoring"] = {
        **metrics["scoring"],
        "reference": {"verified_sentences": 200, "corrected_sentences": 24, "weight": 8.0,
                      "fit_sentence_ap": {"0.0": 0.375, "4.0": 0.425, "8.0": 0.418}},
    }
    run_dir, _ = make_run(tmp_path, metrics)
    md = build_report(run_dir, tmp_path / "reports" / "ref").markdown.read_text()
    assert "A verified sample of 200 sentences (24 of them corrected by the curator)" in md
    assert "Evidence weight 8, fitted on the sample: at this weight its own wrong sentences are found with AP 0.418, without the evidence 0.375." in md
    assert "its corrections lead the queue; words like the ones it corrects are doubted elsewhere." in md
    metrics["scoring"]["reference"].update(weight=0.0, fit_sentence_ap={"0.0": 0.4, "4.0": 0.3})
    zero_run, _ = make_run(tmp_path / "zero", metrics)
    zero = build_report(zero_run, tmp_path / "reports" / "zero").markdown.read_text()
    assert "so it doubts no other word. Evidence weight 0" in zero
    plain_run, _ = make_run(tmp_path / "plain", full_metrics())
    assert "verified sample" not in build_report(plain_run, tmp_path / "reports" / "plain").markdown.read_text()

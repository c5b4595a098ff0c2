"""Verified test sentences as the judge of the cleaning: drawn per language from the test
split, read back (verified lines only), scored with bootstrap intervals in the retrain stage,
and named in the CLI's F1 table and the report, with one sentence where silver and verified
disagree in sign."""

from __future__ import annotations

import json

import pytest
from datasets import load_from_disk
from rich.console import Console

from auditor.config import config_from_dict
from auditor.data.corpus import CLEAN_COLUMN, label_names
from auditor.data.sample import draw_sample, read_sample, write_sample
from auditor.data.synthetic import generate_synthetic
from auditor.errors import DataError
from auditor.evaluation import (
    EvalRow,
    ExperimentResult,
    F1Interval,
    IntervalRow,
    RetrainResult,
    Scores,
    primary_labels,
    run_retrain,
    seqeval_scores,
)
from auditor.f1_summary import f1_summary_table
from auditor.judgement import disagreements
from auditor.stages.inputs import file_digest
from auditor.verified_test import read_verified_test

TINY = {"vocab_size": 300, "hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64}


def _cfg(tmp_path, verified: str | None = None):
    return config_from_dict({
        "name": "v",
        "runs_dir": str(tmp_path),
        "data": {"source": "synthetic", "languages": {"de": 1.0, "fr": 1.0},
                 "synthetic": {"sentences": {"train": 24, "validation": 4, "test": 15}, "noise_rate": 0.3}},
        "model": {"name": "tiny", "max_length": 64, "stride": 16, "tiny": TINY},
        "training": {"epochs": 1, "batch_size": 16, "learning_rate": 3e-3, "warmup": 0.0, "seed": 3, "max_steps": 2},
        "retrain": {"experiments": [{"train": "all"}], "verified_test": verified},
    })


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    cfg = _cfg(tmp_path_factory.mktemp("c"))
    return generate_synthetic(cfg.data.synthetic, list(cfg.data.languages), seed=0)


def _verified_file(corpus, path, n=12, verify_every=1):
    """A stratified test sample whose every `verify_every`-th line a curator checked, giving it
    the clean tags."""
    names = label_names(corpus)
    clean = {r["id"]: [names[t] for t in r[CLEAN_COLUMN]] for r in corpus["test"]}
    rows = draw_sample(corpus, ["test"], n, seed=1, by_language=True)
    for i, r in enumerate(rows):
        if i % verify_every == 0:
            r.tags, r.verified = clean[r.id], True
    write_sample(path, rows)
    return rows


# --- drawing ----------------------------------------------------------------------------


def test_a_test_sample_is_stratified_by_language_and_records_its_split(corpus):
    rows = draw_sample(corpus, ["test"], 10, seed=4, by_language=True)
    assert len(rows) == 10
    assert sorted(r.lang for r in rows) == ["de"] * 5 + ["fr"] * 5  # 15 + 15 test sentences: half each
    assert all(r.id.split("/")[1] == "test" and r.extra["split"] == "test" for r in rows)
    assert [r.id for r in rows] == sorted(r.id for r in rows)  # corpus order
    assert [r.id for r in rows] == [r.id for r in draw_sample(corpus, ["test"], 10, seed=4, by_language=True)]
    assert [r.id for r in rows] != [r.id for r in draw_sample(corpus, ["test"], 10, seed=5, by_language=True)]
    # shares follow the languages' sizes; more than the split holds = all of it
    assert len(draw_sample(corpus, ["test"], 99, by_language=True)) == 30


def test_proportional_shares_round_by_largest_remainder():
    import numpy as np

    from auditor.data.sample import _proportional

    langs = np.array(["de"] * 50 + ["fr"] * 30 + ["it"] * 20, dtype=object)
    assert _proportional(langs, 10) == {"de": 5, "fr": 3, "it": 2}
    assert _proportional(langs, 7) == {"de": 4, "fr": 2, "it": 1}  # 3.5 / 2.1 / 1.4: de gets the remainder
    assert sum(_proportional(langs, 1000).values()) == 100


# --- reading ----------------------------------------------------------------------------


def test_only_verified_lines_count(corpus, tmp_path):
    path = tmp_path / "t.jsonl"
    rows = _verified_file(corpus, path, verify_every=2)
    vt = read_verified_test(path, corpus["test"], label_names(corpus))
    assert set(vt.tags) == {r.id for r in rows if r.verified} and len(vt) == 6 and vt.n_lines == 12


def test_verified_test_sad_paths(corpus, tmp_path):
    names, test = label_names(corpus), corpus["test"]
    with pytest.raises(DataError, match=r"retrain.verified_test .* does not exist; draw one with `auditor sample RUN_DIR --split test"):
        read_verified_test(tmp_path / "none.jsonl", test, names)
    path = tmp_path / "t.jsonl"
    write_sample(path, draw_sample(corpus, ["test"], 4, by_language=True))
    with pytest.raises(DataError, match="holds no verified sentence: none of its 4 sentences is verified yet"):
        read_verified_test(path, test, names)
    write_sample(path, draw_sample(corpus, ["train"], 2))
    with pytest.raises(DataError, match="drawn from the 'train' split; the judge needs test sentences"):
        read_verified_test(path, test, names)

    def one(**change):
        row = draw_sample(corpus, ["test"], 1, by_language=True)[0]
        row.verified = True
        for k, v in change.items():
            setattr(row, k, v(row) if callable(v) else v)
        write_sample(path, [row])

    one(id="de/test/999999")
    with pytest.raises(DataError, match="not in the corpus's test split"):
        read_verified_test(path, test, names)
    one(tags=lambda r: ["B-XYZ"] + r.tags[1:])
    with pytest.raises(DataError, match="tag 'B-XYZ' is not one of the corpus's labels"):
        read_verified_test(path, test, names)
    one(tags=lambda r: r.tags + ["O"], tokens=[])
    with pytest.raises(DataError, match="tags but the test sentence has"):
        read_verified_test(path, test, names)
    one(tokens=lambda r: ["zzz"] + r.tokens[1:])
    with pytest.raises(DataError, match="other words than the test sentence"):
        read_verified_test(path, test, names)


def test_file_digest_changes_with_the_file(tmp_path):
    path = tmp_path / "t.jsonl"
    assert file_digest(None) == "" and file_digest(str(path)) == "missing"
    path.write_text("a\n")
    first = file_digest(str(path))
    path.write_text("b\n")
    assert first != file_digest(str(path)) and len(first) == 16


# --- the retrain stage ------------------------------------------------------------------


def test_retrain_judges_on_the_verified_test_sentences_with_intervals(corpus, tmp_path):
    path = tmp_path / "t.jsonl"
    rows = _verified_file(corpus, path, verify_every=2)
    cfg = _cfg(tmp_path, str(path))
    result = run_retrain(corpus, corpus, cfg, tmp_path / "run", progress=False)
    [exp] = result.experiments
    verified = {r.id: r.tags for r in rows if r.verified}
    by = {(r.model, r.labels, r.lang): r.scores for r in exp.results}
    for lang in ("de", "fr"):
        mine = [r for r in rows if r.verified and r.lang == lang]
        iv = exp.interval("before", "verified", lang)
        assert iv is not None and iv.n_sentences == len(mine)  # the verified lines of that language only
        assert by[("before", "verified", lang)].support == seqeval_scores([r.tags for r in mine], [r.tags for r in mine]).support
        assert iv.f1 == pytest.approx(by[("before", "verified", lang)].f1)
        assert iv.low <= iv.f1 <= iv.high
        delta = exp.interval("delta", "verified", lang)
        assert delta.f1 == pytest.approx(by[("after", "verified", lang)].f1 - by[("before", "verified", lang)].f1)
        silver = exp.interval("before", "silver", lang)
        assert silver.n_sentences == 15  # silver: every test sentence of the language
    assert len(verified) == 6
    assert primary_labels(result) == "clean"  # known clean tags still rank first; verified next
    assert RetrainResult.from_dict(json.loads(json.dumps(result.to_dict()))).to_dict() == result.to_dict()
    assert not result.verified_weighted and "verified_weighted" not in result.to_dict()

    table = f1_summary_table(result)
    out = _render(table)
    assert "6 verified test sentences" in out and "clean test tags" in out and "90% bootstrap intervals" in out

    # every test sentence's tags of both taggers are kept, for a draw where they disagree
    from auditor.run_dir import RunDir
    from auditor.test_predictions import read_test_predictions

    kept = read_test_predictions(RunDir(tmp_path / "run").test_predictions)
    assert sorted({(p.experiment, p.model) for p in kept}) == [("all", "after"), ("all", "before")]
    assert sorted(p.id for p in kept if p.model == "before") == sorted(corpus["test"]["id"])


def test_retrain_weighs_a_sample_drawn_where_the_taggers_disagree(corpus, tmp_path):
    import numpy as np

    from auditor.evaluation import weighted_scores
    from auditor.run_dir import RunDir
    from auditor.test_predictions import read_test_predictions

    names = label_names(corpus)
    clean = {r["id"]: [names[t] for t in r[CLEAN_COLUMN]] for r in corpus["test"]}
    focus = np.arange(len(corpus["test"])) % 3 == 0
    rows = draw_sample(corpus, ["test"], 12, seed=1, by_language=True, focus=focus)
    for r in rows:
        r.tags, r.verified = clean[r.id], True
    path = tmp_path / "t.jsonl"
    write_sample(path, rows)
    result = run_retrain(corpus, corpus, _cfg(tmp_path, str(path)), tmp_path / "run", progress=False)
    [exp] = result.experiments
    kept = {(p.model, p.id): p.tags for p in read_test_predictions(RunDir(tmp_path / "run").test_predictions)}
    vt = read_verified_test(path, corpus["test"], names)
    for lang in ("de", "fr"):
        mine = [r for r in rows if r.lang == lang]  # in test order, as the evaluation holds them
        design = vt.design_of([r.id for r in mine])
        want = weighted_scores([r.tags for r in mine], [kept[("before", r.id)] for r in mine], design.weights)
        got = next(r.scores for r in exp.results if (r.model, r.labels, r.lang) == ("before", "verified", lang))
        assert got.f1 == pytest.approx(want.f1) and got.support == want.support
        assert exp.interval("before", "verified", lang).f1 == pytest.approx(want.f1)
        # unweighted, the same sentences would score otherwise unless every weight were equal
        assert len(set(design.weights.round(6))) > 1
    assert result.verified_weighted and RetrainResult.from_dict(result.to_dict()).verified_weighted
    assert "12 verified test sentences (weighted)" in _render(f1_summary_table(result))


@pytest.mark.slow
def test_more_verified_test_sentences_rejudge_without_training_again(tmp_path):
    """The judge stage scores the retrain stage's kept test predictions: verifying more test
    sentences re-runs it (and the report), never the training, and the F1 table follows."""
    from auditor.metrics import read_metrics
    from auditor.pipeline import run_pipeline

    run_dir = tmp_path / "v"
    cfg = _cfg(tmp_path)
    cfg = cfg.model_copy(update={"review": cfg.review.model_copy(update={"policy": "oracle"})})

    def run(verified: str | None):
        c = cfg.model_copy(update={"retrain": cfg.retrain.model_copy(update={"verified_test": verified})})
        result = run_pipeline(c, interactive=False, progress=False, console=Console(quiet=True), until="report")
        return {s.name: s.status for s in result.stages}

    assert set(run(None).values()) == {"ran"}
    corpus = load_from_disk(str(run_dir / "corpus"))
    path = tmp_path / "t.jsonl"
    _verified_file(corpus, path, n=12, verify_every=2)
    models = {p: p.stat().st_mtime_ns for p in (run_dir / "models").rglob("model.safetensors")}
    assert models
    statuses = run(str(path))
    assert statuses["retrain"] == "skipped" and statuses["judge"] == "ran" and statuses["report"] == "ran"
    retrain = read_metrics(run_dir).section(RetrainResult)
    assert {r.scores.support > 0 for e in retrain.experiments for r in e.results if r.labels == "verified"} == {True}
    half = {r.lang: r.scores.support for e in retrain.experiments for r in e.results if r.labels == "verified" and r.model == "after"}
    _verified_file(corpus, path, n=12, verify_every=1)  # the curator checks the rest
    statuses = run(str(path))
    assert statuses["retrain"] == "skipped" and statuses["judge"] == "ran"
    assert {p: p.stat().st_mtime_ns for p in models} == models  # no tagger was trained again
    retrain = read_metrics(run_dir).section(RetrainResult)
    full = {r.lang: r.scores.support for e in retrain.experiments for r in e.results if r.labels == "verified" and r.model == "after"}
    assert full.keys() == half.keys() and sum(full.values()) > sum(half.values())  # judged on all 12 now
    assert run(str(path))["judge"] == "skipped"  # unchanged file: nothing to judge again
    assert run(None)["retrain"] == "skipped"  # dropping the verified file re-judges only, too


def test_relative_verified_test_path_resolves_like_data_files(tmp_path):
    from auditor.config import load_config

    (tmp_path / "p").mkdir()
    f = tmp_path / "p" / "x.yaml"
    f.write_text("retrain: {verified_test: test_verified.jsonl}\n")
    assert load_config(f).retrain.verified_test == str(tmp_path / "p" / "test_verified.jsonl")


# --- what the table and the report say -----------------------------------------------------


def _result(silver_before, silver_after, verified_before, verified_after) -> RetrainResult:
    def row(model, labels, f1):
        return EvalRow(model, labels, "en", Scores(f1, f1, f1, 10))

    delta = verified_after - verified_before
    exp = ExperimentResult("all", ["en"], ["en"], [
        row("before", "silver", silver_before), row("after", "silver", silver_after),
        row("before", "verified", verified_before), row("after", "verified", verified_after),
    ], [
        IntervalRow("before", "verified", "en", F1Interval(verified_before, verified_before - 0.05, verified_before + 0.05, 40)),
        IntervalRow("after", "verified", "en", F1Interval(verified_after, verified_after - 0.05, verified_after + 0.05, 40)),
        IntervalRow("delta", "verified", "en", F1Interval(delta, delta - 0.01, delta + 0.02, 40)),
    ])
    return RetrainResult([exp])


def _render(table) -> str:
    import io

    console = Console(width=200, record=True, file=io.StringIO())
    console.print(table)
    return console.export_text()


def test_a_sign_disagreement_is_said_in_one_sentence():
    result = _result(0.80, 0.75, 0.70, 0.73)  # silver -0.05, verified +0.03
    [d] = disagreements(result)
    assert d.sentence() == (
        "Trained on all, tested on en: the silver test tags say cleaning hurt (-0.050 F1), the 40 verified test "
        "sentences say it helped (+0.030, 90% interval +0.020 to +0.050); trust the verified sentences."
    )
    out = _render(f1_summary_table(result))
    assert "silver test tags say cleaning hurt" in out and "40 verified test sentences" in out
    assert "[+0.020, +0.050]" in out  # the paired interval beside the verified delta


def test_the_sentence_names_the_rows_the_table_shows():
    # silver equal to clean: the tables show the clean rows only, and so does the sentence
    result = _result(0.80, 0.75, 0.70, 0.73)
    exp = result.experiments[0]
    exp.results += [EvalRow(r.model, "clean", r.lang, r.scores) for r in exp.results if r.labels == "silver"]
    [d] = disagreements(result)
    assert d.sentence().startswith("Trained on all, tested on en: the clean test tags say cleaning hurt (-0.050 F1)")


def test_agreement_or_no_change_says_nothing():
    assert disagreements(_result(0.80, 0.82, 0.70, 0.73)) == []
    assert disagreements(_result(0.80, 0.8002, 0.70, 0.65)) == []  # silver did not move
    assert f1_summary_table(_result(0.80, 0.82, 0.70, 0.73)).caption is None


def test_the_other_direction_and_an_unsettled_interval():
    result = _result(0.80, 0.85, 0.70, 0.695)  # silver +0.05, verified -0.005 with an interval across 0
    [d] = disagreements(result)
    assert "silver test tags say cleaning helped" in d.sentence() and "say it hurt (-0.005" in d.sentence()
    assert d.sentence().endswith("within the verified sentences' sampling noise (the interval includes 0): verify more test sentences to settle it.")


def test_the_report_names_the_judge_and_the_disagreement(tmp_path):
    from auditor.metrics import Metrics
    from auditor.reporting import Paragraph
    from auditor.reporting.sections import retrain as section

    class B:  # the slice of ReportBuilder the section uses
        def __init__(self):
            self.m = Metrics({"retrain": _result(0.80, 0.75, 0.70, 0.73).to_dict()})
            self.cfg = _cfg(tmp_path)
            self.tables = {}
            self.sections = []
            self.want_figures = False

        def section(self, title, anchor):
            from auditor.reporting import Section

            self.sections.append(Section(title, anchor))
            return self.sections[-1]

        def table(self, sec, table):
            self.tables[table.key] = table
            sec.blocks.append(table)

    b = B()
    section.build(b)
    blocks = b.sections[0].blocks
    assert isinstance(blocks[0], Paragraph) and "trust the verified sentences" in blocks[0].text
    assert b.tables["f1_verified"].caption == "Entity F1 per test language, judged on 40 verified test sentences."
    assert b.tables["f1_silver"].caption == "Entity F1 per test language, judged on the silver test tags."
    iv = b.tables["f1_intervals"]
    [row] = [r for r in iv.rows if r[2] == "40 verified test sentences"]
    assert row[3] == 40 and row[-1] == "+0.020 to +0.050"


def test_sample_command_draws_from_the_test_split(corpus, tmp_path):
    from typer.testing import CliRunner

    from auditor.cli import app

    run = tmp_path / "run"
    corpus.save_to_disk(str(run / "corpus"))
    out = tmp_path / "test_verified.jsonl"
    res = CliRunner().invoke(app, ["sample", str(run), "--split", "test", "--n", "6", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "set retrain.verified_test:" in res.output
    rows = read_sample(out)
    assert len(rows) == 6 and sorted(r.lang for r in rows) == ["de"] * 3 + ["fr"] * 3
    assert all(r.extra["split"] == "test" and not r.verified for r in rows)
    res = CliRunner().invoke(app, ["sample", str(run), "--split", "dev", "--out", str(tmp_path / "x.jsonl")])
    assert res.exit_code != 0 and "no split(s) ['dev']" in str(res.exception)

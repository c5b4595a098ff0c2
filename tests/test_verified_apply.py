"""The verified sample's tags are applied directly (apply writes them, store decisions inside them
are superseded, a changed sentence is listed) and the queue does not ask again (its issues start
decided, the progress line counts them, export-issues leaves them out)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from datasets import load_from_disk
from review_rows import make_issues
from rich.console import Console
from test_cleaning import SENTENCES, issue, make_corpus, tags_of
from typer.testing import CliRunner

from auditor.cleaning import ApplySummary, apply_decisions
from auditor.cli import app
from auditor.config import config_from_dict
from auditor.data.sample import SampleRow, write_sample
from auditor.errors import DataError
from auditor.metrics import read_metrics
from auditor.review.queue import OPEN, VERIFIED, IssueFilter, IssueTable, ReviewQueue
from auditor.review.store import DecisionStore
from auditor.review.verified import VERIFIED_ACTION, verified_issue_mask
from auditor.run_dir import RunDir
from auditor.tables import ISSUE_COLUMNS, write_issues

BERLIN = "de/train/000002"  # Angela Merkel in Berlin: Berlin is tagged B-ORG
TRUE_BERLIN = ["B-PER", "I-PER", "O", "B-LOC"]
ANA_BERLIN = ["B-PER", "I-PER", "O", "B-PER"]  # what ana's (wrong) accept makes of it


def row(id_: str, tags: list[str], verified: bool = True, tokens: list[str] | None = None, **extra) -> SampleRow:
    words, given = SENTENCES[id_]
    return SampleRow(id_, list(words if tokens is None else tokens), list(tags), list(given), "de", verified, extra)


def make_run(tmp_path: Path, sample: list[SampleRow] | None, decide: bool = True, **cfg) -> Path:
    """A run folder: corpus, one issue on Berlin (ana accepts its wrong B-PER), config.yaml naming the sample."""
    run = tmp_path / "run"
    make_corpus().save_to_disk(str(run / "corpus"))
    write_issues(pd.DataFrame([issue(BERLIN, 3, 4, ["B-PER"])])[list(ISSUE_COLUMNS)], run / "issues.parquet")
    with DecisionStore(run / "review.sqlite", curator="ana") as s:
        if decide:
            s.record(f"{BERLIN}:3-4", "accept", 3, 4, ["B-PER"])
    raw: dict = {"name": "t", **cfg}
    if sample is not None:
        write_sample(tmp_path / "verified.jsonl", sample)
        raw["scoring"] = {"reference": {"file": str(tmp_path / "verified.jsonl")}}
    RunDir(run).write_config(config_from_dict(raw))
    return run


def apply_section(run: Path) -> dict:
    """metrics.json["apply"] as the file holds it (which keys a run without a sample leaves out)."""
    return json.loads(RunDir(run).metrics.read_text(encoding="utf-8"))["apply"]


def changelog(run: Path) -> list[dict]:
    return pq.read_table(RunDir(run).changelog).to_pylist()


# --- apply ---------------------------------------------------------------------------------


def test_apply_writes_the_verified_tags_into_cleaned_with_their_source(tmp_path):
    # 000003 (8. Juli 2001 tagged ORG) has no issue at all: only the sample knows it is wrong
    sample = [row("de/train/000003", ["O", "O", "O"], curator="ben"), row("de/train/000001", SENTENCES["de/train/000001"][1]),
              row("de/train/000000", ["O"] * 6, verified=False)]
    run = make_run(tmp_path, sample, decide=False)
    out = CliRunner().invoke(app, ["apply", str(run)])
    assert out.exit_code == 0, out.output
    cleaned = load_from_disk(str(run / "cleaned"))["train"]
    assert tags_of(cleaned, "de/train/000003") == ["O", "O", "O"]
    assert tags_of(cleaned, "de/train/000000") == SENTENCES["de/train/000000"][1]  # not verified: untouched
    log = changelog(run)
    assert [(r["id"], r["start"], r["end"], r["after"], r["action"], r["curator"]) for r in log] == [
        ("de/train/000003", 0, 2, ["O", "O"], VERIFIED_ACTION, "ben")]
    assert "verified.jsonl" in log[0]["note"]
    ap = apply_section(run)
    assert (ap["verified_sentences"], ap["verified_changed"], ap["verified_superseded"], ap["verified_stale"]) == (2, 1, 0, 0)
    assert ap["changed_sentences"] == 1
    assert "verified sample: 2 sentences applied, 1 changed" in out.output


def test_a_file_without_a_curator_says_verified_sample():
    result = apply_decisions(make_corpus(), pd.DataFrame([issue(BERLIN, 3, 4, ["B-LOC"])]), {}, [row(BERLIN, TRUE_BERLIN)])
    assert set(result.changelog["curator"]) == {"verified sample"}
    assert tags_of(result.cleaned["train"], BERLIN) == TRUE_BERLIN


def test_verified_tags_are_written_as_valid_iob2():
    # a hand-edited line starting an entity with I-: the cleaned corpus still is IOB2
    result = apply_decisions(make_corpus(), pd.DataFrame([issue(BERLIN, 3, 4, ["B-LOC"])]), {},
                             [row(BERLIN, ["I-PER", "I-PER", "O", "I-LOC"])])
    assert tags_of(result.cleaned["train"], BERLIN) == TRUE_BERLIN
    assert result.changelog["note"].str.contains("IOB2-repaired").all()


def test_a_store_decision_inside_a_verified_sentence_is_superseded_and_counted(tmp_path):
    # ana accepted Berlin -> PER; the curator of the sample checked every word: Berlin is LOC
    run = make_run(tmp_path, [row(BERLIN, TRUE_BERLIN)])
    out = CliRunner().invoke(app, ["apply", str(run), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["verified_superseded"] == 1 and data["superseded_list"] == [f"{BERLIN}:3-4"]
    assert tags_of(load_from_disk(str(run / "cleaned"))["train"], BERLIN) == TRUE_BERLIN
    # the sample wrote the sentence, the decision wrote nothing
    assert {r["action"] for r in changelog(run)} == {VERIFIED_ACTION}


def test_a_verified_line_whose_sentence_changed_is_listed_not_guessed(tmp_path):
    moved = row(BERLIN, TRUE_BERLIN, tokens=["Angela", "Merkel", "in", "Bonn"])
    result = apply_decisions(make_corpus(), pd.DataFrame([issue(BERLIN, 3, 4, ["B-LOC"])]), {}, [moved], ["train"])
    assert tags_of(result.cleaned["train"], BERLIN) == SENTENCES[BERLIN][1]
    assert [(s.id, s.action, s.kind) for s in result.stale] == [(BERLIN, VERIFIED_ACTION, "tokens changed")]
    assert result.summary.verified_stale == 1 and result.summary.verified_sentences == 0
    assert result.changelog.empty


def test_the_cli_lists_a_changed_sentence_with_the_stale_decisions(tmp_path):
    run = make_run(tmp_path, [row(BERLIN, TRUE_BERLIN, tokens=["Angela", "Merkel", "in", "Bonn"])])
    out = CliRunner().invoke(app, ["apply", str(run)])
    assert out.exit_code == 0, out.output
    assert "1 stale decision(s) not applied" in out.output and f"{BERLIN} ({VERIFIED_ACTION})" in out.output
    # the sample settled nothing, so ana's decision applies as before
    assert tags_of(load_from_disk(str(run / "cleaned"))["train"], BERLIN) == ANA_BERLIN


def test_only_audited_splits_are_written():
    result = apply_decisions(make_corpus(), pd.DataFrame([issue(BERLIN, 3, 4, ["B-LOC"])]), {}, [row(BERLIN, TRUE_BERLIN)], ["dev"])
    assert tags_of(result.cleaned["train"], BERLIN) == SENTENCES[BERLIN][1]
    assert [s.kind for s in result.stale] == ["sentence gone"]


def test_a_verified_test_sample_is_never_applied(tmp_path):
    write_sample(tmp_path / "test_verified.jsonl", [row(BERLIN, TRUE_BERLIN)])
    run = make_run(tmp_path, None, retrain={"verified_test": str(tmp_path / "test_verified.jsonl")})
    assert CliRunner().invoke(app, ["apply", str(run)]).exit_code == 0
    assert tags_of(load_from_disk(str(run / "cleaned"))["train"], BERLIN) == ANA_BERLIN
    assert {r["action"] for r in changelog(run)} == {"accept"}
    assert "verified_sentences" not in apply_section(run)


def test_without_a_sample_apply_is_what_it_was(tmp_path):
    """No scoring.reference.file: the same files and metrics as a run without a config at all."""
    with_cfg = make_run(tmp_path / "a", None)
    without = make_run(tmp_path / "b", None)
    RunDir(without).config.unlink()
    for run in (with_cfg, without):
        assert CliRunner().invoke(app, ["apply", str(run)]).exit_code == 0
    # the same rows (each store has its own decision time)
    assert [{**r, "at": ""} for r in changelog(with_cfg)] == [{**r, "at": ""} for r in changelog(without)]
    data = sorted(p.relative_to(with_cfg) for p in (with_cfg / "cleaned").rglob("*.arrow"))
    assert data and all((with_cfg / p).read_bytes() == (without / p).read_bytes() for p in data)
    assert apply_section(with_cfg) == apply_section(without)
    assert not any(k.startswith("verified") or k == "superseded_list" for k in apply_section(with_cfg))


def test_same_sample_same_output(tmp_path):
    run = make_run(tmp_path, [row(BERLIN, TRUE_BERLIN), row("de/train/000003", ["O", "O", "O"])])
    outputs = []
    for _ in range(2):
        assert CliRunner().invoke(app, ["apply", str(run)]).exit_code == 0
        outputs.append((RunDir(run).changelog.read_bytes(), apply_section(run)))
    assert outputs[0] == outputs[1]


def test_a_missing_sample_file_is_one_line_and_nothing_is_written(tmp_path, monkeypatch, capsys):
    import sys

    from auditor import cli

    run = make_run(tmp_path, [row(BERLIN, TRUE_BERLIN)])
    (tmp_path / "verified.jsonl").unlink()
    monkeypatch.setattr(sys, "argv", ["auditor", "apply", str(run)])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    err = capsys.readouterr().err.strip()
    assert exc.value.code != 0
    assert len(err.splitlines()) == 1 and "verified.jsonl" in err and "scoring.reference.file" in err
    assert not (run / "cleaned").exists() and not (run / "changelog.parquet").exists()


def test_an_emptied_store_beside_a_sample_applies_again(tmp_path):
    """The sample's rows in the changelog are not decisions: an empty store does not look like
    a lost one."""
    run = make_run(tmp_path, [row(BERLIN, TRUE_BERLIN)], decide=False)
    for _ in range(2):
        out = CliRunner().invoke(app, ["apply", str(run)])
        assert out.exit_code == 0, out.output


# --- the stage's input ---------------------------------------------------------------------


def test_the_apply_stage_reruns_when_the_sample_file_changes(tmp_path):
    from auditor.pipeline import PIPELINE, _input_hash
    from auditor.stages.context import RunContext

    sample = tmp_path / "verified.jsonl"
    write_sample(sample, [row(BERLIN, SENTENCES[BERLIN][1])])
    cfg = config_from_dict({"name": "t", "runs_dir": str(tmp_path / "runs"), "scoring": {"reference": {"file": str(sample)}}})
    ctx = RunContext(cfg, cfg.run_dir, Console(quiet=True))
    deps = {"review": "r"}
    before = _input_hash(ctx, PIPELINE["apply"], deps)
    assert _input_hash(ctx, PIPELINE["apply"], deps) == before
    write_sample(sample, [row(BERLIN, TRUE_BERLIN)])
    assert _input_hash(ctx, PIPELINE["apply"], deps) != before
    plain = config_from_dict({"name": "t", "runs_dir": str(tmp_path / "runs")})
    assert PIPELINE["apply"].input_state(RunContext(plain, plain.run_dir, Console(quiet=True))) == ""


# --- the queue -----------------------------------------------------------------------------


def review_run(tmp_path: Path, verified: list[str]) -> Path:
    """The shared review rows with a sample verifying these sentences (their tags unchanged)."""
    issues = make_issues()
    run = tmp_path / "run"
    write_issues(issues, run / "issues.parquet")
    by_id = issues.drop_duplicates("id").set_index("id")
    write_sample(tmp_path / "verified.jsonl", [
        SampleRow(i, list(by_id.loc[i, "tokens"]), list(by_id.loc[i, "tags"]), list(by_id.loc[i, "tags"]), i[:2], True)
        for i in verified
    ])
    RunDir(run).write_config(config_from_dict({"name": "t", "scoring": {"reference": {"file": str(tmp_path / "verified.jsonl")}}}))
    return run


def test_verified_issue_mask_needs_a_verified_line_with_the_same_words():
    issues = make_issues()
    first = issues.iloc[0]
    rows = [SampleRow(first["id"], list(first["tokens"]), list(first["tags"]), list(first["tags"]), "de", True),
            SampleRow("en/train/000001", ["other", "words"], ["O", "O"], ["O", "O"], "en", True),
            SampleRow("de/train/000002", [], ["O"] * 7, ["O"] * 7, "de", False)]
    assert verified_issue_mask(issues, rows).tolist() == [True] + [False] * (len(issues) - 1)
    import pyarrow as pa

    assert verified_issue_mask(pa.Table.from_pandas(issues), rows).tolist() == verified_issue_mask(issues, rows).tolist()


def test_the_queue_starts_verified_issues_decided(tmp_path):
    from auditor.review.app import open_review

    run = review_run(tmp_path, ["de/train/000005", "fr/train/000007"])
    app_ = open_review(run, curator="ana")
    q = app_.queue
    settled = {str(q.table.issue_ids[i]) for i in range(q.table.n) if q.status[i] == VERIFIED}
    assert settled == {"de/train/000005:3-5", "fr/train/000007:0-2"}
    p = q.progress()
    assert (p.verified, p.decided, p.done, p.remaining) == (2, 0, 2, 6)
    q.set_filter(IssueFilter(status="open"))
    assert len(q.view) == 6 and str(q.current().issue_id) == "en/train/000001:1-3"
    # a decision on a verified issue does not reopen nor re-decide it: the sample's tags are final
    app_.store.record("de/train/000005:3-5", "keep")
    assert q.sync(app_.store.sync(q.ledger)) == []
    assert q.status[q.table.index_of("de/train/000005:3-5")] == VERIFIED
    app_.store.close()


def test_no_sample_no_verified_status(tmp_path):
    import pyarrow as pa

    q = ReviewQueue(IssueTable(pa.Table.from_pandas(make_issues())))
    assert (q.status == OPEN).all() and q.progress().verified == 0


def test_a_missing_sample_does_not_stop_the_review_but_is_said(tmp_path):
    from auditor.review.app import open_review

    run = review_run(tmp_path, ["de/train/000005"])
    (tmp_path / "verified.jsonl").unlink()
    app_ = open_review(run, curator="ana")
    assert "verified.jsonl" in app_.warning and (app_.queue.status == OPEN).all()
    app_.store.close()


@pytest.mark.anyio
async def test_progress_line_says_how_many_the_sample_settled(tmp_path):
    from auditor.review.app import open_review

    app_ = open_review(review_run(tmp_path, ["de/train/000005", "fr/train/000007"]), curator="ana")
    async with app_.run_test(size=(100, 24)) as pilot:
        await pilot.press("a")
        text = str(app_.screen.query_one("#progress").render())
        await pilot.press("home")  # #1 is settled by the sample: the detail says so
        await pilot.pause()
        detail = str(app_.screen.query_one("#sentence").render())
    assert text.startswith("3/8 decided") and "◆2 verified in the sample" in text
    assert "◆ verified in the sample" in detail


def test_export_issues_leaves_the_settled_issues_out(tmp_path):
    run = review_run(tmp_path, ["de/train/000005"])
    out = CliRunner().invoke(app, ["export-issues", str(run), "--format", "prodigy", "--out", str(tmp_path / "t.jsonl")])
    assert out.exit_code == 0, out.output
    ids = [json.loads(line)["meta"]["issue_id"] for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert len(ids) == 7 and "de/train/000005:3-5" not in ids


def test_export_issues_with_a_missing_sample_says_so(tmp_path):
    run = review_run(tmp_path, ["de/train/000005"])
    (tmp_path / "verified.jsonl").unlink()
    out = CliRunner().invoke(app, ["export-issues", str(run), "--out", str(tmp_path / "t.json")])
    assert isinstance(out.exception, DataError) and "verified.jsonl" in str(out.exception)
    assert not (tmp_path / "t.json").exists()


# --- through the real stages -----------------------------------------------------------------


@pytest.mark.slow
def test_the_pipeline_applies_the_sample_and_reruns_apply_when_it_changes(tmp_path):
    import yaml
    from test_reference_pipeline import SMALL, _verify

    from auditor.config import load_config
    from auditor.pipeline import run_pipeline

    def pipeline(reference: Path | None) -> list[str]:
        raw = json.loads(json.dumps(SMALL))
        raw.update(runs_dir=str(tmp_path / "runs"), report={"dir": str(tmp_path / "reports")},
                   review={"policy": "threshold"})
        if reference:
            raw["scoring"] = {"reference": {"file": str(reference)}}
        (tmp_path / "p.yaml").write_text(yaml.safe_dump(raw))
        result = run_pipeline(load_config(tmp_path / "p.yaml"), interactive=False, progress=False,
                              console=Console(quiet=True), until="apply")
        return [s.status for s in result.stages]

    assert pipeline(None) == ["ran"] * 5
    run = tmp_path / "runs" / "ref"
    sample = tmp_path / "sample.jsonl"
    assert CliRunner().invoke(app, ["sample", str(run), "--out", str(sample), "--n", "30", "--seed", "1"]).exit_code == 0
    corrected = _verify(sample, load_from_disk(str(run / "corpus")))
    assert pipeline(sample)[2:] == ["ran", "ran", "ran"]
    ap = read_metrics(run).section(ApplySummary)
    assert ap.verified_sentences == 30 and ap.verified_changed == len(corrected)
    # the threshold policy decides only what the sample left open: nothing of it is superseded
    assert ap.verified_superseded == 0 and ap.decisions > 0
    truth = {json.loads(line)["id"]: json.loads(line)["ner_tags"] for line in sample.read_text().splitlines()}
    cleaned = load_from_disk(str(run / "cleaned"))["train"]
    assert all(tags_of(cleaned, id_) == truth[id_] for id_ in corrected)
    assert pipeline(sample) == ["skipped"] * 5
    # un-verify one corrected sentence: apply runs again and leaves it as the review had it
    lines = [json.loads(line) for line in sample.read_text().splitlines()]
    undone = next(r for r in lines if r["id"] in corrected)
    undone["verified"] = False
    sample.write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert pipeline(sample)[-1] == "ran"
    assert read_metrics(run).section(ApplySummary).verified_sentences == 29


@pytest.mark.anyio
async def test_the_report_and_the_status_line_count_errors_left_by_one_rule(tmp_path):
    """Both leave the sample's settled issues out of the queue and count its corrected sentences
    as fixed (apply writes them): the same 'errors left' in the UI and in the report."""
    from auditor.config import PipelineConfig
    from auditor.metrics import Metrics, write_section
    from auditor.reporting import Paragraph
    from auditor.reporting.builder import ReportBuilder
    from auditor.reporting.inputs import RunInputs
    from auditor.reporting.sections import remaining as section
    from auditor.review.app import open_review
    from auditor.scoring.summary import ScoringSummary

    run = review_run(tmp_path, ["de/train/000005", "fr/train/000007"])
    scoring = ScoringSummary(0, 400, 0, 0, {}, {}, {}, reference={"verified_sentences": 40, "corrected_sentences": 4})
    write_section(run, scoring)
    app_ = open_review(run, curator="ana")
    async with app_.run_test(size=(200, 24)):
        status = str(app_.screen.query_one("#progress").render())
    b = ReportBuilder(RunInputs(run, Metrics({"scoring": scoring.to_dict()}), PipelineConfig(), True,
                                issues=make_issues(), decisions={}), tmp_path)
    section.build(b)
    [text] = [p.text for p in b.sections[0].blocks if isinstance(p, Paragraph)]
    left = b.derived.tables["remaining_errors"]["rows"][1]
    assert left[1] == 36.0  # 40 estimated before review, the sample's 4 corrected
    assert "The review corrected 4 (4 of them in the verified sample, applied directly), so about 36 are left" in text
    assert f"errors left ~36 sentences (90% {left[2]}–{left[3]})" in status

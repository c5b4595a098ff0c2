"""Flagged issues as a round trip: export the issues as Label Studio / Prodigy tasks, edit them
as a curator in that tool would, import the answers as decisions, apply, and the cleaned corpus
holds exactly the edited tags; what cannot be placed is listed, other curators are not overwritten."""

import json

import pandas as pd
import pytest
from datasets import load_from_disk
from review_rows import issue_row
from typer.testing import CliRunner

from auditor.cli import app
from auditor.config import SyntheticConfig
from auditor.data.formats.common import given_layout
from auditor.data.iob import spans as iob_spans
from auditor.data.offsets import tags_to_spans
from auditor.data.synthetic import generate_synthetic
from auditor.review.queue import IssueFilter
from auditor.review.roundtrip import export_issues, import_decisions
from auditor.review.store import DecisionStore
from auditor.run_dir import RunDir
from auditor.stages.apply import apply_run
from auditor.tables import write_issues


@pytest.fixture
def run(tmp_path, noise_issues):
    run = tmp_path / "run"
    corpus = generate_synthetic(SyntheticConfig(sentences={"train": 40, "test": 5}, noise_rate=0.3), ["de", "fr"], seed=2)
    corpus.save_to_disk(str(run / "corpus"))
    issues = noise_issues(corpus)
    # one issue per sentence, so the expected cleaned sentence is the one task's answer
    issues = issues.drop_duplicates("id").reset_index(drop=True)
    rows = [
        issue_row(r.id, " ".join(r.tokens), " ".join(r.tags), r.start, r.end, " ".join(r.suggested), r.kind, r.score)
        for r in issues.itertuples()
    ]
    write_issues(pd.DataFrame(rows), run / "issues.parquet")
    (run / "config.yaml").write_text("name: t\ndata:\n  source: synthetic\n", encoding="utf-8")
    return run


def layout_of(task):
    """The words the curator sees: Label Studio shows the text; data.tokens says where the words are."""
    return given_layout(task["data"]["text"], task["data"].get("tokens"), "task")


def _other(label):
    return {"PER": "ORG", "ORG": "LOC", "LOC": "PER"}[label]


def curate_labelstudio(tasks):
    """What curators do in Label Studio: open each task (the suggestion is pre-filled from the
    prediction), accept it, restore the given tags, or relabel the issue's words; submit.
    Returns the sentence tags each answered task should end with, by sentence id."""
    expected = {}
    for k, task in enumerate(tasks):
        layout = layout_of(task)
        suggested = task["predictions"][0]["result"]
        given = [w.rsplit("/", 1)[1] for w in task["data"]["given"].split()]
        if k % 3 == 0:  # accept: submit the prediction as it is
            result = suggested
        else:
            # the curator sees the words; rebuild the sentence's tags from the regions
            tags = ["O"] * len(layout.tokens)
            for r in suggested:
                s = layout.starts.index(r["value"]["start"])
                e = layout.ends.index(r["value"]["end"]) + 1
                tags[s:e] = ["B-" + r["value"]["labels"][0]] + ["I-" + r["value"]["labels"][0]] * (e - s - 1)
            issue_words = [i for i, w in enumerate(task["data"]["given"].split())]
            start = _issue_start(task, layout)
            if k % 3 == 1:  # keep: put the given tags back over the issue's words
                tags[start : start + len(given)] = given
                tags = _valid(tags)
            else:  # relabel: the issue's words become one entity of another type than suggested
                sug = [w.rsplit("/", 1)[1] for w in task["data"]["suggested"].split()]
                typ = next((t[2:] for t in sug if t != "O"), "PER")
                n = len(issue_words)
                tags[start : start + n] = ["B-" + _other(typ)] + ["I-" + _other(typ)] * (n - 1)
                tags = _valid(tags)
            result = [
                {"from_name": "label", "to_name": "text", "type": "labels",
                 "value": {"start": sp.start, "end": sp.end, "text": sp.text, "labels": [sp.label]}}
                for sp in tags_to_spans(layout, tags)
            ]
        task["annotations"] = [{
            "id": k + 1, "completed_by": {"email": "ann@example.org"} if k % 2 else 1,
            "created_at": "2026-12-07T10:00:00Z", "updated_at": "2026-12-07T10:00:00Z", "was_cancelled": False,
            "result": result,
        }]
        layout_tags = ["O"] * len(layout.tokens)
        for r in result:
            s = layout.starts.index(r["value"]["start"])
            e = layout.ends.index(r["value"]["end"]) + 1
            layout_tags[s:e] = ["B-" + r["value"]["labels"][0]] + ["I-" + r["value"]["labels"][0]] * (e - s - 1)
        expected[task["data"]["id"]] = layout_tags
    return expected


def _issue_start(task, layout):
    words = [w.rsplit("/", 1)[0] for w in task["data"]["given"].split()]
    for i in range(len(layout.tokens)):
        if layout.tokens[i : i + len(words)] == words:
            return i
    raise AssertionError("issue words not in the text")


def _valid(tags):
    """IOB2 of tags as an editor would produce (an entity cut in two starts again with B-)."""
    from auditor.data.iob import repair_iob2

    return repair_iob2(tags)


def test_labelstudio_round_trip_cleans_exactly_the_edited_tags(run, tmp_path):
    tasks_file = tmp_path / "tasks.json"
    n = export_issues(run, "labelstudio", tasks_file)
    tasks = json.loads(tasks_file.read_text(encoding="utf-8"))
    assert n == len(tasks) > 6
    first = tasks[0]
    assert first["data"]["issue_id"] and first["meta"]["issue_id"] == first["data"]["issue_id"]
    assert first["data"]["why"] and "/" in first["data"]["given"]
    assert first["predictions"][0]["model_version"] == "auditor-suggestion"

    expected = curate_labelstudio(tasks)
    tasks_file.write_text(json.dumps(tasks), encoding="utf-8")
    report = import_decisions(run, tasks_file, curator="bob")
    assert report.unplaced == [] and report.blocked == []
    assert sum(report.written.values()) == len(tasks)
    assert set(report.written) <= {"accept", "keep", "relabel"} and len(report.written) == 3
    with DecisionStore(run / "review.sqlite") as store:
        curators = {d.curator for d in store.latest().values()}
    assert curators == {"bob", "ann@example.org"}  # the file's curator where it names one

    apply_run(RunDir(run))
    cleaned = load_from_disk(str(run / "cleaned"))["train"]
    names = cleaned.features["ner_tags"].feature.names
    got = {r["id"]: [names[t] for t in r["ner_tags"]] for r in cleaned}
    assert {i: got[i] for i in expected} == expected
    original = load_from_disk(str(run / "corpus"))["train"]
    untouched = [r for r in original if r["id"] not in expected]
    assert all(got[r["id"]] == [names[t] for t in r["ner_tags"]] for r in untouched)

    # importing the same file again changes nothing
    again = import_decisions(run, tasks_file, curator="bob")
    assert again.written == {} and again.unchanged == len(tasks)


def test_what_cannot_be_placed_is_listed_and_other_curators_are_not_overwritten(run, tmp_path):
    tasks_file = tmp_path / "tasks.json"
    export_issues(run, "labelstudio", tasks_file, limit=5)
    tasks = json.loads(tasks_file.read_text(encoding="utf-8"))
    for t in tasks:
        t["annotations"] = [{"result": t["predictions"][0]["result"]}]
    tasks[0]["data"]["issue_id"] = "nope:0-1"
    tasks[1]["data"]["text"] += " !"
    r = tasks[2]["annotations"][0]["result"]
    if r:
        r[0]["value"]["end"] -= 1
        r[0]["value"]["text"] = r[0]["value"]["text"][:-1]
    else:
        r.append({"type": "labels", "value": {"start": 0, "end": 1, "labels": ["PER"]}})
    with DecisionStore(run / "review.sqlite", curator="carol") as store:
        store.decide(tasks[3]["data"]["issue_id"], "keep")
    tasks_file.write_text(json.dumps(tasks), encoding="utf-8")
    result = CliRunner().invoke(app, ["import-decisions", str(run), str(tasks_file), "--curator", "bob"])
    assert result.exit_code == 1
    out = result.output
    assert "unknown task (issue nope:0-1 is not in this run" in out
    assert "(changed text)" in out
    assert "ends inside or between words" in out or "starts inside or between words" in out
    assert "was decided by carol (keep); pass --replace" in out
    assert "decisions written: accept: 1" in out
    result = CliRunner().invoke(app, ["import-decisions", str(run), str(tasks_file), "--curator", "bob", "--replace"])
    assert "carol's keep replaced" in result.output
    with DecisionStore(run / "review.sqlite") as store:
        assert store.latest()[tasks[3]["data"]["issue_id"]].curator == "bob"


def test_a_change_outside_the_issue_is_not_placed(run, tmp_path):
    tasks_file = tmp_path / "tasks.json"
    export_issues(run, "labelstudio", tasks_file)
    tasks = json.loads(tasks_file.read_text(encoding="utf-8"))
    task = next(t for t in tasks if len(layout_of(t).tokens) > 6)
    layout = layout_of(task)
    start = _issue_start(task, layout)
    n = len(task["data"]["given"].split())
    tags = ["O"] * len(layout.tokens)
    for r in task["predictions"][0]["result"]:
        s, e = layout.starts.index(r["value"]["start"]), layout.ends.index(r["value"]["end"]) + 1
        tags[s:e] = ["B-" + r["value"]["labels"][0]] + ["I-" + r["value"]["labels"][0]] * (e - s - 1)
    far = next(i for i in range(len(tags)) if tags[i] == "O" and not start - 1 <= i <= start + n and not any(
        s <= i < e for s, e, _ in iob_spans(tags)))
    tags[far] = "B-LOC"
    task["annotations"] = [{"result": [
        {"type": "labels", "value": {"start": sp.start, "end": sp.end, "text": sp.text, "labels": [sp.label]}}
        for sp in tags_to_spans(layout, _valid(tags))]}]
    tasks_file.write_text(json.dumps([task]), encoding="utf-8")
    report = import_decisions(run, tasks_file, curator="bob")
    assert report.written == {} and len(report.unplaced) == 1 and "changes words outside the issue" in report.unplaced[0]


def test_prodigy_round_trip_accepts_and_skips_rejected(run, tmp_path):
    out = tmp_path / "issues.jsonl"
    result = CliRunner().invoke(app, ["export-issues", str(run), "--format", "prodigy", "--out", str(out), "--limit", "4"])
    assert result.exit_code == 0, result.output
    assert "exported 4 issues" in result.output
    tasks = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert all(t["meta"]["issue_id"] and t["meta"]["why"] for t in tasks)
    # Prodigy's db-out: the answer and the annotator's session are added to each task
    tasks[0]["answer"], tasks[1]["answer"], tasks[2]["answer"], tasks[3]["answer"] = "accept", "reject", "ignore", "accept"
    for t in tasks:
        t["_annotator_id"] = "issues-dora"
    # the curator removed the highlighted entities of the issue's words
    start, end = tasks[3]["meta"]["words"]
    tasks[3]["spans"] = [sp for sp in tasks[3]["spans"] if not (sp["token_start"] < end and sp["token_end"] >= start)]
    out.write_text("".join(json.dumps(t) + "\n" for t in tasks), encoding="utf-8")
    report = import_decisions(run, out)
    assert report.skipped == {"answer reject": 1, "answer ignore": 1}
    assert sum(report.written.values()) == 2 and report.unplaced == []
    with DecisionStore(run / "review.sqlite") as store:
        latest = store.latest()
    assert latest[tasks[0]["meta"]["issue_id"]].action == "accept"
    assert latest[tasks[0]["meta"]["issue_id"]].curator == "issues-dora"


def test_export_issues_filters_and_open_only(run, tmp_path):
    out = tmp_path / "t.json"
    all_n = export_issues(run, "labelstudio", out, IssueFilter(status="all"))
    de_n = export_issues(run, "labelstudio", out, IssueFilter(status="all", langs=("de",)))
    assert 0 < de_n < all_n
    first = json.loads(out.read_text(encoding="utf-8"))[0]["data"]["issue_id"]
    with DecisionStore(run / "review.sqlite", curator="x") as store:
        store.decide(first, "keep")
    assert export_issues(run, "labelstudio", out, IssueFilter(status="open")) == all_n - 1


def test_import_without_a_curator_names_what_to_do(run, tmp_path, monkeypatch, capsys):
    import sys

    from auditor import cli

    out = tmp_path / "t.json"
    export_issues(run, "labelstudio", out, limit=1)
    tasks = json.loads(out.read_text(encoding="utf-8"))
    tasks[0]["annotations"] = [{"completed_by": 1, "result": tasks[0]["predictions"][0]["result"]}]
    out.write_text(json.dumps(tasks), encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["auditor", "import-decisions", str(run), str(out)])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code != 0 and "the file names no curator for this answer; pass --curator NAME" in capsys.readouterr().err
    assert not (run / "review.sqlite").exists()


def test_a_label_outside_the_corpus_label_set_is_not_placed(run, tmp_path):
    out = tmp_path / "t.json"
    export_issues(run, "labelstudio", out, limit=1)
    tasks = json.loads(out.read_text(encoding="utf-8"))
    layout = layout_of(tasks[0])
    start, end = tasks[0]["data"]["words"]
    s, e = layout.starts[start], layout.ends[end - 1]
    result = [r for r in tasks[0]["predictions"][0]["result"] if r["value"]["end"] <= s or r["value"]["start"] >= e]
    result.append({"type": "labels", "value": {"start": s, "end": e, "text": layout.text[s:e], "labels": ["MISC"]}})
    tasks[0]["annotations"] = [{"result": result}]
    out.write_text(json.dumps(tasks), encoding="utf-8")
    report = import_decisions(run, out, curator="bob")
    assert report.written == {} and "label MISC not in the corpus's label set (LOC, ORG, PER)" in report.unplaced[0]

"""The whole path of a team on an annotation tool, with the real stages: a doccano corpus in,
load -> crossval -> score, the issues out to Label Studio, a curator's answers back, apply, and
the cleaned corpus out in doccano again with its own text and exactly the edited tags."""

import json

import pytest
import yaml
from rich.console import Console

from auditor.config import SyntheticConfig, load_config
from auditor.data.formats import module, read_records, split_records
from auditor.data.formats.common import given_layout
from auditor.data.offsets import Layout, TextRecord, tags_to_spans
from auditor.data.synthetic import generate_synthetic
from auditor.export import export_corpus
from auditor.pipeline import run_pipeline
from auditor.review.roundtrip import export_issues, import_decisions
from auditor.run_dir import RunDir
from auditor.stages.apply import apply_run


def _with_odd_whitespace(rec: TextRecord, k: int) -> TextRecord:
    """The same words with a double space, a tab or an emoji word in the text, as tools keep it."""
    gap = ["  ", "\t", " "][k % 3]
    words = rec.layout.tokens + (["👍🏽"] if k % 4 == 0 else [])
    tags = rec.tags + (["O"] if k % 4 == 0 else [])
    starts, ends, pos = [], [], 0
    for i, w in enumerate(words):
        starts.append(pos)
        ends.append(pos + len(w))
        pos += len(w) + len(gap if i == 0 else " ")
    text = "".join(w + (gap if i == 0 else " ") for i, w in enumerate(words)).rstrip(" ")
    return TextRecord(Layout(text, tuple(starts), tuple(ends)), tags, rec.where, rec.id, rec.lang)


@pytest.mark.slow
def test_doccano_team_round_trip_through_label_studio(tmp_path):
    corpus = generate_synthetic(SyntheticConfig(sentences={"train": 60, "validation": 15, "test": 15}, noise_rate=0.2), ["de", "fr"], seed=4)
    files = {}
    for split, ds in corpus.items():
        recs = [_with_odd_whitespace(r, k) for k, r in enumerate(split_records(ds))]
        files[split] = str(tmp_path / f"{split}.jsonl")
        module("doccano").write(recs, files[split], "utf16")
    raw = {
        "name": "team", "runs_dir": str(tmp_path / "runs"),
        "data": {"source": "doccano", "files": files, "languages": {"de": 1.0, "fr": 1.0}},
        "model": {"name": "tiny", "max_length": 64, "stride": 16,
                  "tiny": {"vocab_size": 600, "hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64}},
        "crossval": {"mode": "finetune", "folds": 2},
        "training": {"epochs": 2, "batch_size": 32, "learning_rate": 2.0e-3},
        "review": {"policy": "interactive", "unattended": "oracle"},
    }
    (tmp_path / "team.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    cfg = load_config(tmp_path / "team.yaml")
    run_pipeline(cfg, until="score", interactive=False, progress=False, console=Console(quiet=True))
    run = cfg.run_dir

    tasks_file = tmp_path / "issues.json"
    n = export_issues(run, "labelstudio", tasks_file, limit=8)
    tasks = json.loads(tasks_file.read_text(encoding="utf-8"))
    assert n == len(tasks) > 0
    source = {r.id: r for r in read_records(files["train"], "doccano")}
    # the tasks show each sentence in its source text, not re-joined words
    assert all(t["data"]["text"] == source[t["data"]["id"]].layout.text for t in tasks)

    # the curator accepts every other suggestion and restores the given tags on the rest
    expected = {}
    for k, t in enumerate(tasks):
        layout = given_layout(t["data"]["text"], t["data"].get("tokens"), "t")
        if k % 2 == 0:
            result = t["predictions"][0]["result"]
            tags = ["O"] * len(layout.tokens)
            for r in result:
                s, e = layout.starts.index(r["value"]["start"]), layout.ends.index(r["value"]["end"]) + 1
                tags[s:e] = ["B-" + r["value"]["labels"][0]] + ["I-" + r["value"]["labels"][0]] * (e - s - 1)
        else:
            tags = source[t["data"]["id"]].tags
            result = [{"type": "labels", "value": {"start": sp.start, "end": sp.end, "text": sp.text, "labels": [sp.label]}}
                      for sp in tags_to_spans(layout, tags)]
        t["annotations"] = [{"completed_by": {"email": "eve@example.org"}, "result": result}]
        expected.setdefault(t["data"]["id"], tags)
    tasks_file.write_text(json.dumps(tasks), encoding="utf-8")
    report = import_decisions(run, tasks_file)
    assert report.unplaced == [] and sum(report.written.values()) == len(tasks)

    apply_run(RunDir(run))
    from datasets import load_from_disk

    out = export_corpus(load_from_disk(str(run / "cleaned")), "doccano", tmp_path / "out", run_dir=run)
    back = {r.id: r for r in read_records(str(out / "train.jsonl"), "doccano")}
    assert {r.id: r.layout.text for r in back.values()} == {r.id: r.layout.text for r in source.values()}
    # one issue per sentence here or not: every answered sentence ends with an answer's tags
    one_issue = {t["data"]["id"] for t in tasks if sum(x["data"]["id"] == t["data"]["id"] for x in tasks) == 1}
    assert one_issue and all(back[i].tags == expected[i] for i in one_issue)
    untouched = set(source) - {t["data"]["id"] for t in tasks}
    assert all(back[i].tags == source[i].tags for i in untouched)

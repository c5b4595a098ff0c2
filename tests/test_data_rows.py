"""Input that used to be read wrong without a word (issue 24 rows 6, 13, 19): a split named
like a path, a CR-only file, a token with a space in a space-separated file, a mistyped tag,
and export.push_to_hub in a pipeline file."""

from __future__ import annotations

import pytest
from rich.console import Console

from auditor.config import DataConfig, config_from_dict
from auditor.data.build import load_corpus, load_corpus_with_report
from auditor.errors import AuditorError, DataError


def one_split(path, **kw) -> DataConfig:
    kw.setdefault("languages", {"de": 1.0})
    return DataConfig(source="conll", files={"train": str(path)}, splits=["train"], audit=["train"], **kw)


@pytest.mark.parametrize("name", ["../../x", "a/b", "..", ".hidden", ""])
def test_a_split_named_like_a_path_is_refused_before_anything_is_written(tmp_path, name):
    from auditor.pipeline import run_pipeline

    data = tmp_path / "d.conll"
    data.write_text("Anna\tB-PER\n", encoding="utf-8")
    cfg = config_from_dict({
        "name": "s", "runs_dir": str(tmp_path / "runs"),
        "data": {"source": "conll", "languages": {"de": 1.0}, "files": {name: str(data)}, "splits": [name],
                 "audit": [name], "train_splits": [name]},
    })
    with pytest.raises(DataError, match="is not a plain name"):
        run_pipeline(cfg, until="load", interactive=False, progress=False, console=Console(quiet=True))
    assert sorted(p.name for p in tmp_path.rglob("*.arrow")) == []
    assert not (tmp_path / "x").exists()


def test_cr_only_line_ends_are_line_ends(tmp_path):
    path = tmp_path / "mac.conll"
    path.write_bytes(b"Anna\tB-PER\rlebt\tO\r\rOtto\tB-PER\rkam\tO\r")
    ds = load_corpus(one_split(path))["train"]
    assert [s["tokens"] for s in ds] == [["Anna", "lebt"], ["Otto", "kam"]]


def test_crlf_still_reads_as_before(tmp_path):
    path = tmp_path / "win.conll"
    path.write_bytes(b"Anna\tB-PER\r\nlebt\tO\r\n")
    assert load_corpus(one_split(path))["train"][0]["tokens"] == ["Anna", "lebt"]


def test_a_line_with_more_columns_is_refused_with_its_place(tmp_path):
    path = tmp_path / "spaces.conll"
    path.write_text("Anna B-PER\nlebt O\nin O\n\nNew York B-LOC\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"spaces.conll:5: 3 columns in 'New York B-LOC', where line 1 has 2"):
        load_corpus(one_split(path))


def test_a_token_with_a_space_is_fine_with_tabs(tmp_path):
    path = tmp_path / "tabs.conll"
    path.write_text("Anna\tB-PER\nNew York\tB-LOC\n", encoding="utf-8")
    assert load_corpus(one_split(path))["train"][0]["tokens"] == ["Anna", "New York"]


def test_a_mistyped_tag_is_reported_with_its_place(tmp_path):
    path = tmp_path / "typo.conll"
    lines = ["Anna\tB-PER\nlebt\tO\n"] * 5 + ["Otto\tB-PRE\nkam\tO\n"]
    path.write_text("\n".join(lines), encoding="utf-8")
    loaded = load_corpus_with_report(one_split(path))
    assert len(loaded.report.rare_types) == 1
    line = loaded.report.rare_types[0]
    assert line.startswith("entity type PRE appears in only 1 span") and "typo.conll:16 word 1" in line
    # declared labels are wanted however rare: nothing to report
    declared = one_split(path, label_names=["O", "B-PER", "I-PER", "B-PRE", "I-PRE"])
    assert load_corpus_with_report(declared).report.rare_types == []


def test_the_load_stage_says_so(tmp_path):
    from auditor.pipeline import run_pipeline

    path = tmp_path / "typo.conll"
    path.write_text("\n".join(["Anna\tB-PER\n"] * 4 + ["Otto\tB-PRE\n"]), encoding="utf-8")
    cfg = config_from_dict({
        "name": "t", "runs_dir": str(tmp_path / "runs"),
        "data": {"source": "conll", "languages": {"de": 1.0}, "files": {"train": str(path)}, "splits": ["train"],
                 "audit": ["train"], "train_splits": ["train"]},
    })
    console = Console(record=True, width=300)
    result = run_pipeline(cfg, until="load", interactive=False, progress=False, console=console)
    assert "entity type PRE appears in only 1 span" in console.export_text()
    assert "1 rare entity type(s)" in result.stages[0].note


def test_export_push_to_hub_in_the_pipeline_file_is_read(tmp_path, monkeypatch):
    """The stage pushes (the offline check is the first step of a push, before any network)."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

    from auditor.stages import export as stage
    from auditor.stages.context import RunContext

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = config_from_dict({"name": "e", "runs_dir": str(tmp_path / "runs"), "export": {"push_to_hub": "me/cleaned"}})
    features = Features({"id": Value("string"), "tokens": List(Value("string")),
                         "ner_tags": List(ClassLabel(names=["O", "B-PER", "I-PER"])), "lang": Value("string")})
    ds = Dataset.from_dict({"id": ["a"], "tokens": [["x"]], "ner_tags": [[0]], "lang": ["de"]}, features=features)
    DatasetDict({"train": ds}).save_to_disk(str(cfg.run_dir / "cleaned"))
    with pytest.raises(AuditorError, match="cannot push to me/cleaned: offline mode"):
        stage.run(RunContext(cfg, cfg.run_dir, Console(quiet=True)))

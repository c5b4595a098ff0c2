"""Input a new user may well have: a UTF-8 BOM, empty files, repaired IOB2, types only in test."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from auditor.config import DataConfig, config_from_dict
from auditor.data.build import load_corpus
from auditor.errors import DataError
from auditor.pipeline import run_pipeline

BOM = "\ufeff"


def one_split(path, **kw) -> DataConfig:
    kw.setdefault("languages", {"de": 1.0})
    return DataConfig(source=kw.pop("source", "conll"), files={"train": str(path)}, splits=["train"], audit=["train"], **kw)


def test_bom_does_not_stick_to_the_first_token(tmp_path):
    path = tmp_path / "train.conll"
    path.write_text(BOM + "John\tB-PER\nlebt\tO\n", encoding="utf-8")
    ds = load_corpus(one_split(path))["train"]
    assert ds[0]["tokens"] == ["John", "lebt"]


def test_bom_before_docstart_does_not_make_it_a_sentence(tmp_path):
    path = tmp_path / "train.conll"
    path.write_text(BOM + "-DOCSTART- -X- O O\n\nJohn\tB-PER\nlebt\tO\n", encoding="utf-8")
    ds = load_corpus(one_split(path))["train"]
    assert ds["tokens"] == [["John", "lebt"]]


def test_bom_before_a_language_prefix_keeps_the_prefix_recognised(tmp_path):
    path = tmp_path / "train.conll"
    path.write_text(BOM + "en:John\tB-PER\nen:lives\tO\n\nen:Mary\tB-PER\n", encoding="utf-8")
    ds = load_corpus(one_split(path, languages={"en": 1.0}))["train"]
    assert ds["tokens"] == [["John", "lives"], ["Mary"]] and set(ds["lang"]) == {"en"}


def test_bom_in_jsonl(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text(BOM + json.dumps({"tokens": ["John"], "ner_tags": ["B-PER"]}) + "\n", encoding="utf-8")
    ds = load_corpus(one_split(path, source="jsonl"))["train"]
    assert ds["tokens"] == [["John"]]


def test_bom_in_a_tag_file(tmp_path):
    from auditor.analysis.tagging import read_sentences, split_words

    path = tmp_path / "in.txt"
    path.write_text(BOM + "John lebt in Berlin\n", encoding="utf-8")
    assert split_words(read_sentences(path)[0])[0] == "John"


@pytest.mark.parametrize(
    "name, text",
    [("train.conll", ""), ("train.conll", "-DOCSTART- -X- O O\n\n"), ("train.jsonl", "\n\n")],
)
def test_empty_file_names_the_file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    source = "jsonl" if name.endswith("jsonl") else "conll"
    with pytest.raises(DataError) as err:
        load_corpus(one_split(path, source=source))
    assert str(path) in str(err.value) and "no sentences" in str(err.value)
    assert "sampling" not in str(err.value)


def _pipeline(tmp_path, files: dict, **data):
    return config_from_dict(
        {
            "name": "bad",
            "runs_dir": str(tmp_path / "runs"),
            "data": {"source": "conll", "files": files, "languages": {"de": 1.0}, "splits": list(files), **data},
        }
    )


def _load(cfg):
    return run_pipeline(cfg, until="load", interactive=False, progress=False, console=Console(quiet=True))


def test_repaired_iob2_is_counted_and_said(tmp_path):
    path = tmp_path / "train.conll"
    path.write_text("in\tO\nBerlin\tI-LOC\n\nParis\tB-LOC\n", encoding="utf-8")
    cfg = _pipeline(tmp_path, {"train": str(path)}, repair_iob=True)
    result = _load(cfg)
    corpus = json.loads((cfg.run_dir / "metrics.json").read_text())["corpus"]
    assert corpus["iob_repaired"] == 1 and corpus["iob_violations"] == 1
    assert f"{path}:1 word 1" in corpus["iob_locations"]
    assert "1 IOB2 violations repaired" in result.stages[0].note


def test_type_only_in_test_is_reported(tmp_path):
    train = tmp_path / "train.conll"
    train.write_text("Berlin\tB-LOC\nruft\tO\n", encoding="utf-8")
    test = tmp_path / "test.conll"
    test.write_text("Siemens\tB-ORG\nin\tO\nBerlin\tB-LOC\n", encoding="utf-8")
    cfg = _pipeline(tmp_path, {"train": str(train), "test": str(test)})
    result = _load(cfg)
    corpus = json.loads((cfg.run_dir / "metrics.json").read_text())["corpus"]
    assert corpus["types_not_in_training"] == {"test": ["ORG"]}
    assert "only in test, never in training: ORG" in result.stages[0].note

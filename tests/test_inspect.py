"""`auditor inspect` and corpus_stats."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from auditor import cli
from auditor.config import DataConfig, SyntheticConfig
from auditor.data.build import load_corpus
from auditor.data.sniff import inspect_config, split_of
from auditor.data.stats import corpus_stats

runner = CliRunner()

CONLL = "Angela\tB-PER\nMerkel\tI-PER\nin\tO\nParis\tB-LOC\n\nDie\tO\nUNO\tI-ORG\n\n\tO\nBern\tB-LOC\n"


def invoke(*args):
    result = runner.invoke(cli.app, list(args), env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    return result.output


def test_inspect_conll_table_shows_counts_violations_and_empty_tokens(tmp_path):
    p = tmp_path / "de-train.conll"
    p.write_text(CONLL, encoding="utf-8")
    out = invoke("inspect", str(p), "--lang", "de")
    assert "entities per type" in out
    assert "IOB2 violations: 1" in out and f"{p}:6 word 1" in out
    assert "empty or whitespace-only tokens (kept): 1" in out
    data = json.loads(invoke("inspect", str(p), "--lang", "de", "--json"))
    assert data["sentences"] == {"train": {"de": 3}}
    assert data["tokens"] == {"train": {"de": 8}}
    assert data["entities"] == {"train": {"LOC": 2, "ORG": 1, "PER": 1}}
    assert data["iob_violations"] == 1 and data["empty_tokens"] == 1
    assert data["noisy_sentences"] is None


def test_inspect_jsonl_languages_from_the_data(tmp_path):
    p = tmp_path / "dev.jsonl"
    rows = [
        {"tokens": ["Hans", "lebt"], "ner_tags": ["B-PER", "O"], "langs": ["de", "de"]},
        {"tokens": ["Roma"], "ner_tags": ["B-LOC"], "lang": "it"},
        {"tokens": ["Milano"], "ner_tags": ["B-LOC"], "lang": "it"},
    ]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = json.loads(invoke("inspect", str(p), "--json"))
    assert data["sentences"] == {"validation": {"de": 1, "it": 2}}
    assert data["entities"]["validation"] == {"LOC": 2, "PER": 1}
    out = invoke("inspect", str(p), "--format", "jsonl")
    assert "validation" in out and "it" in out


def test_inspect_demo_reports_noise():
    data = json.loads(invoke("inspect", "demo", "--json", "--lang", "fr"))
    n = SyntheticConfig().sentences
    assert data["sentences"]["train"] == {"fr": n["train"]}
    assert data["noisy_sentences"]["train"] == round(0.1 * n["train"])
    assert data["noisy_sentences"]["test"] == 0
    assert set(data["noise_kinds"]["train"]) == {"type", "boundary", "missing", "spurious"}
    assert "noisy sentences" in invoke("inspect", "synthetic")


def test_inspect_a_folder_of_language_subfolders(tmp_path):
    for lang in ("de", "fr"):
        (tmp_path / lang).mkdir()
        for split in ("train", "test"):
            (tmp_path / lang / f"{split}.conll").write_text(f"{lang}\tO\nBern\tB-LOC\n")
    cfg = inspect_config(str(tmp_path))
    assert cfg.splits == ["train", "test"] and list(cfg.languages) == ["de", "fr"]
    data = json.loads(invoke("inspect", str(tmp_path), "--json"))
    assert data["sentences"] == {"train": {"de": 1, "fr": 1}, "test": {"de": 1, "fr": 1}}


def test_inspect_disk_and_pipeline_yaml(tmp_path):
    corpus = load_corpus(DataConfig(languages={"en": 1.0}, synthetic={"sentences": {"train": 20, "test": 5}}, splits=["train", "test"]))
    corpus.save_to_disk(str(tmp_path / "corpus"))
    data = json.loads(invoke("inspect", str(tmp_path / "corpus"), "--json"))
    assert data["sentences"] == {"train": {"en": 20}, "test": {"en": 5}}
    y = tmp_path / "p.yaml"
    y.write_text("name: x\ndata:\n  source: disk\n  path: corpus\n  splits: [train, test]\n  languages: {en: 0.5}\n")
    data = json.loads(invoke("inspect", str(y), "--json"))
    assert data["sentences"] == {"train": {"en": 10}, "test": {"en": 2}}


def test_bad_file_exits_non_zero_with_one_line(tmp_path, monkeypatch, capsys):
    p = tmp_path / "bad.conll"
    p.write_text("Hans\tB-PER\nlebt\tO\n\nin\tO\nBern\tB_LOC\n")
    monkeypatch.setattr(sys, "argv", ["auditor", "inspect", str(p), "--lang", "de"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert f"{p}:4" in err and "B_LOC" in err


def test_unknown_extension_asks_for_format(tmp_path, monkeypatch, capsys):
    p = tmp_path / "data.xyz"
    p.write_text("Hans\tB-PER\n")
    monkeypatch.setattr(sys, "argv", ["auditor", "inspect", str(p)])
    with pytest.raises(SystemExit):
        cli.main()
    assert "--format" in capsys.readouterr().err
    assert json.loads(invoke("inspect", str(p), "--format", "conll", "--json"))["entities"]["train"]["PER"] == 1


def test_corpus_stats_to_dict_is_json(tmp_path):
    corpus = load_corpus(DataConfig(languages={"de": 1.0, "it": 0.5}))
    stats = corpus_stats(corpus)
    d = json.loads(json.dumps(stats.to_dict()))
    assert d["sentences"]["train"] == {"de": 600, "it": 300}
    assert stats.total_sentences == 600 + 300 + 2 * (150 + 75)
    assert sum(d["entities"]["train"].values()) > 0


@pytest.mark.parametrize(
    "name,split", [("train.conll", "train"), ("de-dev.tsv", "validation"), ("validation.jsonl.gz", "validation"), ("x_test.iob", "test"), ("data.conll", "train")]
)
def test_split_of(name, split):
    assert split_of(name) == split


def test_inspect_names_a_rare_entity_type_with_its_line(tmp_path):
    p = tmp_path / "train.conll"
    rows = "".join("Paris\tB-LOC\nist\tO\n\n" for _ in range(3))
    p.write_text(rows + "London\tB-PRE\n", encoding="utf-8")
    out = invoke("inspect", str(p))
    assert "rare entity type" in out and "PRE" in out and f"{p}:10" in out
    assert "type LOC" not in out

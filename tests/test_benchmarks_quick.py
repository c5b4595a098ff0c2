"""Smoke tests of benchmarks/run_all.py's pieces, in-process, with tiny sizes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from datasets import DatasetDict

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import detection_panx as dp  # noqa: E402
import run_all  # noqa: E402

from auditor.config import SyntheticConfig  # noqa: E402
from auditor.data.corpus import CLEAN_COLUMN, label_names  # noqa: E402
from auditor.data.iob import violations  # noqa: E402
from auditor.data.synthetic import generate_synthetic  # noqa: E402


@pytest.fixture(scope="module")
def clean_train():
    return generate_synthetic(SyntheticConfig(sentences={"train": 200}, noise_rate=0.0), ["de"], 0)["train"]


def test_inject_noise_changes_the_requested_share_and_keeps_clean_tags(clean_train):
    noisy = dp.inject_noise(clean_train, 0.1, seed=0)
    names = label_names(noisy)
    changed = [a != b for a, b in zip(noisy["ner_tags"], noisy[CLEAN_COLUMN])]
    assert sum(changed) == 20  # every drawn sentence got an error (the synthetic ones all have entities)
    assert noisy[CLEAN_COLUMN] == clean_train["ner_tags"]
    assert all(not violations([names[t] for t in row]) for row in noisy["ner_tags"])
    assert dp.inject_noise(clean_train, 0.1, seed=0)["ner_tags"] == noisy["ner_tags"]  # deterministic


def test_inject_noise_on_real_style_sentence_swallows_parenthesis():
    s = dp._sentence_of(["Paris", "(", "Frankreich", ")", "ist"], ["B-LOC", "O", "B-LOC", "O", "O"])
    assert s.parens == {0: (1, 4)}
    assert s.entities == [(0, 1, "LOC"), (2, 3, "LOC")]


@pytest.mark.slow
def test_run_all_quick_produces_every_section(tmp_path):
    inp = run_all.quick_inputs(tmp_path, 80, 20)
    budget = dp.Budget(len(inp.base["train"]), 2, 2)
    md = run_all.run_all(inp, tmp_path / "work", [0.1], [0.05], budget, loop_sentences=8, progress=False)
    assert "## Detection quality" in md and "| sentence | combined |" in md and "| span | random |" in md
    assert "| oracle top 5% |" in md and "clean tags (upper bound)" in md
    assert "naive / ours time ratio" in md


@pytest.mark.slow
def test_naive_and_ours_score_the_same_words(tmp_path):
    inp = run_all.quick_inputs(tmp_path, 40, 10)
    ds = inp.base["train"].select(range(6))
    timing = run_all.time_loops(inp.model_path, ds)
    # the chapter keeps one loss per word (first subword) unless truncation cut the sentence
    assert timing.naive_rows == timing.ours_rows == sum(len(t) for t in ds["tokens"])


def test_load_panx_reads_panx_style_files(tmp_path):
    """PAN-X's own layout (<lang>/<split>.jsonl.gz, WikiANN rows) written here, so the test
    never depends on, or skips for, a copy of PAN-X on one machine."""
    import gzip
    import json

    for lang in ("de", "fr"):
        (tmp_path / lang).mkdir()
        rows = [{"tokens": [f"{lang}{i}", "Berlin"], "ner_tags": ["O", "B-LOC"], "langs": [lang, lang]} for i in range(60)]
        with gzip.open(tmp_path / lang / "test.jsonl.gz", "wt", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows)
    ds = dp.load_panx({"de": 1.0}, ["test"], 50, tmp_path)["test"]
    assert len(ds) == 50 and set(ds["lang"]) == {"de"}
    both = dp.load_panx({"de": 1.0, "fr": 1.0}, ["test"], 10, tmp_path)
    assert isinstance(both, DatasetDict) and sorted(set(both["test"]["lang"])) == ["de", "fr"]


def test_default_panx_folder_is_next_to_the_repository():
    repo = Path(__file__).resolve().parents[1]
    assert dp.DEFAULT_PANX_DIR == repo.parent / "shared" / "data" / "panx"

"""Exports never delete a folder they did not write, and their cards name no local path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from auditor.cli import app
from auditor.errors import AuditorError
from auditor.export import EXPORT_MARKER, CardInfo


@pytest.fixture
def run_with_model(tmp_path) -> Path:
    run = tmp_path / "runs" / "r"
    model = run / "models" / "after" / "all"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"weights")
    (run / "config.yaml").write_text("name: r\n")
    return run


def export_model(run: Path, out: Path, *flags: str):
    return CliRunner().invoke(app, ["export", str(run), "--model", "after", "--out", str(out), *flags])


def test_model_export_with_force_refuses_a_foreign_folder(tmp_path, run_with_model):
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "thesis.txt").write_text("three years of work")
    result = export_model(run_with_model, mine, "--force")
    assert isinstance(result.exception, AuditorError) and "not an earlier auditor export" in str(result.exception)
    assert [p.name for p in mine.iterdir()] == ["thesis.txt"]
    assert (mine / "thesis.txt").read_text() == "three years of work"


def test_model_export_replaces_an_earlier_export_with_force(tmp_path, run_with_model):
    out = tmp_path / "model-out"
    assert export_model(run_with_model, out).exit_code == 0
    assert json.loads((out / EXPORT_MARKER).read_text())["format"] == "model"
    (run_with_model / "models" / "after" / "all" / "model.safetensors").write_bytes(b"retrained")
    again = export_model(run_with_model, out)
    assert isinstance(again.exception, AuditorError) and "--force" in str(again.exception)
    assert export_model(run_with_model, out, "--force").exit_code == 0
    assert (out / "model.safetensors").read_bytes() == b"retrained"


def test_dataset_card_names_no_local_path(tmp_path):
    files = {"train": str(tmp_path / "data" / "{lang}" / "train.conll"), "test": [str(tmp_path / "data" / "test.conll")]}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"name": "r", "data": {"source": "conll", "files": files}}))
    card = CardInfo.from_run_dir(tmp_path)
    assert str(tmp_path) not in card.source
    assert "{lang}/train.conll" in card.source and "test.conll" in card.source
    disk = tmp_path / "disk"
    disk.mkdir()
    (disk / "config.yaml").write_text(yaml.safe_dump({"name": "r", "data": {"source": "disk", "path": str(tmp_path / "my" / "ds")}}))
    assert str(tmp_path) not in CardInfo.from_run_dir(disk).source


def test_model_card_names_no_local_path(tmp_path):
    from auditor.modeling.card import write_model_card

    base = tmp_path / "secret" / "base-model"
    base.mkdir(parents=True)
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"id2label": {"0": "O"}}))
    text = write_model_card(
        model, base_model=str(base), languages=["de"], train_sentences=3, cleaning=None, f1_by_lang={}
    ).read_text()
    assert str(tmp_path) not in text and "base-model" in text

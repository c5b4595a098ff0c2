"""The pipeline schema: shipped pipelines validate, bad configs fail with one clear line."""

import subprocess
import sys
from pathlib import Path

import pytest

from auditor.config import PipelineConfig, load_config
from auditor.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
PIPELINES = sorted((ROOT / "pipelines").glob("*.yaml"))


def test_every_shipped_pipeline_validates():
    names = {p.name for p in PIPELINES}
    assert {"demo.yaml", "panx_ch.yaml", "panx_de_zero_shot.yaml", "local_conll.yaml"} <= names
    for path in PIPELINES:
        cfg = load_config(path)
        assert isinstance(cfg, PipelineConfig)


def test_swiss_corpus_fractions_are_the_chapters():
    cfg = load_config(ROOT / "pipelines" / "panx_ch.yaml")
    assert cfg.data.source == "hub"
    assert cfg.data.languages == {"de": 0.629, "fr": 0.229, "it": 0.084, "en": 0.059}
    assert cfg.model.name == "xlm-roberta-base"
    assert cfg.crossval.folds == 5


def test_demo_pipeline_is_the_packaged_demo():
    from importlib.resources import files

    packaged = Path(str(files("auditor") / "demo.yaml"))
    assert (ROOT / "pipelines" / "demo.yaml").read_text() == packaged.read_text()


def test_relative_data_paths_resolve_against_the_pipeline_file(tmp_path):
    (tmp_path / "p").mkdir()
    f = tmp_path / "p" / "x.yaml"
    f.write_text("data: {source: jsonl, files: {train: data/train.jsonl}}\n")
    cfg = load_config(f)
    assert cfg.data.files["train"] == str(tmp_path / "p" / "data" / "train.jsonl")


def test_a_verified_sample_path_resolves_like_data_files(tmp_path, monkeypatch):
    (tmp_path / "p").mkdir()
    f = tmp_path / "p" / "x.yaml"
    f.write_text("scoring: {reference: {file: verified.jsonl}}\n")
    assert load_config(f).scoring.reference.file == str(tmp_path / "p" / "verified.jsonl")
    # drawn into the working directory (auditor sample --out verified.jsonl) and only there
    monkeypatch.chdir(tmp_path)
    (tmp_path / "verified.jsonl").write_text("")
    assert load_config(f).scoring.reference.file == "verified.jsonl"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("crossval: {folds: 1}\n", "crossval.folds"),
        ("modle: {name: x}\n", "modle: unknown field"),
        ("data: {source: jsonl}\n", "needs `files:`"),
        ("data: {audit: [dev]}\n", "audit split 'dev'"),
        ("data: {languages: {de: 1.5}}\n", "data.languages.de"),
        ("training: {learning_rate: -1}\n", "training.learning_rate"),
        ("model: {max_length: 64, stride: 64}\n", "stride"),
        ("name: [a\n", "not valid YAML"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("name: 'bad name/../x'\n", "name"),
    ],
)
def test_bad_config_gives_one_line_naming_the_field(tmp_path, text, expected):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(f)
    msg = str(err.value)
    assert expected in msg
    assert "\n" not in msg
    assert str(f) in msg


def test_cli_bad_config_exits_nonzero_with_one_line(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("crossval: {folds: 0}\n")
    proc = subprocess.run([sys.executable, "-m", "auditor", "run", str(f)], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "crossval.folds" in lines[0]
    assert not (tmp_path / "runs").exists()


def test_missing_pipeline_file(tmp_path):
    with pytest.raises(ConfigError, match="no such pipeline file"):
        load_config(tmp_path / "nope.yaml")

"""export_corpus / push_to_hub / `auditor export`: formats round-trip, the card, safe destinations."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from datasets import DatasetDict, load_from_disk
from typer.testing import CliRunner

from auditor.cleaning import CHANGED_COLUMN, ORIGINAL_COLUMN, apply_decisions, save_cleaned
from auditor.config import ReviewConfig, SyntheticConfig
from auditor.data.corpus import label_names
from auditor.data.sources import read_conll, read_jsonl, read_parquet
from auditor.data.synthetic import generate_synthetic
from auditor.errors import AuditorError
from auditor.export import EXPORT_MARKER, FORMATS, TAG_STRINGS_COLUMN, CardInfo, export_corpus, push_to_hub
from auditor.metrics import update_metrics
from auditor.review.policies import apply_policy
from auditor.review.store import DecisionStore


@pytest.fixture(scope="module")
def run(tmp_path_factory, noise_issues) -> Path:
    """A run folder after review (oracle policy) and apply: cleaned/, changelog, metrics, config."""
    run_dir = tmp_path_factory.mktemp("runs") / "demo"
    cfg = SyntheticConfig(sentences={"train": 30, "test": 6}, noise_rate=0.3)
    corpus = generate_synthetic(cfg, ["de", "fr"], seed=1)
    # the first two issues suggest all O, the others the clean tags
    issues = noise_issues(corpus, lambda n, clean: ["O"] * len(clean) if n < 2 else clean)
    with DecisionStore(run_dir / "review.sqlite") as store:
        summary = apply_policy(issues, corpus, ReviewConfig(policy="oracle"), store)
        result = apply_decisions(corpus, issues, store.latest())
    save_cleaned(result, run_dir)
    update_metrics(run_dir, "review", summary.to_dict())
    update_metrics(run_dir, "apply", result.summary.to_dict())
    (run_dir / "config.yaml").write_text("name: demo\ndata:\n  source: synthetic\n", encoding="utf-8")
    return run_dir


@pytest.fixture(scope="module")
def cleaned(run) -> DatasetDict:
    return load_from_disk(str(run / "cleaned"))


def expected(cleaned: DatasetDict, split: str) -> list[tuple[str, list[str], list[str], str]]:
    ds = cleaned[split]
    names = label_names(cleaned)
    return [(r["id"], r["tokens"], [names[t] for t in r["ner_tags"]], r["lang"]) for r in ds]


def test_the_fixture_has_changes_to_export(cleaned):
    assert sum(cleaned["train"][CHANGED_COLUMN]) > 3


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_round_trips(fmt, cleaned, run, tmp_path):
    source_files = sorted(run.rglob("*"))
    out = export_corpus(cleaned, fmt, tmp_path / "out", run_dir=run)
    assert sorted(run.rglob("*")) == source_files  # no cache files written next to the source
    assert out == tmp_path / "out"
    for split in cleaned:
        want = expected(cleaned, split)
        if fmt == "hf":
            back = load_from_disk(str(out))
            assert back[split].features == cleaned[split].features  # ClassLabel names kept
            assert expected(back, split) == want
            continue
        path = out / f"{split}.{fmt}"
        if fmt == "jsonl":
            got = [(s.id, s.tokens, s.tags, s.lang) for s in read_jsonl(str(path))]
            assert got == want
            assert set(json.loads(path.read_text(encoding="utf-8").splitlines()[0])) == {"id", "tokens", "ner_tags", "lang"}
        elif fmt == "conll":
            got = [(s.tokens, s.tags) for s in read_conll(str(path))]
            assert got == [(w[1], w[2]) for w in want]
        else:
            got = [(s.id, s.tokens, s.tags, s.lang) for s in read_parquet(str(path))]
            assert got == want
            table = pq.read_table(path)
            assert json.loads(table.schema.metadata[b"label_names"]) == label_names(cleaned)
            # the string copy reads anywhere, without ClassLabel metadata
            assert table.column(TAG_STRINGS_COLUMN).to_pylist() == [w[2] for w in want]
            assert ORIGINAL_COLUMN in table.column_names
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folders left


def test_the_card_says_what_the_review_changed(cleaned, run, tmp_path):
    out = export_corpus(cleaned, "jsonl", tmp_path / "out", run_dir=run)
    card = (out / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\nlanguage:\n- de\n- fr\n")
    assert "synthetic demo corpus" in card
    for name in label_names(cleaned):
        assert f"`{name}`" in card
    changed = sum(cleaned["train"][CHANGED_COLUMN])
    assert f"| train | {len(cleaned['train'])} |" in card and f"| {changed} |" in card
    metrics = json.loads((run / "metrics.json").read_text())
    assert f"changed {metrics['apply']['changed_sentences']} sentences" in card
    assert "No human reviewed" in card and "oracle" in card
    assert "[changelog.parquet](changelog.parquet)" in card
    assert pq.read_table(out / "changelog.parquet").num_rows == pq.read_table(run / "changelog.parquet").num_rows


def test_the_card_says_which_sentences_a_curator_verified(cleaned, run, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    metrics = json.loads((copy / "metrics.json").read_text())
    assert "verified word by word" not in (export_corpus(cleaned, "jsonl", tmp_path / "a", run_dir=copy) / "README.md").read_text()
    metrics["apply"].update(verified_sentences=20, verified_changed=3, verified_stale=0, verified_superseded=0,
                            superseded_list=[])
    (copy / "metrics.json").write_text(json.dumps(metrics))
    card = (export_corpus(cleaned, "jsonl", tmp_path / "b", run_dir=copy) / "README.md").read_text(encoding="utf-8")
    assert "20 sentences were verified word by word by a curator (a random sample)" in card and "(3 of them changed)" in card


def test_card_without_a_run_is_minimal_but_valid(cleaned, tmp_path):
    out = export_corpus(cleaned, "conll", tmp_path / "out", card=CardInfo(name="mine", source="my files"))
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "# mine" in card and "my files" in card and "No changelog" in card


def test_refuses_to_overwrite_unless_forced(cleaned, tmp_path):
    out = tmp_path / "out"
    export_corpus(cleaned, "jsonl", out)
    with pytest.raises(AuditorError, match="--force"):
        export_corpus(cleaned, "conll", out)
    assert (out / "train.jsonl").is_file()
    export_corpus(cleaned, "conll", out, force=True)
    assert (out / "train.conll").is_file() and not (out / "train.jsonl").exists()
    assert json.loads((out / EXPORT_MARKER).read_text())["format"] == "conll"


def test_force_never_replaces_a_folder_it_did_not_write(cleaned, tmp_path):
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("years of work")
    with pytest.raises(AuditorError, match="not an earlier auditor export"):
        export_corpus(cleaned, "hf", precious, force=True)
    assert (precious / "chapter1.tex").read_text() == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis"]


def test_refuses_a_file_or_a_symlink_as_destination(cleaned, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(AuditorError, match="is a file"):
        export_corpus(cleaned, "jsonl", tmp_path / "file", force=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(AuditorError, match="symbolic link"):
        export_corpus(cleaned, "jsonl", tmp_path / "link", force=True)
    assert list((tmp_path / "elsewhere").iterdir()) == []


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("split", ["../escape", "/tmp/escape", "a/b", ".."])
def test_split_names_cannot_write_outside_out(fmt, split, cleaned, tmp_path):
    hostile = DatasetDict({split: cleaned["test"]})
    with pytest.raises(AuditorError, match="split name"):
        export_corpus(hostile, fmt, tmp_path / "sub" / "out")
    assert list(tmp_path.rglob("*escape*")) == [] and list((tmp_path / "sub").iterdir()) == []


def test_a_failed_export_leaves_the_earlier_one_intact(cleaned, tmp_path):
    out = export_corpus(cleaned, "jsonl", tmp_path / "out")
    bad = cleaned["test"].map(lambda r: {"tokens": ["a\tb"] + r["tokens"][1:]}, keep_in_memory=True)
    with pytest.raises(AuditorError, match="tab or line break"):
        export_corpus(DatasetDict({"test": bad}), "conll", out, force=True)
    assert (out / "train.jsonl").is_file() and not (out / "test.conll").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_unknown_format(cleaned, tmp_path):
    with pytest.raises(AuditorError, match="not one of"):
        export_corpus(cleaned, "csv", tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- push to the Hub: everything up to the network boundary ---------------------------------


def test_push_refuses_offline(cleaned):
    with pytest.raises(AuditorError, match="offline"):
        push_to_hub(cleaned, "me/panx-clean", env={"HF_HUB_OFFLINE": "1", "HF_TOKEN": "hf_x"})


def test_push_without_a_token_says_how_to_log_in(cleaned):
    with pytest.raises(AuditorError, match="hf auth login"):
        push_to_hub(cleaned, "me/panx-clean", env={})


def test_push_checks_repo_id_and_source(cleaned, tmp_path):
    with pytest.raises(AuditorError, match="repository id"):
        push_to_hub(cleaned, "../me", env={"HF_TOKEN": "hf_x"})
    with pytest.raises(AuditorError, match="not a datasets folder"):
        push_to_hub(tmp_path, "me/panx-clean", env={"HF_TOKEN": "hf_x"})


def test_push_reaches_the_hub_client_and_stops_at_the_offline_network_layer(cleaned, tmp_path):
    from huggingface_hub import constants

    if not constants.HF_HUB_OFFLINE:
        pytest.skip("the process is online; this test relies on huggingface_hub refusing the network")
    out = export_corpus(cleaned, "hf", tmp_path / "hf")
    # our own checks pass (token, online env), so datasets' push_to_hub runs until its first request
    with pytest.raises(AuditorError, match="push to me/panx-clean failed"):
        push_to_hub(out, "me/panx-clean", env={"HF_TOKEN": "hf_fake"})


# --- the `auditor export` command ---------------------------------------------------------------


def test_cli_export_writes_the_requested_format(run, tmp_path):
    from auditor.cli import app

    out = tmp_path / "exp"
    res = CliRunner().invoke(app, ["export", str(run), "--format", "jsonl", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "train.jsonl").is_file() and (out / "README.md").is_file()
    res = CliRunner().invoke(app, ["export", str(run), "--format", "jsonl", "--out", str(out)])
    assert isinstance(res.exception, AuditorError) and "--force" in str(res.exception)
    res = CliRunner().invoke(app, ["export", str(run), "--format", "conll", "--out", str(out), "--force"])
    assert res.exit_code == 0 and (out / "train.conll").is_file()


def test_cli_export_default_destination_is_in_the_run(run):
    from auditor.cli import app

    res = CliRunner().invoke(app, ["export", str(run), "--format", "parquet", "--force"])
    assert res.exit_code == 0, res.output
    assert (run / "export" / "parquet" / "train.parquet").is_file()


def test_cli_export_before_apply_says_to_apply(tmp_path):
    from auditor.cli import app

    res = CliRunner().invoke(app, ["export", str(tmp_path), "--format", "hf", "--out", str(tmp_path / "x")])
    assert isinstance(res.exception, AuditorError)
    assert "auditor apply" in str(res.exception)


def test_cli_export_rejects_an_unknown_format(run, tmp_path):
    from auditor.cli import app

    res = CliRunner().invoke(app, ["export", str(run), "--format", "xml", "--out", str(tmp_path / "x")])
    assert res.exit_code != 0 and not (tmp_path / "x").exists()

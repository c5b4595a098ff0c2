"""K-fold cross-validation: fold plan, out-of-fold coverage, learning, determinism, resume."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from datasets import DatasetDict, concatenate_datasets

from auditor.config import config_from_dict
from auditor.data.corpus import dataset_from_records
from auditor.data.synthetic import LABEL_NAMES, generate_synthetic
from auditor.errors import ConfigError, DataError
from auditor.modeling.crossval import (
    PREDICTIONS_FILE,
    assign_folds,
    fold_dir,
    plan_folds,
    resolve_mode,
    run_crossval,
)
from auditor.modeling.training import load_tagger
from auditor.tables import OofPredictions

INVISIBLE = "\u200b"


def _cfg(**over):
    raw = {
        "model": {
            "name": "tiny",
            "max_length": 16,
            "stride": 4,
            "tiny": {"vocab_size": 400, "hidden_size": 48, "num_layers": 1, "num_heads": 2, "intermediate_size": 96},
        },
        "data": {
            "languages": {"de": 1.0, "fr": 1.0},
            "splits": ["train", "validation"],
            "audit": ["train"],
            "train_splits": ["train", "validation"],
            "seed": 3,
        },
        "crossval": {"mode": "finetune", "folds": 2, "holdout": 0.15, "probe": {"epochs": 5}},
        "training": {"epochs": 4, "batch_size": 16, "learning_rate": 3e-3, "warmup": 0.1, "seed": 7},
    }
    for key, value in over.items():
        raw[key] = {**raw[key], **value}
    return config_from_dict(raw)


def _odd_records() -> list[dict]:
    long = "Die Stadt Genf liegt am See und die Europäische Union hat dort ein Büro , sagt Angela Merkel in Berlin .".split()
    long = long * 3
    tags = ["O"] * len(long)
    return [
        {"id": "de/train/900000", "tokens": long, "ner_tags": tags, "lang": "de", "clean_ner_tags": tags},
        {
            "id": "de/train/900001",
            "tokens": ["Genf", INVISIBLE, "liegt", " ", "."],
            "ner_tags": ["B-LOC", "O", "O", "O", "O"],
            "lang": "de",
            "clean_ner_tags": ["B-LOC", "O", "O", "O", "O"],
        },
    ]


@pytest.fixture(scope="module")
def corpus() -> DatasetDict:
    cfg = _cfg()
    synth = generate_synthetic(
        cfg.data.synthetic.model_copy(update={"sentences": {"train": 110, "validation": 20}}), ["de", "fr"], 0
    )
    odd = dataset_from_records(_odd_records(), LABEL_NAMES).cast(synth["train"].features)
    return DatasetDict({"train": concatenate_datasets([synth["train"], odd]), "validation": synth["validation"]})


@pytest.fixture(scope="module", autouse=True)
def _threads():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def finetune_run(corpus, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cv-all")
    result = run_crossval(corpus, _cfg(), run_dir, progress=False)
    return run_dir, result, OofPredictions.read(run_dir / PREDICTIONS_FILE)


# --- the fold plan -------------------------------------------------------------------------


def test_folds_are_stratified_by_language_and_seeded():
    langs = np.array(["de"] * 50 + ["fr"] * 30 + ["it"] * 7, dtype=object)
    folds = assign_folds(langs, 5, seed=0)
    for k in range(5):
        for lang, n in (("de", 50), ("fr", 30), ("it", 7)):
            assert abs(np.sum((folds == k) & (langs == lang)) - n / 5) < 1
    assert np.bincount(folds).max() - np.bincount(folds).min() <= 1
    assert np.array_equal(folds, assign_folds(langs, 5, seed=0))
    assert not np.array_equal(folds, assign_folds(langs, 5, seed=1))


def test_plan_puts_non_audited_training_splits_on_every_training_side(corpus):
    plan = plan_folds(corpus, _cfg())
    n_train = len(corpus["train"])
    assert plan.n_audited == n_train and len(plan.pool) == n_train + len(corpus["validation"])
    validation_rows = set(range(n_train, len(plan.pool)))
    for k in range(plan.k):
        held = set(plan.heldout(k).tolist())
        train, hold = (set(x.tolist()) for x in plan.train_and_holdout(k))
        assert held.isdisjoint(train | hold) and train.isdisjoint(hold)
        assert held | train | hold == set(range(len(plan.pool)))
        assert held < set(range(n_train))
        assert validation_rows <= train | hold
        share = len(hold) / (len(train) + len(hold))
        assert 0.1 < share < 0.2
        assert {plan.langs[i] for i in hold} == {"de", "fr"}


def test_identical_sentences_share_a_fold_and_never_train_the_fold_that_predicts_them(corpus):
    # copies of one audited sentence, and a training-only copy of another
    train = corpus["train"]
    dup = train.select([5, 5, 5]).map(lambda r, i: {"id": f"de/train/99000{i}"}, with_indices=True)
    extra = train.select([9]).map(lambda r: {"id": "de/validation/990009"})
    with_dups = DatasetDict(
        {
            "train": concatenate_datasets([train, dup]),
            "validation": concatenate_datasets([corpus["validation"], extra.cast(corpus["validation"].features)]),
        }
    )
    plan = plan_folds(with_dups, _cfg(crossval={"folds": 3}))
    copies = [i for i, t in enumerate(plan.pool["tokens"][: plan.n_audited]) if t == train[5]["tokens"]]
    assert len(copies) >= 4 and len(set(plan.fold_of[copies].tolist())) == 1
    k = int(plan.fold_of[9])
    copy_row = len(plan.pool) - 1
    tr, hold = plan.train_and_holdout(k)
    assert copy_row not in set(tr.tolist()) | set(hold.tolist())
    other = (k + 1) % 3
    tr, hold = plan.train_and_holdout(other)
    assert copy_row in set(tr.tolist()) | set(hold.tolist())


def test_bad_fold_requests_are_config_errors(corpus, tmp_path):
    with pytest.raises(ConfigError, match="fold 2 does not exist"):
        run_crossval(corpus, _cfg(), tmp_path, folds=[2], progress=False)
    tiny = DatasetDict({"train": corpus["train"].select(range(3)), "validation": corpus["validation"]})
    with pytest.raises(ConfigError, match="crossval.folds is 5"):
        run_crossval(tiny, _cfg(crossval={"folds": 5}), tmp_path, progress=False)
    with pytest.raises(DataError, match="no split"):
        run_crossval(DatasetDict({"train": corpus["train"]}), _cfg(), tmp_path, progress=False)


def test_auto_mode_finetunes_the_tiny_model_and_probes_a_pretrained_one_on_cpu():
    assert resolve_mode(_cfg(crossval={"mode": "auto"})) == "finetune"
    expected = "finetune" if torch.cuda.is_available() else "probe"
    assert resolve_mode(_cfg(crossval={"mode": "auto"}, model={"name": "xlm-roberta-base"})) == expected
    assert resolve_mode(_cfg(crossval={"mode": "probe"})) == "probe"


# --- fine-tuning ---------------------------------------------------------------------------


def _assert_covers_audited_words(oof: OofPredictions, corpus: DatasetDict, k: int) -> None:
    by_id = oof.by_sentence()
    train = corpus["train"]
    assert set(by_id) == set(train["id"]), "exactly the audited sentences, nothing from validation"
    assert len(oof.ids) == sum(len(t) for t in train["tokens"]), "one row per word, no duplicates"
    for sid, tokens in zip(train["id"], train["tokens"]):
        assert by_id[sid].shape == (len(tokens), len(LABEL_NAMES))
    np.testing.assert_allclose(oof.probs.sum(axis=1), 1.0, atol=1e-5)
    assert (oof.probs >= 0).all()
    assert set(oof.fold.tolist()) == set(range(k))
    assert oof.label_names == LABEL_NAMES


def test_every_audited_word_gets_one_probability_vector(finetune_run, corpus):
    run_dir, result, oof = finetune_run
    _assert_covers_audited_words(oof, corpus, 2)
    by_id = oof.by_sentence()
    assert by_id["de/train/900000"].shape[0] == len(_odd_records()[0]["tokens"]) > 3 * 16  # beyond max_length
    assert by_id["de/train/900001"].shape[0] == 5  # two words with no sub-word
    assert result.complete and result.predictions == run_dir / PREDICTIONS_FILE
    assert [f.fold for f in result.folds] == [0, 1]
    assert sum(f.n_heldout for f in result.folds) == len(corpus["train"])
    assert result.words_per_second > 0
    d = result.to_dict()
    assert d["mode"] == "finetune" and len(d["folds"]) == 2 and set(d["folds"][0]) >= {"f1", "ece_before", "ece_after", "temperature"}


def test_tiny_model_learns_out_of_fold(finetune_run, corpus):
    _, result, oof = finetune_run
    by_id = oof.by_sentence()
    train = corpus["train"]
    pred, gold = [], []
    for sid, given, clean in zip(train["id"], train["ner_tags"], train["clean_ner_tags"]):
        keep = np.asarray(given) == np.asarray(clean)  # noise-free words
        pred.append(by_id[sid].argmax(axis=1)[keep])
        gold.append(np.asarray(clean)[keep])
    pred, gold = np.concatenate(pred), np.concatenate(gold)
    accuracy = (pred == gold).mean()
    majority = np.bincount(gold).max() / len(gold)
    print(f"accuracy {accuracy:.3f} majority {majority:.3f}")
    assert accuracy > majority + 0.08, (accuracy, majority)
    assert all(f.f1 is not None and f.f1 > 0 for f in result.folds)


def test_folds_run_separately_then_merged_equal_one_full_run(finetune_run, corpus, tmp_path):
    # also "same seed twice -> same numbers": this run builds its own tiny model from scratch
    _, full, oof_all = finetune_run
    keep = _cfg(crossval={"keep_checkpoints": True})  # same numbers, plus the fold's model
    part = run_crossval(corpus, keep, tmp_path, folds=[1], progress=False)
    assert not part.complete and not (tmp_path / PREDICTIONS_FILE).exists()
    assert [f.fold for f in part.folds] == [1]
    merged = run_crossval(corpus, _cfg(), tmp_path, folds=[0], progress=False)
    assert merged.complete
    oof = OofPredictions.read(tmp_path / PREDICTIONS_FILE)
    assert np.array_equal(oof.ids, oof_all.ids) and np.array_equal(oof.word_index, oof_all.word_index)
    assert np.array_equal(oof.fold, oof_all.fold)
    np.testing.assert_array_equal(oof.probs, oof_all.probs)
    assert [f.temperature for f in merged.folds] == [f.temperature for f in full.folds]
    tagger = load_tagger(fold_dir(tmp_path, 1) / "model")
    assert tagger.label_names == LABEL_NAMES and tagger.temperature == full.folds[1].temperature
    assert not (fold_dir(tmp_path, 0) / "model").exists()


# --- probe mode, resume, staleness ----------------------------------------------------------


def test_probe_mode_covers_every_word_is_deterministic_and_resumes(corpus, tmp_path):
    cfg = _cfg(crossval={"mode": "probe"})
    first = run_crossval(corpus, cfg, tmp_path / "a", progress=False)
    assert first.mode == "probe" and first.complete and first.encode_seconds > 0
    oof = OofPredictions.read(tmp_path / "a" / PREDICTIONS_FILE)
    _assert_covers_audited_words(oof, corpus, 2)

    again = run_crossval(corpus, cfg, tmp_path / "b", progress=False)
    np.testing.assert_array_equal(OofPredictions.read(again.predictions).probs, oof.probs)

    # a crash after fold 0: only fold 1 is recomputed
    stamp = (fold_dir(tmp_path / "a", 0) / "result.json").stat().st_mtime_ns
    shutil.rmtree(fold_dir(tmp_path / "a", 1))
    (tmp_path / "a" / PREDICTIONS_FILE).unlink()
    resumed = run_crossval(corpus, cfg, tmp_path / "a", progress=False)
    assert (fold_dir(tmp_path / "a", 0) / "result.json").stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(OofPredictions.read(resumed.predictions).probs, oof.probs)

    # a changed setting makes the stored folds stale: recomputed, not reused
    changed = run_crossval(corpus, _cfg(crossval={"mode": "probe", "probe": {"epochs": 1}}), tmp_path / "a", progress=False)
    assert (fold_dir(tmp_path / "a", 0) / "result.json").stat().st_mtime_ns != stamp
    assert not np.array_equal(OofPredictions.read(changed.predictions).probs, oof.probs)


# --- the command ---------------------------------------------------------------------------


def test_cli_runs_single_folds_then_merges(tmp_path):
    from typer.testing import CliRunner

    from auditor.cli import app

    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        "name: cv\n"
        f"runs_dir: {tmp_path / 'runs'}\n"
        "data: {source: synthetic, languages: {de: 1.0, fr: 1.0}, splits: [train], "
        "synthetic: {sentences: {train: 30}}}\n"
        "model: {name: tiny, max_length: 16, stride: 4, "
        "tiny: {vocab_size: 300, hidden_size: 32, num_layers: 1, num_heads: 2, intermediate_size: 64}}\n"
        "crossval: {mode: probe, folds: 2, probe: {epochs: 2}}\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    first = runner.invoke(app, ["crossval", str(pipeline), "--fold", "1", "--quiet"])
    assert first.exit_code == 0, first.output
    assert "waiting for fold(s) [0]" in first.output
    assert not (tmp_path / "runs" / "cv" / PREDICTIONS_FILE).exists()
    second = runner.invoke(app, ["crossval", str(pipeline), "--fold", "0", "--quiet", "--json"])
    assert second.exit_code == 0, second.output
    summary = json.loads(second.stdout)
    assert summary["complete"] and summary["predictions"].endswith(PREDICTIONS_FILE)
    assert sorted(f["fold"] for f in summary["folds"]) == [0, 1] and summary["words_per_second"] > 0
    oof = OofPredictions.read(tmp_path / "runs" / "cv" / PREDICTIONS_FILE)
    assert set(oof.fold.tolist()) == {0, 1}
    bad = runner.invoke(app, ["crossval", str(pipeline), "--fold", "7", "--quiet"])
    assert isinstance(bad.exception, ConfigError) and "fold 7 does not exist" in str(bad.exception)


def test_parallel_fold_jobs_in_probe_mode_encode_once(corpus, tmp_path, monkeypatch):
    import threading
    import time as _time

    import auditor.modeling.crossval as cv

    calls = []
    real = cv.encode_word_features

    def slow_encode(*args, **kwargs):
        calls.append(1)
        _time.sleep(0.3)  # long enough for the second job to arrive while the first encodes
        return real(*args, **kwargs)

    monkeypatch.setattr(cv, "encode_word_features", slow_encode)
    cfg = _cfg(crossval={"mode": "probe"})
    errors = []

    def job(k):
        try:
            run_crossval(corpus, cfg, tmp_path, folds=[k], progress=False)
        except Exception as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=job, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(calls) == 1
    assert (tmp_path / PREDICTIONS_FILE).is_file()


def test_the_probe_encoder_pass_reports_progress_in_a_log(corpus, tmp_path, monkeypatch, capsys):
    """Off a terminal the encoder pass (minutes on a real corpus, before the first fold) prints
    whole lines while it runs, not silence until the first fold ends."""
    from auditor import progress
    from auditor.modeling.probe import ENCODE_DESC

    monkeypatch.setenv(progress.MODE_ENV, "lines")
    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.0)  # a line per batch instead of per 10 s
    cfg = _cfg(crossval={"mode": "probe"}, training={"eval_batch_size": 8})
    run_crossval(corpus, cfg, tmp_path, progress=True)
    lines = capsys.readouterr().err.splitlines()
    encode = [line for line in lines if line.startswith(f"{ENCODE_DESC}:")]
    words = sum(len(t) for split in corpus.values() for t in split["tokens"])  # the pool: train + validation
    assert len(encode) > 2 and all("\r" not in line for line in encode)
    assert encode[0].split("|")[0].strip() != f"{ENCODE_DESC}: 100%"  # it reported while running
    assert encode[-1].startswith(f"{ENCODE_DESC}: 100%") and f"{words}/{words} " in encode[-1]
    # and it comes before the first fold is done
    first_fold = next(i for i, line in enumerate(lines) if line.startswith("crossval (probe):"))
    assert lines.index(encode[-1]) < first_fold

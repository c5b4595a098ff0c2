"""K-fold cross-validation producing out-of-fold word probabilities.

Folds are drawn over the audited sentences, stratified by language. Fold k's model trains
on the other folds plus every non-audited training split, minus a holdout part (a share
`crossval.holdout` of that training side, also stratified by language) used for the eval
F1 and for fitting the fold's temperature; it then predicts fold k's sentences, which it
never saw. Every word of every audited sentence receives exactly one probability vector.

Each finished fold is written atomically to run_dir/folds/fold-k/ (predictions + result,
tagged with a fingerprint of the inputs), so a crashed run resumes where it stopped and
`auditor crossval <config> --fold k` can run one fold alone, e.g. as a cluster array job;
the folds are merged into run_dir/predictions.parquet as soon as all parts exist.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from datasets import Dataset, DatasetDict, concatenate_datasets
from seqeval.metrics import f1_score

from auditor.atomic import atomic_path, exclusive_lock, write_text_atomic
from auditor.config import PipelineConfig
from auditor.data.corpus import label_names as corpus_label_names
from auditor.distributed import is_main_process
from auditor.errors import ConfigError, DataError
from auditor.modeling.calibration import apply_temperature, expected_calibration_error, fit_temperature
from auditor.modeling.crossval_result import CrossvalResult, FoldResult
from auditor.modeling.factory import TINY, resolve_model
from auditor.modeling.predict import predict_word_logits
from auditor.modeling.probe import WordFeatures, cached_word_features, encode_word_features, train_probe
from auditor.modeling.training import train_tagger
from auditor.progress import progress_bar
from auditor.run_dir import FOLDS as FOLDS_DIR
from auditor.run_dir import PREDICTIONS as PREDICTIONS_FILE
from auditor.tables import OofPredictions, SentenceVectors

PART_FILE = PREDICTIONS_FILE  # a fold part is named like the merged table
RESULT_FILE = "result.json"
MERGED_FILE = "merged.fingerprint"  # the fingerprint predictions.parquet was merged from
_BASE_COLUMNS = ["id", "tokens", "ner_tags", "lang"]
_FORMAT_VERSION = 2  # 2: folds by content, probe heads with early stopping


def resolve_mode(cfg: PipelineConfig) -> str:
    """finetune | probe. "auto": finetune on a GPU, probe on a CPU, except for the tiny model,
    whose random-init encoder has nothing to probe and is always fine-tuned."""
    mode = cfg.crossval.mode
    if mode != "auto":
        return mode
    if cfg.model.name == TINY or torch.cuda.is_available():
        return "finetune"
    return "probe"


# --- fold plan -----------------------------------------------------------------------------


def assign_folds(langs: np.ndarray, k: int, seed: int, groups: np.ndarray | None = None) -> np.ndarray:
    """(n,) fold id per sentence: each language is shuffled (seeded) and dealt round-robin,
    continuing the deal across languages so fold sizes differ by at most one.

    groups: (n,) optional group id per sentence (e.g. identical token sequences); a group is
    dealt as one unit, to the fold of its first member's language, so copies of a sentence never
    sit on both sides of a fold (a model that trained on the copy would vouch for its error)."""
    rng = np.random.default_rng(seed)
    n = len(langs)
    if groups is None:
        groups = np.arange(n)
    _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    head_lang = langs[first]
    group_fold = np.empty(len(first), dtype=np.int64)
    dealt = 0
    for lang in sorted(set(head_lang.tolist())):
        # groups in order of first appearance, so the deal does not depend on group id values
        idx = np.flatnonzero(head_lang == lang)
        idx = idx[np.argsort(first[idx], kind="stable")]
        idx = idx[rng.permutation(len(idx))]
        group_fold[idx] = (dealt + np.arange(len(idx))) % k
        dealt += len(idx)
    return group_fold[inverse].astype(np.int64)


def content_keys(tokens: list[list[str]]) -> np.ndarray:
    """(n,) int64 id per sentence, equal for sentences with identical token sequences."""
    keys = ["\x1f".join(t) for t in tokens]
    codes, _ = pd.factorize(pd.Series(keys, dtype=object), sort=False)
    return codes.astype(np.int64)


def holdout_subset(candidates: np.ndarray, langs: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A share of `candidates` (indices), the same share of each language, seeded; sorted.
    At least one sentence when there are two or more candidates."""
    rng = np.random.default_rng(seed)
    picked: list[np.ndarray] = []
    for lang in sorted(set(langs[candidates].tolist())):
        idx = candidates[langs[candidates] == lang]
        n = int(round(share * len(idx)))
        picked.append(idx[rng.permutation(len(idx))[:n]])
    out = np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)
    if len(out) == 0 and len(candidates) >= 2:
        out = np.sort(rng.choice(candidates, size=1, replace=False))
    return out.astype(np.int64)


@dataclass
class FoldPlan:
    """The sentence pool and who goes where.

    pool:     audited splits (cfg.data.audit order) then non-audited training splits
    audited:  (n_pool,) bool, True for audited rows (the first n_audited rows)
    fold_of:  (n_audited,) fold of each audited row
    content:  (n_pool,) content id per row (equal for identical token sequences)
    """

    pool: Dataset
    n_audited: int
    fold_of: np.ndarray
    k: int
    seed: int
    holdout: float
    content: np.ndarray
    langs: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.langs = np.asarray(self.pool["lang"], dtype=object)

    def heldout(self, k: int) -> np.ndarray:
        """Pool indices of fold k's audited sentences (the ones it predicts)."""
        return np.flatnonzero(self.fold_of == k)

    def train_and_holdout(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Pool indices (train, holdout) of fold k's training side: the other folds and the
        training-only rows, minus any row whose tokens equal a sentence fold k predicts."""
        extra = np.arange(self.n_audited, len(self.pool))
        held_content = np.unique(self.content[self.heldout(k)])
        extra = extra[~np.isin(self.content[extra], held_content)]
        side = np.concatenate([np.flatnonzero(self.fold_of != k), extra])
        hold = holdout_subset(side, self.langs, self.holdout, self.seed * 1000 + k)
        return np.setdiff1d(side, hold), hold


def plan_folds(corpus: DatasetDict, cfg: PipelineConfig) -> FoldPlan:
    """Folds over cfg.data.audit, training side extended by non-audited cfg.data.train_splits."""
    missing = [s for s in set(cfg.data.audit) | set(cfg.data.train_splits) if s not in corpus]
    if missing:
        raise DataError(
            f"corpus has no split(s) {sorted(missing)} (it has {sorted(corpus)}); check data.audit / data.train_splits"
        )
    audited = [corpus[s].select_columns(_BASE_COLUMNS) for s in cfg.data.audit]
    extra = [corpus[s].select_columns(_BASE_COLUMNS) for s in cfg.data.train_splits if s not in cfg.data.audit]
    pool = concatenate_datasets(audited + extra)
    n_audited = sum(len(d) for d in audited)
    k = cfg.crossval.folds
    if n_audited < k:
        raise ConfigError(
            f"crossval.folds is {k} but the audited splits {cfg.data.audit} hold only {n_audited} sentence(s)"
        )
    ids = pool["id"]
    if len(set(ids)) != len(ids):
        raise DataError("sentence ids are not unique across the audited and training splits; rebuild the corpus")
    langs = np.asarray(pool["lang"][:n_audited], dtype=object)
    content = content_keys(pool["tokens"])
    fold_of = assign_folds(langs, k, cfg.data.seed, groups=content[:n_audited])
    return FoldPlan(pool, n_audited, fold_of, k, cfg.data.seed, cfg.crossval.holdout, content)


def model_identity(cfg: PipelineConfig) -> dict:
    """The model settings plus, for a local model folder, its content digest: a folder replaced
    at the same path is another model."""
    from auditor.stages.inputs import model_digest

    identity = cfg.model.model_dump()
    weights = model_digest(cfg.model.name)
    if weights:  # only then, so fingerprints of Hub and tiny models stay what they were
        identity["weights"] = weights
    return identity


def fingerprint(plan: FoldPlan, cfg: PipelineConfig, mode: str) -> str:
    """Hash of everything a fold's output depends on: pool content, fold settings, model, training."""
    h = hashlib.sha256()
    settings = {
        "v": _FORMAT_VERSION,
        "mode": mode,
        "seed": cfg.data.seed,
        "n_audited": plan.n_audited,
        "crossval": cfg.crossval.model_dump(exclude={"keep_checkpoints"}),
        "model": model_identity(cfg),
        # probe heads are seeded with training.seed and regularised with its weight decay
        "training": cfg.training.model_dump() if mode == "finetune" else [cfg.training.weight_decay, cfg.training.seed],
        "labels": corpus_label_names(plan.pool),
    }
    h.update(json.dumps(settings, sort_keys=True).encode())
    for batch in plan.pool.select_columns(["id", "tokens", "ner_tags"]).iter(batch_size=1000):
        h.update(json.dumps(batch, ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def features_fingerprint(plan: FoldPlan, cfg: PipelineConfig) -> str:
    """Hash of what the frozen word vectors depend on (not the heads: changing a head setting
    must not pay for another encoder pass)."""
    h = hashlib.sha256()
    probe = cfg.crossval.probe
    # not the number of layers: a cache holding more layers serves any smaller number
    settings = {"v": 2, "model": model_identity(cfg), "pooling": probe.pooling}
    h.update(json.dumps(settings, sort_keys=True).encode())
    for batch in plan.pool.select_columns(["id", "tokens"]).iter(batch_size=1000):
        h.update(json.dumps(batch, ensure_ascii=False).encode())
    return h.hexdigest()[:16]


# --- one fold ------------------------------------------------------------------------------

# pool indices -> (n_words, K) logits per sentence, in the order given
LogitsFn = Callable[[np.ndarray], list[np.ndarray]]


@dataclass
class _FoldContext:
    plan: FoldPlan
    cfg: PipelineConfig
    label_names: list[str]
    model_path: str
    progress: bool
    tags: list[list[int]]


def _seqeval_f1(label_names: list[str], gold: list[list[int]], logits: list[np.ndarray]) -> float | None:
    if not gold:
        return None
    y_true = [[label_names[t] for t in g] for g in gold]
    y_pred = [[label_names[t] for t in x.argmax(axis=1)] for x in logits]
    return float(f1_score(y_true, y_pred, zero_division=0))


def _finish_fold(
    ctx: _FoldContext,
    k: int,
    train: np.ndarray,
    hold: np.ndarray,
    held: np.ndarray,
    logits_of: LogitsFn,
    started: float,
) -> tuple[FoldResult, OofPredictions]:
    """Calibrate on the holdout, predict the held-out sentences, measure."""
    hold_logits = logits_of(hold)
    gold = [ctx.tags[i] for i in hold]
    flat_logits = np.concatenate(hold_logits) if hold_logits else np.zeros((0, len(ctx.label_names)))
    flat_gold = np.concatenate([np.asarray(g, dtype=np.int64) for g in gold]) if gold else np.zeros(0, np.int64)
    temperature = fit_temperature(flat_logits, flat_gold) if ctx.cfg.crossval.calibrate else 1.0
    ece_before = expected_calibration_error(apply_temperature(flat_logits, 1.0), flat_gold)
    ece_after = expected_calibration_error(apply_temperature(flat_logits, temperature), flat_gold)
    held_logits = logits_of(held)
    probs = [apply_temperature(x, temperature).astype(np.float32) for x in held_logits]
    ids = ctx.plan.pool.select(held)["id"]
    oof = OofPredictions(
        ids=np.asarray([i for i, p in zip(ids, probs) for _ in range(len(p))], dtype=object),
        word_index=np.concatenate([np.arange(len(p)) for p in probs]).astype(np.int32),
        fold=np.full(sum(len(p) for p in probs), k, dtype=np.int16),
        probs=np.concatenate(probs).reshape(-1, len(ctx.label_names)),
        label_names=ctx.label_names,
    )
    result = FoldResult(
        fold=k,
        f1=_seqeval_f1(ctx.label_names, gold, hold_logits),
        ece_before=ece_before,
        ece_after=ece_after,
        temperature=temperature,
        n_train=len(train),
        n_heldout=len(held),
        seconds=time.perf_counter() - started,
    )
    return result, oof


def _finetune_fold(ctx: _FoldContext, k: int):
    """Train fold k's tagger; returns (result, predictions, tagger with its fitted temperature)."""
    started = time.perf_counter()
    plan, cfg = ctx.plan, ctx.cfg
    train, hold = plan.train_and_holdout(k)
    tagger = train_tagger(
        plan.pool.select(train),
        plan.pool.select(hold) if len(hold) else None,
        ctx.label_names,
        ctx.model_path,
        cfg.model,
        cfg.training,
        progress=ctx.progress,
        progress_desc=f"fold {k} train",
        progress_nested=True,
    )

    def logits_of(index: np.ndarray) -> list[np.ndarray]:
        if len(index) == 0:
            return []
        ds = plan.pool.select(index)
        return predict_word_logits(
            tagger, ds, cfg.model.max_length, cfg.model.stride, cfg.training.eval_batch_size, ctx.progress
        )

    result, oof = _finish_fold(ctx, k, train, hold, plan.heldout(k), logits_of, started)
    tagger.temperature = result.temperature
    return result, oof, tagger


def _probe_fold(ctx: _FoldContext, k: int, features: WordFeatures) -> tuple[FoldResult, OofPredictions]:
    """Train fold k's heads on the frozen word vectors; returns (result, predictions)."""
    started = time.perf_counter()
    plan, cfg = ctx.plan, ctx.cfg
    train, hold = plan.train_and_holdout(k)
    model = train_probe(
        features,
        train,
        ctx.tags,
        hold,
        len(ctx.label_names),
        cfg.crossval.probe,
        cfg.training.weight_decay,
        seed=cfg.training.seed + k,
        progress=ctx.progress,
    )
    result, oof = _finish_fold(ctx, k, train, hold, plan.heldout(k), lambda index: model.logits(features, index), started)
    result.epochs = list(model.epochs)
    return result, oof


def _probe_features(run_dir: Path, plan: FoldPlan, cfg: PipelineConfig, model_path: str, progress: bool) -> WordFeatures:
    return cached_word_features(
        run_dir / FOLDS_DIR / "probe-features",
        features_fingerprint(plan, cfg),
        lambda: encode_word_features(
            model_path,
            list(plan.pool["tokens"]),
            cfg.model.max_length,
            cfg.model.stride,
            cfg.training.eval_batch_size,
            progress,
            layers=cfg.crossval.probe.layers,
            pooling=cfg.crossval.probe.pooling,
        ),
        layers=cfg.crossval.probe.layers,
    )


def audited_word_vectors(corpus: DatasetDict, cfg: PipelineConfig, run_dir: Path, progress: bool = False) -> SentenceVectors:
    """Frozen-encoder vectors (last layer, pooled as crossval.probe.pooling) of every audited
    word, by sentence id: what a verified sample's evidence compares (auditor.scoring.reference).

    In probe mode the crossval stage's feature cache already holds them (no second encoder
    pass); otherwise the audited sentences are encoded once into folds/reference-features."""
    run_dir = Path(run_dir)
    plan = plan_folds(corpus, cfg)
    n = plan.n_audited
    ids = np.asarray(plan.pool["id"][:n], dtype=object)
    model_path = resolve_model(cfg.model, corpus, run_dir, seed=cfg.training.seed)
    if resolve_mode(cfg) == "probe":
        with exclusive_lock(run_dir / FOLDS_DIR / "probe-features.lock"):
            features = _probe_features(run_dir, plan, cfg, model_path, progress).select_layers(1)
    else:
        audited = plan.pool.select(range(n))
        h = hashlib.sha256(features_fingerprint(plan, cfg).encode() + b"audited")
        features = cached_word_features(
            run_dir / FOLDS_DIR / "reference-features",
            h.hexdigest()[:16],
            lambda: encode_word_features(
                model_path,
                list(audited["tokens"]),
                cfg.model.max_length,
                cfg.model.stride,
                cfg.training.eval_batch_size,
                progress,
                layers=1,
                pooling=cfg.crossval.probe.pooling,
            ),
            layers=1,
        )
    offsets = np.asarray(features.offsets[: n + 1], dtype=np.int64)
    return SentenceVectors(ids, offsets, features.vectors[: offsets[-1]])


# --- fold parts on disk --------------------------------------------------------------------


def fold_dir(run_dir: Path, k: int) -> Path:
    return Path(run_dir) / FOLDS_DIR / f"fold-{k}"


def _read_part(run_dir: Path, k: int, fp: str) -> tuple[FoldResult, float] | None:
    """The stored result of fold k when it was computed from the same inputs (else None)."""
    path = fold_dir(run_dir, k) / RESULT_FILE
    if not path.is_file() or not (fold_dir(run_dir, k) / PART_FILE).is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if raw.get("fingerprint") != fp:
        return None
    try:
        return FoldResult(**raw["result"]), float(raw.get("encode_seconds", 0.0))
    except (KeyError, TypeError, ValueError):  # written by another version: recompute
        return None


def _write_part(
    run_dir: Path,
    k: int,
    fp: str,
    result: FoldResult,
    oof: OofPredictions,
    encode_seconds: float,
    write_extra: Callable[[Path], None] | None = None,
) -> None:
    if not is_main_process():
        return
    with atomic_path(fold_dir(run_dir, k), is_dir=True) as tmp:
        oof.write(tmp / PART_FILE)
        if write_extra is not None:
            write_extra(tmp)
        meta = {"fingerprint": fp, "result": result.to_dict(), "encode_seconds": encode_seconds}
        (tmp / RESULT_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")


def merge_folds(run_dir: Path, plan: FoldPlan) -> OofPredictions:
    """All fold parts -> one table in pool order, after checking every audited word appears once."""
    parts = [OofPredictions.read(fold_dir(run_dir, k) / PART_FILE) for k in range(plan.k)]
    merged = OofPredictions.concat(parts)
    audited = plan.pool.select(range(plan.n_audited))
    position = {sid: i for i, sid in enumerate(audited["id"])}
    n_words = np.asarray([len(t) for t in audited["tokens"]], dtype=np.int64)
    rows = np.asarray([position.get(str(i), -1) for i in merged.ids], dtype=np.int64)
    counts = np.bincount(rows[rows >= 0], minlength=len(n_words))
    if (rows < 0).any() or not np.array_equal(counts, n_words):
        raise DataError(
            f"{run_dir / FOLDS_DIR}: fold parts do not cover the audited words exactly once; "
            "delete the folder and re-run crossval"
        )
    order = np.lexsort((merged.word_index, rows))
    return OofPredictions(
        ids=merged.ids[order],
        word_index=merged.word_index[order],
        fold=merged.fold[order],
        probs=merged.probs[order],
        label_names=merged.label_names,
    )


# --- entry point ---------------------------------------------------------------------------


def run_crossval(
    corpus: DatasetDict, cfg: PipelineConfig, run_dir: Path, folds: list[int] | None = None, progress: bool = True
) -> CrossvalResult:
    """Run the folds that are missing or stale (all, or only `folds`), then merge into
    run_dir/predictions.parquet when every fold's part exists. Returns the results of every
    fold present on disk; `.predictions` is set once merged."""
    run_dir = Path(run_dir)
    plan = plan_folds(corpus, cfg)
    wanted = list(range(plan.k)) if folds is None else sorted(set(folds))
    bad = [k for k in wanted if not 0 <= k < plan.k]
    if bad:
        raise ConfigError(f"fold {bad[0]} does not exist: crossval.folds is {plan.k}, so folds are 0..{plan.k - 1}")
    mode = resolve_mode(cfg)
    fp = fingerprint(plan, cfg, mode)
    todo = [k for k in wanted if _read_part(run_dir, k, fp) is None]
    if todo:
        _run_folds(corpus, cfg, run_dir, plan, mode, fp, todo, progress)
    return _collect(run_dir, plan, mode, fp, remerge=bool(todo))


def _run_folds(
    corpus: DatasetDict,
    cfg: PipelineConfig,
    run_dir: Path,
    plan: FoldPlan,
    mode: str,
    fp: str,
    todo: list[int],
    progress: bool,
) -> None:
    labels = corpus_label_names(corpus)
    model_path = resolve_model(cfg.model, corpus, run_dir, seed=cfg.training.seed)
    ctx = _FoldContext(plan, cfg, labels, model_path, progress, [list(t) for t in plan.pool["ner_tags"]])
    features, encode_seconds = None, 0.0
    if mode == "probe":
        # `--fold k` jobs started together: one encodes, the others wait and read its cache
        with exclusive_lock(run_dir / FOLDS_DIR / "probe-features.lock"):
            features = _probe_features(run_dir, plan, cfg, model_path, progress)
        encode_seconds = features.seconds
    for k in progress_bar(todo, desc=f"crossval ({mode})", unit="fold", disable=not progress):
        if mode == "probe":
            result, oof = _probe_fold(ctx, k, features)
            _write_part(run_dir, k, fp, result, oof, encode_seconds)
        else:
            result, oof, tagger = _finetune_fold(ctx, k)
            # the model goes inside the atomic fold folder: a fold is there whole or not at all
            save = (lambda tmp, t=tagger: t.save(tmp / "model")) if cfg.crossval.keep_checkpoints else None
            _write_part(run_dir, k, fp, result, oof, 0.0, save)


def _collect(run_dir: Path, plan: FoldPlan, mode: str, fp: str, remerge: bool) -> CrossvalResult:
    found = {k: part for k in range(plan.k) if (part := _read_part(run_dir, k, fp)) is not None}
    results = [found[k][0] for k in sorted(found)]
    encode_seconds = max((found[k][1] for k in found), default=0.0)
    audited_lens = [len(t) for t in plan.pool.select(range(plan.n_audited))["tokens"]]
    words = sum(audited_lens[i] for r in results for i in plan.heldout(r.fold))
    seconds = sum(r.seconds for r in results) + encode_seconds
    predictions = None
    if len(found) == plan.k and is_main_process():
        predictions = run_dir / PREDICTIONS_FILE
        marker = run_dir / FOLDS_DIR / MERGED_FILE
        if remerge or not (predictions.is_file() and marker.is_file() and marker.read_text(encoding="utf-8") == fp):
            merge_folds(run_dir, plan).write(predictions)
            write_text_atomic(marker, fp)
    return CrossvalResult(
        mode=mode,
        folds=results,
        words_per_second=words / seconds if seconds > 0 else math.nan,
        n_folds=plan.k,
        encode_seconds=encode_seconds,
        predictions=predictions,
    )

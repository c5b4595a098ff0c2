"""How well the ranking finds known label errors (clean tags from the synthetic corpus or a truth file).

Two levels:
- sentence: a sentence is an error when its given tags differ from its clean tags. Every audited
  sentence is ranked by each method, so recall can reach 1.
- span: a true error span is an entity span of the given or the clean tags that the other does
  not have (the symmetric difference of the span sets). The issues are ranked by each method; an
  issue is a hit when it overlaps a true error span of its sentence. Recall@k = share of true
  error spans overlapped by the top k issues, so errors no issue covers cap recall and AP.

Methods: combined, model (the configured word quality alone), cleanlab (cleanlab's own label
quality, i.e. cleanlab alone on the same predictions), consistency, sequence_loss (the chapter's
method), each alone, and random (seeded). At span level they rank the issues by the issue's own
columns (score, model_score, cleanlab_score, consistency_score, sequence_loss); at sentence level
by the same signals per sentence (the configured aggregate, cleanlab's sentence score, the
worst share, the summed loss) and the combined sentence score of auditor.scoring.fusion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from datasets import DatasetDict
from sklearn.metrics import average_precision_score, roc_auc_score

from auditor.config import ScoringConfig
from auditor.data.iob import spans
from auditor.errors import DataError
from auditor.run_dir import RunDir
from auditor.scoring.detection_report import DetectionReport, MethodRow
from auditor.scoring.frame import ScoringFrame
from auditor.scoring.fusion import SIGNALS, single_signal_score
from auditor.scoring.score import compute_signals, sentence_combined, sentence_signals
from auditor.tables import OofPredictions, SentenceVectors

DEFAULT_KS = (10, 50, 100, 500)
METHODS = ("combined", *SIGNALS, "random")
RANDOM_SEED = 0


def evaluate_detection(
    corpus: DatasetDict,
    issues: pd.DataFrame,
    preds: OofPredictions,
    cfg: ScoringConfig,
    ks: tuple[int, ...] = DEFAULT_KS,
    evidence_splits: list[str] | None = None,
    vectors: SentenceVectors | None = None,
) -> DetectionReport:
    """Detection quality of the issue table and of each signal alone against clean_ner_tags.

    corpus: needs clean_ner_tags on every split; issues: the score stage's table (ISSUE_COLUMNS);
    preds: the out-of-fold predictions the issues came from; vectors: as for score_corpus when
    cfg.reference names a verified sample. The verified sentences are left out of every number
    (their errors are known, not found). Raises DataError without clean tags.
    """
    frame, signals = compute_signals(corpus, preds, cfg, evidence_splits=evidence_splits, vectors=vectors)
    if frame.clean is None:
        raise DataError(
            "detection quality needs known clean tags (clean_ner_tags): use the synthetic corpus "
            "or pass a corrected copy with --truth"
        )
    wrong = _sentence_errors(frame)
    is_error = wrong
    values = sentence_signals(frame, signals, cfg)
    scores = {"combined": sentence_combined(frame, signals, cfg)}
    for name in SIGNALS:
        scores[name] = single_signal_score(values, name)
    if signals.reference is not None:
        verified = np.zeros(frame.n_sentences, dtype=bool)
        np.logical_or.at(verified, frame.sentence, signals.reference.verified)
        keep = ~verified
        is_error = is_error[keep]
        scores = {name: v[keep] for name, v in scores.items()}
        issues = issues[~issues["id"].isin(set(frame.ids[verified].tolist()))]
        frame_ids = frame.ids[keep]
    else:
        frame_ids = frame.ids
    sentence_rows = _sentence_rows(scores, is_error, ks)
    true_spans = _true_error_spans(frame, np.flatnonzero(wrong))
    judged = set(map(str, frame_ids))
    true_spans = {sid: v for sid, v in true_spans.items() if sid in judged}
    span_rows = _span_rows(issues, true_spans, ks)
    n_spans = sum(len(v) for v in true_spans.values())
    return DetectionReport(
        noise_rate=float(is_error.mean()) if len(is_error) else 0.0,
        n_sentences=len(frame_ids),
        n_error_sentences=int(is_error.sum()),
        n_error_spans=n_spans,
        n_issues=len(issues),
        ks=tuple(ks),
        sentence=sentence_rows,
        span=span_rows,
    )


def _sentence_errors(frame: ScoringFrame) -> np.ndarray:
    """(S,) bool: the sentence's given tags differ from its clean tags somewhere."""
    diff = (frame.labels != frame.clean).astype(np.int64)
    csum = np.concatenate([[0], np.cumsum(diff)])
    return (csum[frame.offsets[1:]] - csum[frame.offsets[:-1]]) > 0


def _true_error_spans(frame: ScoringFrame, error_sentences: np.ndarray) -> dict[str, list[tuple[int, int]]]:
    """id -> word ranges of the entity spans that given and clean tags do not share."""
    names = np.asarray(frame.label_names, dtype=object)
    out: dict[str, list[tuple[int, int]]] = {}
    for s in error_sentences:
        a, b = frame.offsets[s], frame.offsets[s + 1]
        given = set(spans(names[frame.labels[a:b]].tolist()))
        clean = set(spans(names[frame.clean[a:b]].tolist()))
        diff = sorted((x[0], x[1]) for x in given ^ clean)
        if diff:
            out[str(frame.ids[s])] = diff
    return out


def _sentence_rows(scores: dict[str, np.ndarray], is_error: np.ndarray, ks) -> list[MethodRow]:
    scores = dict(scores)
    scores["random"] = np.random.default_rng(RANDOM_SEED).random(len(is_error))
    rows = []
    for method in METHODS:
        order = np.lexsort((np.arange(len(is_error)), scores[method]))
        hits = is_error[order]
        n_pos = int(is_error.sum())
        prec = {str(k): _precision_at(hits, k) for k in ks}
        rec = {str(k): (float(hits[:k].sum()) / n_pos if n_pos else float("nan")) for k in ks}
        rows.append(MethodRow(method, _ap(is_error, scores[method]), _auroc(is_error, scores[method]), prec, rec))
    return rows


def _span_rows(issues: pd.DataFrame, true_spans: dict[str, list[tuple[int, int]]], ks) -> list[MethodRow]:
    n_true = sum(len(v) for v in true_spans.values())
    # which true span (global index) each issue overlaps; -1 = none (a false alarm)
    index: dict[str, list[tuple[int, int, int]]] = {}
    g = 0
    for sid, ranges in true_spans.items():
        index[sid] = [(s, e, g + i) for i, (s, e) in enumerate(ranges)]
        g += len(ranges)
    covered = [
        [t for s, e, t in index.get(sid, []) if s < end and start < e]
        for sid, start, end in zip(issues["id"], issues["start"], issues["end"])
    ]
    hit = np.array([bool(c) for c in covered], dtype=bool)
    scores = {
        "combined": issues["score"].to_numpy(dtype=np.float64),
        "model": issues["model_score"].to_numpy(dtype=np.float64),
        "cleanlab": issues["cleanlab_score"].to_numpy(dtype=np.float64),
        "sequence_loss": np.exp(-issues["sequence_loss"].to_numpy(dtype=np.float64)),
        "consistency": issues["consistency_score"].to_numpy(dtype=np.float64),
        "random": np.random.default_rng(RANDOM_SEED).random(len(issues)),
    }
    # ties in the order the issue table already has (auditor.tables.rank_issues)
    tiebreak = np.arange(len(issues))
    rows = []
    for method in METHODS:
        order = np.lexsort((tiebreak, scores[method])) if len(issues) else np.zeros(0, dtype=np.int64)
        recall_curve = _recall_curve([covered[i] for i in order], n_true)
        hits = hit[order]
        prec = {str(k): _precision_at(hits, k) for k in ks}
        rec = {str(k): _recall_at(recall_curve, k, n_true) for k in ks}
        # AP with recall over all true spans: sum of precision@k at each k that covers a new span
        precision_curve = np.cumsum(hits) / np.arange(1, len(hits) + 1)
        gain = np.diff(np.concatenate([[0.0], recall_curve]))
        ap = float((precision_curve * gain).sum()) if n_true else float("nan")
        rows.append(MethodRow(method, ap, _auroc(hit, scores[method]), prec, rec))
    return rows


def _recall_curve(covered_in_order: list[list[int]], n_true: int) -> np.ndarray:
    """(M,) share of true spans covered by the first k+1 issues."""
    seen: set[int] = set()
    out = np.zeros(len(covered_in_order))
    for i, c in enumerate(covered_in_order):
        seen.update(c)
        out[i] = len(seen) / n_true if n_true else 0.0
    return out


def _recall_at(recall_curve: np.ndarray, k: int, n_true: int) -> float:
    if not n_true:
        return float("nan")
    return float(recall_curve[min(k, len(recall_curve)) - 1]) if len(recall_curve) else 0.0


def _precision_at(hits: np.ndarray, k: int) -> float:
    """Share of hits among the top k (among all items when fewer than k)."""
    n = min(k, len(hits))
    return float(hits[:n].mean()) if n else float("nan")


def _ap(y: np.ndarray, score: np.ndarray) -> float:
    if y.sum() == 0:
        return float("nan")
    return float(average_precision_score(y, -score))


def _auroc(y: np.ndarray, score: np.ndarray) -> float:
    if y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, -score))


def evaluate_run_dir(
    run_dir: str | Path, truth: str | Path | None = None, ks: tuple[int, ...] = DEFAULT_KS
) -> DetectionReport:
    """Detection quality of a scored run directory, merged into run_dir/metrics.json ("detection").

    Reads run_dir/issues.parquet, predictions.parquet, corpus/ (datasets.load_from_disk) and the
    scoring weights of run_dir/config.yaml (defaults without it). Clean tags come from `truth`
    (a corrected copy: CoNLL/JSONL/Parquet) or else from the corpus's clean_ner_tags.
    """
    from datasets import load_from_disk

    from auditor.metrics import write_section
    from auditor.scoring.truth import attach_truth, read_truth
    from auditor.tables import read_issues

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: no such run directory")
    issues = read_issues(RunDir(run_dir).issues)
    pred_path = RunDir(run_dir).predictions
    if not pred_path.is_file():
        raise DataError(f"{pred_path}: no predictions; run the crossval stage first")
    preds = OofPredictions.read(pred_path)
    corpus_dir = RunDir(run_dir).corpus
    if not corpus_dir.is_dir():
        raise DataError(f"{corpus_dir}: no corpus folder; run the load stage first")
    try:
        corpus = load_from_disk(str(corpus_dir))
    except (FileNotFoundError, ValueError) as err:
        raise DataError(f"{corpus_dir}: cannot load the corpus ({err}); re-run the load stage") from None
    if not isinstance(corpus, DatasetDict):
        raise DataError(f"{corpus_dir}: expected a DatasetDict folder (one folder per split)")
    if truth is not None:
        from auditor.data.corpus import label_names

        audited = list(dict.fromkeys(preds.ids.tolist()))
        corpus = attach_truth(corpus, read_truth(truth, label_names(corpus)), _corpus_order(corpus, audited))
    cfg = RunDir(run_dir).read_config()
    scoring = cfg.scoring if cfg is not None else ScoringConfig()
    vectors = None
    if cfg is not None and scoring.reference.file is not None:
        from auditor.modeling.crossval import audited_word_vectors

        # a verified sample's evidence needs the audited words' vectors (the crossval cache has them)
        vectors = audited_word_vectors(corpus, cfg, run_dir)
    report = evaluate_detection(corpus, issues, preds, scoring, ks, vectors=vectors)
    write_section(run_dir, report)
    return report


def _corpus_order(corpus: DatasetDict, ids: list[str]) -> list[str]:
    wanted = set(ids)
    return [sid for ds in corpus.values() for sid in ds["id"] if sid in wanted]


def _sentence_metrics(is_error: np.ndarray, quality: np.ndarray) -> dict[str, float]:
    """AP, AUROC and precision of the 100 lowest of a sentence ranking (S,), lower = suspicious."""
    order = np.lexsort((np.arange(len(quality)), quality))
    return {
        "sentence_ap": _ap(is_error, quality),
        "sentence_auroc": _auroc(is_error, quality),
        "sentence_p100": _precision_at(is_error[order], 100),
    }

"""The score stage: out-of-fold probabilities + corpus -> the ranked issue table and a summary.

Signals per word (losses, cleanlab, model disagreement, label consistency) are computed on flat
arrays; only sentences with a flagged word are turned into spans in Python.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from datasets import DatasetDict

from auditor.config import ScoringConfig
from auditor.data.iob import repair_iob2
from auditor.errors import ConfigError
from auditor.progress import progress_bar
from auditor.scoring.cleanlab_signal import CleanlabSignal, cleanlab_signal
from auditor.scoring.consistency import consistency_signal
from auditor.scoring.frame import ScoringFrame, build_frame, corpus_arrays
from auditor.scoring.fusion import SentenceSignals, WordQualities, check_weights, sentence_scores, span_scores
from auditor.scoring.losses import loss_per_tag, sequence_losses, token_losses, top_tokens_by_loss
from auditor.scoring.quality import sentence_quality, type_first_argmax, type_index, type_probs, word_quality
from auditor.scoring.reference import DecidedWords, ReferenceEvidence, read_verified_sample, reference_evidence
from auditor.scoring.spans import LabelScheme, classify, regions, repair_iob2_ids, suggested_sentence
from auditor.scoring.summary import ScoringSummary
from auditor.tables import ISSUE_COLUMNS, ISSUES_SCHEMA, OofPredictions, SentenceVectors, rank_issues

TOP_TOKENS = 20


@dataclass
class WordEvidence:
    """Everything the signals say about the audited words (ScoringFrame order): their raw
    outputs, the model's tags and what to suggest; `qualities()` is the part the fused score
    reads (fusion.WordQualities).

    losses: (N,) nats; sequence_sum, sequence_mean: (S,) nats; cleanlab: CleanlabSignal;
    consistency: (N,) share in [0, 1]; majority: (N,) tag id of the form's majority labelling
    or -1; predicted: (N,) model tag ids in valid IOB2; confidence: (N,) probability of the
    model's tag; flagged: (N,) bool, any signal flags the word.
    """

    losses: np.ndarray
    sequence_sum: np.ndarray
    sequence_mean: np.ndarray
    cleanlab: CleanlabSignal
    consistency: np.ndarray
    majority: np.ndarray
    consistency_flagged: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    flagged: np.ndarray
    model_quality: np.ndarray
    reference: ReferenceEvidence | None = None

    def qualities(self) -> WordQualities:
        ref = self.reference
        return WordQualities(
            model=self.model_quality,
            cleanlab=self.cleanlab.token_quality,
            consistency=self.consistency,
            reference=None if ref is None else ref.quality,
            reference_weight=0.0 if ref is None else ref.weight,
            verified_wrong=None if ref is None else ref.verified_wrong,
        )

    def suggestions(self) -> np.ndarray:
        """(N,) a tag id to suggest over the model's when it agrees with the given tag, or -1:
        the verified sample's evidence first, then the surface form's majority labelling."""
        out = np.where(self.consistency_flagged, self.majority, -1)
        if self.reference is not None:
            out = np.where(self.reference.suggestion >= 0, self.reference.suggestion, out)
        return out

    def overrides(self) -> np.ndarray:
        """(N,) a tag id to suggest whatever the model says, or -1: where the verified sample's
        evidence doubts the word (its corrected neighbours' tag; the curator's corrections of
        similar words outweigh a model trained on the convention they correct)."""
        if self.reference is None:
            return np.full(len(self.losses), -1, dtype=np.int64)
        return self.reference.doubted()


def compute_signals(
    corpus: DatasetDict,
    preds: OofPredictions,
    cfg: ScoringConfig,
    progress: bool = False,
    evidence_splits: list[str] | None = None,
    vectors: SentenceVectors | None = None,
    decided: DecidedWords | None = None,
) -> tuple[ScoringFrame, WordEvidence]:
    """Align the predictions with the corpus and compute every word-level signal.

    evidence_splits: the splits whose labels the consistency signal may use (the training and
    audited splits; default every split). Audited sentences always count. vectors: the
    audited words' frozen-encoder vectors, needed when cfg.reference.file names a verified
    sample (auditor.scoring.reference); decided: the review's decided words, neighbours beside
    the sample's (cfg.reference.decisions, a second pass)."""
    check_weights(cfg)
    with progress_bar(total=4, desc="scoring", unit="step", disable=not progress) as bar:
        arrays = corpus_arrays(corpus)
        frame = build_frame(arrays, preds)
        losses = token_losses(frame.probs, frame.labels)
        seq_sum, seq_mean = sequence_losses(losses, frame.offsets)
        scheme = LabelScheme.from_names(frame.label_names)
        if cfg.word_quality.startswith("collapsed"):
            # decode as the quality reads the model: type first, so a flag agrees with its score
            raw, _ = type_first_argmax(frame.probs, frame.label_names)
            predicted = repair_iob2_ids(raw, frame.offsets, scheme)
            tp = type_probs(frame.probs, frame.label_names)
            confidence = tp[np.arange(frame.n_tokens), type_index(frame.label_names)[0][predicted]]
        else:
            predicted = repair_iob2_ids(frame.probs.argmax(axis=1), frame.offsets, scheme)
            confidence = frame.probs[np.arange(frame.n_tokens), predicted].astype(np.float64)
        bar.update()
        cl = cleanlab_signal(frame, cfg.cleanlab)
        bar.update()
        evidence = None
        if evidence_splits is not None:
            audited = np.isin(arrays.ids, frame.ids)
            evidence = np.isin(arrays.splits, list(evidence_splits)) | audited
        cons = consistency_signal(arrays, cfg.consistency, evidence)
        bar.update()
        consistency = cons.score[frame.corpus_pos]
        cons_flagged = cons.flagged[frame.corpus_pos]
        disagree = (predicted != frame.labels) & (confidence >= cfg.min_confidence)
        flagged = cl.is_issue | disagree | cons_flagged
        model_quality = word_quality(frame.probs, frame.labels, frame.label_names, cfg.word_quality)
        reference = None
        if cfg.reference.file is not None:
            reference = _reference(frame, cfg, vectors, model_quality, cl.token_quality, consistency, decided)
            # the evidence doubts a word and has a different tag to offer
            doubted = reference.doubted()
            flagged |= (doubted >= 0) & (doubted != frame.labels)
        bar.update()
    return frame, WordEvidence(
        losses=losses,
        sequence_sum=seq_sum,
        sequence_mean=seq_mean,
        cleanlab=cl,
        consistency=consistency,
        majority=cons.suggestion[frame.corpus_pos],
        consistency_flagged=cons_flagged,
        predicted=predicted,
        confidence=confidence,
        flagged=flagged,
        model_quality=model_quality,
        reference=reference,
    )


def _reference(
    frame: ScoringFrame,
    cfg: ScoringConfig,
    vectors: SentenceVectors | None,
    model_quality: np.ndarray,
    cleanlab_quality: np.ndarray,
    consistency: np.ndarray,
    decided: DecidedWords | None = None,
) -> ReferenceEvidence:
    """The verified sample's evidence for the audited words (auditor.scoring.reference)."""
    if vectors is None:
        raise ConfigError("scoring.reference needs the audited words' encoder vectors; run it through the score stage")
    sample = read_verified_sample(cfg.reference.file, frame.label_names)
    base = WordQualities(model=model_quality, cleanlab=cleanlab_quality, consistency=consistency).fused(cfg.weights)
    return reference_evidence(
        vectors.aligned(frame.ids, np.diff(frame.offsets)),
        frame.labels,
        frame.label_names,
        frame.ids,
        frame.offsets,
        sample,
        base,
        cfg.sentence_aggregate,
        k=cfg.reference.k,
        weight=None if cfg.reference.weight == "auto" else float(cfg.reference.weight),
        words=frame.tokens,
        decided=decided,
    )


def sentence_signals(frame: ScoringFrame, signals: WordEvidence, cfg: ScoringConfig) -> SentenceSignals:
    """Each signal per audited sentence (S,): the model's word quality aggregated as configured,
    cleanlab's own sentence quality, the summed loss, the worst consistency share."""
    return SentenceSignals(
        model=sentence_quality(signals.model_quality, frame.offsets, cfg.sentence_aggregate),
        cleanlab=signals.cleanlab.sentence_quality,
        sequence_loss=signals.sequence_sum,
        consistency=sentence_quality(signals.consistency, frame.offsets, "min"),
    )


def sentence_combined(frame: ScoringFrame, signals: WordEvidence, cfg: ScoringConfig) -> np.ndarray:
    """(S,) the combined score of each audited sentence (auditor.scoring.fusion)."""
    return sentence_scores(signals.qualities(), frame.offsets, signals.sequence_sum, cfg)


@dataclass
class ScoringResult:
    issues: pd.DataFrame  # columns ISSUE_COLUMNS, ranked by score (lower first)
    summary: ScoringSummary


def score_corpus(
    corpus: DatasetDict,
    preds: OofPredictions,
    cfg: ScoringConfig,
    progress: bool = True,
    evidence_splits: list[str] | None = None,
    vectors: SentenceVectors | None = None,
    decided: DecidedWords | None = None,
) -> ScoringResult:
    """Rank likely label errors of the audited sentences (those present in `preds`).

    The consistency signal takes its evidence from `evidence_splits` (the training and audited
    splits; default all). Returns the issue table (ISSUE_COLUMNS, ranked by `score`, lower =
    more likely wrong) and a summary. Raises DataError when the predictions do not match the corpus.
    vectors: the audited words' encoder vectors, for a verified sample (cfg.reference);
    decided: the review's decided words as more neighbours (cfg.reference.decisions).
    """
    frame, signals = compute_signals(corpus, preds, cfg, progress, evidence_splits, vectors, decided)
    issues = build_issues(frame, signals, cfg, progress)
    if cfg.max_issues is not None:
        issues = issues.head(cfg.max_issues).reset_index(drop=True)
    summary = ScoringSummary(
        n_issues=len(issues),
        n_sentences=frame.n_sentences,
        n_tokens=frame.n_tokens,
        n_flagged_sentences=int(issues["id"].nunique()),
        by_kind=_counts(issues["kind"]),
        by_lang=_counts(issues["lang"]),
        by_type=_counts(issues["entity_type"]),
        top_tokens=_records(top_tokens_by_loss(frame, n=TOP_TOKENS), "token"),
        loss_per_tag=_records(loss_per_tag(frame), "tag"),
        reference=None if signals.reference is None else signals.reference.summary(),
    )
    return ScoringResult(issues=issues, summary=summary)


def _counts(col: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in sorted(Counter(col.tolist()).items())}


def _records(table: pd.DataFrame, key: str) -> list[dict]:
    return [
        {key: str(r[key]), "count": int(r["count"]), "mean": float(r["mean"]), "sum": float(r["sum"])}
        for r in table.to_dict("records")
    ]


def _reference_example(frame: ScoringFrame, ref: ReferenceEvidence | None, lo: int, hi: int, width: int = 60) -> str:
    """The corrected word a span's doubt rests on, quoted in its sentence with the curator's
    change and where the curator made it ('“Japan” in “Japan beat Syria 2-1 .” (B-LOC→B-ORG,
    verified sample)'; "decided in review" for a second pass's decided word), or "" for none."""
    if ref is None or hi <= lo:
        return ""
    word = lo + int(np.argmin(ref.quality[lo:hi]))
    e = int(ref.example[word])
    if e < 0:
        return ""
    s = int(frame.sentence[e])
    text = " ".join(frame.tokens[frame.offsets[s] : frame.offsets[s + 1]].tolist())
    if len(text) > width:
        text = text[: width - 1] + "…"
    names = frame.label_names
    where = "decided in review" if ref.from_review(e) else "verified sample"
    return f"“{frame.tokens[e]}” in “{text}” ({names[frame.labels[e]]}→{names[ref.curator_tag(e)]}, {where})"


def build_issues(frame: ScoringFrame, signals: WordEvidence, cfg: ScoringConfig, progress: bool = False) -> pd.DataFrame:
    """One row per reviewable span of each sentence with a flagged word (ISSUE_COLUMNS), ranked."""
    names = np.asarray(frame.label_names, dtype=object)
    rows: dict[str, list] = {c: [] for c in ISSUE_COLUMNS}
    span_values: dict[str, list[float]] = {"cleanlab": [], "token_loss": [], "consistency": [], "model": [], "reference": []}
    reference = signals.reference.quality if signals.reference is not None else None
    flat_start: list[int] = []
    flat_end: list[int] = []
    index = {n: i for i, n in enumerate(frame.label_names)}
    flagged_sentences = np.unique(frame.sentence[signals.flagged])
    suggestions = signals.suggestions()
    overrides = signals.overrides()
    for s in progress_bar(flagged_sentences, desc="issues", unit="sent", disable=not progress or len(flagged_sentences) < 5000):
        a, b = int(frame.offsets[s]), int(frame.offsets[s + 1])
        given = names[frame.labels[a:b]].tolist()
        predicted = names[signals.predicted[a:b]].tolist()
        majority = [names[m] if m >= 0 else None for m in suggestions[a:b]]
        suggested = suggested_sentence(predicted, given, majority)
        if (overrides[a:b] >= 0).any():
            suggested = repair_iob2([names[o] if o >= 0 else t for o, t in zip(overrides[a:b], suggested)])
        if signals.reference is not None and signals.reference.verified[a]:
            # a verified sentence: the curator's tags are the suggestion, whatever the model says
            suggested = names[signals.reference.verified_tags[a:b]].tolist()
        tokens = frame.tokens[a:b].tolist()
        for start, end in regions(signals.flagged[a:b], given, suggested):
            if given[start:end] == suggested[start:end]:
                continue  # a doubt without a different labelling to offer is not reviewable
            kind, entity_type = classify(given[start:end], suggested[start:end])
            rows["issue_id"].append(f"{frame.ids[s]}:{start}-{end}")
            rows["id"].append(str(frame.ids[s]))
            rows["lang"].append(str(frame.langs[s]))
            rows["split"].append(str(frame.splits[s]))
            rows["start"].append(start)
            rows["end"].append(end)
            rows["kind"].append(kind)
            rows["entity_type"].append(entity_type)
            rows["surface"].append(" ".join(tokens[start:end]))
            rows["given"].append(given[start:end])
            rows["suggested"].append(suggested[start:end])
            rows["tokens"].append(tokens)
            rows["tags"].append(given)
            rows["predicted"].append(predicted)
            rows["token_losses"].append(signals.losses[a:b].tolist())
            rows["sequence_loss"].append(float(signals.sequence_sum[s]))
            rows["sequence_loss_mean"].append(float(signals.sequence_mean[s]))
            span_values["cleanlab"].append(float(signals.cleanlab.token_quality[a + start : a + end].min()))
            span_values["token_loss"].append(float(signals.losses[a + start : a + end].max()))
            span_values["consistency"].append(float(signals.consistency[a + start : a + end].min()))
            span_values["model"].append(float(signals.model_quality[a + start : a + end].min()))
            span_values["reference"].append(float(reference[a + start : a + end].min()) if reference is not None else np.nan)
            rows["reference_example"].append(_reference_example(frame, signals.reference, a + start, a + end))
            probs = frame.probs[a + start : a + end]
            rows["given_prob"].append([float(p[index[t]]) for p, t in zip(probs, given[start:end])])
            rows["suggested_prob"].append([float(p[index[t]]) for p, t in zip(probs, suggested[start:end])])
            flat_start.append(a + start)
            flat_end.append(a + end)
    rows["cleanlab_score"] = span_values["cleanlab"]
    rows["token_loss"] = span_values["token_loss"]
    rows["consistency_score"] = span_values["consistency"]
    rows["model_score"] = span_values["model"]
    rows["reference_score"] = span_values["reference"]
    rows["score"] = span_scores(
        signals.qualities(),
        np.asarray(flat_start, dtype=np.int64),
        np.asarray(flat_end, dtype=np.int64),
        np.asarray(rows["sequence_loss"], dtype=np.float64),
        cfg.weights,
    ).tolist()
    # through Arrow so the dtypes are those of the issue file even for an empty table
    df = pa.Table.from_pydict({c: rows[c] for c in ISSUE_COLUMNS}, schema=ISSUES_SCHEMA).to_pandas()
    return rank_issues(df)

"""Evidence from a verified sample: words like the ones a curator corrected are suspicious.

A model trained on a corpus learns the corpus's conventions, right or wrong. When a
convention itself is wrong in many sentences (CoNLL-2003 tags a country playing football as
LOC; the corrected CleanCoNLL says ORG), the out-of-fold model agrees with the wrong tag and
no corpus-internal signal can see it. A small *verified sample* can: a random few hundred
audited sentences whose tags a curator checked (auditor.data.sample: drawn by `auditor
sample`, checked with `auditor verify`).

For every audited word, the evidence looks at its ``k`` nearest verified words of the same
given entity type (cosine similarity of frozen-encoder vectors, so "Japan" in a match report
finds other countries in match reports, not "Japan" in a trade story) and asks how many of
them the curator corrected. The word's *reference quality* is

    1 - sum(sim_i * corrected_i) / (sum(sim_i) + 1)

(the +1 is a prior towards "right": a few weak neighbours say little), and its suggestion is
the similarity-weighted majority of the corrected neighbours' verified tags. Verified words
themselves get quality 0 when corrected (with the verified tag as the suggestion) and 1 when
confirmed.

How much the evidence weighs is fitted on the sample itself (``fit_weight``): each verified
sentence is scored with evidence from the *other* verified sentences only, and the weight
whose fused ranking finds the sample's own wrong sentences best (sentence average precision)
wins. A corpus whose errors do not cluster (random noise) gets a small weight; one with a
systematic wrong convention gets a large one. No truth beyond the sample is used.

A second pass (``scoring.reference.decisions``) adds the curator's decisions from the review
queue as more verified words: only the words a decision covered (the curator looked at that
span, not the rest of its sentence), with the tags the decision wrote. After the curator
relabels a few "England" LOC→ORG in match reports, the rest of that convention finds corrected
neighbours and rises in the queue. The weight is still fitted on the random sample only: the
decided words are the queue's most doubted ones, so their share corrected says nothing about
how much the evidence should weigh; they serve only as neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from auditor.errors import DataError
from auditor.scoring.fusion import MIN_QUALITY
from auditor.scoring.quality import sentence_quality, type_index

# candidate weights of the evidence in the fused word quality (quality ** weight)
WEIGHT_GRID = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
# a word becomes an issue when its evidence quality is below this (corrected neighbours carry
# at least 15 % of the similarity mass) and they offer another tag. Measured on CoNLL with a
# 200-sentence sample (benchmarks/README.md): 0.5 / 0.7 / 0.85 / 0.95 gave span AP 0.17 / 0.29 /
# 0.36 / 0.39 for 741 / 942 / 1,369 / 2,436 issues; 0.85 before the issue count balloons.
REFERENCE_FLAG_BELOW = 0.85


@dataclass
class VerifiedSample:
    """Verified tags of some audited sentences: sentence id -> (n_words,) tag ids."""

    tags: dict[str, np.ndarray]
    source: str = ""
    # the words, when the file gives them: checked against the corpus
    tokens: dict[str, list[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.tags)


@dataclass
class DecidedWords:
    """Words a curator decided in the review queue, by sentence id: the sentence's tags after
    the decisions and which of its words a decision covered (only those were looked at).
    Built from the apply stage's rules by ``auditor.cleaning.decided_words``."""

    tags: dict[str, list[str]] = field(default_factory=dict)
    covered: dict[str, list[bool]] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(sum(c) for c in self.covered.values())


def decided_mask(
    ids: np.ndarray, offsets: np.ndarray, decided: DecidedWords, label_names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(N,) bool, the audited words a decision covered, and (N,) their decided tag ids (-1
    elsewhere). ids: (S,), offsets: (S + 1,). A decided sentence that is not audited (an
    issue can only be on an audited one; a later config may audit less) is left out. Raises
    DataError when a decided sentence's length or a tag does not fit the corpus."""
    position = {str(s): i for i, s in enumerate(ids)}
    index = {n: i for i, n in enumerate(label_names)}
    n = int(offsets[-1])
    mask = np.zeros(n, dtype=bool)
    tags = np.full(n, -1, dtype=np.int64)
    for sid, covered in decided.covered.items():
        s = position.get(sid)
        if s is None:
            continue
        a, b = int(offsets[s]), int(offsets[s + 1])
        row = decided.tags[sid]
        if b - a != len(covered) or len(row) != len(covered):
            raise DataError(f"decided sentence {sid!r} has {len(covered)} words but the corpus sentence has {b - a}")
        unknown = next((t for t in row if t not in index), None)
        if unknown is not None:
            raise DataError(f"decided sentence {sid!r}: tag {unknown!r} is not one of the corpus's labels {label_names}")
        mask[a:b] = covered
        tags[a:b] = np.where(covered, [index[t] for t in row], -1)
    return mask, tags


class NeighbourEvidence(NamedTuple):
    """Per word (N,): quality in [0, 1] (lower = more of its verified neighbours were corrected),
    the suggested tag id (-1 = none), and the word index of the most similar corrected
    neighbour (-1 = none), to show the curator what the doubt rests on."""

    quality: np.ndarray
    suggestion: np.ndarray
    example: np.ndarray


@dataclass
class ReferenceEvidence:
    """The verified sample's evidence for the audited words (ScoringFrame order).

    quality: (N,) in [0, 1], lower = more like the words the curator corrected;
    suggestion: (N,) tag id the evidence proposes, -1 for none;
    verified: (N,) bool, the word belongs to a verified sentence;
    verified_tags: (N,) the curator's tag ids of verified words, -1 elsewhere;
    example: (N,) word index of the most similar corrected verified word, -1 for none;
    weight: exponent of the quality in the fused score (fitted or configured);
    fit: weight -> sentence AP on the sample (leave-one-sentence-out), empty when not fitted;
    decided: (N,) bool, words a review decision covered that serve as neighbours too (a
    second pass), None without; decided_tags: (N,) their decided tag ids, -1 elsewhere.
    """

    quality: np.ndarray
    suggestion: np.ndarray
    verified: np.ndarray
    verified_tags: np.ndarray
    example: np.ndarray
    weight: float
    n_sentences: int
    n_corrected_sentences: int
    fit: dict[float, float] = field(default_factory=dict)
    decided: np.ndarray | None = None
    decided_tags: np.ndarray | None = None
    n_decided_words: int = 0
    n_decided_corrected: int = 0

    def curator_tag(self, word: int) -> int:
        """The tag a curator gave `word` (index into the audited words): the verified
        sample's, else a review decision's; -1 for none."""
        if self.verified[word]:
            return int(self.verified_tags[word])
        if self.decided is not None and self.decided[word]:
            return int(self.decided_tags[word])
        return -1

    def from_review(self, word: int) -> bool:
        """The word's tag comes from a review decision, not the verified sample."""
        return bool(self.decided is not None and self.decided[word] and not self.verified[word])

    @property
    def verified_wrong(self) -> np.ndarray:
        """(N,) bool: words the curator corrected in the sample (known errors)."""
        return self.verified & (self.suggestion >= 0)

    def doubted(self) -> np.ndarray:
        """(N,) the tag id the evidence suggests where it doubts the word (quality below
        REFERENCE_FLAG_BELOW and a corrected neighbour's tag to offer), else -1. Verified
        corrections are always doubted (quality 0); other words only when the evidence has a
        weight (a fit of 0 says it does not find this corpus's errors, so it flags nothing)."""
        doubts = (self.quality < REFERENCE_FLAG_BELOW) & (self.suggestion >= 0)
        if self.weight <= 0:
            doubts &= self.verified
        return np.where(doubts, self.suggestion, -1)

    def summary(self) -> dict:
        out = {
            "verified_sentences": self.n_sentences,
            "corrected_sentences": self.n_corrected_sentences,
            "weight": self.weight,
            "fit_sentence_ap": {str(w): round(ap, 4) for w, ap in self.fit.items()},
        }
        if self.decided is not None:
            out["decided_words"] = self.n_decided_words
            out["decided_corrected_words"] = self.n_decided_corrected
        return out


def read_verified_sample(path: str | Path, label_names: list[str]) -> VerifiedSample:
    """The verified lines of a sample file (auditor.data.sample): sentence id -> tag ids, with
    the tokens to check against the corpus. Lines not yet verified are left out. Raises
    DataError with the line number for a malformed line or an unknown tag."""
    from auditor.data.sample import read_sample

    p = Path(path)
    if not p.is_file():
        raise DataError(
            f"scoring.reference.file {str(path)!r} does not exist; draw one with `auditor sample RUN_DIR --out FILE`"
        )
    index = {n: i for i, n in enumerate(label_names)}
    tags: dict[str, np.ndarray] = {}
    tokens: dict[str, list[str]] = {}
    rows = read_sample(p)
    for row in rows:
        if not row.verified:
            continue
        unknown = next((t for t in row.tags if t not in index), None)
        if unknown is not None:
            raise DataError(f"{p}: sentence {row.id!r}: tag {unknown!r} is not one of the corpus's labels {label_names}")
        tags[row.id] = np.asarray([index[t] for t in row.tags], dtype=np.int64)
        if row.tokens:
            tokens[row.id] = row.tokens
    if not tags:
        what = f"none of its {len(rows)} sentences is verified yet; check them with `auditor verify {p}`" if rows else "it is empty"
        raise DataError(f"{p} holds no verified sentence: {what}")
    return VerifiedSample(tags, str(p), tokens)


def verified_words(
    ids: np.ndarray, offsets: np.ndarray, sample: VerifiedSample, words: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(N,) bool verified mask and (N,) verified tag ids (-1 elsewhere) over the audited words.

    ids: (S,) sentence ids, offsets: (S + 1,) word offsets, words: (N,) the audited words (to
    check the sample's tokens, when it gives them). Raises DataError when a verified sentence
    is not audited, has another length or other words."""
    position = {str(s): i for i, s in enumerate(ids)}
    n = int(offsets[-1])
    mask = np.zeros(n, dtype=bool)
    tags = np.full(n, -1, dtype=np.int64)
    for sid, t in sample.tags.items():
        s = position.get(sid)
        if s is None:
            raise DataError(f"verified sentence {sid!r} ({sample.source}) is not an audited sentence; its id must match the corpus")
        a, b = int(offsets[s]), int(offsets[s + 1])
        if b - a != len(t):
            raise DataError(f"verified sentence {sid!r} has {len(t)} tags but the corpus sentence has {b - a} words")
        if words is not None and sid in sample.tokens and list(words[a:b]) != sample.tokens[sid]:
            raise DataError(f"verified sentence {sid!r} has other words than the corpus sentence of that id; was the sample drawn from this corpus?")
        mask[a:b] = True
        tags[a:b] = t
    return mask, tags


def neighbour_evidence(
    vectors: np.ndarray,
    given_type: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
    corrected: np.ndarray,
    verified_tags: np.ndarray,
    n_labels: int,
    k: int = 10,
    sentence: np.ndarray | None = None,
    chunk: int = 4096,
) -> NeighbourEvidence:
    """Quality, suggestion and example of the `target` words from their k nearest `source` words.

    vectors: (N, D) float, one row per word (any scale: rows are centred and L2-normalised
    here); given_type: (N,) entity type id of the given tag (neighbours share it); source,
    target: (N,) bool; corrected: (N,) bool, a source word the curator changed;
    verified_tags: (N,) the source words' verified tag ids; sentence: (N,) sentence index,
    when given a word never takes evidence from its own sentence (leave-one-sentence-out).
    Returns NeighbourEvidence (1.0 / -1 outside target)."""
    import torch  # here, not at the top: the review UI reads this module's threshold

    n = len(given_type)
    quality = np.ones(n, dtype=np.float64)
    suggestion = np.full(n, -1, dtype=np.int64)
    example = np.full(n, -1, dtype=np.int64)
    x = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
    x = torch.nn.functional.normalize(x - x.mean(0), dim=1)
    for t in np.unique(given_type[target]):
        src = np.flatnonzero(source & (given_type == t))
        dst = np.flatnonzero(target & (given_type == t))
        if len(src) == 0:
            continue
        corr = torch.from_numpy(corrected[src].astype(np.float32))
        tags = torch.from_numpy(np.clip(verified_tags[src], 0, None))
        for lo in range(0, len(dst), chunk):
            d = dst[lo : lo + chunk]
            sims = x[d] @ x[src].T
            if sentence is not None:
                sims[torch.from_numpy(sentence[d][:, None] == sentence[src][None, :])] = -2.0
            sim, idx = sims.topk(min(k, len(src)), dim=1)
            w = torch.clamp(sim, min=0.0)
            wc = w * corr[idx]
            quality[d] = (1.0 - wc.sum(1) / (w.sum(1) + 1.0)).double().numpy()
            votes = torch.zeros(len(d), n_labels, dtype=torch.float32)
            votes.scatter_add_(1, tags[idx], wc)
            best = votes.argmax(1)
            has = (votes.max(1).values > 0).numpy()
            suggestion[d] = np.where(has, best.numpy(), -1)
            nearest = torch.gather(idx, 1, wc.argmax(1, keepdim=True)).squeeze(1).numpy()
            example[d] = np.where(has, src[nearest], -1)
    return NeighbourEvidence(quality, suggestion, example)


def fit_weight(
    base_quality: np.ndarray,
    loo_quality: np.ndarray,
    offsets: np.ndarray,
    sentence_is_verified: np.ndarray,
    sentence_is_wrong: np.ndarray,
    aggregate: str,
    grid: tuple[float, ...] = WEIGHT_GRID,
) -> tuple[float, dict[float, float]]:
    """The evidence weight whose fused ranking finds the sample's wrong sentences best.

    base_quality: (N,) the fused word quality without the evidence; loo_quality: (N,) the
    evidence of each verified word from the other verified sentences; offsets: (S + 1,);
    sentence_is_verified, sentence_is_wrong: (S,) bool. Returns (weight, {weight: AP}); the
    smallest weight within 0.005 AP of the best wins (less evidence when it does not help),
    and 0.0 when the sample holds no wrong or no right sentence."""
    from sklearn.metrics import average_precision_score

    y = sentence_is_wrong[sentence_is_verified]
    if y.all() or not y.any():
        return 0.0, {}
    scores: dict[float, float] = {}
    for w in grid:
        q = np.clip(base_quality, MIN_QUALITY, 1.0) * np.clip(loo_quality, MIN_QUALITY, 1.0) ** w
        sent = sentence_quality(q, offsets, aggregate)[sentence_is_verified]
        scores[w] = float(average_precision_score(y, 1.0 - sent))
    best = max(scores.values())
    return next(w for w in grid if scores[w] >= best - 0.005), scores


def reference_evidence(
    vectors: np.ndarray,
    labels: np.ndarray,
    label_names: list[str],
    ids: np.ndarray,
    offsets: np.ndarray,
    sample: VerifiedSample,
    base_quality: np.ndarray,
    aggregate: str,
    k: int = 10,
    weight: float | None = None,
    words: np.ndarray | None = None,
    decided: DecidedWords | None = None,
) -> ReferenceEvidence:
    """The verified sample's evidence for every audited word (see the module docstring).

    vectors: (N, D) word vectors of the audited words; labels: (N,) given tag ids; ids: (S,);
    offsets: (S + 1,); base_quality: (N,) the fused word quality without the evidence (for
    fitting the weight); weight: None = fit it on the sample; words: (N,) to check the
    sample's tokens; decided: the review's decided words, neighbours beside the sample's (a
    second pass; a sample sentence's words stay the sample's)."""
    if len(vectors) != len(labels):
        raise DataError(f"reference evidence needs one vector per audited word ({len(vectors)} vectors, {len(labels)} words)")
    verified, verified_tags = verified_words(ids, offsets, sample, words)
    type_ids, _ = type_index(label_names)
    given_type = type_ids[labels]
    corrected = verified & (verified_tags != labels)
    reviewed, decided_tags = None, None
    source, source_tags, source_corrected = verified, verified_tags, corrected
    if decided is not None:
        reviewed, decided_tags = decided_mask(ids, offsets, decided, label_names)
        reviewed &= ~verified
        decided_tags = np.where(reviewed, decided_tags, -1)
        source = verified | reviewed
        source_tags = np.where(verified, verified_tags, decided_tags)
        source_corrected = source & (source_tags != labels)
    sentence = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    n_labels = len(label_names)
    # a decided word stays a target, its own decision its nearest neighbour: a correction keeps
    # its word doubted, so the issue it was decided on stays in the queue, decided
    target = ~verified
    quality, suggestion, example = neighbour_evidence(
        vectors, given_type, source, target, source_corrected, source_tags, n_labels, k
    )
    wrong_sentence = np.zeros(len(offsets) - 1, dtype=bool)
    np.logical_or.at(wrong_sentence, sentence, corrected)
    verified_sentence = np.zeros(len(offsets) - 1, dtype=bool)
    np.logical_or.at(verified_sentence, sentence, verified)
    fit: dict[float, float] = {}
    if weight is None:
        # the targets are the random sample's words only (the module docstring says why); the
        # neighbours are every verified and decided word outside the target's own sentence
        loo = neighbour_evidence(
            vectors, given_type, source, verified, source_corrected, source_tags, n_labels, k, sentence
        ).quality
        weight, fit = fit_weight(base_quality, loo, offsets, verified_sentence, wrong_sentence, aggregate)
    suggestion = _keep_position(suggestion, labels, label_names)
    # the sample's own words: what the curator said
    quality[verified] = np.where(corrected[verified], 0.0, 1.0)
    suggestion[verified] = np.where(corrected[verified], verified_tags[verified], -1)
    evidence = ReferenceEvidence(
        quality=quality,
        suggestion=suggestion,
        verified=verified,
        verified_tags=verified_tags,
        example=np.where(verified, -1, example),
        weight=float(weight),
        n_sentences=int(verified_sentence.sum()),
        n_corrected_sentences=int(wrong_sentence.sum()),
        fit=fit,
        decided=reviewed,
        decided_tags=decided_tags,
        n_decided_words=0 if reviewed is None else int(reviewed.sum()),
        n_decided_corrected=0 if reviewed is None else int((source_corrected & reviewed).sum()),
    )
    return _speaks_where_it_doubts(evidence)


def _speaks_where_it_doubts(ev: ReferenceEvidence) -> ReferenceEvidence:
    """The evidence as the rest of the cycle sees it: outside the sample it suggests a tag and
    quotes a corrected example only where it doubts the word (ReferenceEvidence.doubted), and
    at a fitted weight of 0 it says nothing there at all (quality 1: the fused score ignores it
    anyway). Without this, a word whose one faint corrected neighbour left its quality at 0.996
    was explained as "similar words in the verified sample were corrected ... (evidence 1.00)",
    and took that neighbour's tag as its suggestion, while the score had not doubted it."""
    doubted = ev.doubted() >= 0
    outside = ~ev.verified
    quality = np.where(outside, 1.0, ev.quality) if ev.weight <= 0 else ev.quality
    return replace(
        ev,
        quality=quality,
        suggestion=np.where(outside & ~doubted, -1, ev.suggestion),
        example=np.where(outside & doubted, ev.example, -1),
    )


def _keep_position(suggestion: np.ndarray, labels: np.ndarray, label_names: list[str]) -> np.ndarray:
    """Suggested tags moved to the given tag's place in its entity: a neighbour's B-ORG
    suggested for an I-LOC word becomes I-ORG (when the label set has it)."""
    index = {n: i for i, n in enumerate(label_names)}
    out = suggestion.copy()
    for i in np.flatnonzero(suggestion >= 0):
        given, tag = label_names[labels[i]], label_names[suggestion[i]]
        if given[:2] in ("B-", "I-") and tag[:2] in ("B-", "I-"):
            out[i] = index.get(given[:2] + tag[2:], suggestion[i])
    return out

"""From flagged words to reviewable spans: IOB2-valid model tags, the region a curator should
see, the suggested fix and the issue kind.

A region starts at each flagged word and grows to the union of every given or suggested
entity that overlaps it (repeated until stable), so a curator never sees half an entity and
accepting a suggestion never leaves a broken I- tag behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from auditor.data.iob import repair_iob2, spans


@dataclass(frozen=True)
class LabelScheme:
    """Per tag id: entity type id (0 = O), whether it is an I- tag, and its B- tag id."""

    names: list[str]
    type_id: np.ndarray
    is_inside: np.ndarray
    begin_of: np.ndarray

    @classmethod
    def from_names(cls, names: Sequence[str]) -> LabelScheme:
        types = sorted({n[2:] for n in names if n != "O"})
        type_id = np.array([0 if n == "O" else 1 + types.index(n[2:]) for n in names], dtype=np.int64)
        is_inside = np.array([n.startswith("I-") for n in names])
        index = {n: i for i, n in enumerate(names)}
        # an I-X without a B-X in the label set stays I-X (cannot be repaired within the set)
        begin_of = np.array([index.get("B-" + n[2:], i) if n.startswith("I-") else i for i, n in enumerate(names)])
        return cls(list(names), type_id, is_inside, begin_of)


def repair_iob2_ids(tags: np.ndarray, offsets: np.ndarray, scheme: LabelScheme) -> np.ndarray:
    """(N,) tag ids, (S+1,) sentence offsets -> (N,) ids in valid IOB2: an I-X that does not
    follow B-X/I-X in its sentence becomes B-X. One vectorised pass suffices because a
    repaired tag keeps its type, so it never invalidates the next word."""
    tags = np.asarray(tags, dtype=np.int64)
    if len(tags) == 0:
        return tags.copy()
    prev_type = np.empty_like(tags)
    prev_type[0] = 0
    prev_type[1:] = scheme.type_id[tags[:-1]]
    starts = np.asarray(offsets[:-1])
    prev_type[starts[starts < len(tags)]] = 0
    bad = scheme.is_inside[tags] & (prev_type != scheme.type_id[tags])
    out = tags.copy()
    out[bad] = scheme.begin_of[tags[bad]]
    return out


def regions(flagged: np.ndarray, given: Sequence[str], suggested: Sequence[str]) -> list[tuple[int, int]]:
    """Word ranges [start, end) to review in one sentence.

    flagged: (T,) bool; given, suggested: T tags each. Each flagged word grows into the union of
    the given and suggested entities overlapping it; overlapping ranges merge.
    """
    entities = [(s, e) for s, e, _ in spans(given)] + [(s, e) for s, e, _ in spans(suggested)]
    ranges = [(int(t), int(t) + 1) for t in np.flatnonzero(flagged)]
    changed = True
    while changed:
        changed = False
        grown = []
        for s, e in ranges:
            for es, ee in entities:
                if es < e and s < ee and (es < s or ee > e):
                    s, e, changed = min(s, es), max(e, ee), True
            grown.append((s, e))
        ranges = _merge(grown)
    return ranges


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(ranges):
        if out and s < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def classify(given: Sequence[str], suggested: Sequence[str]) -> tuple[str, str]:
    """(kind, entity type) of one region's given vs suggested tags (both relative to the region).

    kind: "missing" (no given entity, a suggested one), "spurious" (a given entity, none
    suggested), "type" (same extents, other type), "boundary" (different extents). The entity
    type is the suggested one when there is one (what the curator would end up with), else the given.
    """
    g, s = spans(given), spans(suggested)
    if not g and not s:
        raise ValueError("classify: neither the given nor the suggested tags hold an entity")
    if not g:
        return "missing", s[0][2]
    if not s:
        return "spurious", g[0][2]
    if [x[:2] for x in g] == [x[:2] for x in s]:
        changed = [b for a, b in zip(g, s) if a[2] != b[2]]
        return "type", (changed[0] if changed else s[0])[2]
    return "boundary", s[0][2]


def suggested_sentence(predicted: Sequence[str], given: Sequence[str], majority: Sequence[str | None]) -> list[str]:
    """The sentence's suggested tags: the model's tags, except where the model agrees with the
    given tag but the consistency signal knows the surface form's majority labelling."""
    out = [m if (m is not None and p == g) else p for p, g, m in zip(predicted, given, majority)]
    return repair_iob2(out)

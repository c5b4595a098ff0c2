"""IOB2 tag sequences: span extraction, violation checks, repair and IOB1 conversion.

A tag is "O", "B-<type>" or "I-<type>". IOB2 requires every I-X to follow B-X or I-X;
an I-X after O or after another type is a violation. All functions work on plain lists
of tag strings and return new lists (inputs are never modified).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_TAG = re.compile(r"^(O|[BI]-\S+)$")

Span = tuple[int, int, str]  # (start, end exclusive, entity type), word offsets


def is_tag(tag: str) -> bool:
    """True for "O", "B-X" or "I-X" (X non-empty, no whitespace)."""
    return isinstance(tag, str) and _TAG.match(tag) is not None


def spans(tags: Sequence[str]) -> list[Span]:
    """Entity spans of a tag sequence as (start, end, type), end exclusive.

    Lenient like seqeval's default mode: an I-X that does not continue an X span
    starts a new span, so a sequence with violations still yields every entity.
    """
    out: list[Span] = []
    start, kind = -1, ""
    for i, tag in enumerate(tags):
        if tag.startswith("I-") and start >= 0 and tag[2:] == kind:
            continue
        if start >= 0:
            out.append((start, i, kind))
            start, kind = -1, ""
        if tag != "O":
            start, kind = i, tag[2:]
    if start >= 0:
        out.append((start, len(tags), kind))
    return out


def tags_from_spans(length: int, entity_spans: Sequence[Span]) -> list[str]:
    """The IOB2 tags of `length` words carrying the given non-overlapping spans."""
    tags = ["O"] * length
    for start, end, kind in entity_spans:
        tags[start] = f"B-{kind}"
        for i in range(start + 1, end):
            tags[i] = f"I-{kind}"
    return tags


def violations(tags: Sequence[str]) -> list[int]:
    """Word positions of I-X tags that do not follow B-X or I-X (IOB2 violations)."""
    out = []
    prev = "O"
    for i, tag in enumerate(tags):
        if tag.startswith("I-") and (prev == "O" or prev[2:] != tag[2:]):
            out.append(i)
        prev = tag
    return out


def repair_iob2(tags: Sequence[str]) -> list[str]:
    """Turn each violating I-X into B-X (the span it starts is kept, only its marker changes)."""
    fixed = list(tags)
    for i in violations(tags):
        fixed[i] = "B-" + fixed[i][2:]
    return fixed


def iob1_to_iob2(tags: Sequence[str]) -> list[str]:
    """IOB1 (B- only between two adjacent same-type entities) to IOB2 (B- starts every entity)."""
    return repair_iob2(tags)


@dataclass(frozen=True)
class SpanDiff:
    """One difference between given and clean spans of a sentence.

    kind: "type" (same boundaries, other type), "boundary" (overlapping, other
    boundaries), "missing" (clean entity absent from the given tags), "spurious"
    (given entity absent from the clean tags).
    """

    kind: str
    given: Span | None
    clean: Span | None


def diff_spans(given: Sequence[str], clean: Sequence[str]) -> list[SpanDiff]:
    """Classify how the given tags differ from the clean tags, one record per differing span."""
    g, c = set(spans(given)), set(spans(clean))
    only_g, only_c = sorted(g - c), sorted(c - g)
    out: list[SpanDiff] = []
    used_c: set[Span] = set()
    for gs in only_g:
        same = [cs for cs in only_c if cs[:2] == gs[:2]]
        overlap = [cs for cs in only_c if cs[0] < gs[1] and gs[0] < cs[1]]
        if same:
            out.append(SpanDiff("type", gs, same[0]))
            used_c.add(same[0])
        elif overlap:
            out.append(SpanDiff("boundary", gs, overlap[0]))
            used_c.update(overlap)
        else:
            out.append(SpanDiff("spurious", gs, None))
    for cs in only_c:
        if cs in used_c:
            continue
        overlap = [gs for gs in g if cs[0] < gs[1] and gs[0] < cs[1]]
        out.append(SpanDiff("boundary", overlap[0], cs) if overlap else SpanDiff("missing", None, cs))
    return out

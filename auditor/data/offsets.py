"""Tokens and tags <-> text with character offsets, for the annotation tools' formats.

Annotation tools (Label Studio, doccano, brat, Prodigy, spaCy) keep an NER corpus as a text with
entities as character spans; auditor works on words with IOB2 tags. This module is the one
place that converts between the two, and it is STRICT: a span that does not start and end on
word boundaries, overlaps another span, lies outside the text or whose own quoted text differs
from text[start:end] is reported (a Misfit naming the record and the span), never dropped,
moved or re-tokenised. A reader collects every misfit of a file and raises one AlignmentError.

Offsets count code points (Python str indices) or UTF-16 code units (JavaScript string
indices: doccano, older Label Studio); an emoji outside the BMP is one code point and two
UTF-16 units, so the same file read in the wrong unit shifts every later span by one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import regex

from auditor.data.iob import is_tag
from auditor.data.iob import spans as iob_spans
from auditor.errors import DataError

UNITS = ("codepoint", "utf16")
# how many misfits an AlignmentError lists (the count is always complete)
MAX_LISTED = 20

# A word: letters, digits, combining marks (so "e" + U+0301 stays one word) and joiners;
# anything else that is not whitespace is one grapheme per token (an emoji with its skin tone
# or ZWJ sequence is one grapheme, so it stays one token).
_WORD = regex.compile(r"[\p{L}\p{N}\p{M}_\u200c\u200d]+|(?!\s)\X", regex.V1)


@dataclass(frozen=True)
class Layout:
    """A text and where each token sits in it: token i is text[starts[i]:ends[i]] (code points)."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    @property
    def tokens(self) -> list[str]:
        return [self.text[s:e] for s, e in zip(self.starts, self.ends)]

    def gaps(self) -> list[str]:
        """The text between tokens: gaps[0] before the first token, gaps[i+1] after token i."""
        bounds = [0, *(x for pair in zip(self.starts, self.ends) for x in pair), len(self.text)]
        return [self.text[bounds[2 * i] : bounds[2 * i + 1]] for i in range(len(self.starts) + 1)]


def join_tokens(tokens: Sequence[str]) -> Layout:
    """The layout of tokens joined by single spaces (a token format has no other text)."""
    starts, ends, pos = [], [], 0
    for tok in tokens:
        starts.append(pos)
        ends.append(pos + len(tok))
        pos += len(tok) + 1
    return Layout(" ".join(tokens), tuple(starts), tuple(ends))


def tokenize(text: str) -> Layout:
    """Words and single punctuation graphemes of a text with no tokens of its own."""
    found = list(_WORD.finditer(text))
    return Layout(text, tuple(m.start() for m in found), tuple(m.end() for m in found))


def layout_from_offsets(text: str, starts: Sequence[int], ends: Sequence[int], where: str) -> Layout:
    """A layout from a format's own token offsets; DataError when they are not ordered,
    non-empty, non-overlapping positions inside the text."""
    prev = 0
    for i, (s, e) in enumerate(zip(starts, ends)):
        if not (isinstance(s, int) and isinstance(e, int)) or s < prev or e <= s or e > len(text):
            raise DataError(
                f"{where}: token {i} has offsets [{s}, {e}) that are not in order inside the text "
                f"(length {len(text)}); the file's tokens do not match its text"
            )
        prev = e
    return Layout(text, tuple(starts), tuple(ends))


@dataclass(frozen=True)
class CharSpan:
    """An entity as a tool stores it: [start, end) in the text, a label, and the span's own
    copy of its text when the format keeps one (checked against the text)."""

    start: int
    end: int
    label: str
    text: str | None = None


@dataclass(frozen=True)
class Misfit:
    """A span that cannot become word tags as it stands, and why."""

    where: str
    span: CharSpan
    reason: str

    def line(self) -> str:
        quoted = f" {self.span.text!r}" if self.span.text is not None else ""
        return f"{self.where}: span [{self.span.start}, {self.span.end}){quoted} {self.span.label}: {self.reason}"


class AlignmentError(DataError):
    """Spans of a file that do not fit its tokens; lists them (the first MAX_LISTED) and the count."""

    def __init__(self, source: str, misfits: Sequence[Misfit], hint: str = "") -> None:
        self.misfits = list(misfits)
        n = len(misfits)
        listed = "\n".join(f"  {m.line()}" for m in misfits[:MAX_LISTED])
        more = f"\n  ... and {n - MAX_LISTED} more" if n > MAX_LISTED else ""
        advice = hint or "fix these spans in the annotation tool (or its export) and read the file again"
        super().__init__(
            f"{source}: {n} entity span{'s' if n != 1 else ''} do{'es' if n == 1 else ''} not fit the tokens "
            f"(strict alignment: nothing is dropped or moved):\n{listed}{more}\n{advice}"
        )


def check_unit(unit: str) -> str:
    if unit not in UNITS:
        raise DataError(f"offset unit {unit!r} is not one of {', '.join(UNITS)}")
    return unit


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class OffsetUnits:
    """Converts a text's offsets between code points and a format's unit."""

    def __init__(self, text: str, unit: str) -> None:
        self.unit = check_unit(unit)
        self.text = text
        if unit == "utf16":
            pos, self._to_cp, self._from_cp = 0, {}, []
            for i, ch in enumerate(text):
                self._to_cp[pos] = i
                self._from_cp.append(pos)
                pos += 2 if ord(ch) > 0xFFFF else 1
            self._to_cp[pos] = len(text)
            self._from_cp.append(pos)

    def to_codepoint(self, offset: int) -> int | None:
        """The code point index of a unit offset; None inside a character (a split surrogate pair)
        or outside the text."""
        if self.unit == "codepoint":
            return offset if isinstance(offset, int) and 0 <= offset <= len(self.text) else None
        return self._to_cp.get(offset)

    def from_codepoint(self, index: int) -> int:
        return index if self.unit == "codepoint" else self._from_cp[index]


def convert_spans(text: str, spans: Iterable[CharSpan], unit: str, where: str) -> tuple[list[CharSpan], list[Misfit]]:
    """Spans in `unit` -> spans in code points; a span whose offsets fall outside the text or
    inside a character is a misfit."""
    units = OffsetUnits(text, unit)
    out, bad = [], []
    for sp in spans:
        start, end = units.to_codepoint(sp.start), units.to_codepoint(sp.end)
        if start is None or end is None:
            size = utf16_length(text) if unit == "utf16" else len(text)
            inside = isinstance(sp.start, int) and isinstance(sp.end, int) and 0 <= sp.start and sp.end <= size
            what = "inside a character (half of a UTF-16 surrogate pair)" if inside else "outside the text"
            bad.append(Misfit(where, sp, f"offsets fall {what} (text: {size} {unit} units)"))
            continue
        out.append(CharSpan(start, end, sp.label, sp.text))
    return out, bad


def spans_to_tags(layout: Layout, spans: Sequence[CharSpan], where: str) -> tuple[list[str], list[Misfit]]:
    """IOB2 tags of the layout's tokens from code-point spans, and every span that does not fit.

    A fitting span starts at a token start, ends at a token end, covers at least one token,
    overlaps no other span, has a label usable as a tag and, when it quotes its text, quotes
    text[start:end] exactly.
    """
    by_start = {s: i for i, s in enumerate(layout.starts)}
    by_end = {e: i for i, e in enumerate(layout.ends)}
    tags = ["O"] * len(layout.starts)
    owner: dict[int, CharSpan] = {}
    bad: list[Misfit] = []
    text = layout.text
    for sp in sorted(spans, key=lambda s: (s.start, s.end)):
        reason = _misfit_reason(sp, text, by_start, by_end, layout)
        if reason is None:
            first, last = by_start[sp.start], by_end[sp.end]
            clash = next((owner[i] for i in range(first, last + 1) if i in owner), None)
            if clash is not None:
                reason = f"overlaps span [{clash.start}, {clash.end}) {clash.label} (one tag per word)"
        if reason is not None:
            bad.append(Misfit(where, sp, reason))
            continue
        for i in range(first, last + 1):
            owner[i] = sp
            tags[i] = ("B-" if i == first else "I-") + sp.label
    return tags, bad


def _misfit_reason(sp: CharSpan, text: str, by_start: dict, by_end: dict, layout: Layout) -> str | None:
    if not (0 <= sp.start < sp.end <= len(text)):
        return f"not a non-empty range inside the text (length {len(text)})"
    if sp.text is not None and text[sp.start : sp.end] != sp.text:
        return f"the text there is {text[sp.start:sp.end]!r}, not the span's own text"
    if not is_tag("B-" + sp.label):
        return "the label is empty or contains whitespace, so it cannot be a tag"
    if sp.start not in by_start:
        return f"starts inside or between words ({_context(layout, sp.start)})"
    if sp.end not in by_end:
        return f"ends inside or between words ({_context(layout, sp.end)})"
    return None


def _context(layout: Layout, offset: int) -> str:
    for s, e in zip(layout.starts, layout.ends):
        if s < offset < e:
            return f"word {layout.text[s:e]!r} at [{s}, {e})"
    return f"offset {offset} is whitespace, not a word boundary"


def tags_to_spans(layout: Layout, tags: Sequence[str]) -> list[CharSpan]:
    """The entity spans of IOB2 tags over the layout's tokens, in code points, with their text."""
    out = []
    for first, end, kind in iob_spans(tags):
        s, e = layout.starts[first], layout.ends[end - 1]
        out.append(CharSpan(s, e, kind, layout.text[s:e]))
    return out


@dataclass
class TextRecord:
    """One sentence (or document line) of an annotation tool: its layout, the tags of its tokens,
    where it came from, and the id/lang the file carries (None when it has none)."""

    layout: Layout
    tags: list[str]
    where: str
    id: str | None = None
    lang: str | None = None

    @property
    def tokens(self) -> list[str]:
        return self.layout.tokens


@dataclass
class ReadResult:
    """What a reader found: the records, and records it passed over on purpose (reason -> count)
    plus notes a user should see (e.g. which of several annotations was read)."""

    records: list[TextRecord] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

"""Checks on sentences read from a source, before they become a Corpus.

Every failure raises DataError with one line that names the place (file:line, or
source row/id) and the problem. Soft findings (repaired IOB2 violations, empty or
whitespace-only tokens) are collected in a ValidationReport instead.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from auditor.data.iob import iob1_to_iob2, is_tag, repair_iob2, violations
from auditor.errors import DataError

# how many locations a report keeps per finding (counts are always complete)
MAX_LOCATIONS = 20
# an entity type seen fewer times than this in the whole corpus is reported: most often a
# typo of a tag (B-PRE for B-PER) that would otherwise become a type of its own, silently
RARE_TYPE_MIN = 3
# a split name becomes a folder and a file name (corpus/<split>, export/x/<split>.conll)
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_split_name(name: str, where: str = "split") -> str:
    """A split name that is a plain name (letters, digits, _ . -, no path); DataError otherwise."""
    if not isinstance(name, str) or not _SPLIT_NAME.match(name) or ".." in name:
        raise DataError(f"{where} {name!r} is not a plain name; name splits with letters, digits, _ . - (e.g. train, test)")
    return name


@dataclass
class RawSentence:
    """One sentence as read from a source, before ids, sampling and encoding.

    tags and clean are tag strings; `where` locates the sentence for messages
    ("data/de.conll:120", "x.parquet row 7"); id/lang are None when the source has none.
    """

    tokens: list[str]
    tags: list[str]
    where: str
    lang: str | None = None
    id: str | None = None
    clean: list[str] | None = None


@dataclass
class ValidationReport:
    """Soft findings: counts plus the first MAX_LOCATIONS places of each."""

    iob_repaired: int = 0
    iob_locations: list[str] = field(default_factory=list)
    empty_tokens: int = 0
    empty_locations: list[str] = field(default_factory=list)
    # one line per rare entity type: "type PRE: 1 word (train.conll:7 word 2)"
    rare_types: list[str] = field(default_factory=list)

    def add_repair(self, where: str) -> None:
        self.iob_repaired += 1
        if len(self.iob_locations) < MAX_LOCATIONS:
            self.iob_locations.append(where)

    def add_empty(self, where: str) -> None:
        self.empty_tokens += 1
        if len(self.empty_locations) < MAX_LOCATIONS:
            self.empty_locations.append(where)

    def merge(self, other: ValidationReport) -> None:
        self.iob_repaired += other.iob_repaired
        self.iob_locations = (self.iob_locations + other.iob_locations)[:MAX_LOCATIONS]
        self.empty_tokens += other.empty_tokens
        self.empty_locations = (self.empty_locations + other.empty_locations)[:MAX_LOCATIONS]
        self.rare_types = self.rare_types + [r for r in other.rare_types if r not in self.rare_types]


def rare_entity_types(sentences: Iterable[RawSentence], minimum: int = RARE_TYPE_MIN) -> list[str]:
    """One line per entity type that begins fewer than `minimum` spans, naming where each is
    (file:line of the sentence and the word), so a mistyped tag is found before it becomes a
    type of its own."""
    counts: Counter[str] = Counter()
    places: dict[str, list[str]] = {}
    for s in sentences:
        for i, tag in enumerate(s.tags):
            if tag[:2] in ("B-", "I-") and (tag[0] == "B" or i == 0 or s.tags[i - 1][2:] != tag[2:]):
                etype = tag[2:]
                counts[etype] += 1
                if len(places.setdefault(etype, [])) < 3:
                    places[etype].append(f"{s.where} word {i + 1}")
    return [
        f"entity type {t} appears in only {n} span{'s' if n != 1 else ''} ({', '.join(places[t])}); "
        "a typo of a tag? fix the file, or list the type in data.label_names to keep it"
        for t, n in sorted(counts.items()) if n < minimum
    ]


def decode_tag(value: object, label_names: Sequence[str] | None, where: str) -> str:
    """A tag given as a string, or as an int index into `label_names`, as a tag string."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(f"{where}: tag {value!r} is neither a tag string nor an integer label id")
    if isinstance(value, int):
        if label_names is None:
            raise DataError(f"{where}: integer tag {value} but no label names; set data.label_names")
        if not 0 <= value < len(label_names):
            raise DataError(f"{where}: integer tag {value} out of range 0..{len(label_names) - 1} of data.label_names")
        return label_names[value]
    return value


def check_sentence(
    s: RawSentence,
    *,
    scheme: str = "iob2",
    repair: bool = False,
    label_names: Sequence[str] | None = None,
    report: ValidationReport | None = None,
) -> RawSentence:
    """Validate one sentence; return it with IOB1 converted / IOB2 repaired as configured.

    Raises DataError on: empty sentence, tokens/tags length mismatch, a tag not of the
    form O/B-X/I-X or not in `label_names`, an IOB2 violation when not repairing.
    """
    if not s.tokens:
        raise DataError(f"{s.where}: empty sentence (no tokens)")
    for name, tags in (("ner_tags", s.tags), ("clean tags", s.clean)):
        if tags is None:
            continue
        if len(tags) != len(s.tokens):
            raise DataError(f"{s.where}: {len(s.tokens)} tokens but {len(tags)} {name}")
        for i, tag in enumerate(tags):
            if not is_tag(tag):
                raise DataError(f"{s.where}: word {i} has tag {tag!r}, expected O, B-<type> or I-<type>")
            if label_names is not None and tag not in label_names:
                raise DataError(f"{s.where}: word {i} has tag {tag!r}, not in data.label_names {list(label_names)}")
    s.tags = _fix_scheme(s.tags, s.where, scheme, repair, report)
    if s.clean is not None:
        s.clean = _fix_scheme(s.clean, s.where, scheme, repair, report)
    if report is not None:
        for i, tok in enumerate(s.tokens):
            if not tok.strip():
                report.add_empty(f"{s.where} word {i}")
    return s


def _fix_scheme(tags: list[str], where: str, scheme: str, repair: bool, report: ValidationReport | None) -> list[str]:
    if scheme == "iob1":
        return iob1_to_iob2(tags)
    bad = violations(tags)
    if not bad:
        return tags
    if not repair:
        i = bad[0]
        prev = tags[i - 1] if i else "start of sentence"
        raise DataError(
            f"{where}: IOB2 violation at word {i}: {tags[i]} after {prev} "
            "(set data.repair_iob: true to turn it into B-, or data.scheme: iob1 for IOB1 files)"
        )
    if report is not None:
        for i in bad:
            report.add_repair(f"{where} word {i}")
    return repair_iob2(tags)


def check_unique_ids(ids: Iterable[str], wheres: Iterable[str], split: str) -> None:
    """Raise DataError naming both places when an id occurs twice in a split."""
    seen: dict[str, str] = {}
    for id_, where in zip(ids, wheres):
        if id_ in seen:
            raise DataError(f"{where}: duplicate id {id_!r} in split {split} (first at {seen[id_]})")
        seen[id_] = where

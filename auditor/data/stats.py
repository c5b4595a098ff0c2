"""Corpus statistics (the chapter's sentence and entity counts) and their terminal tables.

`corpus_stats` is pure and JSON-friendly (metrics.json["corpus"]); `print_stats` renders
it with rich. What a user typed after `auditor inspect` is read by `data/sniff.py`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import ClassVar

from datasets import DatasetDict

from auditor.data.corpus import CLEAN_COLUMN, entity_types, label_names
from auditor.data.iob import diff_spans, spans, violations
from auditor.data.validate import MAX_LOCATIONS, ValidationReport
from auditor.records import fields_from_dict

# locations shown in the terminal (the dict keeps MAX_LOCATIONS)
SHOWN_LOCATIONS = 5


@dataclass
class CorpusStats:
    """Counts of one corpus. Nested dicts are split -> language or entity type -> count."""

    SECTION: ClassVar[str] = "corpus"

    label_names: list[str]
    entity_types: list[str]
    sentences: dict[str, dict[str, int]]
    tokens: dict[str, dict[str, int]]
    # entities (spans of the given tags) per split and type
    entities: dict[str, dict[str, int]]
    # IOB2 violations: still in the corpus plus those repaired while loading
    iob_violations: int = 0
    iob_locations: list[str] = field(default_factory=list)
    # of those, repaired while loading (data.repair_iob: true); the corpus holds the repaired tags
    iob_repaired: int = 0
    # split -> entity types it holds that no training split has (a model never learns them)
    types_not_in_training: dict[str, list[str]] = field(default_factory=dict)
    # empty or whitespace-only tokens (kept, flagged)
    empty_tokens: int = 0
    empty_locations: list[str] = field(default_factory=list)
    # only for a corpus with clean tags: sentences whose tags differ, and differing spans per kind
    noisy_sentences: dict[str, int] | None = None
    noise_kinds: dict[str, dict[str, int]] | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> CorpusStats:
        return cls(**fields_from_dict(cls, d))

    @property
    def total_sentences(self) -> int:
        return sum(n for by_lang in self.sentences.values() for n in by_lang.values())


def corpus_stats(
    corpus: DatasetDict, report: ValidationReport | None = None, train_splits: Sequence[str] | None = None
) -> CorpusStats:
    """Count sentences, tokens and entities per split; add the loader's findings from `report`
    and, given the training splits, the entity types only other splits hold."""
    names = label_names(corpus)
    stats = CorpusStats(names, entity_types(names), {}, {}, {})
    with_clean = all(CLEAN_COLUMN in ds.column_names for ds in corpus.values())
    if with_clean:
        stats.noisy_sentences, stats.noise_kinds = {}, {}
    for split, ds in corpus.items():
        cols = ["id", "tokens", "ner_tags", "lang"] + ([CLEAN_COLUMN] if with_clean else [])
        sents, toks, ents, kinds = Counter(), Counter(), Counter({t: 0 for t in stats.entity_types}), Counter()
        noisy = 0
        for row in ds.select_columns(cols):
            tags = [names[t] for t in row["ner_tags"]]
            sents[row["lang"]] += 1
            toks[row["lang"]] += len(tags)
            ents.update(t for _, _, t in spans(tags))
            for i in violations(tags):
                stats.iob_violations += 1
                if len(stats.iob_locations) < MAX_LOCATIONS:
                    stats.iob_locations.append(f"{row['id']} word {i}")
            for i, tok in enumerate(row["tokens"]):
                if not tok.strip():
                    stats.empty_tokens += 1
                    if len(stats.empty_locations) < MAX_LOCATIONS:
                        stats.empty_locations.append(f"{row['id']} word {i}")
            if with_clean and row[CLEAN_COLUMN] != row["ner_tags"]:
                noisy += 1
                kinds.update(d.kind for d in diff_spans(tags, [names[t] for t in row[CLEAN_COLUMN]]))
        stats.sentences[split] = dict(sorted(sents.items()))
        stats.tokens[split] = dict(sorted(toks.items()))
        stats.entities[split] = dict(ents)
        if with_clean:
            stats.noisy_sentences[split] = noisy
            stats.noise_kinds[split] = dict(sorted(kinds.items()))
    if train_splits is not None:
        stats.types_not_in_training = types_not_in_training(stats.entities, train_splits)
    if report is not None:
        # the loader repaired these before they reached the corpus; its locations are file:line
        stats.iob_violations += report.iob_repaired
        stats.iob_repaired = report.iob_repaired
        stats.iob_locations = (report.iob_locations + stats.iob_locations)[:MAX_LOCATIONS]
        if stats.empty_tokens:  # the loader's file:line locations are more useful than ids
            stats.empty_locations = report.empty_locations[:MAX_LOCATIONS] or stats.empty_locations
    return stats


def types_not_in_training(entities: dict[str, dict[str, int]], train_splits: Sequence[str]) -> dict[str, list[str]]:
    """split -> entity types with entities in that split but in none of the training splits."""
    trained = {t for split in train_splits for t, n in entities.get(split, {}).items() if n}
    out = {}
    for split, by_type in entities.items():
        unseen = sorted(t for t, n in by_type.items() if n and t not in trained)
        if split not in train_splits and unseen:
            out[split] = unseen
    return out


def findings_note(stats: CorpusStats) -> str:
    """The loader's findings a user must hear about, as one clause ("" when there are none)."""
    parts = []
    if stats.iob_repaired:
        parts.append(f"{stats.iob_repaired} IOB2 violations repaired (data.repair_iob; first at {stats.iob_locations[0]})")
    for split, types in stats.types_not_in_training.items():
        parts.append(f"entity types only in {split}, never in training: {', '.join(types)}")
    return "; ".join(parts)


def print_stats(stats: CorpusStats, console=None, title: str = "corpus") -> None:
    """Rich tables: sentences per split and language, entities per type, findings."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    langs = sorted({lang for by_lang in stats.sentences.values() for lang in by_lang})
    t = Table(title=f"{title}: sentences (tokens)")
    t.add_column("split")
    for lang in langs:
        t.add_column(lang, justify="right")
    t.add_column("total", justify="right")
    for split, by_lang in stats.sentences.items():
        cells = [f"{by_lang.get(lang, 0)} ({stats.tokens[split].get(lang, 0)})" for lang in langs]
        t.add_row(split, *cells, f"{sum(by_lang.values())} ({sum(stats.tokens[split].values())})")
    console.print(t)

    e = Table(title="entities per type")
    e.add_column("split")
    for typ in stats.entity_types:
        e.add_column(typ, justify="right")
    if stats.noisy_sentences is not None:
        e.add_column("noisy sentences", justify="right")
    for split, by_type in stats.entities.items():
        row = [str(by_type.get(typ, 0)) for typ in stats.entity_types]
        if stats.noisy_sentences is not None:
            kinds = ", ".join(f"{k} {n}" for k, n in stats.noise_kinds[split].items())
            row.append(f"{stats.noisy_sentences[split]}" + (f" ({kinds})" if kinds else ""))
        e.add_row(split, *row)
    console.print(e)

    console.print(f"labels: {' '.join(stats.label_names)}")
    _print_finding(console, "IOB2 violations", stats.iob_violations, stats.iob_locations)
    if stats.iob_repaired:
        console.print(f"[yellow]of these, repaired while loading (I- turned into B-): {stats.iob_repaired}[/]", highlight=False)
    for split, types in stats.types_not_in_training.items():
        console.print(f"[yellow]entity types in {split} but in no training split: {', '.join(types)}[/]", highlight=False)
    _print_finding(console, "empty or whitespace-only tokens (kept)", stats.empty_tokens, stats.empty_locations)


def _print_finding(console, what: str, count: int, locations: list[str]) -> None:
    if not count:
        console.print(f"{what}: none")
        return
    shown = ", ".join(locations[:SHOWN_LOCATIONS]) + (", ..." if count > SHOWN_LOCATIONS else "")
    console.print(f"[yellow]{what}: {count}[/] (at {shown})", highlight=False)

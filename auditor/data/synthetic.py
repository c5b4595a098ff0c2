"""The synthetic demo corpus: PAN-X-shaped sentences with known clean labels and recorded noise.

Sentences are rendered from templates (auditor.data.synthetic_lexicon) filled with names, so an
entity is recognisable from its name and its context. A fraction `noise_rate` of the
sentences of each noisy split then receives one silver-standard error of a kind also seen
in PAN-X: a type swap (some systematic: the same name mislabelled the same way in every
noisy sentence that carries it), a boundary error (span one word too long or too short, or
a following parenthesis swallowed), a missed entity, or a spurious entity (a date or a
common word tagged). `ner_tags` holds the noisy tags, `clean_ner_tags` the true ones;
both are always valid IOB2.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from datasets import Dataset, DatasetDict

from auditor.config import SyntheticConfig
from auditor.data import synthetic_lexicon as lexicon
from auditor.data.corpus import CLEAN_COLUMN, dataset_from_records, make_id, sort_label_names
from auditor.data.iob import Span, SpanDiff, diff_spans, tags_from_spans
from auditor.errors import DataError

ENTITY_TYPES = ("PER", "ORG", "LOC")
LABEL_NAMES = sort_label_names(f"{p}-{t}" for t in ENTITY_TYPES for p in "BI")
NOISE_KINDS = ("type", "boundary", "missing", "spurious")
# share of each kind among noisy sentences (when the sentence allows it)
_KIND_WEIGHTS = (0.35, 0.25, 0.2, 0.2)


@dataclass
class _Sentence:
    tokens: list[str] = field(default_factory=list)
    entities: list[Span] = field(default_factory=list)
    # spans that are not entities but look like candidates for a spurious tag (dates)
    dates: list[Span] = field(default_factory=list)
    # entity index -> (start, end) of a parenthesis right after it
    parens: dict[int, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Lexicon:
    names: dict[str, list[tuple[str, ...]]]
    months: list[str]
    date_format: str
    parens: list[str]
    templates: list[list[str]]
    systematic: list[tuple[tuple[str, ...], str, str]]


def _lexicon(lang: str) -> _Lexicon:
    def split(s: str) -> list[tuple[str, ...]]:
        return [tuple(x.split()) for x in s.split("|")]

    return _Lexicon(
        names={"PER": split(lexicon.PER[lang]), "ORG": split(lexicon.ORG[lang]), "LOC": split(lexicon.LOC[lang])},
        months=lexicon.MONTHS[lang].split("|"),
        date_format=lexicon.DATE_FORMAT[lang],
        parens=[p.strip() for p in lexicon.PAREN[lang].split("|")],
        templates=[t.split() for t in lexicon.TEMPLATES[lang]],
        systematic=[(tuple(n.split()), c, w) for n, c, w in lexicon.SYSTEMATIC[lang]],
    )


def _render(lex: _Lexicon, template: list[str], rng: random.Random, force_org: tuple[str, ...] | None) -> _Sentence:
    s = _Sentence()
    for slot in template:
        if slot in ("{PER}", "{ORG}", "{LOC}"):
            kind = slot[1:-1]
            name = force_org if kind == "ORG" and force_org else rng.choice(lex.names[kind])
            if kind == "ORG":
                force_org = None  # only the first ORG slot carries the forced name
            s.entities.append((len(s.tokens), len(s.tokens) + len(name), kind))
            s.tokens += name
        elif slot == "{DATE}":
            text = lex.date_format.format(d=rng.randint(1, 28), m=rng.choice(lex.months), y=rng.randint(1850, 2020))
            s.dates.append((len(s.tokens), len(s.tokens) + len(text.split()), "DATE"))
            s.tokens += text.split()
        elif slot == "{YEAR}":
            s.tokens.append(str(rng.randint(1850, 2020)))
        elif slot == "{NUM}":
            s.tokens.append(str(rng.randint(2, 99)))
        elif slot in ("{P}", "{PP}"):
            # PAN-X often has "Name ( explanation )" right after an entity
            if (slot == "{PP}" or rng.random() < 0.5) and s.entities:
                start = len(s.tokens)
                for word in rng.choice(lex.parens).split():
                    if word == "{YEAR}":
                        s.tokens.append(str(rng.randint(1850, 2020)))
                    elif word == "{LOC}":
                        s.tokens += rng.choice(lex.names["LOC"])
                    else:
                        s.tokens.append(word)
                s.parens[len(s.entities) - 1] = (start, len(s.tokens))
        else:
            s.tokens.append(slot)
    return s


def _swap_type(s: _Sentence, rng: random.Random, systematic: tuple[str, str] | None) -> list[Span]:
    ents = list(s.entities)
    if systematic:
        clean_type, noisy_type = systematic
        i = next(i for i, e in enumerate(ents) if e[2] == clean_type)
        ents[i] = (ents[i][0], ents[i][1], noisy_type)
        return ents
    i = rng.randrange(len(ents))
    ents[i] = (ents[i][0], ents[i][1], rng.choice([t for t in ENTITY_TYPES if t != ents[i][2]]))
    return ents


def _occupied(ents: list[Span]) -> set[int]:
    return {k for a, b, _ in ents for k in range(a, b)}


def _boundary(s: _Sentence, rng: random.Random) -> list[Span] | None:
    ents = list(s.entities)
    options = []
    taken = _occupied(ents) | {k for a, b, _ in s.dates for k in range(a, b)}
    for i, (a, b, t) in enumerate(ents):
        if i in s.parens:
            options.append((i, (a, s.parens[i][1], t)))  # parenthesis swallowed into the entity
        if b - a > 1:
            options.append((i, (a, b - 1, t)))  # too short
        if b < len(s.tokens) and b not in taken and s.tokens[b] not in ("(", ")", "''"):
            options.append((i, (a, b + 1, t)))  # too long on the right
        if a > 0 and a - 1 not in taken and s.tokens[a - 1] not in ("(", ")", "''", "*", "**"):
            options.append((i, (a - 1, b, t)))  # too long on the left
    if not options:
        return None
    # swallowed parentheses are the signature PAN-X boundary error: prefer them
    paren = [o for o in options if o[1][1] - o[1][0] > ents[o[0]][1] - ents[o[0]][0] + 1]
    i, new = rng.choice(paren) if paren and rng.random() < 0.5 else rng.choice(options)
    ents[i] = new
    return ents


def _spurious(s: _Sentence, rng: random.Random) -> list[Span] | None:
    ents = list(s.entities)
    if s.dates:
        a, b, _ = rng.choice(s.dates)
        return sorted(ents + [(a, b, rng.choice(["ORG", "ORG", "LOC", "PER"]))])
    taken = _occupied(ents)
    words = [k for k, w in enumerate(s.tokens) if k not in taken and w.isalpha() and len(w) > 3]
    if not words:
        return None
    k = rng.choice(words)
    return sorted(ents + [(k, k + 1, rng.choice(ENTITY_TYPES))])


def _noisy_entities(s: _Sentence, kind: str, rng: random.Random, systematic: tuple[str, str] | None) -> list[Span] | None:
    """The given (noisy) spans for one noise kind, or None when the sentence does not allow it."""
    if kind == "type":
        return _swap_type(s, rng, systematic) if s.entities else None
    if kind == "boundary":
        return _boundary(s, rng)
    if kind == "missing":
        if not s.entities:
            return None
        drop = rng.randrange(len(s.entities))
        return [e for i, e in enumerate(s.entities) if i != drop]
    return _spurious(s, rng)


def _sentence(lex: _Lexicon, rng: random.Random, kind: str | None) -> tuple[_Sentence, list[Span]]:
    """One clean sentence and its given spans (noisy when `kind` is set)."""
    systematic = None
    force = None
    if kind == "type" and rng.random() < 0.5:
        name, clean_type, noisy_type = rng.choice(lex.systematic)
        systematic, force = (clean_type, noisy_type), name
    while True:
        template = rng.choice(lex.templates)
        if force is not None and "{ORG}" not in template:
            continue
        s = _render(lex, template, rng, force)
        if kind is None:
            return s, s.entities
        noisy = _noisy_entities(s, kind, rng, systematic)
        if noisy is not None and noisy != s.entities:
            return s, noisy


def _split(lex: _Lexicon, lang: str, split: str, n: int, noise_rate: float, noisy: bool, seed: int) -> list[dict]:
    # a string seed is hashed with sha512 by `random`, so it is stable across processes
    rng = random.Random(f"auditor-synthetic/{seed}/{lang}/{split}")
    n_noisy = round(noise_rate * n) if noisy else 0
    noisy_rows = set(rng.sample(range(n), n_noisy))
    records = []
    for i in range(n):
        kind = rng.choices(NOISE_KINDS, _KIND_WEIGHTS)[0] if i in noisy_rows else None
        s, given = _sentence(lex, rng, kind)
        records.append(
            {
                "id": make_id(lang, split, i),
                "tokens": s.tokens,
                "ner_tags": tags_from_spans(len(s.tokens), given),
                "lang": lang,
                CLEAN_COLUMN: tags_from_spans(len(s.tokens), s.entities),
            }
        )
    return records


def generate_synthetic(cfg: SyntheticConfig, languages: list[str], seed: int) -> DatasetDict:
    """A DatasetDict with one split per key of `cfg.sentences` (sentences per language).

    Columns: id ("de/train/000012"), tokens, ner_tags (noisy, ClassLabel over LABEL_NAMES),
    lang, clean_ner_tags (true tags). Rows are grouped by language in the given order.
    Same cfg, languages and seed -> identical corpus.
    """
    unknown = [lang for lang in languages if lang not in lexicon.LANGUAGES]
    if unknown:
        raise DataError(
            f"synthetic corpus: no vocabulary for language(s) {', '.join(unknown)}; "
            f"available: {', '.join(lexicon.LANGUAGES)}"
        )
    lexicons = {lang: _lexicon(lang) for lang in languages}
    out = {}
    for split, n in cfg.sentences.items():
        records: list[dict] = []
        for lang in languages:
            noisy = split in cfg.noisy_splits
            records += _split(lexicons[lang], lang, split, n, cfg.noise_rate, noisy, seed)
        out[split] = dataset_from_records(records, LABEL_NAMES)
    return DatasetDict(out)


@dataclass(frozen=True)
class NoiseRecord:
    """How one sentence's given tags differ from its clean tags."""

    id: str
    kinds: tuple[str, ...]  # one entry per differing span, see iob.SpanDiff
    diffs: tuple[SpanDiff, ...]


def noise_report(ds: Dataset) -> list[NoiseRecord]:
    """One record per sentence whose ner_tags differ from clean_ner_tags (any corpus with clean tags)."""
    if CLEAN_COLUMN not in ds.column_names:
        raise DataError("noise_report needs a corpus with clean_ner_tags (the synthetic corpus or a truth file)")
    names = ds.features["ner_tags"].feature.names
    out = []
    for row in ds.select_columns(["id", "ner_tags", CLEAN_COLUMN]):
        if row["ner_tags"] == row[CLEAN_COLUMN]:
            continue
        given = [names[t] for t in row["ner_tags"]]
        clean = [names[t] for t in row[CLEAN_COLUMN]]
        diffs = tuple(diff_spans(given, clean))
        out.append(NoiseRecord(row["id"], tuple(d.kind for d in diffs), diffs))
    return out


__all__ = ["LABEL_NAMES", "NOISE_KINDS", "NoiseRecord", "generate_synthetic", "noise_report"]

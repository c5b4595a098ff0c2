"""The verified-sample file: random audited sentences a curator checks (JSONL, one per line).

    {"id": "en/dev/000042", "lang": "en", "tokens": [...], "ner_tags": [...],
     "given_tags": [...], "verified": false, "types": ["LOC", "MISC", "ORG", "PER"]}

``ner_tags`` are the sentence's tags as they stand (the curator's, once changed); ``given_tags``
are the corpus's tags when the sample was drawn (for showing what changed); ``verified`` says the
curator checked the whole sentence; ``types`` the corpus's entity types (what the UI offers). ``auditor sample`` writes the file, ``auditor verify`` edits
it, scoring.reference.file reads its verified lines (auditor.scoring.reference). A file made by
hand may leave out ``given_tags`` (= ner_tags) and ``verified`` (= true: whoever wrote the tags
checked them). Every save is atomic: a killed editor leaves the previous file whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from auditor.atomic import write_text_atomic
from auditor.errors import DataError
from auditor.sample_design import FOCUS_SHARE, STRATUM, STRATUM_SIZE, stratum_name


@dataclass
class SampleRow:
    """One sentence of a verified-sample file (see the module docstring)."""

    id: str
    tokens: list[str]
    tags: list[str]
    given: list[str]
    lang: str = ""
    verified: bool = False
    extra: dict = field(default_factory=dict)  # other keys of the line, written back unchanged

    @property
    def corrected(self) -> bool:
        return self.tags != self.given

    def to_json(self) -> str:
        row = {**self.extra, "id": self.id, "lang": self.lang, "tokens": self.tokens, "ner_tags": self.tags,
               "given_tags": self.given, "verified": self.verified}
        return json.dumps(row, ensure_ascii=False)


def read_sample(path: str | Path) -> list[SampleRow]:
    """Every line of a sample file; DataError naming file and line for anything malformed."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such sample file (auditor sample RUN_DIR --out {p.name} draws one)")
    rows: list[SampleRow] = []
    seen: set[str] = set()
    with p.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                sid, tags = str(raw.pop("id")), raw.pop("ner_tags")
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
                raise DataError(f"{p}:{n}: not a JSON object with 'id' and 'ner_tags' ({e.__class__.__name__})") from None
            if not isinstance(tags, list):
                raise DataError(f"{p}:{n}: 'ner_tags' must be a list of tags")
            tokens = raw.pop("tokens", None)
            tokens = [str(t) for t in tokens] if isinstance(tokens, list) else []
            if tokens and len(tokens) != len(tags):
                raise DataError(f"{p}:{n}: {len(tokens)} tokens but {len(tags)} ner_tags")
            given = raw.pop("given_tags", None)
            given = list(given) if isinstance(given, list) and len(given) == len(tags) else list(tags)
            if sid in seen:
                raise DataError(f"{p}:{n}: sentence {sid!r} appears twice")
            seen.add(sid)
            verified = raw.pop("verified", True)
            rows.append(SampleRow(sid, tokens, list(tags), given, str(raw.pop("lang", "")), bool(verified), raw))
    return rows


def write_sample(path: str | Path, rows: list[SampleRow]) -> None:
    """The whole file, atomically (a temporary name, then a rename)."""
    write_text_atomic(path, "".join(r.to_json() + "\n" for r in rows))


def save_row(path: str | Path, row: SampleRow) -> list[SampleRow]:
    """Write one sentence's new state into the file and return every row as it now stands.

    The file is read again under a lock and only this row replaced: two curators checking
    the same sample (each in their own `auditor verify`) never overwrite each other's work,
    and each sees the other's rows on their next save."""
    from auditor.atomic import exclusive_lock

    p = Path(path)
    with exclusive_lock(p.parent / f".{p.name}.lock"):
        rows = read_sample(p) if p.is_file() else []
        at = next((i for i, r in enumerate(rows) if r.id == row.id), None)
        if at is None:
            rows.append(row)
        else:
            rows[at] = row
        write_sample(p, rows)
    return rows


def require_splits(corpus, splits: list[str]) -> None:
    """DataError naming the splits a sample asks for that the corpus does not have."""
    missing = [s for s in splits if s not in corpus]
    if missing:
        raise DataError(f"the corpus has no split(s) {missing} (it has {sorted(corpus)})")


def draw_sample(corpus, splits: list[str], n: int, seed: int = 0, by_language: bool = False,
                focus: np.ndarray | None = None) -> list[SampleRow]:
    """n seeded random sentences of `splits` (fewer when there are fewer), in corpus order,
    not yet verified: the sample a curator checks. A random sample, not the top of the issue
    list: the evidence must learn what wrong tags the corpus has, not only the ones the model
    already doubts (benchmarks/README.md, "decisions as evidence").

    by_language: stratify by language, each language getting its share of n in proportion to
    its sentences (largest remainder), so a per-language F1 on a verified test sample has
    every language in it and the pooled sample still weighs sentences equally. Each line
    records its split, so a sample drawn from the wrong split is caught when it is read.

    focus: a (sentences of `splits`, in order) bool mask of where the before and after
    taggers disagree. Then most of each language's share (auditor.sample_design.FOCUS_SHARE)
    comes from the focus sentences and the rest from the others, and each line records its
    stratum and the stratum's size, so the sentences can be weighted by what they stand for
    (auditor.sample_design): the change between the taggers is measured where it happens."""
    from auditor.data.corpus import entity_types, label_names

    require_splits(corpus, splits)
    if n < 1:
        raise DataError("the sample needs at least one sentence")
    names = label_names(corpus)
    # the corpus's entity types travel with each line: the verify UI offers all of them, even
    # one no sampled sentence happens to use
    types = entity_types(names)
    langs = np.concatenate([np.asarray(corpus[s]["lang"], dtype=object) for s in splits])
    split_of = np.concatenate([np.full(len(corpus[s]), i) for i, s in enumerate(splits)])
    rng = np.random.default_rng(seed)
    strata: dict[int, tuple[str, int]] = {}
    if focus is not None:
        picked, strata = focus_draw(langs, np.asarray(focus, dtype=bool), n, rng, by_language)
    elif by_language:
        picked = np.sort(np.concatenate([rng.choice(np.flatnonzero(langs == lang), size=k, replace=False)
                                         for lang, k in _proportional(langs, n).items() if k]))
    else:
        picked = np.sort(rng.choice(len(langs), size=min(n, len(langs)), replace=False))
    rows, start = [], 0
    for i, split in enumerate(splits):
        size = len(corpus[split])
        mine = picked[split_of[picked] == i] - start if len(picked) else picked
        for at, r in zip(mine.tolist(), corpus[split].select(mine.tolist())):
            tags = [names[t] for t in r["ner_tags"]]
            extra: dict = {"types": types, "split": split}
            if at + start in strata:
                extra[STRATUM], extra[STRATUM_SIZE] = strata[at + start]
            rows.append(SampleRow(r["id"], list(r["tokens"]), tags, list(tags), r["lang"], False, extra))
        start += size
    return rows


def focus_draw(langs: np.ndarray, focus: np.ndarray, n: int, rng: np.random.Generator,
               by_language: bool) -> tuple[np.ndarray, dict[int, tuple[str, int]]]:
    """(sorted positions drawn, position -> (stratum name, stratum size)) of a focus draw: per
    language (or over all), FOCUS_SHARE of its share from the focus sentences, the rest from
    the others, each non-empty stratum getting at least one sentence when the share allows."""
    import math

    if len(focus) != len(langs):
        raise DataError(f"the focus mask has {len(focus)} entries but the split(s) hold {len(langs)} sentences")
    groups = _proportional(langs, n) if by_language else {None: min(n, len(langs))}
    picked: list[np.ndarray] = []
    strata: dict[int, tuple[str, int]] = {}
    for lang, k in groups.items():
        mine = np.ones(len(langs), dtype=bool) if lang is None else langs.astype(str) == lang
        hot, cold = np.flatnonzero(mine & focus), np.flatnonzero(mine & ~focus)
        k_hot = math.ceil(FOCUS_SHARE * k)
        if len(hot) and len(cold) and k >= 2:
            k_hot = min(k_hot, k - 1)
        k_hot = min(len(hot), k_hot)
        k_cold = min(len(cold), k - k_hot)
        k_hot = min(len(hot), k - k_cold)  # too few others: the rest from the focus
        for is_hot, units, take in ((True, hot, k_hot), (False, cold, k_cold)):
            if take:
                drawn = rng.choice(units, size=take, replace=False)
                picked.append(drawn)
                strata.update({int(i): (stratum_name(is_hot, lang), len(units)) for i in drawn})
    return (np.sort(np.concatenate(picked)) if picked else np.array([], dtype=np.int64)), strata


def _proportional(langs: np.ndarray, n: int) -> dict[str, int]:
    """language -> sentences to draw: n shared in proportion to each language's sentences,
    the rounding remainder going to the largest fractions (ties: language name order)."""
    values, counts = np.unique(langs.astype(str), return_counts=True)
    n = min(n, int(counts.sum()))
    exact = n * counts / counts.sum()
    share = np.floor(exact).astype(int)
    order = sorted(range(len(values)), key=lambda i: (-(exact[i] - share[i]), values[i]))
    for i in order[: n - int(share.sum())]:
        share[i] += 1
    return {str(v): int(k) for v, k in zip(values, share)}

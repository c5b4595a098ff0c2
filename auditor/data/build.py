"""DataConfig -> Corpus: read, validate, assign languages and stable ids, sample, encode.

Ids are `lang/split/index` with the index counted per language in the ORIGINAL source
order of the split (over all its files), so an id names the same sentence after
re-runs, language sampling and capping. A source that carries ids keeps them.

Language sampling follows the chapter's Swiss corpus: for each language and split the
rows are permuted with `numpy.random.default_rng(seed)` (what `Dataset.shuffle(seed)`
does) and the first `int(fraction * n)` are kept; kept rows stay in source order.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from datasets import DatasetDict

from auditor.config import DataConfig
from auditor.data import sources
from auditor.data.corpus import CLEAN_COLUMN, dataset_from_records, make_id, sort_label_names
from auditor.data.validate import (
    RawSentence,
    ValidationReport,
    check_sentence,
    check_split_name,
    check_unique_ids,
    rare_entity_types,
)
from auditor.errors import DataError

log = logging.getLogger(__name__)


@dataclass
class LoadedCorpus:
    """A corpus plus what loading found on the way (repairs, flagged tokens, dropped rows)."""

    corpus: DatasetDict
    report: ValidationReport
    # sentences read but not in data.languages, per language
    dropped_languages: dict[str, int] = field(default_factory=dict)


def load_corpus(cfg: DataConfig, progress: bool = False) -> DatasetDict:
    """The Corpus of a data block (DESIGN.md: id, tokens, ner_tags, lang[, clean_ner_tags])."""
    return load_corpus_with_report(cfg, progress=progress).corpus


def load_corpus_with_report(cfg: DataConfig, progress: bool = False) -> LoadedCorpus:
    """Like load_corpus, also returning the validation report. Raises DataError on bad input."""
    report = ValidationReport()
    for split in cfg.splits:
        check_split_name(split, "data.splits:")
    raw = read_splits(cfg, progress=progress)
    dropped: Counter[str] = Counter()
    by_split: dict[str, list[RawSentence]] = {}
    for split in cfg.splits:
        if not raw.get(split):
            raise DataError(f"split {split}: the source ({_describe(cfg)}) has no sentences in it; check data.splits")
        sents = _prepare(raw[split], split, cfg, report)
        dropped.update(s.lang for s in sents if s.lang not in cfg.languages)
        by_split[split] = [s for s in sents if s.lang in cfg.languages]
    _check_languages(by_split, cfg)
    if cfg.label_names is None:  # declared labels are wanted, however rare
        report.rare_types = rare_entity_types(s for sents in by_split.values() for s in sents)
    by_split = {split: sample(sents, cfg.languages, cfg.seed, cfg.max_sentences) for split, sents in by_split.items()}
    if cfg.truth:
        _attach_truth(by_split, cfg, report)
    for split, sents in by_split.items():
        if not sents:
            raise DataError(f"split {split}: no sentences left after language sampling; raise data.languages fractions")
    names = _label_names(by_split, cfg.label_names)
    corpus = DatasetDict({split: _encode(sents, names, by_split) for split, sents in by_split.items()})
    if dropped:
        log.info("dropped sentences of languages not in data.languages: %s", dict(dropped))
    if report.empty_tokens:
        log.warning("%d empty or whitespace-only tokens kept (first at %s)", report.empty_tokens, report.empty_locations[0])
    return LoadedCorpus(corpus, report, dict(dropped))


def _describe(cfg: DataConfig) -> str:
    if cfg.source == "hub":
        return f"{cfg.dataset} {cfg.config}"
    if cfg.source == "disk":
        return str(cfg.path)
    return cfg.source


def read_splits(cfg: DataConfig, progress: bool = False, files: dict | None = None) -> dict[str, list[RawSentence]]:
    """Raw sentences per split of cfg.splits from cfg.source, in source order, languages resolved.

    `files` replaces cfg.files (used for truth files). Sentences get the language of their
    record, else of the "{lang}" path they came from, else cfg.default_lang.
    """
    if cfg.source == "synthetic" and files is None:
        return _read_synthetic(cfg)
    if cfg.source == "hub" and files is None:
        return _read_hub(cfg, progress)
    if cfg.source == "disk" and files is None:
        return {split: _with_lang(sents, None, cfg) for split, sents in sources.read_disk(cfg.path, cfg.splits, cfg.label_names).items()}
    files = files if files is not None else cfg.files
    missing = [s for s in cfg.splits if s not in files]
    if missing:
        raise DataError(
            f"data.files has no entry for split(s) {', '.join(missing)}; add them or set data.splits to {list(files)}"
        )
    todo = [(split, f) for split in cfg.splits for f in sources.expand_paths(files[split], list(cfg.languages))]
    out: dict[str, list[RawSentence]] = defaultdict(list)
    for split, f in _progress(todo, progress, "reading files"):
        fmt = cfg.source if cfg.source in sources.FILE_FORMATS else sources.detect_format(f.path)
        if fmt == "disk":
            sents = sources.read_disk(f.path, [split], cfg.label_names)[split]
        else:
            sents = sources.read_file(f.path, fmt, cfg.label_names, cfg.offsets)
        if not sents:
            raise DataError(f"{f.path}: no sentences in the file ({_EMPTY_HINT.get(fmt, 'it is empty')}); check data.files")
        out[split] += _with_lang(sents, f.lang, cfg)
    return dict(out)


_EMPTY_HINT = {
    "conll": "it is empty or holds only -DOCSTART- and blank lines",
    "jsonl": "it is empty or holds only blank lines",
    "parquet": "it has no rows",
    "disk": "the split has no rows",
}


def _progress(items: list, progress: bool, desc: str):
    if not progress or len(items) < 2:
        return items
    from auditor.progress import progress_bar

    return progress_bar(items, desc=desc, unit="file")


def _read_synthetic(cfg: DataConfig) -> dict[str, list[RawSentence]]:
    from auditor.data.synthetic import generate_synthetic

    missing = [s for s in cfg.splits if s not in cfg.synthetic.sentences]
    if missing:
        raise DataError(f"data.synthetic.sentences has no split(s) {', '.join(missing)} listed in data.splits")
    dsd = generate_synthetic(cfg.synthetic, list(cfg.languages), cfg.seed)
    return {split: sources.rows_from_dataset(dsd[split], f"synthetic [{split}]") for split in cfg.splits}


def _read_hub(cfg: DataConfig, progress: bool) -> dict[str, list[RawSentence]]:
    out: dict[str, list[RawSentence]] = defaultdict(list)
    for lang in _progress(list(cfg.languages), progress, "loading from the hub"):
        config = cfg.config.format(lang=lang)
        for split, sents in sources.read_hub(cfg.dataset, config, cfg.splits).items():
            # PAN-X rows carry per-token langs; the config names the language for sure
            for s in sents:
                s.lang = lang
            out[split] += sents
    return dict(out)


def _with_lang(sents: list[RawSentence], file_lang: str | None, cfg: DataConfig) -> list[RawSentence]:
    default = file_lang or cfg.default_lang or (next(iter(cfg.languages)) if len(cfg.languages) == 1 else None)
    for s in sents:
        if file_lang is not None:
            s.lang = file_lang
        elif s.lang is None:
            if default is None:
                raise DataError(
                    f"{s.where}: sentence has no language; set data.default_lang, put {{lang}} in the path, "
                    "or give a lang field"
                )
            s.lang = default
    return sents


def _prepare(sents: list[RawSentence], split: str, cfg: DataConfig, report: ValidationReport) -> list[RawSentence]:
    """Validate every sentence and give it its stable id; DataError on the first problem."""
    counters: Counter[str] = Counter()
    for s in sents:
        check_sentence(s, scheme=cfg.scheme, repair=cfg.repair_iob, label_names=cfg.label_names, report=report)
        if s.id is None:
            s.id = make_id(s.lang, split, counters[s.lang])
        counters[s.lang] += 1
    check_unique_ids((s.id for s in sents), (s.where for s in sents), split)
    return sents


def _check_languages(by_split: dict[str, list[RawSentence]], cfg: DataConfig) -> None:
    found = {s.lang for sents in by_split.values() for s in sents}
    absent = [lang for lang in cfg.languages if lang not in found]
    if absent:
        raise DataError(
            f"data.languages lists {', '.join(absent)} but the data has no such sentences "
            f"(languages found: {', '.join(sorted(found)) or 'none'})"
        )


def sample(
    sents: list[RawSentence], fractions: dict[str, float], seed: int, max_sentences: int | None = None
) -> list[RawSentence]:
    """Keep int(fraction * n) sentences per language (seeded permutation), capped at max_sentences.

    The cap shrinks every language's share in proportion (largest remainder), taking a
    shorter prefix of the same permutation, so a capped sample is a subset of the uncapped
    one. Output: languages in `fractions` order, source order within a language.
    """
    by_lang: dict[str, list[RawSentence]] = {lang: [] for lang in fractions}
    for s in sents:
        by_lang[s.lang].append(s)
    keep = {lang: int(frac * len(by_lang[lang])) for lang, frac in fractions.items()}
    total = sum(keep.values())
    if max_sentences is not None and total > max_sentences:
        keep = _shrink(keep, max_sentences)
    out = []
    for lang, rows in by_lang.items():
        if keep[lang] == len(rows):
            out += rows
            continue
        perm = np.random.default_rng(seed).permutation(len(rows))
        out += [rows[i] for i in sorted(perm[: keep[lang]])]
    return out


def _shrink(keep: dict[str, int], cap: int) -> dict[str, int]:
    total = sum(keep.values())
    exact = {lang: k * cap / total for lang, k in keep.items()}
    out = {lang: int(x) for lang, x in exact.items()}
    by_remainder = sorted(exact, key=lambda lang: (-(exact[lang] - out[lang]), lang))
    for lang in by_remainder[: cap - sum(out.values())]:
        out[lang] += 1
    return out


def _attach_truth(by_split: dict[str, list[RawSentence]], cfg: DataConfig, report: ValidationReport) -> None:
    """Set `clean` of every kept sentence of each truth split from the matching truth sentence."""
    truth_cfg = cfg.model_copy(update={"splits": [s for s in cfg.splits if s in cfg.truth]})
    truth_raw = read_splits(truth_cfg, files=cfg.truth)
    for split, truth_sents in truth_raw.items():
        truth = {s.id: s for s in _prepare(truth_sents, split, cfg, ValidationReport())}
        for s in by_split[split]:
            t = truth.get(s.id)
            if t is None:
                raise DataError(f"{s.where}: no sentence with id {s.id} in the truth files of split {split}")
            if t.tokens != s.tokens:
                diff = next((i for i, (a, b) in enumerate(zip(s.tokens, t.tokens)) if a != b), min(len(s.tokens), len(t.tokens)))
                raise DataError(
                    f"{t.where}: truth sentence {s.id} has other tokens than the corpus ({s.where}) from word {diff}; "
                    "truth files must be a corrected copy (same ids, or same order)"
                )
            s.clean = t.tags


def _label_names(by_split: dict[str, list[RawSentence]], given: Sequence[str] | None) -> list[str]:
    if given is not None:
        return list(given)
    seen = set()
    for sents in by_split.values():
        for s in sents:
            seen.update(s.tags)
            if s.clean is not None:
                seen.update(s.clean)
    return sort_label_names(seen)


def _encode(sents: list[RawSentence], names: list[str], by_split: dict[str, list[RawSentence]]):
    # the clean column is all-or-nothing across the corpus (corpus.has_clean_tags checks every split);
    # a split without truth gets its given tags as clean tags
    with_clean = any(s.clean is not None for ss in by_split.values() for s in ss)
    records = []
    for s in sents:
        r = {"id": s.id, "tokens": s.tokens, "ner_tags": s.tags, "lang": s.lang}
        if with_clean:
            r[CLEAN_COLUMN] = s.clean if s.clean is not None else s.tags
        records.append(r)
    return dataset_from_records(records, names)

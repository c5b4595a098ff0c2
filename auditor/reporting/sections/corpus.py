"""Corpus: sentences, tokens and entities per split and language."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from auditor.reporting import Column, Paragraph, Table
from auditor.reporting.builder import ReportBuilder

if TYPE_CHECKING:
    from auditor.data.stats import CorpusStats


def build(b: ReportBuilder) -> None:
    sec = b.section("Corpus", "corpus")
    corpus = b.inputs.corpus
    from auditor.data.stats import CorpusStats

    stats = b.m.section(CorpusStats)
    if corpus is not None:
        b.table(sec, corpus_table(corpus))
    elif stats is not None and stats.sentences:
        sec.blocks.append(Paragraph("The corpus folder is missing; these counts come from metrics.json.", note=True))
        b.table(sec, corpus_stats_table(stats))
    if stats is None:
        b.missing_note(sec, "corpus")
        return
    findings = [
        f"{stats.iob_violations} IOB2 violations (repaired or still present)",
        f"{stats.empty_tokens} empty tokens",
    ]
    sec.blocks.append(Paragraph(f"Labels: {' '.join(stats.label_names)}. Loader findings: {'; '.join(findings)}."))


def corpus_table(corpus) -> Table:
    """Sentences, tokens and entities (by type) per split and language, with a total per split."""
    from auditor.data.corpus import CLEAN_COLUMN
    from auditor.data.iob import spans

    names = list(next(iter(corpus.values())).features["ner_tags"].feature.names)
    types = sorted({n[2:] for n in names if n != "O"})
    with_clean = all(CLEAN_COLUMN in ds.column_names for ds in corpus.values())
    rows, kinds = [], []
    for split, ds in corpus.items():
        counts: dict[str, Counter] = {}
        tags_col = ds["ner_tags"]
        clean_col = ds[CLEAN_COLUMN] if with_clean else [None] * len(ds)
        for lang, tokens, tags, clean in zip(ds["lang"], ds["tokens"], tags_col, clean_col):
            c = counts.setdefault(lang, Counter())
            c["sentences"] += 1
            c["tokens"] += len(tokens)
            for _, _, t in spans([names[k] for k in tags]):
                c[t] += 1
                c["entities"] += 1
            if clean is not None and list(clean) != list(tags):
                c["noisy"] += 1
        total = Counter()
        for lang in sorted(counts):
            total.update(counts[lang])
            rows.append(_corpus_row(split, lang, counts[lang], types, with_clean))
            kinds.append("")
        if len(counts) > 1:
            rows.append(_corpus_row(split, "all", total, types, with_clean))
            kinds.append("total")
    cols = [Column("split"), Column("language"), Column("sentences", "num", ",d"), Column("tokens", "num", ",d"), Column("entities", "num", ",d")]
    cols += [Column(t, "num", ",d") for t in types]
    caption = "Entities are counted from the given (silver) tags."
    if with_clean:
        cols.append(Column("noisy sentences", "num", ",d"))
        caption += " Noisy sentences: given tags differ from the known clean tags."
    return Table("corpus", cols, rows, caption, kinds)


def _corpus_row(split: str, lang: str, c: Counter, types: list[str], with_clean: bool) -> list:
    row = [split, lang, c["sentences"], c["tokens"], c["entities"], *[c[t] for t in types]]
    return row + [c["noisy"]] if with_clean else row


def corpus_stats_table(stats: CorpusStats) -> Table:
    """Sentences and tokens per split and language from metrics.json["corpus"]."""
    rows = []
    for split, by_lang in stats.sentences.items():
        for lang, n in by_lang.items():
            rows.append([split, lang, n, stats.tokens.get(split, {}).get(lang)])
    cols = [Column("split"), Column("language"), Column("sentences", "num", ",d"), Column("tokens", "num", ",d")]
    return Table("corpus_metrics", cols, rows)

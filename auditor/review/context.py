"""Context for a curator: the sentences around an issue's sentence and the other occurrences
of its words with their tags.

The source is the run's corpus (RUN_DIR/corpus) when it is there, else the sentences of the
issue table (flagged sentences only, and the context says so). Everything stays in flat
arrays: finding the occurrences of a few words among millions is a handful of vectorised
comparisons, so no index has to be built up front.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from auditor.review.queue import IssueTable

NEIGHBOURS = 2
EXAMPLES = 6
_NUMBERED = re.compile(r"^(.*?)(\d+)$")


@dataclass(frozen=True)
class Sentence:
    id: str
    lang: str
    tokens: list[str]
    tags: list[str]


@dataclass
class Occurrences:
    """Where the words occur: total, count per tag sequence (with languages), a few examples
    as (sentence, first word)."""

    words: tuple[str, ...]
    total: int = 0
    by_tags: dict[tuple[str, ...], Counter] = field(default_factory=dict)
    examples: list[tuple[Sentence, int]] = field(default_factory=list)


class SentenceIndex:
    """Sentences in flat arrays. complete: the whole corpus (not only flagged sentences)."""

    def __init__(self, ids: list[str], langs: list[str], tokens: pa.ListArray, tags: pa.ListArray, complete: bool) -> None:
        self.ids = ids
        self.langs = langs
        self.complete = complete
        self.offsets = np.asarray(tokens.offsets.to_numpy(zero_copy_only=False), dtype=np.int64) - int(tokens.offsets[0].as_py())
        self.flat_tokens = tokens.flatten()
        self.flat_tags = np.asarray(tags.flatten().to_numpy(zero_copy_only=False), dtype=object)
        self.sentence_of = np.repeat(np.arange(len(ids)), np.diff(self.offsets))
        self._row_of: dict[str, int] | None = None

    @classmethod
    def from_issues(cls, table: IssueTable) -> SentenceIndex:
        """The flagged sentences of the issue table, each once."""
        ids = table.example_ids
        _, first = np.unique(ids, return_index=True)
        first = np.sort(first)
        t = table.table.take(pa.array(first)).combine_chunks()
        return cls(
            [str(i) for i in ids[first]], [str(x) for x in table.lang[first]],
            t.column("tokens").chunk(0) if t.num_rows else pa.array([], pa.list_(pa.string())),
            t.column("tags").chunk(0) if t.num_rows else pa.array([], pa.list_(pa.string())),
            complete=False,
        )

    @classmethod
    def from_corpus(cls, path: str | Path) -> SentenceIndex:
        """Every split of a saved corpus (datasets save_to_disk: id, tokens, ner_tags, lang)."""
        from datasets import load_from_disk

        corpus = load_from_disk(str(path))
        ids: list[str] = []
        langs: list[str] = []
        tokens, tags = [], []
        for ds in corpus.values():
            names = np.asarray(ds.features["ner_tags"].feature.names, dtype=object)
            data = ds.data.table.select(["id", "lang", "tokens", "ner_tags"]).combine_chunks()
            if not data.num_rows:
                continue
            ids += data.column("id").to_pylist()
            langs += data.column("lang").to_pylist()
            tokens.append(data.column("tokens").chunk(0).cast(pa.list_(pa.string())))
            codes = data.column("ner_tags").chunk(0)
            offsets = np.asarray(codes.offsets.to_numpy(zero_copy_only=False), dtype=np.int32)
            flat = names[np.asarray(codes.flatten().to_numpy(zero_copy_only=False), dtype=np.int64)]
            tags.append(pa.ListArray.from_arrays(pa.array(offsets - offsets[0]), pa.array(flat, pa.string())))
        empty = pa.array([], pa.list_(pa.string()))
        all_tokens = pa.concat_arrays(tokens) if tokens else empty
        all_tags = pa.concat_arrays(tags) if tags else empty
        return cls(ids, langs, all_tokens, all_tags, complete=True)

    def __len__(self) -> int:
        return len(self.ids)

    def sentence(self, row: int) -> Sentence:
        a, b = int(self.offsets[row]), int(self.offsets[row + 1])
        return Sentence(
            self.ids[row], self.langs[row], self.flat_tokens.slice(a, b - a).to_pylist(), list(self.flat_tags[a:b])
        )

    def row_of(self, example_id: str) -> int | None:
        if self._row_of is None:
            self._row_of = {i: r for r, i in enumerate(self.ids)}
        return self._row_of.get(example_id)

    def neighbours(self, example_id: str, k: int = NEIGHBOURS) -> list[Sentence]:
        """The sentences numbered up to k before and after example_id (ids like de/train/000123),
        itself included, in order; [] when the ids carry no number."""
        m = _NUMBERED.match(example_id)
        if not m:
            return []
        prefix, digits = m.group(1), m.group(2)
        n = int(digits)
        out = []
        for j in range(max(0, n - k), n + k + 1):
            row = self.row_of(f"{prefix}{j:0{len(digits)}d}")
            if row is not None:
                out.append(self.sentence(row))
        return out

    def occurrences(self, words: list[str] | tuple[str, ...], examples: int = EXAMPLES) -> Occurrences:
        """Every place the words occur in a row (exact spelling), with the tags they carry."""
        words = tuple(words)
        occ = Occurrences(words)
        n = len(self.flat_tokens)
        if not words or not n:
            return occ
        starts = np.flatnonzero(np.asarray(pc.equal(self.flat_tokens, words[0]).to_numpy(zero_copy_only=False), dtype=bool))
        for k, word in enumerate(words[1:], start=1):
            starts = starts[starts + k < n]
            if not len(starts):
                break
            same = self.sentence_of[starts + k] == self.sentence_of[starts]
            nxt = np.asarray(pc.equal(self.flat_tokens.take(pa.array(starts + k)), word).to_numpy(zero_copy_only=False), dtype=bool)
            starts = starts[same & nxt]
        occ.total = len(starts)
        for s in starts:
            tags = tuple(self.flat_tags[s : s + len(words)])
            row = int(self.sentence_of[s])
            occ.by_tags.setdefault(tags, Counter())[self.langs[row]] += 1
            if len(occ.examples) < examples:
                occ.examples.append((self.sentence(row), int(s - self.offsets[row])))
        occ.by_tags = dict(sorted(occ.by_tags.items(), key=lambda kv: -sum(kv[1].values())))
        return occ

"""Readers: every supported source -> lists of RawSentence per split.

Formats: the Hugging Face Hub (`datasets.load_dataset`, e.g. google/xtreme PAN-X.de),
CoNLL/IOB files (token first, tag in the last column, blank line between sentences,
optionally the `de:token` prefix of the original WikiANN files), JSONL (one sentence per
line), Parquet, and `save_to_disk` folders. Text files may be gzip-compressed (.gz).
Readers only parse; checks live in auditor.data.validate and assembly in auditor.data.build.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from auditor.data.corpus import CLEAN_COLUMN
from auditor.data.textlines import read_lines as _lines
from auditor.data.validate import RawSentence, decode_tag
from auditor.errors import DataError

FORMATS = ("conll", "jsonl", "parquet", "disk")
# the annotation tools' formats (auditor.data.formats): text with character-offset spans
TOOL_FORMATS = ("spacy", "prodigy", "labelstudio", "doccano", "brat")
FILE_FORMATS = ("conll", "jsonl", "parquet", *TOOL_FORMATS)
_CONLL_SUFFIXES = (".conll", ".conllu", ".iob", ".iob2", ".bio", ".txt", ".tsv")
_LANG_PREFIX = re.compile(r"^([a-z]{2,3}):(.*)$", re.S)


@dataclass(frozen=True)
class SourceFile:
    """One file to read and the language its path names ("{lang}" expansion), if any."""

    path: str
    lang: str | None


def detect_format(path: str | Path) -> str:
    """conll | jsonl | parquet | disk from the name (and .gz), or DataError."""
    from auditor.data.formats import sniff

    p = Path(path)
    tool = sniff(p)
    if tool is not None:
        return tool
    if p.is_dir():
        if (p / "dataset_dict.json").is_file() or (p / "dataset_info.json").is_file():
            return "disk"
        raise DataError(f"{p}: a folder but not a datasets.save_to_disk folder (no dataset_dict.json)")
    name = p.name.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(_CONLL_SUFFIXES):
        return "conll"
    raise DataError(f"{p}: cannot tell the format from the name; pass --format {'|'.join(FORMATS + TOOL_FORMATS)}")


def expand_paths(spec: str | list[str], languages: Sequence[str]) -> list[SourceFile]:
    """Paths of one split; a path containing "{lang}" yields one file per language."""
    paths = [spec] if isinstance(spec, str) else list(spec)
    out = []
    for p in paths:
        if "{lang}" in p:
            out += [SourceFile(p.replace("{lang}", lang), lang) for lang in languages]
        else:
            out.append(SourceFile(p, None))
    return out


def read_conll(path: str) -> list[RawSentence]:
    """CoNLL/IOB: `token ... tag` per line (tab- or space-separated, tag in the last column).

    Blank lines end sentences; `-DOCSTART-` lines are skipped. Lines like `de:Berlin<TAB>B-LOC`
    (the original WikiANN files) give the sentence language and lose the prefix. A tab-separated
    line keeps empty or whitespace-only tokens (validation flags them).
    """
    out: list[RawSentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    langs: list[str] = []
    start = 0
    prefixed: bool | None = None
    width: tuple[int, int] | None = None  # (columns, line) of the first token line

    def flush() -> None:
        if tokens:
            lang = max(set(langs), key=langs.count) if langs else None
            out.append(RawSentence(list(tokens), list(tags), f"{path}:{start}", lang=lang))
        tokens.clear(), tags.clear(), langs.clear()

    for n, line in _lines(path):
        if not line.strip():
            flush()
            continue
        if line.startswith("-DOCSTART-"):
            continue
        cols = line.split("\t") if "\t" in line else line.split()
        if len(cols) < 2:
            raise DataError(f"{path}:{n}: no tag column in {line.strip()!r} (expected `token<TAB>tag`)")
        if width is None:
            width = (len(cols), n)
        elif len(cols) > width[0]:
            # `New York B-LOC` in a space-separated file: the tag is last, but which columns are
            # the token? Taking the first would silently drop "York"
            raise DataError(
                f"{path}:{n}: {len(cols)} columns in {line.strip()!r}, where line {width[1]} has {width[0]}; "
                "a token with a space needs tab-separated columns (token<TAB>tag), or remove the extra column"
            )
        token, tag = cols[0], cols[-1].strip()
        if prefixed is None:
            # decided on the first token line: the WikiANN files prefix every token
            prefixed = _LANG_PREFIX.match(token) is not None
        if prefixed:
            m = _LANG_PREFIX.match(token)
            if m is None:
                raise DataError(f"{path}:{n}: token {token!r} lacks the `lang:` prefix the file's first token has")
            langs.append(m.group(1))
            token = m.group(2)
        if not tokens:
            start = n
        tokens.append(token)
        tags.append(tag)
    flush()
    return out


def read_jsonl(path: str, label_names: Sequence[str] | None = None) -> list[RawSentence]:
    """JSONL: one object per line with tokens, ner_tags (strings, or ints with label_names),
    optional lang (or per-token langs), id and clean_ner_tags. Blank lines are skipped."""
    out = []
    for n, line in _lines(path):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{where}: not valid JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{where}: expected a JSON object with tokens and ner_tags")
        out.append(_from_row(obj, where, label_names))
    return out


def _from_row(row: dict, where: str, label_names: Sequence[str] | None) -> RawSentence:
    for key in ("tokens", "ner_tags"):
        if key not in row:
            raise DataError(f"{where}: no `{key}` field (fields: {', '.join(row) or 'none'})")
        if not isinstance(row[key], list):
            raise DataError(f"{where}: `{key}` must be a list, got {type(row[key]).__name__}")
    tokens = row["tokens"]
    if not all(isinstance(t, str) for t in tokens):
        raise DataError(f"{where}: every token must be a string")
    tags = [decode_tag(t, label_names, where) for t in row["ner_tags"]]
    clean = None
    if row.get(CLEAN_COLUMN) is not None:
        clean = [decode_tag(t, label_names, where) for t in row[CLEAN_COLUMN]]
    lang = row.get("lang")
    if lang is None and row.get("langs"):
        langs = row["langs"]
        lang = max(set(langs), key=langs.count)
    id_ = row.get("id")
    return RawSentence(tokens, tags, where, lang=lang, id=None if id_ is None else str(id_), clean=clean)


def _names_of(features, column: str) -> list[str] | None:
    feat = features.get(column) if features is not None else None
    inner = getattr(feat, "feature", None)
    return list(inner.names) if hasattr(inner, "names") else None


def rows_from_dataset(ds, where: str, label_names: Sequence[str] | None = None) -> list[RawSentence]:
    """A datasets.Dataset (ClassLabel or string tags) -> RawSentence list; `where` + " row N"."""
    names = _names_of(ds.features, "ner_tags") or label_names
    clean_names = _names_of(ds.features, CLEAN_COLUMN) or names
    out = []
    for i, row in enumerate(ds):
        r = dict(row)
        s = _from_row({k: v for k, v in r.items() if k != CLEAN_COLUMN}, f"{where} row {i}", names)
        if r.get(CLEAN_COLUMN) is not None:
            s.clean = [decode_tag(t, clean_names, s.where) for t in r[CLEAN_COLUMN]]
        out.append(s)
    return out


def read_parquet(path: str, label_names: Sequence[str] | None = None) -> list[RawSentence]:
    """Parquet with the JSONL columns; ClassLabel names come from the file's datasets metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import Dataset
    from datasets.table import InMemoryTable

    if not Path(path).is_file():
        raise DataError(f"{path}: no such file")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"{path}: not a readable Parquet file ({str(err).splitlines()[0]})") from None
    # Dataset restores ClassLabel names from the "huggingface" schema metadata when present
    ds = Dataset(InMemoryTable(table))
    return rows_from_dataset(ds, path, label_names)


def read_disk(path: str, splits: Sequence[str], label_names: Sequence[str] | None = None) -> dict[str, list[RawSentence]]:
    """A `save_to_disk` folder (DatasetDict, or a Dataset taken as split "train")."""
    from datasets import DatasetDict, load_from_disk

    try:
        ds = load_from_disk(path)
    except FileNotFoundError as err:
        raise DataError(f"{path}: not a datasets.save_to_disk folder ({err})") from None
    if not isinstance(ds, DatasetDict):
        ds = DatasetDict({"train": ds})
    missing = [s for s in splits if s not in ds]
    if missing:
        raise DataError(f"{path}: no split(s) {', '.join(missing)} (has {', '.join(ds)}); adjust data.splits")
    return {s: rows_from_dataset(ds[s], f"{path} [{s}]", label_names) for s in splits}


def read_hub(dataset: str, config: str, splits: Sequence[str]) -> dict[str, list[RawSentence]]:
    """`datasets.load_dataset(dataset, config)`; honours HF_DATASETS_OFFLINE and the local cache."""
    from datasets import load_dataset

    try:
        dsd = load_dataset(dataset, config)
    except Exception as err:  # the hub raises many kinds (connection, not found, offline, bad config)
        first = (str(err).strip().splitlines() or [""])[0][:200]
        offline = any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"))
        advice = (
            "offline mode is on, so the dataset must already be in the local cache (HF_HOME); "
            if offline
            else "no network? set HF_DATASETS_OFFLINE=1 with the dataset in the local cache, "
        )
        raise DataError(
            f"{dataset} ({config}): could not load from the Hugging Face Hub ({type(err).__name__}: {first}); "
            f"{advice}or use local files (data.source: jsonl|conll|parquet|disk)"
        ) from None
    missing = [s for s in splits if s not in dsd]
    if missing:
        raise DataError(f"{dataset} ({config}): no split(s) {', '.join(missing)} (has {', '.join(dsd)})")
    return {s: rows_from_dataset(dsd[s], f"{dataset}/{config} [{s}]") for s in splits}


def read_file(
    path: str, fmt: str, label_names: Sequence[str] | None = None, offsets: str | None = None
) -> list[RawSentence]:
    """One conll/jsonl/parquet file, or a file (brat: folder) of an annotation tool."""
    if fmt in TOOL_FORMATS:
        from auditor.data.formats import read_sentences

        return read_sentences(path, fmt, offsets)
    if fmt == "conll":
        return read_conll(path)
    if fmt == "jsonl":
        return read_jsonl(path, label_names)
    if fmt == "parquet":
        return read_parquet(path, label_names)
    raise DataError(f"{path}: format {fmt!r} is not a file format (use {', '.join(FILE_FORMATS)})")

"""The annotation tools' formats, in and out: spaCy DocBin, Prodigy, Label Studio, doccano, brat.

Each module reads a file into TextRecords (auditor.data.offsets: a layout, IOB2 tags, id,
lang) and writes TextRecords back in the tool's own shape. This package turns them into the
sources' RawSentences and turns a corpus split into TextRecords for export, with the text and
token offsets the run's source had (re-read from it) so nothing is shifted on the way out.
"""

from __future__ import annotations

import logging
from importlib import import_module
from pathlib import Path

from auditor.data.offsets import TextRecord, check_unit, join_tokens
from auditor.data.validate import RawSentence
from auditor.errors import DataError

log = logging.getLogger(__name__)

FORMATS = ("spacy", "prodigy", "labelstudio", "doccano", "brat")
_MODULES = {"spacy": "docbin", "prodigy": "prodigy", "labelstudio": "labelstudio", "doccano": "doccano", "brat": "brat"}


def module(fmt: str):
    if fmt not in _MODULES:
        raise DataError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    return import_module(f"auditor.data.formats.{_MODULES[fmt]}")


def unit_of(fmt: str, unit: str | None) -> str | None:
    """The offset unit to use: the one asked for, else the format's documented default."""
    mod = module(fmt)
    if unit is None or mod.UNIT is None:
        return mod.UNIT
    return check_unit(unit)


def read_records(path: str, fmt: str, unit: str | None = None) -> list[TextRecord]:
    """A file (or brat folder) of a tool's format; says what it skipped on purpose."""
    res = module(fmt).read(path, unit_of(fmt, unit))
    said = [f"{path}: skipped {n} record{'s' if n > 1 else ''} ({reason})" for reason, n in sorted(res.skipped.items())]
    for line in said + [f"{path}: {note}" for note in res.notes]:
        if line not in _SAID:  # `auditor inspect` reads a file twice (languages, then the corpus)
            _SAID.add(line)
            log.warning("%s", line)
    return res.records


_SAID: set[str] = set()


def read_sentences(path: str, fmt: str, unit: str | None = None) -> list[RawSentence]:
    return [RawSentence(r.tokens, r.tags, r.where, lang=r.lang, id=r.id) for r in read_records(path, fmt, unit)]


def sniff(path: str | Path) -> str | None:
    """Which tool's format a file or folder holds, from its name and first record; None if none."""
    import json

    p = Path(path)
    if p.is_dir():
        return "brat" if any(p.glob("*.ann")) else None
    name = p.name.lower()
    if name.endswith(".spacy"):
        return "spacy"
    if name.endswith(".ann"):
        return "brat"
    if not p.is_file() or not name.endswith((".json", ".jsonl", ".ndjson")):
        return None
    with p.open(encoding="utf-8", errors="replace") as fh:
        head = fh.read(1 << 20)
    try:
        first = json.loads(head) if name.endswith(".json") and head.lstrip().startswith("[") else json.loads(head.lstrip().splitlines()[0])
    except (json.JSONDecodeError, IndexError):
        return None
    if module("labelstudio").sniff(first):
        return "labelstudio"
    if isinstance(first, dict) and module("prodigy").sniff(first):
        return "prodigy"
    if isinstance(first, dict) and module("doccano").sniff(first):
        return "doccano"
    return None


# --- out ----------------------------------------------------------------------------------


def split_records(ds, layouts=({}, {})) -> list[TextRecord]:
    """A corpus split as TextRecords: each sentence in its source layout when the tokens still
    match, else its tokens joined by single spaces."""
    by_id, by_tokens = layouts
    names = ds.features["ner_tags"].feature.names
    cols = ds.select_columns(["id", "tokens", "ner_tags", "lang"])[:]
    out = []
    for id_, tokens, tags, lang in zip(cols["id"], cols["tokens"], cols["ner_tags"], cols["lang"]):
        layout = by_id.get(id_)
        if layout is None or layout.tokens != list(tokens):
            layout = by_tokens.get(tuple(tokens)) or join_tokens(tokens)
        out.append(TextRecord(layout, [names[t] for t in tags], id_, id_, lang))
    return out


def write_split(fmt: str, ds, path: Path, layouts=({}, {}), unit: str | None = None) -> None:
    module(fmt).write(split_records(ds, layouts), path, unit_of(fmt, unit))

"""brat standoff: a document's text in NAME.txt and its annotations in NAME.ann.

    T1<TAB>PER 0 6<TAB>Angela
    T2<TAB>LOC 10 16;20 26<TAB>Berlin Mitte        (a discontinuous entity: reported)

Offsets count code points into the whole .txt. One line of the .txt is one sentence (blank
lines are none); its id is NAME:LINE, so writing the sentences back puts each on its own line
of its own document again. An entity crossing a line break or made of several fragments is
reported, never guessed; annotations other than text-bound ones (relations R, events E,
attributes A, notes #, normalisations N) are not NER spans: skipped and counted.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from pathlib import Path

from auditor.data.formats.common import raise_misfits, tokens_field
from auditor.data.offsets import (
    CharSpan,
    Misfit,
    ReadResult,
    TextRecord,
    convert_spans,
    spans_to_tags,
    tags_to_spans,
    tokenize,
)
from auditor.data.textlines import read_lines as _lines
from auditor.errors import DataError

log = logging.getLogger(__name__)

NAME = "brat"
UNIT = "codepoint"
SUFFIX = ""  # a folder of .txt/.ann pairs
_TEXT_BOUND = re.compile(r"^(T\d+)\t(\S+) (\d+ \d+(?:;\d+ \d+)*)\t?(.*)$")
_ID = re.compile(r"^(.+):(\d+)$")


def documents(path: str) -> list[Path]:
    """The .ann files of a brat folder (sorted), or the one .ann file given."""
    p = Path(path)
    if p.is_dir():
        anns = sorted(p.glob("*.ann"))
        if not anns:
            raise DataError(f"{path}: no .ann files in the folder (brat keeps NAME.txt next to NAME.ann)")
        return anns
    if p.suffix == ".txt" and p.with_suffix(".ann").is_file():
        return [p.with_suffix(".ann")]
    if p.suffix != ".ann":
        raise DataError(f"{path}: not a brat .ann file or folder")
    if not p.is_file():
        raise DataError(f"{path}: no such file")
    return [p]


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise DataError(f"{path}: missing (brat keeps each document's text next to its .ann)")
    try:
        # newline="" keeps \r\n and lone \r as they are: offsets count them
        with path.open(encoding="utf-8", newline="") as fh:
            return fh.read()
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; convert the file to UTF-8") from None


def read_document(ann: Path, res: ReadResult, misfits: list[Misfit], unit: str) -> None:
    text = _read_text(ann.with_suffix(".txt"))
    spans: list[tuple[CharSpan, str]] = []
    for n, line in _lines(str(ann)):
        if not line.strip():
            continue
        where = f"{ann}:{n}"
        m = _TEXT_BOUND.match(line)
        if m is None:
            if line[0] == "T" or line[0] not in "REAMN#*":
                raise DataError(f"{where}: not a brat annotation line (`T1<TAB>LABEL START END<TAB>TEXT`): {line!r}")
            res.skip(f"{line[0]} lines: relations, events, attributes or notes, not entity spans")
            continue
        frags = [tuple(map(int, f.split())) for f in m.group(3).split(";")]
        sp = CharSpan(frags[0][0], frags[-1][1], m.group(2), m.group(4))
        if len(frags) > 1:
            misfits.append(Misfit(where, sp, f"discontinuous ({len(frags)} fragments: {m.group(3)}); IOB2 tags cannot hold it"))
            continue
        spans.append((sp, where))
    converted = []
    for sp, where in spans:
        good, bad = convert_spans(text, [sp], unit, where)
        misfits += bad
        converted += [(g, where) for g in good]
    pos = 0
    for lineno, line in enumerate(text.split("\n"), 1):
        end = pos + len(line)
        mine = [(s, w) for s, w in converted if pos <= s.start < end + 1]
        if line.strip():
            local: dict[CharSpan, str] = {}
            for s, w in mine:
                if s.end > end:
                    misfits.append(Misfit(w, s, f"crosses the line break after line {lineno} (one line is one sentence)"))
                else:
                    local[CharSpan(s.start - pos, s.end - pos, s.label, s.text)] = w
            layout = tokenize(line)
            tags, bad = spans_to_tags(layout, list(local), f"{ann}:{lineno}")
            # name the .ann line of each misfit; its offsets are the document's, as in the file
            misfits += [Misfit(local[b.span], CharSpan(b.span.start + pos, b.span.end + pos, b.span.label, b.span.text), b.reason) for b in bad]
            res.records.append(TextRecord(layout, tags, f"{ann.with_suffix('.txt')}:{lineno}", f"{ann.stem}:{lineno}"))
        else:
            misfits += [Misfit(w, s, "covers only whitespace") for s, w in mine]
        pos = end + 1


def read(path: str, unit: str = UNIT) -> ReadResult:
    res, misfits = ReadResult(), []
    for ann in documents(path):
        read_document(ann, res, misfits, unit)
    raise_misfits(path, misfits, unit)
    return res


def write(records: list[TextRecord], folder: Path, unit: str = UNIT, default_doc: str = "corpus") -> None:
    """One NAME.txt/NAME.ann pair per document: a record with id NAME:LINE goes on line LINE of
    NAME, others one after the other into `default_doc`."""
    docs: dict[str, dict[int, TextRecord]] = defaultdict(dict)
    loose: list[TextRecord] = []
    for r in records:
        if "\n" in r.layout.text or "\r" in r.layout.text:
            raise DataError(f"sentence {r.id}: its text holds a line break, and a brat line is one sentence; export as labelstudio or doccano")
        m = _ID.match(r.id or "")
        if m and int(m.group(2)) not in docs[m.group(1)] and "/" not in m.group(1) and m.group(1) not in (".", ".."):
            docs[m.group(1)][int(m.group(2))] = r
        else:
            loose.append(r)
    for r in loose:
        lines = docs[default_doc]
        lines[max(lines, default=0) + 1] = r
    resplit = sum(tokens_field(r.layout) is not None for r in records)
    if resplit:
        log.warning(
            "brat: %d sentence%s have tokens the tokenizer splits otherwise (brat keeps no tokens): their entities' "
            "text and labels are kept, their words come back re-tokenised; export as labelstudio or doccano to keep them",
            resplit, "s" if resplit > 1 else "",
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in docs.items():
        if not lines:
            continue
        text_lines, ann_lines, pos, k = [], [], 0, 0
        for lineno in range(1, max(lines) + 1):
            r = lines.get(lineno)
            line = r.layout.text if r is not None else ""
            if r is not None:
                for sp in tags_to_spans(r.layout, r.tags):
                    k += 1
                    ann_lines.append(f"T{k}\t{sp.label} {pos + sp.start} {pos + sp.end}\t{sp.text}")
            text_lines.append(line)
            pos += len(line) + 1
        (folder / f"{name}.txt").write_text("\n".join(text_lines) + "\n", encoding="utf-8", newline="")
        (folder / f"{name}.ann").write_text("".join(a + "\n" for a in ann_lines), encoding="utf-8", newline="")

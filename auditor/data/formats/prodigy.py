"""Prodigy ner_manual JSONL: one task per line with its text, its tokens and its spans.

    {"text": "...", "tokens": [{"text", "start", "end", "id", "ws"}, ...],
     "spans": [{"start", "end", "token_start", "token_end", "label"}, ...],
     "answer": "accept", "meta": {...}}

Offsets are Python string indices (code points); token_end is inclusive. Tasks answered
reject or ignore are not annotations of the text: they are skipped and counted. Our id and
language travel in `meta` (Prodigy shows meta in its UI and keeps it in the export).
"""

from __future__ import annotations

import json
from pathlib import Path

from auditor.data.formats.common import (
    json_lines,
    optional_str,
    raise_misfits,
    span,
    text_of,
)
from auditor.data.offsets import (
    Layout,
    Misfit,
    OffsetUnits,
    ReadResult,
    TextRecord,
    convert_spans,
    layout_from_offsets,
    spans_to_tags,
    tags_to_spans,
    tokenize,
)
from auditor.errors import DataError

NAME = "prodigy"
UNIT = "codepoint"
SUFFIX = ".jsonl"
SKIPPED_ANSWERS = ("reject", "ignore")


def task_layout(obj: dict, where: str, unit: str) -> Layout:
    """The task's own tokens (checked against its text), or the text tokenised when it has none."""
    text = text_of(obj.get("text"), where)
    toks = obj.get("tokens")
    if toks is None:
        return tokenize(text)
    if not isinstance(toks, list) or not all(isinstance(t, dict) for t in toks):
        raise DataError(f"{where}: `tokens` must be a list of objects with start and end")
    units = OffsetUnits(text, unit)
    starts, ends = [], []
    for i, t in enumerate(toks):
        s, e = units.to_codepoint(t.get("start")), units.to_codepoint(t.get("end"))
        if s is None or e is None:
            raise DataError(f"{where}: token {i} has offsets {t.get('start')!r}, {t.get('end')!r} outside the text")
        starts.append(s)
        ends.append(e)
    layout = layout_from_offsets(text, starts, ends, where)
    for i, (t, tok) in enumerate(zip(toks, layout.tokens)):
        if "text" in t and t["text"] != tok:
            raise DataError(f"{where}: token {i} is {t['text']!r} but the text there is {tok!r}; the task's tokens do not match its text")
    return layout


def task_spans(obj: dict, layout: Layout, where: str, unit: str) -> tuple[list[str], list[Misfit]]:
    """IOB2 tags from the task's spans, with a misfit for a span whose token_start/token_end
    disagree with its character offsets."""
    raw = obj.get("spans") or []
    if not isinstance(raw, list):
        raise DataError(f"{where}: `spans` must be a list")
    index_start = {s: i for i, s in enumerate(layout.starts)}
    index_end = {e: i for i, e in enumerate(layout.ends)}
    fitting, bad = [], []
    for src in raw:
        if not isinstance(src, dict):
            raise DataError(f"{where}: every span must be an object with start, end and label")
        converted, wrong = convert_spans(layout.text, [span(src.get("start"), src.get("end"), src.get("label"), where, src.get("text"))], unit, where)
        bad += wrong
        for sp in converted:
            ts, te = src.get("token_start"), src.get("token_end")
            got = (index_start.get(sp.start), index_end.get(sp.end))
            if ts is not None and te is not None and None not in got and got != (ts, te):
                bad.append(Misfit(where, sp, f"token_start/token_end say words {ts}..{te}, its offsets say {got[0]}..{got[1]}"))
            else:
                fitting.append(sp)
    tags, more = spans_to_tags(layout, fitting, where)
    return tags, bad + more


def read(path: str, unit: str = UNIT) -> ReadResult:
    res, misfits = ReadResult(), []
    for n, obj in json_lines(path):
        where = f"{path}:{n}"
        answer = obj.get("answer")
        if answer in SKIPPED_ANSWERS:
            res.skip(f"answer {answer}")
            continue
        layout = task_layout(obj, where, unit)
        tags, bad = task_spans(obj, layout, where, unit)
        misfits += bad
        meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
        res.records.append(TextRecord(layout, tags, where, optional_str(meta.get("id")), optional_str(meta.get("lang"))))
    raise_misfits(path, misfits, unit)
    return res


def task(record: TextRecord, tags: list[str] | None = None, unit: str = UNIT, meta: dict | None = None) -> dict:
    """The ner_manual task of a record (its own tags, or `tags` over its tokens)."""
    layout = record.layout
    units = OffsetUnits(layout.text, unit)
    gaps = layout.gaps()
    tokens = [
        {"text": tok, "start": units.from_codepoint(s), "end": units.from_codepoint(e), "id": i, "ws": gaps[i + 1] != ""}
        for i, (tok, s, e) in enumerate(zip(layout.tokens, layout.starts, layout.ends))
    ]
    index_start = {s: i for i, s in enumerate(layout.starts)}
    index_end = {e: i for i, e in enumerate(layout.ends)}
    spans = [
        {
            "start": units.from_codepoint(sp.start), "end": units.from_codepoint(sp.end), "text": sp.text,
            "token_start": index_start[sp.start], "token_end": index_end[sp.end], "label": sp.label,
        }
        for sp in tags_to_spans(layout, record.tags if tags is None else tags)
    ]
    return {
        "text": layout.text, "tokens": tokens, "spans": spans, "answer": "accept",
        "meta": {"id": record.id, "lang": record.lang, **(meta or {})},
    }


def write(records: list[TextRecord], path: Path, unit: str = UNIT) -> None:
    with Path(path).open("w", encoding="utf-8", newline="\n") as fh:
        fh.writelines(json.dumps(task(r, unit=unit), ensure_ascii=False) + "\n" for r in records)


def sniff(obj: dict) -> bool:
    """A JSON object shaped like a Prodigy task (text, token objects or spans with token_start)."""
    toks, spans = obj.get("tokens"), obj.get("spans")
    if isinstance(toks, list) and toks and isinstance(toks[0], dict) and "start" in toks[0]:
        return True
    return isinstance(spans, list) and any(isinstance(s, dict) and "token_start" in s for s in spans)

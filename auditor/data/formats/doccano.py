"""doccano sequence-labeling JSONL: one example per line with its text and its entity spans.

    {"id": 1, "text": "...", "label": [[0, 6, "PER"], ...]}
    {"text": "...", "labels": [[0, 6, "PER"]]}                       (older exports)
    {"text": "...", "entities": [{"id", "start_offset", "end_offset", "label"}]}  (with relations)

All three keys are read. doccano runs in the browser, so offsets count UTF-16 units (an emoji
outside the BMP counts two); set data.offsets: codepoint for files written by a converter
that counted code points. Files carry no tokens: the text is tokenised (offsets.tokenize),
unless the line has `tokens` ([[start, end], ...], code points; our writer adds it when the
tokenizer would split the text otherwise; doccano keeps unknown keys as the example's meta).
"""

from __future__ import annotations

import json
from pathlib import Path

from auditor.data.formats.common import (
    given_layout,
    json_lines,
    optional_str,
    raise_misfits,
    span,
    text_of,
    tokens_field,
)
from auditor.data.offsets import (
    OffsetUnits,
    ReadResult,
    TextRecord,
    convert_spans,
    spans_to_tags,
    tags_to_spans,
)
from auditor.errors import DataError

NAME = "doccano"
UNIT = "utf16"
SUFFIX = ".jsonl"
KEYS = ("label", "labels", "entities")


def example_spans(obj: dict, where: str) -> list:
    key = next((k for k in KEYS if k in obj), None)
    if key is None:
        return []
    raw = obj[key]
    if not isinstance(raw, list):
        raise DataError(f"{where}: `{key}` must be a list of spans")
    out = []
    for item in raw:
        if isinstance(item, dict):
            out.append(span(item.get("start_offset"), item.get("end_offset"), item.get("label"), where))
        elif isinstance(item, list) and len(item) == 3:
            out.append(span(item[0], item[1], item[2], where))
        else:
            raise DataError(f"{where}: span {item!r} is neither [start, end, label] nor an object with start_offset/end_offset/label")
    return out


def read(path: str, unit: str = UNIT) -> ReadResult:
    res, misfits = ReadResult(), []
    for n, obj in json_lines(path):
        where = f"{path}:{n}"
        text = text_of(obj.get("text"), where)
        spans, bad = convert_spans(text, example_spans(obj, where), unit, where)
        layout = given_layout(text, obj.get("tokens"), where)
        tags, more = spans_to_tags(layout, spans, where)
        misfits += bad + more
        res.records.append(TextRecord(layout, tags, where, optional_str(obj.get("id")), optional_str(obj.get("lang"))))
    raise_misfits(path, misfits, unit)
    return res


def write(records: list[TextRecord], path: Path, unit: str = UNIT) -> None:
    with Path(path).open("w", encoding="utf-8", newline="\n") as fh:
        for r in records:
            units = OffsetUnits(r.layout.text, unit)
            label = [[units.from_codepoint(s.start), units.from_codepoint(s.end), s.label] for s in tags_to_spans(r.layout, r.tags)]
            row = {"id": r.id, "text": r.layout.text, "label": label, "lang": r.lang}
            tokens = tokens_field(r.layout)
            if tokens is not None:
                row["tokens"] = tokens
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def sniff(obj: dict) -> bool:
    return isinstance(obj.get("text"), str) and any(isinstance(obj.get(k), list) for k in KEYS) and not (obj.get("tokens") and isinstance(obj["tokens"][0], dict))

"""Label Studio JSON tasks (the JSON export, and what its import takes).

    [{"id": 1, "data": {"text": "..."},
      "annotations": [{"id", "completed_by", "created_at", "updated_at", "was_cancelled",
                       "result": [{"type": "labels", "from_name": "label", "to_name": "text",
                                   "value": {"start", "end", "text", "labels": ["PER"]}}]}],
      "predictions": [{"model_version", "score", "result": [...]}]}]

Offsets count code points (current Label Studio; older releases counted UTF-16 units: set
data.offsets: utf16). A task may hold several annotations (several curators, or one curator
twice): the newest (updated_at, else created_at) that was not cancelled is read, and the
reader says how many tasks that concerned. Tasks nobody annotated are skipped and counted. data.tokens ([[start, end], ...] in code
points, written only when our tokenizer would split the text otherwise) keeps a corpus's own
tokens through the round trip.
The labeling config our files expect (from_name "label", to_name "text") is in README.md.
"""

from __future__ import annotations

import json
from pathlib import Path

from auditor.data.formats.common import (
    given_layout,
    json_file,
    optional_str,
    raise_misfits,
    span,
    text_of,
    tokens_field,
)
from auditor.data.offsets import (
    CharSpan,
    Layout,
    Misfit,
    OffsetUnits,
    ReadResult,
    TextRecord,
    convert_spans,
    spans_to_tags,
    tags_to_spans,
)
from auditor.errors import DataError

NAME = "labelstudio"
UNIT = "codepoint"
SUFFIX = ".json"
FROM_NAME, TO_NAME = "label", "text"


def tasks_of(path: str) -> list[dict]:
    doc = json_file(path)
    tasks = [doc] if isinstance(doc, dict) else doc
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        raise DataError(f"{path}: expected a JSON list of Label Studio tasks (objects with `data`)")
    return tasks


def task_text(task: dict, where: str) -> str:
    data = task.get("data")
    if not isinstance(data, dict):
        raise DataError(f"{where}: no `data` object (a Label Studio task has data.text)")
    return text_of(data.get("text"), where, "data.text")


def newest_annotation(task: dict) -> dict | None:
    """The newest annotation not cancelled (ties: the higher id), or None."""
    anns = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
    if not anns:
        return None
    return max(anns, key=lambda a: (str(a.get("updated_at") or a.get("created_at") or ""), a.get("id") or 0))


def result_spans(result: list, text: str, where: str, unit: str) -> tuple[list[CharSpan], list[Misfit]]:
    """Code-point spans of a result's labels regions (other region types are not NER spans)."""
    spans, bad = [], []
    for item in result or []:
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(value, dict) or "labels" not in value or "start" not in value:
            continue
        labels = value.get("labels") or []
        sp = span(value.get("start"), value.get("end"), labels[0] if len(labels) == 1 else "|".join(map(str, labels)), where, value.get("text"))
        if len(labels) != 1:
            bad.append(Misfit(where, sp, f"carries {len(labels)} labels; one word takes one tag"))
            continue
        spans.append(sp)
    good, wrong = convert_spans(text, spans, unit, where)
    return good, bad + wrong


def annotation_curator(ann: dict) -> str | None:
    """Who made an annotation, when the export names a person (an email), else None."""
    who = ann.get("completed_by")
    if isinstance(who, dict):
        return optional_str(who.get("email") or who.get("username"))
    return None


def read(path: str, unit: str = UNIT) -> ReadResult:
    res, misfits, several = ReadResult(), [], 0
    for k, task in enumerate(tasks_of(path)):
        where = f"{path} task {task.get('id', k + 1)}"
        text = task_text(task, where)
        ann = newest_annotation(task)
        if ann is None:
            res.skip("not annotated")
            continue
        several += sum(1 for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")) > 1
        layout = given_layout(text, task["data"].get("tokens"), where)
        spans, bad = result_spans(ann.get("result"), text, where, unit)
        tags, more = spans_to_tags(layout, spans, where)
        misfits += bad + more
        data = task["data"]
        id_ = data.get("id", task.get("id"))
        res.records.append(TextRecord(layout, tags, where, optional_str(id_), optional_str(data.get("lang"))))
    raise_misfits(path, misfits, unit)
    if several:
        res.notes.append(f"{several} task{'s' if several > 1 else ''} had several annotations: the newest of each was read")
    return res


def result(layout: Layout, tags: list[str], unit: str = UNIT, prefix: str = "e") -> list[dict]:
    """Label Studio result regions of IOB2 tags over a layout."""
    units = OffsetUnits(layout.text, unit)
    return [
        {
            "id": f"{prefix}{i}", "from_name": FROM_NAME, "to_name": TO_NAME, "type": "labels",
            "value": {"start": units.from_codepoint(sp.start), "end": units.from_codepoint(sp.end), "text": sp.text, "labels": [sp.label]},
        }
        for i, sp in enumerate(tags_to_spans(layout, tags))
    ]


def task_data(record: TextRecord) -> dict:
    """data of a task: text, our id and language, and the tokens when the tokenizer would differ."""
    data = {"text": record.layout.text, "id": record.id, "lang": record.lang}
    tokens = tokens_field(record.layout)
    if tokens is not None:
        data["tokens"] = tokens
    return data


def task(record: TextRecord, unit: str = UNIT) -> dict:
    return {
        "data": task_data(record),
        "annotations": [{"result": result(record.layout, record.tags, unit)}],
    }


def task_list(tasks: list[dict]) -> str:
    """A JSON list with one task per line (readable, and diffs stay small)."""
    return "[\n" + ",\n".join(json.dumps(t, ensure_ascii=False) for t in tasks) + "\n]\n"


def write(records: list[TextRecord], path: Path, unit: str = UNIT) -> None:
    tasks = [task(r, unit) for r in records]
    Path(path).write_text(task_list(tasks), encoding="utf-8")


def sniff(obj) -> bool:
    first = obj[0] if isinstance(obj, list) and obj else obj
    return isinstance(first, dict) and isinstance(first.get("data"), dict)

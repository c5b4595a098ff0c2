"""Table builders and number formats used by more than one report section."""

from __future__ import annotations

import numpy as np

from auditor.reporting import Column, Table


def fmt(v) -> str:
    return "—" if v is None else f"{v:.3f}"


def mean_of(values: list) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def sum_of(values: list) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.sum(vals)) if vals else None


def nested_table(key: str, data: dict, level_names: list[str]) -> Table:
    """A table from nested dicts whose leaves are numbers: one row per path of dict keys.

    E.g. {"train": {"de": {"sentences": 3}}} -> columns split, lang, sentences.
    """
    rows: list[tuple[list[str], dict]] = []

    def walk(node: dict, path: list[str]) -> None:
        leaves = {k: v for k, v in node.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if leaves:
            rows.append((path, leaves))
        for k, v in node.items():
            if isinstance(v, dict):
                walk(v, [*path, str(k)])

    walk(data, [])
    depth = max((len(p) for p, _ in rows), default=0)
    fields: list[str] = []
    for _, leaves in rows:
        fields += [f for f in leaves if f not in fields]
    names = (level_names + [f"level {i + 1}" for i in range(len(level_names), depth)])[:depth]
    cols = [Column(n) for n in names] + [Column(f.replace("_", " "), "num", ",.6g") for f in fields]
    out = [[*p, *([""] * (depth - len(p))), *[leaves.get(f) for f in fields]] for p, leaves in rows]
    return Table(key, cols, out)


def details_table(key: str, section: dict, shown: set[str]) -> Table:
    """The scalar fields of a metrics section not shown elsewhere, as (field, value) rows."""
    rows = []
    for k, v in section.items():
        if k in shown or isinstance(v, (dict, list)) or v is None:
            continue
        text = ("yes" if v else "no") if isinstance(v, bool) else (f"{v:,.6g}" if isinstance(v, (int, float)) else str(v))
        rows.append([k.replace("_", " "), text])
    return Table(key, [Column("detail"), Column("value")], rows)


def counts_table(key: str, title: str, counts: dict) -> Table:
    """Two columns (name, count) from {name: count}; {name: {field: n}} becomes one column per field."""
    if counts and all(isinstance(v, dict) for v in counts.values()):
        return nested_table(key, counts, [title])
    rows = [[str(k), v] for k, v in counts.items()]
    return Table(key, [Column(title), Column("issues" if key.startswith("issues") else "count", "num", ",d")], rows)


def loss_table(key: str, what: str, caption: str, rows: list[dict]) -> Table:
    cols = [Column(what), Column("count", "num", ",d"), Column("mean loss", "num"), Column("summed loss", "num", ",.2f")]
    return Table(key, cols, [[r[what], r.get("count"), r.get("mean"), r.get("sum")] for r in rows], caption)

"""Dataclasses back from the JSON dicts their to_dict() wrote (metrics.json's sections).

`fields_from_dict` is the one rule every section's from_dict follows: unknown keys are
ignored (a newer run's section still loads), missing fields take their defaults (an older
run's section still loads), a missing required field is a KeyError and a number, text or
container of the wrong kind a TypeError, which the metrics reader turns into one DataError
line naming the section.
"""

from __future__ import annotations

import dataclasses
from typing import Any

# the JSON kind each simple annotation accepts (a float field also takes an int: JSON writes 1.0
# as 1.0, but hand-written or older sections may say 1)
_KINDS: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "dict": (dict,),
    "list": (list,),
    "tuple": (list, tuple),
}


def fields_from_dict(cls: type, d: Any, **converted: Any) -> dict[str, Any]:
    """The keyword arguments of dataclass `cls` from the dict `d`.

    converted: fields the caller already turned into their records (nested rows, paths);
    they are taken as given. Every other field is d's value, checked against the kind its
    annotation names (None always passes: metrics.json writes NaN as null).
    """
    if not isinstance(d, dict):
        raise TypeError(f"{cls.__name__}: a JSON {type(d).__name__}, not an object")
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.name in converted:
            out[f.name] = converted[f.name]
            continue
        if f.name not in d:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise KeyError(f.name)
            continue
        value = d[f.name]
        kinds = _kinds(f.type)
        if value is not None and kinds and not isinstance(value, kinds):
            raise TypeError(f"{f.name} is a {type(value).__name__}, not {f.type}")
        out[f.name] = value
    return out


def _kinds(annotation: Any) -> tuple[type, ...]:
    """The JSON kinds of an annotation such as "int", "float | None" or "dict[str, int]";
    () when it names something else (then the value is not checked)."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    kinds: tuple[type, ...] = ()
    for part in text.split("|"):
        part = part.strip()
        if part == "None":
            continue
        base = _KINDS.get(part.split("[", 1)[0])
        if base is None:
            return ()
        kinds += base
    return kinds

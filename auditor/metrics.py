"""metrics.json: every number the report shows, one section per stage.

Readers get typed records, never the raw dicts: `read_metrics(run_dir).section(RetrainResult)`
is a RetrainResult or None (Metrics). Each record's from_dict reads what its to_dict wrote,
old runs' sections included (auditor.records).

Stages update their own section with a read-modify-write under a lock file, then an
atomic rename, so two processes (e.g. two folds on one machine) never lose a section.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
from pathlib import Path
from typing import Any, TypeVar

from auditor.atomic import write_text_atomic
from auditor.errors import DataError
from auditor.run_dir import METRICS as FILENAME


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: write them as null so every reader can parse the file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _clean(value.item())
    return value


def _read_raw(run_dir: str | os.PathLike) -> dict:
    """The run's metrics.json as parsed JSON ({} when there is none); DataError when it is not a JSON object."""
    path = Path(run_dir) / FILENAME
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: corrupt ({_first_line(err)}); {_REBUILD}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: not a metrics file (a JSON {type(data).__name__}, not an object); {_REBUILD}")
    return data


R = TypeVar("R")


class Metrics:
    """metrics.json read back: each section as its typed record, None where the run has none.

    A record class names its section (`SECTION = "retrain"`) and reads its own to_dict()
    back (`from_dict`, by the rule of auditor.records): `read_metrics(run_dir).section(RetrainResult)`.
    The records live beside the code that makes them; this module imports none of them, so
    any module may read metrics without an import cycle. A section is parsed when first
    asked for: a damaged one stops only the reader that needs it, with one DataError line
    naming the file and the section. `present` names the sections the file holds.
    """

    def __init__(self, data: dict | None = None, path: Path | None = None) -> None:
        self._data = dict(data or {})
        self._path = path or Path(FILENAME)
        self._parsed: dict[str, Any] = {}

    @property
    def present(self) -> frozenset[str]:
        return frozenset(self._data)

    def __contains__(self, name: str) -> bool:
        return name in self._data

    def without(self, *sections: str) -> Metrics:
        """The same metrics less some sections (the report never reads its own)."""
        return Metrics({k: v for k, v in self._data.items() if k not in sections}, self._path)

    def section(self, record: type[R]) -> R | None:
        """metrics.json[record.SECTION] as a `record`, None when the file has no such section."""
        name = record.SECTION  # type: ignore[attr-defined]
        if name not in self._parsed:
            self._parsed[name] = self._parse(name, record)
        return self._parsed[name]

    def _parse(self, name: str, record: type) -> Any:
        raw = self._data.get(name)
        if raw is None:
            return None
        try:
            return record.from_dict(raw)  # type: ignore[attr-defined]
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
            what = f"missing field {err}" if isinstance(err, KeyError) else _first_line(err)
            raise DataError(f'{self._path}: section "{name}" is damaged ({what}); {_REBUILD}') from None


def read_metrics(run_dir: str | os.PathLike) -> Metrics:
    """The run's metrics.json, read section by section as typed records (Metrics); DataError
    when the file is not a JSON object, or, on access, when a section is damaged."""
    return Metrics(_read_raw(run_dir), Path(run_dir) / FILENAME)


# every stage rewrites its own section, and --from load (unlike --force) reuses finished
# cross-validation folds
_REBUILD = "move it away and run the pipeline again with --from load (--force also recomputes the folds) to rebuild it"


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


@contextlib.contextmanager
def _locked(run_dir: Path):
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / f".{FILENAME}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def update_metrics(run_dir: str | os.PathLike, section: str, value: Any) -> None:
    """Replace one top-level section of run_dir/metrics.json."""
    run_dir = Path(run_dir)
    with _locked(run_dir):
        data = _read_raw(run_dir)
        data[section] = _clean(value)
        write_text_atomic(run_dir / FILENAME, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def write_section(run_dir: str | os.PathLike, record: Any) -> None:
    """Replace the section `record` names (its SECTION) with record.to_dict()."""
    update_metrics(run_dir, record.SECTION, record.to_dict())


def drop_metrics(run_dir: str | os.PathLike, sections: list[str]) -> None:
    run_dir = Path(run_dir)
    if not (run_dir / FILENAME).exists():
        return
    with _locked(run_dir):
        data = _read_raw(run_dir)
        for s in sections:
            data.pop(s, None)
        write_text_atomic(run_dir / FILENAME, json.dumps(data, indent=2, ensure_ascii=False) + "\n")

"""Digests of what a stage reads outside the run folder: data files, truth files, a disk
folder, a local model folder. They join the stage's cache key, so fixing a typo in a data
file or replacing a model folder at the same path runs the stage again.

Cheap: a file's content hash is kept in RUN_DIR/.stages/digests.json beside its size and
mtime; while both are unchanged the hash is reused, otherwise the file is read again. A copy
that keeps size and mtime (cp -p of an edited file onto the old one) is the one change this
does not see; --force sees it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from auditor.atomic import write_text_atomic

MISSING = "missing"
_CHUNK = 1 << 20


class DigestCache:
    """path -> (size, mtime_ns, sha256), persisted in one JSON file of the run folder."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, list] = {}
        self._dirty = False
        if path is not None:
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
                self._entries = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self._entries = {}

    def file(self, path: Path) -> str:
        try:
            st = path.stat()
        except OSError:
            return MISSING
        key = str(path.resolve())
        hit = self._entries.get(key)
        if isinstance(hit, list) and len(hit) == 3 and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return str(hit[2])
        h = hashlib.sha256()
        try:
            with open(path, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    h.update(chunk)
        except OSError:
            return MISSING
        digest = h.hexdigest()[:16]
        self._entries[key] = [st.st_size, st.st_mtime_ns, digest]
        self._dirty = True
        return digest

    def tree(self, path: Path, names: tuple[str, ...] | None = None) -> str:
        """A file's digest, or a folder's: every file under it (or only those named), by
        relative path. Hidden files (.cache, .lock) are not content."""
        path = Path(path)
        if path.is_file():
            return self.file(path)
        if not path.is_dir():
            return MISSING
        h = hashlib.sha256()
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if name.startswith(".") or (names is not None and name not in names and not name.endswith(names)):
                    continue
                f = Path(root) / name
                h.update(f"{f.relative_to(path)}\0{self.file(f)}\0".encode())
        return h.hexdigest()[:16]

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.path, json.dumps(self._entries, sort_keys=True))
        self._dirty = False


def _paths(files: dict | None, languages) -> list[str]:
    out: list[str] = []
    for split in sorted(files or {}):
        value = files[split]
        for p in value if isinstance(value, list) else [value]:
            if "://" in p:
                out.append(p)  # a URL: its name is all we know here
            elif "{lang}" in p:
                out += [p.replace("{lang}", lang) for lang in sorted(languages)]
            else:
                out.append(p)
    return out


def data_digest(cfg, cache: DigestCache) -> str:
    """What the load stage reads: data.files, data.truth and a disk folder (by content); a Hub
    dataset by its name and revision (resolved by the Hub at load time, so only a pinned
    revision is part of the key); synthetic data is all config."""
    data = cfg.data
    parts: dict[str, str] = {}
    for p in _paths(data.files, data.languages) + _paths(data.truth, data.languages):
        parts[p] = p if "://" in p else cache.tree(Path(p))
    if data.source == "disk" and data.path:
        parts[data.path] = cache.tree(Path(data.path))
    if not parts:
        return ""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


# what in a model folder changes what it computes: its config, weights and tokenizer
_MODEL_FILES = (".json", ".safetensors", ".bin", ".model", ".txt", ".pt")


def model_digest(name: str, cache: DigestCache | None = None) -> str:
    """Content digest of a local model folder ("" for a Hub id or the built-in tiny model,
    which the config names completely)."""
    path = Path(name)
    if not path.is_dir():
        return ""
    return (cache or DigestCache(None)).tree(path, _MODEL_FILES)


def file_digest(path: str | None) -> str:
    """Digest of one small file a stage reads beside its config: a verified sample or a
    verified test file ("" without one; "missing" for a path that does not exist, so the
    stage runs and reports it)."""
    if path is None:
        return ""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return "missing"

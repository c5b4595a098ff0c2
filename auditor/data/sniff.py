"""What `auditor inspect SOURCE` means: demo, a pipeline YAML, a data file or a folder.

Sniffs the split from file names, the format from suffixes and the languages from the data
or from per-language subfolders, so inspect needs no pipeline file.
"""

from __future__ import annotations

from pathlib import Path

from auditor.config import DataConfig
from auditor.errors import DataError

_SPLIT_WORDS = (("test", "test"), ("valid", "validation"), ("dev", "validation"), ("train", "train"))


def split_of(path: str | Path) -> str:
    """The split a file name suggests (train.conll, de-dev.tsv, ...); "train" when none."""
    name = Path(path).name.lower()
    return next((split for word, split in _SPLIT_WORDS if word in name), "train")


def inspect_config(source: str, fmt: str | None = None, lang: str | None = None) -> DataConfig:
    """A DataConfig for `auditor inspect`: demo/synthetic, a pipeline YAML, a file or a folder.

    Every split found is kept, every language found is listed (fraction 1.0) unless `lang`
    selects one, and IOB2 violations are repaired so they can be counted and shown.
    """
    if source in ("demo", "synthetic") or fmt == "synthetic":
        cfg = DataConfig()
        return cfg.model_copy(update={"languages": {lang: 1.0}}) if lang else cfg
    path = Path(source)
    if path.suffix in (".yaml", ".yml") and fmt is None:
        from auditor.config import load_config

        cfg = load_config(path).data.model_copy(update={"repair_iob": True})
        if lang:
            cfg.languages = {lang: cfg.languages.get(lang, 1.0)}
        return cfg
    if not path.exists():
        raise DataError(f"{source}: no such file or folder (or use `demo`)")
    if path.is_dir() and fmt in (None, "disk") and _is_disk(path):
        return _with_found_languages(DataConfig(source="disk", path=str(path), splits=_disk_splits(path)), lang)
    from auditor.data.formats import sniff

    files = {split_of(path): str(path)} if path.is_dir() and sniff(path) == "brat" else _files_of(path)
    order = ["train", "validation", "test"]
    splits = sorted(files, key=lambda s: order.index(s) if s in order else len(order))
    fmt = fmt or _format_of(files)
    cfg = DataConfig(source=fmt, files=files, splits=splits, audit=splits[:1], train_splits=splits[:1])
    return _with_found_languages(cfg, lang)


def _is_disk(path: Path) -> bool:
    return (path / "dataset_dict.json").is_file() or (path / "dataset_info.json").is_file()


def _disk_splits(path: Path) -> list[str]:
    import json

    if (path / "dataset_dict.json").is_file():
        return json.loads((path / "dataset_dict.json").read_text())["splits"]
    return ["train"]


def _format_of(files: dict[str, str]) -> str:
    from auditor.data.sources import detect_format

    # by name only when it is a "{lang}" pattern, not an existing path (a tool's JSON is told by its content)
    first = Path(next(iter(files.values())))
    return detect_format(first if first.exists() else first.name)


def _files_of(path: Path) -> dict[str, str]:
    """split -> path (with {lang} for per-language subfolders such as panx/de/train.jsonl.gz)."""
    if path.is_file():
        return {split_of(path): str(path)}
    found = _data_files(path)
    if found:
        return {split_of(p): str(p) for p in found}
    subdirs = sorted(d for d in path.iterdir() if d.is_dir() and _data_files(d))
    if subdirs:
        # language folders: keep the file names of the first one as the pattern
        return {split_of(p): str(path / "{lang}" / p.name) for p in _data_files(subdirs[0])}
    raise DataError(f"{path}: no data files (.conll/.iob/.tsv/.txt/.jsonl/.parquet, optionally .gz) found")


def _data_files(folder: Path) -> list[Path]:
    from auditor.data.sources import detect_format

    out = []
    for p in sorted(folder.iterdir()):
        if p.is_file() and not p.name.endswith(".md"):
            try:
                detect_format(p)
            except DataError:
                continue
            out.append(p)
    seen: set[str] = set()
    unique = []
    for p in out:  # one file per split
        if split_of(p) not in seen:
            seen.add(split_of(p))
            unique.append(p)
    return unique


def _with_found_languages(cfg: DataConfig, lang: str | None) -> DataConfig:
    """List the languages the data holds (or just `lang`) so nothing is dropped."""
    from auditor.data.build import read_splits

    cfg = cfg.model_copy(update={"repair_iob": True, "default_lang": lang or "und", "languages": {lang or "und": 1.0}})
    if lang:
        return cfg
    files = cfg.files or {}
    if any("{lang}" in str(v) for v in files.values()):
        folder = Path(str(next(iter(files.values()))).split("{lang}")[0])
        langs = sorted(d.name for d in folder.iterdir() if d.is_dir())
    else:
        langs = sorted({s.lang for sents in read_splits(cfg).values() for s in sents})
    return cfg.model_copy(update={"languages": {x: 1.0 for x in langs}})

"""The cleaned corpus out of the run: HF dataset folder, Parquet, CoNLL or JSONL, plus a card.

Every export is a folder: the data (one file per split, or a save_to_disk folder), a dataset
card README.md (source, languages, splits, label set, what the review changed) and, when the
run has one, the changelog. The folder is built in a temporary folder next to `out` and
renamed onto it, so a crash never leaves a half export; file names come from split names
that are checked, so nothing is written outside `out`. A non-empty `out` is replaced only
with force, and only if it is an earlier export (it carries EXPORT_MARKER): --force never
deletes a folder this module did not write.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from datasets import Dataset, DatasetDict, Features, Value
from datasets import Sequence as HFSequence

from auditor import run_dir as run_dir_layout
from auditor.atomic import atomic_path
from auditor.cleaning import CHANGED_COLUMN, ORIGINAL_COLUMN, ApplySummary
from auditor.data.corpus import label_names
from auditor.data.validate import check_split_name
from auditor.errors import AuditorError, DataError
from auditor.review.summary import ReviewSummary

FORMATS = ("hf", "parquet", "conll", "jsonl")
# the annotation tools' formats (auditor.data.formats), with the source's text layout
TOOL_FORMATS = ("spacy", "prodigy", "labelstudio", "doccano", "brat")
ALL_FORMATS = FORMATS + TOOL_FORMATS
EXPORT_MARKER = ".auditor-export.json"
CARD_NAME = "README.md"
CHANGELOG_NAME = run_dir_layout.CHANGELOG
# the string copy of the tags in Parquet exports, for readers that ignore ClassLabel metadata
TAG_STRINGS_COLUMN = "ner_tags_str"
_REPO_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*$")
_SUFFIX = {
    "parquet": ".parquet", "conll": ".conll", "jsonl": ".jsonl",
    "spacy": ".spacy", "prodigy": ".jsonl", "labelstudio": ".json", "doccano": ".jsonl", "brat": "",
}


@dataclass
class CardInfo:
    """What the dataset card says beyond what the data itself shows.

    source: one line on where the corpus came from; review/apply: metrics.json sections
    of the run (None when unknown); changelog: a changelog.parquet to ship with the export.
    """

    name: str = "auditor-cleaned"
    source: str = "unknown"
    review: ReviewSummary | None = None
    apply: ApplySummary | None = None
    changelog: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_run_dir(cls, run_dir: str | os.PathLike) -> CardInfo:
        """Read config.yaml, metrics.json and changelog.parquet of a run folder (each optional)."""
        from auditor.metrics import read_metrics

        rd = run_dir_layout.RunDir(run_dir)
        try:
            cfg = rd.read_config()
        except AuditorError:  # a card says less about an unreadable config; the export goes on
            cfg = None
        metrics = read_metrics(rd.path)
        changelog = rd.changelog
        return cls(
            name=str((cfg.name if cfg is not None else None) or rd.name),
            source=_describe_source(cfg.data.model_dump(mode="json") if cfg is not None else {}),
            review=metrics.section(ReviewSummary),
            apply=metrics.section(ApplySummary),
            changelog=changelog if changelog.is_file() else None,
        )


def _describe_source(data: Mapping) -> str:
    source = data.get("source")
    if source == "hub":
        return f"Hugging Face dataset `{data.get('dataset')}`, configuration `{data.get('config')}`"
    if source == "synthetic":
        return "the synthetic demo corpus of auditor (template sentences with recorded label noise)"
    if source == "disk":
        return f"a `datasets` folder ({_public_name(str(data.get('path') or ''))})"
    if source in ("conll", "jsonl", "parquet", *TOOL_FORMATS):
        files = data.get("files") or {}
        listed = "; ".join(
            f"{k}: {', '.join(_public_name(p) for p in ([v] if isinstance(v, str) else v))}" for k, v in files.items()
        )
        return f"local {source} files ({listed})"
    return "unknown"


def _public_name(path: str) -> str:
    """A local path as the card shows it: the file name (with a "{lang}" folder), never the
    folders above it, which name the machine (the card is meant for the Hub)."""
    if "://" in path:
        return path
    p = Path(path)
    return f"{p.parent.name}/{p.name}" if "{lang}" in p.parent.name else p.name


# --- destination ----------------------------------------------------------------------


def _check_destination(out: Path, force: bool) -> None:
    if out.is_symlink():
        raise AuditorError(f"{out}: is a symbolic link; give the real folder as --out")
    if out.exists() and not out.is_dir():
        raise AuditorError(f"{out}: exists and is a file; choose another --out")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise AuditorError(f"{out}: not empty; pass --force to replace an earlier export, or choose another --out")
        if not (out / EXPORT_MARKER).is_file():
            raise AuditorError(
                f"{out}: not empty and not an earlier auditor export (no {EXPORT_MARKER}); "
                "refusing to replace it even with --force; choose another --out"
            )


def _inside(folder: Path, name: str) -> Path:
    """folder/name, refusing any name that would land outside folder."""
    try:
        check_split_name(name, "split name")
    except DataError as err:
        raise AuditorError(str(err)) from None
    path = folder / name
    if path.resolve().parent != folder.resolve():
        raise AuditorError(f"split name {name!r} would write outside {folder}")
    return path


# --- writers ----------------------------------------------------------------------------


def _columns(ds: Dataset, *names: str) -> dict[str, list]:
    """Whole columns as Python lists in one Arrow read (iterating a Column goes row by row)."""
    return ds.select_columns(list(names))[:]


def _string_tags(ds: Dataset) -> list[list[str]]:
    names = ds.features["ner_tags"].feature.names
    return [[names[t] for t in tags] for tags in _columns(ds, "ner_tags")["ner_tags"]]


def _write_hf(corpus: DatasetDict, folder: Path) -> None:
    for split in corpus:
        _inside(folder, split)
    corpus.save_to_disk(str(folder))


def _write_parquet(ds: Dataset, path: Path) -> None:
    # built in memory from the Arrow view: datasets' own map/flatten would write cache files
    # into the source dataset's folder, i.e. outside `out`
    table = ds.with_format("arrow")[:]
    table = table.append_column(TAG_STRINGS_COLUMN, pa.array(_string_tags(ds), pa.list_(pa.string())))
    features = Features({**ds.features, TAG_STRINGS_COLUMN: HFSequence(Value("string"))})
    # "huggingface" metadata restores ClassLabel in datasets; "label_names" serves everyone else
    meta = dict(features.arrow_schema.metadata or {})
    meta[b"label_names"] = json.dumps(label_names(ds)).encode()
    pq.write_table(table.replace_schema_metadata(meta), path)


def _write_conll(ds: Dataset, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        cols = _columns(ds, "id", "tokens")
        for id_, tokens, tags in zip(cols["id"], cols["tokens"], _string_tags(ds)):
            bad = next((t for t in tokens if any(c in t for c in "\t\n\r")), None)
            if bad is not None:
                raise AuditorError(
                    f"sentence {id_}: token {bad!r} contains a tab or line break, which CoNLL cannot hold; "
                    "export as jsonl or parquet"
                )
            fh.writelines(f"{tok}\t{tag}\n" for tok, tag in zip(tokens, tags))
            fh.write("\n")


def _write_jsonl(ds: Dataset, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        cols = _columns(ds, "id", "tokens", "lang")
        for id_, tokens, tags, lang in zip(cols["id"], cols["tokens"], _string_tags(ds), cols["lang"]):
            row = {"id": id_, "tokens": list(tokens), "ner_tags": tags, "lang": lang}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


_WRITERS = {"parquet": _write_parquet, "conll": _write_conll, "jsonl": _write_jsonl}


# --- the card -----------------------------------------------------------------------------


def _split_rows(corpus: DatasetDict) -> list[str]:
    rows = ["| split | sentences | tokens | by language | changed sentences | changed tokens |", "|---|---:|---:|---|---:|---:|"]
    for split, ds in corpus.items():
        cols = _columns(ds, "tokens", "lang")
        tokens = sum(len(t) for t in cols["tokens"])
        langs = ", ".join(f"{k}: {v}" for k, v in sorted(Counter(cols["lang"]).items()))
        changed_s = changed_t = "–"
        if CHANGED_COLUMN in ds.column_names and ORIGINAL_COLUMN in ds.column_names:
            tags = _columns(ds, "ner_tags", ORIGINAL_COLUMN, CHANGED_COLUMN)
            changed_s = str(sum(tags[CHANGED_COLUMN]))
            pairs = zip(tags["ner_tags"], tags[ORIGINAL_COLUMN])
            changed_t = str(sum(sum(a != b for a, b in zip(n, o)) for n, o in pairs))
        rows.append(f"| {split} | {len(ds)} | {tokens} | {langs} | {changed_s} | {changed_t} |")
    return rows


def _files_line(fmt: str, corpus: DatasetDict) -> str:
    if fmt == "hf":
        return "A `datasets.save_to_disk` folder: `datasets.load_from_disk(<this folder>)`."
    if fmt in TOOL_FORMATS:
        where = ", ".join(f"`{s}{_SUFFIX[fmt] or '/'}`" for s in corpus)
        return f"{fmt} files, one per split ({where}), in the tool's own format with the source's text and offsets."
    files = ", ".join(f"`{s}{_SUFFIX[fmt]}`" for s in corpus)
    how = {
        "parquet": f"Parquet, one file per split ({files}); `ner_tags` are ClassLabel ids (names in the schema "
        f"metadata) and `{TAG_STRINGS_COLUMN}` holds the same tags as strings.",
        "conll": f"CoNLL, one file per split ({files}): `token<TAB>tag` per line, a blank line between sentences.",
        "jsonl": f"JSON Lines, one file per split ({files}): "
        '`{"id", "tokens", "ner_tags" (tag strings), "lang"}` per line.',
    }
    return how[fmt]


def _changes_lines(card: CardInfo, has_changelog: bool) -> list[str]:
    out = []
    ap = card.apply
    if ap is not None:
        actions = ", ".join(f"{a}: {n}" for a, n in ap.by_action.items()) or "none"
        out.append(
            f"The review recorded {ap.decisions} decisions ({actions}); applying them changed "
            f"{ap.changed_sentences} sentences and {ap.changed_tokens} tags."
        )
        if ap.stale:
            out.append(f"{ap.stale} stale decisions (their sentence had changed since scoring) were not applied.")
        if ap.verified_sentences:
            out.append(
                f"{ap.verified_sentences} sentences were verified word by word by a curator (a random sample) and carry "
                f"the curator's tags ({ap.verified_changed} of them changed)."
            )
    rv = card.review
    unattended = rv is not None and (rv.unattended or (rv.curator or "").startswith("policy:"))
    if unattended:
        out.append(rv.note or f"Decisions were made by the unattended '{rv.policy}' policy, not by a person.")
    elif rv is not None:
        out.append(f"Decisions were made by curators in the auditor review UI (policy: {rv.policy}).")
    if has_changelog:
        out.append(
            f"Every change (sentence id, word span, tags before and after, action, curator, time) is listed in "
            f"[{CHANGELOG_NAME}]({CHANGELOG_NAME})."
        )
    else:
        out.append("No changelog is available for this export.")
    out.append(f"`{ORIGINAL_COLUMN}` (hf and parquet exports) keeps the tags before the review; `{CHANGED_COLUMN}` marks edited sentences.")
    return out


def dataset_card(corpus: DatasetDict, fmt: str, card: CardInfo, has_changelog: bool) -> str:
    """README.md text: YAML metadata for the Hub, then source, files, splits, labels and changes."""
    names = label_names(corpus)
    langs = sorted({lang for ds in corpus.values() for lang in _columns(ds, "lang")["lang"]})
    meta = {
        "language": langs,
        "pretty_name": card.name,
        "task_categories": ["token-classification"],
        "task_ids": ["named-entity-recognition"],
        "tags": ["ner", "label-cleaning", "auditor"],
        **card.extra,
    }
    lines = [
        "---",
        yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
        f"# {card.name}",
        "",
        "A named-entity recognition corpus whose labels were audited and cleaned with auditor "
        "(out-of-fold model predictions rank likely label errors; each decision is logged).",
        "",
        f"- **Source:** {card.source}",
        f"- **Languages:** {', '.join(langs)}",
        f"- **Files:** {_files_line(fmt, corpus)}",
        f"- **Label set ({len(names)}, IOB2):** {', '.join(f'`{n}`' for n in names)}",
        "",
        "## Splits",
        "",
        *_split_rows(corpus),
        "",
        "## What changed",
        "",
        *(f"- {line}" for line in _changes_lines(card, has_changelog)),
        "",
    ]
    return "\n".join(lines)


# --- public -------------------------------------------------------------------------------


def export_corpus(
    cleaned: DatasetDict,
    fmt: str,
    out: str | os.PathLike,
    force: bool = False,
    card: CardInfo | None = None,
    run_dir: str | os.PathLike | None = None,
) -> Path:
    """Write `cleaned` to the folder `out` in format hf | parquet | conll | jsonl or a tool's format
    (spacy | prodigy | labelstudio | doccano | brat, with the run's source layouts); returns out.

    card: what the dataset card says about source and review (default: read from run_dir,
    else minimal). A non-empty `out` needs force and must be an earlier export; every failure
    is one AuditorError line and leaves `out` as it was.
    """
    if fmt not in ALL_FORMATS:
        raise AuditorError(f"export format {fmt!r} is not one of {', '.join(ALL_FORMATS)}")
    out = Path(out)
    _check_destination(out, force)
    if card is None:
        card = CardInfo.from_run_dir(run_dir) if run_dir is not None else CardInfo()
    with atomic_path(out, is_dir=True) as tmp:
        if fmt == "hf":
            _write_hf(cleaned, tmp)
        elif fmt in TOOL_FORMATS:
            from auditor.data.formats import write_split
            from auditor.data.formats.layouts import source_layouts

            cfg = run_dir_layout.RunDir(run_dir).read_config() if run_dir is not None else None
            data = cfg.data if cfg is not None else None
            layouts = source_layouts(data)
            for split, ds in cleaned.items():
                write_split(fmt, ds, _inside(tmp, split + _SUFFIX[fmt]), layouts, data.offsets if data is not None else None)
        else:
            for split, ds in cleaned.items():
                _WRITERS[fmt](ds, _inside(tmp, split + _SUFFIX[fmt]))
        has_changelog = card.changelog is not None and Path(card.changelog).is_file()
        if has_changelog:
            shutil.copyfile(card.changelog, tmp / CHANGELOG_NAME)
        (tmp / CARD_NAME).write_text(dataset_card(cleaned, fmt, card, has_changelog), encoding="utf-8")
        marker = {"format": fmt, "splits": {s: len(ds) for s, ds in cleaned.items()}, "name": card.name}
        (tmp / EXPORT_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    return out


def export_model(model_dir: str | os.PathLike, out: str | os.PathLike, force: bool = False, **about: str) -> Path:
    """Copy a saved tagger folder to `out` (same destination rules as export_corpus: a
    non-empty `out` is replaced only with force, and only if it is an earlier export).

    about: what the marker records (model, experiment), so a later --force recognises it.
    """
    out = Path(out)
    _check_destination(out, force)
    with atomic_path(out, is_dir=True) as tmp:
        shutil.copytree(model_dir, tmp, dirs_exist_ok=True)
        marker = {"format": "model", **about}
        (tmp / EXPORT_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    return out


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in ("1", "ON", "YES", "TRUE")


def push_to_hub(
    source: DatasetDict | str | os.PathLike,
    repo_id: str,
    private: bool = True,
    token: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Upload a cleaned corpus (a DatasetDict or a save_to_disk folder, e.g. an hf export) with
    datasets' push_to_hub; with an export folder its README.md card replaces the generated one's text.

    env: where HF_TOKEN / HF_HUB_OFFLINE are read (default os.environ; the stored `hf auth login`
    token is consulted only then). Checks run before any network access; every failure is
    one AuditorError line. Returns the dataset's URL.
    """
    env = os.environ if env is None else env
    if not _REPO_ID.match(repo_id) or ".." in repo_id or "--" in repo_id:
        raise AuditorError(f"{repo_id!r} is not a Hub repository id; use owner/name, e.g. me/panx-cleaned")
    card_path: Path | None = None
    if isinstance(source, DatasetDict):
        dataset = source
    else:
        folder = Path(source)
        if not (folder / "dataset_dict.json").is_file():
            raise AuditorError(f"{folder}: not a datasets folder; push an hf export (auditor export RUN --format hf)")
        from datasets import load_from_disk

        dataset = load_from_disk(str(folder))
        card_path = folder / CARD_NAME if (folder / CARD_NAME).is_file() else None
    if _truthy(env.get("HF_HUB_OFFLINE")) or _truthy(env.get("HF_DATASETS_OFFLINE")):
        raise AuditorError(f"cannot push to {repo_id}: offline mode is on (HF_HUB_OFFLINE/HF_DATASETS_OFFLINE); unset it")
    if token is None:
        token = env.get("HF_TOKEN")
    if token is None and env is os.environ:
        from huggingface_hub import get_token

        token = get_token()
    if not token:
        raise AuditorError(f"cannot push to {repo_id}: no Hugging Face token; run `hf auth login` or set HF_TOKEN")
    try:
        dataset.push_to_hub(repo_id, private=private, token=token)
        if card_path is not None:
            _push_card(card_path, repo_id, token)
    except Exception as err:  # hub errors come in many kinds (auth, network, offline, quota)
        first = (str(err).strip().splitlines() or [""])[0][:200]
        raise AuditorError(f"push to {repo_id} failed ({type(err).__name__}: {first})") from None
    return f"https://huggingface.co/datasets/{repo_id}"


def _push_card(card_path: Path, repo_id: str, token: str) -> None:
    """Our card's text over the pushed card, keeping the metadata push_to_hub wrote (features, configs)."""
    from huggingface_hub import DatasetCard

    ours = DatasetCard(card_path.read_text(encoding="utf-8"))
    theirs = DatasetCard.load(repo_id, token=token)
    merged = theirs.data.to_dict()
    merged.update(ours.data.to_dict())
    card = DatasetCard(f"---\n{yaml.safe_dump(merged, sort_keys=False, allow_unicode=True)}---\n{ours.text}")
    card.push_to_hub(repo_id, token=token)

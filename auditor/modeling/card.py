"""A saved tagger's model card (README.md with Hub metadata) and pushing it to the Hub.

The card's YAML front matter is written by huggingface_hub's ModelCardData, so the Hub
reads the languages, tags, datasets and the per-language F1 (model-index) from it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from auditor.atomic import write_text_atomic
from auditor.errors import ModelError

CARD_FILE = "README.md"
TAGS = ["token-classification", "ner", "auditor"]


def _labels(model_dir: Path) -> list[str]:
    """The model's tag set from config.json (id2label in id order)."""
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    id2label = config.get("id2label") or {}
    return [id2label[k] for k in sorted(id2label, key=int)]


def _cleaning_lines(cleaning: Mapping | None) -> list[str]:
    if not cleaning:
        return ["Trained on the corpus as given (silver-standard labels, not audited)."]
    lines = ["Trained on a corpus whose labels were audited and corrected with `auditor`:", ""]
    lines += [f"- {key.replace('_', ' ')}: {value}" for key, value in cleaning.items()]
    return lines


def _card_body(
    name: str, base_model: str, languages: Sequence[str], train_sentences: int, labels: list[str],
    cleaning: Mapping | None, f1_by_lang: Mapping[str, float],
) -> str:
    lines = [
        f"# {name}",
        "",
        f"A named-entity tagger fine-tuned from `{base_model}` on {train_sentences} sentences "
        f"in {', '.join(languages)}.",
        "",
        "## Labels",
        "",
        ", ".join(f"`{t}`" for t in labels) if labels else "(not recorded)",
        "",
        "## Training data",
        "",
        *_cleaning_lines(cleaning),
        "",
        "## Evaluation",
        "",
    ]
    if f1_by_lang:
        lines += ["Entity-level micro F1 (seqeval) on each language's test split:", "", "| language | F1 |", "|---|---:|"]
        lines += [f"| {lang} | {f1:.3f} |" for lang, f1 in f1_by_lang.items()]
    else:
        lines.append("Not evaluated.")
    lines += [
        "",
        "## Use",
        "",
        "```python",
        "from transformers import pipeline",
        f'tagger = pipeline("token-classification", model="{name}", aggregation_strategy="simple")',
        "```",
        "",
        "The labels are word-level: predictions on a word's first sub-word count.",
        "",
    ]
    return "\n".join(lines)


def write_model_card(
    model_dir: str | os.PathLike,
    *,
    base_model: str,
    languages: Sequence[str],
    train_sentences: int,
    cleaning: dict | None,
    f1_by_lang: dict,
    datasets: Sequence[str] = (),
    name: str | None = None,
) -> Path:
    """Write model_dir/README.md: YAML front matter (language list, license unknown, tags
    token-classification/ner, datasets, metrics and a model-index with one F1 per test
    language) and a short description. Returns the path.

    cleaning: e.g. {"decisions": 120, "changed_sentences": 87}, or None for an uncleaned model
    f1_by_lang: test language -> entity F1 in [0, 1]
    datasets: dataset names for the metadata (e.g. "google/xtreme"); none for local data
    name: the model's name in the card (default: the folder name)
    """
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ModelError(f"{model_dir}: not a saved model (no config.json); save the model before writing its card")
    name = name or model_dir.name
    dataset_name = datasets[0] if datasets else "local corpus"
    eval_results = [
        EvalResult(
            task_type="token-classification",
            task_name="Named entity recognition",
            dataset_type=dataset_name,
            dataset_name=f"{dataset_name} ({lang})",
            dataset_config=lang,
            dataset_split="test",
            metric_type="f1",
            metric_name="entity F1 (seqeval)",
            metric_value=round(float(f1), 4),
        )
        for lang, f1 in f1_by_lang.items()
    ]
    data = ModelCardData(
        language=list(languages),
        license="unknown",
        library_name="transformers",
        pipeline_tag="token-classification",
        tags=list(TAGS),
        base_model=base_model if not Path(base_model).exists() else None,  # a local path means nothing on the Hub
        datasets=list(datasets) or None,
        metrics=["f1"],
        model_name=name,
        eval_results=eval_results or None,
    )
    # a local folder's full path would name the author's machine in a card meant for the Hub
    shown = base_model if not Path(base_model).exists() else f"{Path(base_model).name} (a local model)"
    body = _card_body(name, shown, languages, train_sentences, _labels(model_dir), cleaning, f1_by_lang)
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}")
    path = model_dir / CARD_FILE
    write_text_atomic(path, str(card))
    return path


def _offline() -> bool:
    return any(os.environ.get(v, "").upper() in ("1", "ON", "YES", "TRUE") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def push_model(model_dir: str | os.PathLike, repo_id: str, private: bool = True) -> str:
    """Upload a saved model folder (weights, tokenizer, README.md) to the Hub repo repo_id,
    creating it (private by default). Returns the repo URL.

    Raises ModelError with one line when offline, not logged in, or the upload fails.
    """
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ModelError(f"{model_dir}: not a saved model (no config.json); nothing to push")
    if "/" not in repo_id:
        raise ModelError(f"push: repo id '{repo_id}' must be 'user-or-org/name'")
    # huggingface_hub reads HF_HUB_OFFLINE once at import; check the environment now so a
    # late `export HF_HUB_OFFLINE=1` is honoured and nothing waits on the network
    if _offline():
        raise ModelError(f"push to {repo_id}: HF_HUB_OFFLINE is set; unset it (and `hf auth login`) to upload")
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError, OfflineModeIsEnabled

    api = HfApi()
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True)
        api.upload_folder(
            repo_id=repo_id,
            folder_path=model_dir,
            commit_message="Upload NER tagger trained with auditor",
            # .auditor-export.json marks an auditor export folder; it means nothing on the Hub
            ignore_patterns=["checkpoints/*", "*.lock", ".auditor-export.json"],
        )
    except OfflineModeIsEnabled:
        raise ModelError(f"push to {repo_id}: the Hub client is in offline mode; unset HF_HUB_OFFLINE") from None
    except HfHubHTTPError as err:
        status = getattr(getattr(err, "response", None), "status_code", None)
        hint = "; log in with `hf auth login` or set HF_TOKEN" if status in (401, 403) else ""
        raise ModelError(f"push to {repo_id} failed: {str(err).splitlines()[0]}{hint}") from None
    except LocalTokenNotFoundError:
        raise ModelError(f"push to {repo_id}: not logged in; run `hf auth login` or set HF_TOKEN") from None
    except Exception as err:  # noqa: BLE001 - transport errors (DNS, refused, timeout) come from the Hub client's HTTP library
        first = (str(err).splitlines() or [""])[0]
        raise ModelError(f"push to {repo_id} failed: cannot reach the Hub ({type(err).__name__}: {first})") from None
    return str(url)

"""Model and tokenizer factory: any Hugging Face encoder by name or folder, or the built-in
tiny model. Remote code is never trusted."""

from __future__ import annotations

import os
from pathlib import Path

from datasets import DatasetDict
from transformers import (
    AutoConfig,
    AutoModelForTokenClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from auditor.atomic import exclusive_lock
from auditor.config import ModelConfig
from auditor.errors import ModelError
from auditor.modeling.quiet import quiet_transformers  # also imported from here by training and probe
from auditor.modeling.tiny import build_tiny_model, tiny_model_is_current

TINY = "tiny"
TINY_DIR = "tiny-model"


def resolve_model(model_cfg: ModelConfig, corpus: DatasetDict, work_dir: Path, seed: int = 0) -> str:
    """The name or folder to load for model_cfg.name.

    "tiny": builds work_dir/"tiny-model" from the corpus once (rebuilt only when missing or
    built from other tiny settings) and returns its path. Otherwise checks the name can be
    found (a local folder with config.json, the local Hub cache, or the Hub when online) and
    returns it unchanged. Raises ModelError (one line) when it cannot be found.
    """
    if model_cfg.name == TINY:
        from auditor.distributed import barrier, is_main_process

        out = Path(work_dir) / TINY_DIR
        # every rank of a torchrun job gets here; one builds, the others wait for the folder.
        # `crossval --fold k` jobs started together are not ranks: the lock makes them take turns
        if is_main_process():
            with exclusive_lock(Path(work_dir) / f"{TINY_DIR}.lock"):
                if not tiny_model_is_current(out, model_cfg.tiny, model_cfg.max_length, seed):
                    build_tiny_model(corpus, model_cfg.tiny, model_cfg.max_length, out, seed)
        barrier()
        return str(out)
    check_model_available(model_cfg.name)
    return model_cfg.name


def _offline() -> bool:
    flags = (os.environ.get(v, "").upper() for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return any(f in ("1", "ON", "YES", "TRUE") for f in flags)


# why the Hub could not be reached, once this process found out ("" = it answered)
_hub_state: str | None = None
_HUB_TIMEOUT_S = 5.0


def hub_unreachable() -> str | None:
    """None when the Hub answers at all (any HTTP status), else why it cannot be reached.

    One request with a short timeout, once per process: without it, a lookup of a name that
    is not in the cache goes through the Hub client's retries with backoff (about 30 s of
    warnings) before it fails on a machine without network.
    """
    global _hub_state
    if _hub_state is None:
        from huggingface_hub import constants
        from huggingface_hub.utils import get_session

        try:
            get_session().head(constants.ENDPOINT, timeout=_HUB_TIMEOUT_S)
            _hub_state = ""
        except Exception as err:  # the HTTP library's connect/DNS/timeout errors
            _hub_state = f"{constants.ENDPOINT}: {type(err).__name__}: {_one_line(str(err))[:120]}"
    return _hub_state or None


def _local_only(name: str) -> bool:
    """Load from local files only: offline mode, or a Hub name while the Hub is unreachable
    (a local folder never needs the network, so it never costs a check)."""
    if _offline():
        return True
    return not Path(name).expanduser().exists() and hub_unreachable() is not None


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or os.sep in name.strip("/").replace("/", "", 1) or Path(name).exists()


def check_model_available(name: str) -> None:
    """Raise ModelError unless `name` is a usable model folder or Hub model (see resolve_model)."""
    path = Path(name).expanduser()
    if _looks_like_path(name):
        if not (path / "config.json").is_file():
            what = "no such folder" if not path.exists() else "the folder has no config.json"
            raise ModelError(
                f"model '{name}': {what} (looked at {path.resolve()}); "
                "give the folder of a saved model (save_pretrained) or a Hub name such as xlm-roberta-base"
            )
        return
    local_only = _local_only(name)
    try:
        with quiet_transformers():
            AutoConfig.from_pretrained(name, local_files_only=local_only, trust_remote_code=False)
    except Exception as err:  # OSError, HF hub/http errors, ValueError for remote-code models
        from huggingface_hub.constants import HF_HUB_CACHE

        unreachable = None if _offline() else hub_unreachable()
        if unreachable:
            raise ModelError(
                f"model '{name}' is not in the Hub cache {HF_HUB_CACHE} and the Hugging Face Hub cannot be reached "
                f"({unreachable}); fix: check the name, connect to the network, or give a local model folder"
            ) from None
        where = f"the Hub cache {HF_HUB_CACHE}" + ("" if local_only else " and the Hugging Face Hub")
        raise ModelError(
            f"model '{name}' not found in {where} ({type(err).__name__}); fix: check the name, "
            "`hf auth login` for a gated model, download it once and set HF_HUB_OFFLINE=1, "
            "or give a local model folder"
        ) from None


def _one_line(msg: str) -> str:
    return " ".join(msg.split())


def load_tokenizer(name_or_path: str) -> PreTrainedTokenizerFast:
    """The model's fast tokenizer (word_ids is needed for word alignment); ModelError otherwise."""
    try:
        with quiet_transformers():
            tok = AutoTokenizer.from_pretrained(name_or_path, local_files_only=_local_only(name_or_path), trust_remote_code=False)
    except Exception as err:
        msg = f"model '{name_or_path}': cannot load its tokenizer ({type(err).__name__}: {err})"
        raise ModelError(_one_line(msg)) from None
    if not tok.is_fast:
        raise ModelError(f"model '{name_or_path}': only a slow tokenizer exists; word alignment needs a fast one")
    return tok


def load_model(name_or_path: str, label_names: list[str]) -> PreTrainedModel:
    """An encoder with a token-classification head over label_names (id2label/label2id from the
    corpus). The head is new (randomly initialised from the current torch seed) unless the
    folder already holds a tagger with the same number of labels."""
    id2label = dict(enumerate(label_names))
    try:
        with quiet_transformers():
            return AutoModelForTokenClassification.from_pretrained(
                name_or_path,
                num_labels=len(label_names),
                id2label=id2label,
                label2id={n: i for i, n in id2label.items()},
                ignore_mismatched_sizes=True,
                local_files_only=_local_only(name_or_path),
                trust_remote_code=False,
            )
    except Exception as err:
        raise ModelError(_one_line(f"model '{name_or_path}': cannot load it ({type(err).__name__}: {err})")) from None

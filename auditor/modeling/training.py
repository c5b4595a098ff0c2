"""Fine-tuning a token-classification tagger with the Hugging Face Trainer.

Multi-GPU is the Trainer's own: run the same command under `accelerate launch` or
`torchrun`; nothing here knows about processes.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset
from seqeval.metrics import f1_score
from transformers import (
    AutoModelForTokenClassification,
    DataCollatorForTokenClassification,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Trainer,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_callback import PrinterCallback, ProgressCallback, TrainerCallback

from auditor.atomic import atomic_path
from auditor.config import ModelConfig, TrainingConfig
from auditor.distributed import is_main_process
from auditor.errors import ConfigError, ModelError
from auditor.modeling.alignment import (
    IGNORE_INDEX,
    encode_sentences,
    make_windows,
    special_tokens_layout,
    window_labels,
)
from auditor.modeling.factory import load_model, load_tokenizer, quiet_transformers
from auditor.progress import progress_bar

TAGGER_FILE = "tagger.json"


@dataclass
class TrainedTagger:
    """A fine-tuned tagger and what is needed to use it.

    label_names: the corpus label set in ClassLabel order (= model.config.id2label)
    eval_f1:     seqeval entity F1 on the eval set (None when trained without one)
    temperature: logits are divided by it before the softmax (1.0 = uncalibrated)
    """

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerFast
    label_names: list[str]
    eval_f1: float | None
    temperature: float = 1.0

    def save(self, out_dir: Path) -> None:
        """save_pretrained of model and tokenizer, plus tagger.json (temperature, eval_f1, labels).

        A no-op outside rank 0: under torchrun every rank holds the same trained model, and
        all of them writing one folder would race. Atomic: the folder is written under a
        temporary name and renamed, so a failed or killed save leaves the previous tagger whole."""
        if not is_main_process():
            return
        meta = {"label_names": self.label_names, "eval_f1": self.eval_f1, "temperature": self.temperature}
        out_dir = Path(out_dir)
        with atomic_path(out_dir, is_dir=True) as tmp:
            with quiet_transformers():
                self.model.save_pretrained(tmp)
                self.tokenizer.save_pretrained(tmp)
            (tmp / TAGGER_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
            # what else the folder holds (the epoch checkpoints training wrote there) moves along
            for entry in out_dir.iterdir() if out_dir.is_dir() else ():
                if not (tmp / entry.name).exists():
                    entry.rename(tmp / entry.name)


def load_tagger(path: str | Path) -> TrainedTagger:
    """A tagger saved by TrainedTagger.save (or any token-classification folder: labels from
    its config, temperature 1). Raises ModelError when the folder is not one."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise ModelError(f"{path}: not a saved tagger (no config.json); train one first or give its folder")
    try:
        with quiet_transformers():
            # never the folder's own code: a model folder is data, and loading it must not run a program
            model = AutoModelForTokenClassification.from_pretrained(path, trust_remote_code=False)
        meta_file = path / TAGGER_FILE
        meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
    except Exception as err:  # transformers raises ValueError/OSError/KeyError for foreign folders
        first = (str(err).strip().splitlines() or [""])[0][:200]
        raise ModelError(
            f"{path}: not a saved token-classification model ({type(err).__name__}: {first}); "
            "give a run directory or a model folder written by auditor or save_pretrained"
        ) from None
    labels = meta.get("label_names") or [model.config.id2label[i] for i in range(model.config.num_labels)]
    model.eval()
    return TrainedTagger(
        model=model,
        tokenizer=load_tokenizer(str(path)),
        label_names=list(labels),
        eval_f1=meta.get("eval_f1"),
        temperature=float(meta.get("temperature", 1.0)),
    )


def tagging_dataset(tokenizer: PreTrainedTokenizerFast, ds: Dataset, max_length: int, stride: int) -> Dataset:
    """Model inputs for training/eval: one row per window (input_ids, attention_mask, labels
    with -100 off first sub-words, length in sub-words for length grouping)."""
    encoded = encode_sentences(tokenizer, list(ds["tokens"]))
    prefix, suffix = special_tokens_layout(tokenizer)
    windows = make_windows(encoded, max_length, stride, prefix, suffix)
    tags = list(ds["ner_tags"])
    return Dataset.from_dict(
        {
            "input_ids": [w.input_ids for w in windows],
            "attention_mask": [[1] * len(w.input_ids) for w in windows],
            "labels": [window_labels(w, tags[w.sentence]) for w in windows],
            "length": [len(w.input_ids) for w in windows],
        }
    )


def precision_flags(precision: str) -> dict[str, bool]:
    """TrainingArguments bf16/fp16 for training.precision ("auto": bf16 or fp16 on a GPU that has it)."""
    cuda = torch.cuda.is_available()
    if precision == "auto":
        if not cuda:
            return {}
        return {"bf16": True} if torch.cuda.is_bf16_supported() else {"fp16": True}
    if precision == "fp16" and not cuda:
        raise ConfigError("training.precision: fp16 needs a CUDA GPU; use auto or fp32 on this machine")
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


def seqeval_metrics(label_names: list[str]):
    """compute_metrics for the Trainer: entity-level seqeval F1 over labelled positions.

    Scored per window: a word in the overlap of two windows of a sentence longer than
    max_length counts in both. (Cross-validation reports the exact word-level F1.)
    """

    def compute(pred) -> dict[str, float]:
        logits, labels = pred.predictions, pred.label_ids
        guesses = np.asarray(logits).argmax(-1)
        y_true, y_pred = [], []
        for g_row, l_row in zip(guesses, labels):
            keep = l_row != IGNORE_INDEX
            y_true.append([label_names[i] for i in l_row[keep]])
            y_pred.append([label_names[i] for i in g_row[keep]])
        return {"f1": float(f1_score(y_true, y_pred, zero_division=0))}

    return compute


class _TrainProgress(TrainerCallback):
    """A labelled, transient training bar showing the last eval F1 (replaces the Trainer's
    unlabelled bars and the metric dicts it prints on every log)."""

    def __init__(self, desc: str, nested: bool):
        self.desc = desc
        self.nested = nested
        self.bar = None

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.bar = progress_bar(total=state.max_steps, desc=self.desc, unit="step", nested=self.nested)

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if self.bar is not None and metrics and "eval_f1" in metrics:
            self.bar.set_postfix(eval_f1=f"{metrics['eval_f1']:.3f}")

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def training_arguments(
    training_cfg: TrainingConfig, output_dir: str, has_eval: bool, save: bool = False
) -> TrainingArguments:
    """The Trainer settings for training_cfg: no checkpoints unless `save`, no reporting, quiet
    logs, seeds, warm-up as a fraction of the steps, bf16/fp16 per training.precision."""
    return TrainingArguments(
        output_dir=output_dir,
        num_train_epochs=float(training_cfg.epochs),
        max_steps=training_cfg.max_steps or -1,
        per_device_train_batch_size=training_cfg.batch_size,
        per_device_eval_batch_size=training_cfg.eval_batch_size,
        learning_rate=training_cfg.learning_rate,
        weight_decay=training_cfg.weight_decay,
        # transformers 5: a float in [0, 1) is a fraction of the total steps (warmup_ratio is gone)
        warmup_steps=float(training_cfg.warmup),
        lr_scheduler_type="linear",
        eval_strategy="epoch" if has_eval else "no",
        save_strategy="epoch" if save else "no",
        logging_strategy="no",
        report_to="none",
        seed=training_cfg.seed,
        data_seed=training_cfg.seed,
        # our own bar (_TrainProgress) replaces the Trainer's
        disable_tqdm=True,
        log_level="error",
        # transformers 5 replaced group_by_length=True by this sampler choice
        train_sampling_strategy="group_by_length" if training_cfg.group_by_length else "random",
        length_column_name="length",
        dataloader_pin_memory=torch.cuda.is_available(),
        **precision_flags(training_cfg.precision),
    )


def train_tagger(
    train: Dataset,
    eval: Dataset | None,
    label_names: list[str],
    model_name_or_path: str,
    model_cfg: ModelConfig,
    training_cfg: TrainingConfig,
    out_dir: Path | None = None,
    progress: bool = True,
    keep_checkpoints: bool = False,
    progress_desc: str = "train",
    progress_nested: bool = False,
) -> TrainedTagger:
    """Fine-tune model_name_or_path on `train` (Corpus rows: tokens, ner_tags) and return the tagger.

    eval:  rows scored with seqeval F1 after each epoch (TrainedTagger.eval_f1 = last one)
    out_dir: when given, the tagger is saved there (and epoch checkpoints too if keep_checkpoints)
    progress_nested: the bar sits under another one (a crossval fold's): off a terminal it then
        prints nothing; on its own (the retrain stage, a script) it prints a line every ~10 s,
        since a fine-tune is minutes of otherwise silent work
    Same data + configs + seed -> identical weights on the same machine.
    """
    if len(train) == 0:
        raise ModelError("nothing to train on: the training side of this split is empty")
    set_seed(training_cfg.seed)
    tokenizer = load_tokenizer(model_name_or_path)
    model = load_model(model_name_or_path, label_names)
    if training_cfg.freeze_word_embeddings:
        # the Trainer's optimizer only takes parameters that require gradients
        model.get_input_embeddings().weight.requires_grad_(False)
    train_ds = tagging_dataset(tokenizer, train, model_cfg.max_length, model_cfg.stride)
    eval_ds = None
    if eval is not None and len(eval):
        eval_ds = tagging_dataset(tokenizer, eval, model_cfg.max_length, model_cfg.stride)
    with tempfile.TemporaryDirectory(prefix="auditor-train-") as tmp:
        save_ckpt = keep_checkpoints and out_dir is not None
        args = training_arguments(
            training_cfg, str(out_dir / "checkpoints") if save_ckpt else tmp, eval_ds is not None, save_ckpt
        )
        with quiet_transformers():
            trainer = Trainer(
                model=model,
                args=args,
                train_dataset=train_ds,
                eval_dataset=eval_ds,
                processing_class=tokenizer,
                data_collator=DataCollatorForTokenClassification(tokenizer),
                compute_metrics=seqeval_metrics(label_names) if eval_ds is not None else None,
            )
            trainer.remove_callback(PrinterCallback)
            trainer.remove_callback(ProgressCallback)
            if progress:
                trainer.add_callback(_TrainProgress(progress_desc, progress_nested))
            trainer.train()
    f1s = [h["eval_f1"] for h in trainer.state.log_history if "eval_f1" in h]
    model = trainer.model
    model.eval()
    tagger = TrainedTagger(model, tokenizer, list(label_names), eval_f1=f1s[-1] if f1s else None)
    if out_dir is not None:
        tagger.save(Path(out_dir))
    return tagger

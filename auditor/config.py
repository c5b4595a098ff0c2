"""The schema of one audit-retrain cycle: YAML in, validated object out.

Every field has a default that works on the demo, so a pipeline file only says what
differs. Unknown keys are errors (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from auditor.errors import ConfigError

Split = str
Lang = str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SyntheticConfig(_Strict):
    """The embedded demo corpus (auditor.data.synthetic)."""

    sentences: dict[Split, Annotated[int, Field(ge=1)]] = {"train": 600, "validation": 150, "test": 150}
    noise_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1
    # Silver test labels are noisy in real corpora too; the clean copy is kept either way.
    noisy_splits: list[Split] = ["train"]


class DataConfig(_Strict):
    source: Literal[
        "hub", "conll", "jsonl", "parquet", "disk", "synthetic", "spacy", "prodigy", "labelstudio", "doccano", "brat"
    ] = "synthetic"
    # hub: a datasets repository and a config name pattern with {lang}
    dataset: str = "google/xtreme"
    config: str = "PAN-X.{lang}"
    # conll/jsonl/parquet: one path (or list of paths) per split; "{lang}" in a path is
    # expanded for each language of `languages`.
    files: dict[Split, str | list[str]] | None = None
    # disk: a datasets.save_to_disk folder
    path: str | None = None
    # annotation-tool sources (labelstudio, doccano, prodigy, brat): how span offsets count;
    # None = the format's documented default (doccano utf16, the others codepoint)
    offsets: Literal["codepoint", "utf16"] | None = None
    # language -> fraction of each split kept (the chapter's Swiss mix); 1.0 keeps all.
    languages: dict[Lang, Annotated[float, Field(gt=0.0, le=1.0)]] = {"de": 1.0, "fr": 1.0, "it": 1.0, "en": 1.0}
    # language used when a file carries none
    default_lang: Lang | None = None
    splits: list[Split] = ["train", "validation", "test"]
    audit: list[Split] = ["train"]
    # splits used as training data; a non-audited one joins the training side of every fold
    train_splits: list[Split] = ["train"]
    # label names when tags are given as integers; otherwise read from the data
    label_names: list[str] | None = None
    scheme: Literal["iob2", "iob1"] = "iob2"
    repair_iob: bool = False
    # cap the number of sentences per split (after language sampling), for quick runs
    max_sentences: Annotated[int, Field(ge=1)] | None = None
    # a corrected copy of the corpus (same ids or same order), for detection quality
    truth: dict[Split, str | list[str]] | None = None
    seed: int = 0
    synthetic: SyntheticConfig = SyntheticConfig()

    @field_validator("splits", "audit", "train_splits")
    @classmethod
    def _non_empty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("must name at least one split")
        return v

    @model_validator(mode="after")
    def _check_source(self) -> DataConfig:
        if self.source not in ("hub", "disk", "synthetic") and not self.files:
            raise ValueError(f"source '{self.source}' needs `files:` (one path per split)")
        if self.source == "disk" and not self.path:
            raise ValueError("source 'disk' needs `path:` (a datasets.save_to_disk folder)")
        for split in self.audit:
            if split not in self.splits:
                raise ValueError(f"audit split '{split}' is not in splits {self.splits}")
        return self


class TinyModelConfig(_Strict):
    """The built-in offline model: XLM-R architecture, tokenizer trained on the corpus."""

    vocab_size: Annotated[int, Field(ge=100)] = 4000
    hidden_size: Annotated[int, Field(ge=16)] = 128
    num_layers: Annotated[int, Field(ge=1)] = 2
    num_heads: Annotated[int, Field(ge=1)] = 4
    intermediate_size: Annotated[int, Field(ge=16)] = 256


class ModelConfig(_Strict):
    # a Hub name, a local folder, or "tiny"
    name: str = "xlm-roberta-base"
    max_length: Annotated[int, Field(ge=8)] = 512
    # sub-words shared by consecutive windows when a sentence exceeds max_length
    stride: Annotated[int, Field(ge=0)] = 128
    tiny: TinyModelConfig = TinyModelConfig()

    @model_validator(mode="after")
    def _stride_fits(self) -> ModelConfig:
        if self.stride >= self.max_length - 2:
            raise ValueError(f"stride ({self.stride}) must be smaller than max_length - 2 ({self.max_length - 2})")
        return self


class ProbeConfig(_Strict):
    """The frozen-encoder probe (auditor.modeling.probe). Defaults: the measured winner on real
    errors and on injected PAN-X errors (benchmarks/README.md, "Real errors")."""

    head: Literal["logreg", "mlp", "bilstm"] = "mlp"
    # word vector: hidden states of the last `layers` layers, pooled over the word's sub-words
    # (mean: +0.004 to +0.039 AP on PAN-X de/fr/it/en, -0.005 on CoNLL's real errors, fold F1 up
    # on all five; benchmarks/README.md, "Sub-word pooling")
    layers: Annotated[int, Field(ge=1)] = 12
    pooling: Literal["first", "mean"] = "mean"
    # scalar: a learned softmax-weighted sum of the layers (fitted per fold, then fixed);
    # concat: the layers side by side (a head as wide as all of them: slow)
    mix: Literal["concat", "scalar"] = "scalar"
    hidden_size: Annotated[int, Field(ge=2)] = 256
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.1
    # at most this many epochs; training stops after `patience` epochs without a better
    # holdout loss and keeps the best epoch's weights
    epochs: Annotated[int, Field(ge=1)] = 20
    patience: Annotated[int, Field(ge=1)] = 2
    learning_rate: Annotated[float, Field(gt=0)] = 2e-3
    # words per batch for logreg/mlp; about this many words of whole sentences for bilstm
    batch_size: Annotated[int, Field(ge=1)] = 1024
    # heads per fold with different seeds, averaged (logits)
    ensemble: Annotated[int, Field(ge=1)] = 1


class CrossvalConfig(_Strict):
    # auto = finetune on a GPU, probe on a CPU
    mode: Literal["finetune", "probe", "auto"] = "auto"
    folds: Annotated[int, Field(ge=2)] = 5
    keep_checkpoints: bool = False
    calibrate: bool = True
    # fraction of each fold's training side held out for early validation and temperature scaling
    holdout: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.1
    probe: ProbeConfig = ProbeConfig()


class TrainingConfig(_Strict):
    epochs: Annotated[float, Field(gt=0)] = 3
    batch_size: Annotated[int, Field(ge=1)] = 24
    eval_batch_size: Annotated[int, Field(ge=1)] = 64
    learning_rate: Annotated[float, Field(gt=0)] = 5e-5
    weight_decay: Annotated[float, Field(ge=0)] = 0.01
    # fraction of the total steps spent warming up
    warmup: Annotated[float, Field(ge=0, lt=1)] = 0.1
    group_by_length: bool = True
    # "auto" = bf16 or fp16 when a GPU supports it
    precision: Literal["auto", "fp32", "fp16", "bf16"] = "auto"
    max_steps: Annotated[int, Field(ge=1)] | None = None
    seed: int = 42
    # Keep the input word-embedding matrix fixed. In a multilingual encoder it holds most of the
    # weights (e5-small: 96 M of 118 M), so its gradients and optimizer state dominate a CPU
    # step; freezing it makes a CPU fine-tune 1.7-2x faster (benchmarks/freeze_embeddings.py).
    freeze_word_embeddings: bool = False


class CleanlabConfig(_Strict):
    token_method: Literal["self_confidence", "normalized_margin", "confidence_weighted_entropy"] = "self_confidence"
    # softmin: cleanlab's soft minimum at cleanlab's temperature 0.05
    # (cleanlab_signal.CLEANLAB_SOFTMIN_TEMPERATURE)
    sentence_method: Literal["min", "softmin"] = "min"
    filter_by: Literal["prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given"] = (
        "prune_by_noise_rate"
    )


class ConsistencyConfig(_Strict):
    min_count: Annotated[int, Field(ge=2)] = 3
    max_ngram: Annotated[int, Field(ge=1)] = 4
    # an occurrence is suspicious when its labelling has at most this share of the form's occurrences
    minority: Annotated[float, Field(gt=0, lt=1)] = 0.34
    # judge a form within its language only ("Paris" in fr and in en apart)
    per_language: bool = True


class WeightsConfig(_Strict):
    # Weights of the log-qualities in the combined score (auditor.scoring.fusion), measured on
    # real errors (CoNLL-2003 dev vs CleanCoNLL) and injected PAN-X errors: benchmarks/README.md,
    # "Ranking". The model's word quality carries the ranking; cleanlab's self_confidence is the
    # same number as a self_confidence model quality, so it is off by default (never both).
    model: Annotated[float, Field(ge=0)] = 1.0
    cleanlab: Annotated[float, Field(ge=0)] = 0.0
    sequence_loss: Annotated[float, Field(ge=0)] = 0.0
    # small: it adds +0.005..0.01 AP where forms repeat, and more would let real silver
    # inconsistencies crowd the top of the list (PAN-X fr at 0.5 and 1.0)
    consistency: Annotated[float, Field(ge=0)] = 0.25


class ReferenceConfig(_Strict):
    # a JSONL file of verified audited sentences (one object per line: id, ner_tags), e.g. a
    # random sample a curator checked; words like the ones it corrects become suspicious
    # (auditor.scoring.reference). A relative path is read like data files: from the pipeline
    # file's folder, or from the working directory when the file is there instead.
    file: str | None = None
    # verified neighbours each word consults (same given entity type, frozen-encoder vectors)
    k: Annotated[int, Field(ge=1)] = 10
    # exponent of the evidence in the fused word quality; "auto" fits it on the sample itself
    # (leave one sentence out): large when the corrections cluster (a wrong convention), small
    # when they do not (random noise)
    weight: Annotated[float, Field(ge=0)] | Literal["auto"] = "auto"
    # a second pass: the review's decisions (the words each decision covered, with the tags it
    # wrote) join the sample's words as neighbours, so after a round of review the rest of a
    # corrected convention rises in the queue; `auditor run` then re-scores whenever the
    # decisions change. The weight is still fitted on the random sample only. Needs a sample
    # (file) and curators' decisions (review.policy: interactive, review.unattended: stop)
    decisions: bool = False


class ScoringConfig(_Strict):
    # the model's word quality (auditor.scoring.quality): collapsed = p(given entity type),
    # B-X and I-X summed; self_confidence = p(given tag); *_margin = the margin versions
    word_quality: Literal["collapsed", "self_confidence", "normalized_margin", "collapsed_margin"] = "collapsed"
    # how a sentence's word scores become one sentence score (sentence-level rankings);
    # softmin: at temperature 0.1 (quality.SENTENCE_SOFTMIN_TEMPERATURE), not cleanlab's 0.05
    sentence_aggregate: Literal["min", "softmin", "mean", "product", "expected_errors"] = "softmin"
    cleanlab: CleanlabConfig = CleanlabConfig()
    consistency: ConsistencyConfig = ConsistencyConfig()
    weights: WeightsConfig = WeightsConfig()
    reference: ReferenceConfig = ReferenceConfig()
    # flag a token when any signal flags it; keep at most this many issues (None = all)
    max_issues: Annotated[int, Field(ge=1)] | None = None
    # the model's own disagreement flags a word when its (IOB2-repaired) tag differs from the
    # given one with at least this probability (0.3: a three-way doubt still becomes an issue;
    # span coverage of real CoNLL errors 0.188 -> 0.200, PAN-X fr 0.689 -> 0.700)
    min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.3


class AdaptiveConfig(_Strict):
    # re-rank the open issues from the curator's decisions (auditor.review.adaptive); off by
    # default: benchmarks/README.md ("Adaptive queue") has the measurement behind that
    enabled: bool = False
    # the model is fitted only once there are this many "label was wrong" (accept/relabel)
    # and "label was right" (keep) decisions; below that the order is the score order
    min_wrong: Annotated[int, Field(ge=1)] = 30
    min_right: Annotated[int, Field(ge=1)] = 10
    # decisions at which the model's rank gets half the weight of the blend with the score rank
    half_weight_at: Annotated[int, Field(ge=1)] = 100
    # unattended oracle with top_fraction < 1: review this many issues, refit, then the next
    batch: Annotated[int, Field(ge=1)] = 50


class ReviewConfig(_Strict):
    # interactive: open the UI in a terminal, stop otherwise; threshold: accept suggestions
    # with score <= threshold; oracle: take decisions from known clean tags (synthetic/truth)
    policy: Literal["interactive", "threshold", "oracle"] = "interactive"
    # what an interactive run does without a terminal (CI, batch jobs): stop after scoring
    # and print the review command, or fall back to an unattended policy
    unattended: Literal["stop", "threshold", "oracle"] = "stop"
    threshold: Annotated[float, Field(ge=0, le=1)] = 0.1
    # review only the top fraction of the ranked issues (policies threshold/oracle)
    top_fraction: Annotated[float, Field(gt=0, le=1)] = 1.0
    curator: str | None = None
    adaptive: AdaptiveConfig = AdaptiveConfig()


class Experiment(_Strict):
    # languages to train on: a list, "each" (one experiment per language) or "all"
    train: list[Lang] | Literal["each", "all"]
    # languages to test on; default every language of the corpus
    test: list[Lang] | Literal["all"] = "all"


class RetrainConfig(_Strict):
    enabled: bool = True
    experiments: list[Experiment] = [Experiment(train="all")]
    # override training settings for the final models only
    training: TrainingConfig | None = None
    # also evaluate on the reviewed test split when the test split was audited
    reviewed_test: bool = True
    # a sample file of test sentences a curator verified (`auditor sample RUN --split test`,
    # checked with `auditor verify`): F1 is also judged on its verified lines, with bootstrap
    # intervals, because silver test tags punish a corrected convention (auditor.verified_test).
    # A relative path is read like data files (from the pipeline file's folder).
    verified_test: str | None = None


class CurveConfig(_Strict):
    enabled: bool = False
    source: Lang = "de"
    target: Lang = "fr"
    sizes: list[Annotated[int, Field(ge=1)]] = [250, 500, 1000, 2000, 4000]


class ReportConfig(_Strict):
    dir: str = "reports"
    top_sentences: Annotated[int, Field(ge=1)] = 10
    top_tokens: Annotated[int, Field(ge=1)] = 20
    figures: bool = True


class ExportConfig(_Strict):
    formats: list[Literal["hf", "parquet", "conll", "jsonl", "spacy", "prodigy", "labelstudio", "doccano", "brat"]] = ["hf"]
    # default: runs/<name>/export
    out: str | None = None
    push_to_hub: str | None = None


class RuntimeConfig(_Strict):
    """How the process uses the machine; never part of a stage's cache key."""

    # torch CPU threads; 0 = auto: OMP_NUM_THREADS if set, else the CPUs this process may
    # use (affinity mask, cgroup quota). See auditor.runtime for why.
    threads: Annotated[int, Field(ge=0)] = 0


class PipelineConfig(_Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")] = "demo"
    runs_dir: str = "runs"
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    crossval: CrossvalConfig = CrossvalConfig()
    training: TrainingConfig = TrainingConfig()
    scoring: ScoringConfig = ScoringConfig()
    review: ReviewConfig = ReviewConfig()
    retrain: RetrainConfig = RetrainConfig()
    curve: CurveConfig = CurveConfig()
    report: ReportConfig = ReportConfig()
    export: ExportConfig = ExportConfig()
    runtime: RuntimeConfig = RuntimeConfig()

    @model_validator(mode="after")
    def _check_second_pass(self) -> PipelineConfig:
        ref = self.scoring.reference
        if ref.decisions and ref.file is None:
            raise ValueError(
                "scoring.reference.decisions needs scoring.reference.file, the random verified sample its weight is "
                "fitted on; draw one with `auditor sample RUN_DIR --out FILE`"
            )
        if ref.decisions and (self.review.policy != "interactive" or self.review.unattended != "stop"):
            raise ValueError(
                "scoring.reference.decisions learns from curators' decisions, but a review policy would decide "
                "(and every run re-score); set review.policy: interactive and review.unattended: stop"
            )
        return self

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / self.name

    @property
    def report_dir(self) -> Path:
        return Path(self.report.dir) / self.name

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def _format_error(source: str, err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown field (check the spelling; see pipelines/demo.yaml for the schema)"
    more = f" (and {len(err.errors()) - 1} more problem(s))" if len(err.errors()) > 1 else ""
    return f"{source}: {loc}: {msg}{more}"


def config_from_dict(raw: dict, source: str = "<config>") -> PipelineConfig:
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format_error(source, err)) from None


def load_config(path: str | os.PathLike, overrides: dict | None = None) -> PipelineConfig:
    """Read a pipeline YAML file; relative data paths are resolved against the file's folder.

    Raises ConfigError with one line naming the file, the field and the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such pipeline file (see pipelines/ for examples)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where}: not valid YAML ({getattr(err, 'problem', err)})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of fields (name:, data:, model:, ...)")
    raw = _deep_merge(raw, overrides or {})
    cfg = config_from_dict(raw, str(path))
    return _resolve_paths(cfg, path.parent)


def _deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _resolve(p: str, base: Path) -> str:
    if "://" in p or os.path.isabs(p):
        return p
    candidate = base / p
    # paths are relative to the pipeline file, unless they already exist from the cwd
    return p if Path(p).exists() and not candidate.exists() else str(candidate)


def _resolve_paths(cfg: PipelineConfig, base: Path) -> PipelineConfig:
    def fix(files: dict | None) -> dict | None:
        if files is None:
            return None
        return {
            k: [_resolve(x, base) for x in v] if isinstance(v, list) else _resolve(v, base) for k, v in files.items()
        }

    cfg.data.files = fix(cfg.data.files)
    cfg.data.truth = fix(cfg.data.truth)
    if cfg.data.path:
        cfg.data.path = _resolve(cfg.data.path, base)
    if cfg.scoring.reference.file:
        cfg.scoring.reference.file = _resolve(cfg.scoring.reference.file, base)
    if cfg.retrain.verified_test:
        cfg.retrain.verified_test = _resolve(cfg.retrain.verified_test, base)
    if cfg.model.name not in ("tiny",) and (base / cfg.model.name).exists():
        cfg.model.name = str(base / cfg.model.name)
    return cfg

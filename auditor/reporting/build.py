"""Assemble the run report from a run directory.

Reads run_dir/metrics.json, config.yaml, issues.parquet, predictions.parquet, corpus/
and review.sqlite (each optional), builds one Document (auditor.reporting), draws the
figures, and writes report.md and a self-contained report.html into report_dir.

Numbers the report derives itself (the corpus table, the confusion matrix, the loss
histogram, before/after deltas, ...) are written back to metrics.json["report"], so every
number shown can be found in metrics.json. The "report" section is never read back, so
building twice from the same inputs gives identical files.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from auditor.atomic import write_text_atomic
from auditor.config import PipelineConfig, config_from_dict
from auditor.errors import AuditorError, DataError
from auditor.metrics import read_metrics, update_metrics
from auditor.reporting import Column, Document, Figure, Paragraph, Section, Table, TaggedSentence
from auditor.reporting import figures as figs

# what each metrics.json section is and which stage writes it, for "missing" notes
SECTIONS = {
    "corpus": ("corpus statistics", "the load stage"),
    "crossval": ("cross-validation metrics", "the crossval stage"),
    "scoring": ("issue statistics", "the score stage"),
    "detection": ("detection quality", "the score stage on a corpus with known clean labels"),
    "review": ("review summary", "the review stage"),
    "apply": ("cleaning summary", "the apply stage"),
    "retrain": ("before/after F1", "the retrain stage"),
    "analysis": ("error analysis", "`auditor analyze`"),
    "curve": ("learning curve", "`auditor curve`"),
}
POLICY_STATEMENTS = {
    "oracle": (
        "No human reviewed these issues: the oracle policy took every decision from the known clean "
        "tags. The results show what a perfect curator would achieve, not what a person did."
    ),
    "threshold": (
        "No human reviewed these issues: the threshold policy accepted every suggestion whose score "
        "was at or below the threshold and left the rest undecided."
    ),
}


@dataclass(frozen=True)
class ReportPaths:
    markdown: Path
    html: Path
    figures: list[Path]


@dataclass
class RunInputs:
    """Everything the report reads; None where the run directory lacks the artifact."""

    run_dir: Path
    metrics: dict
    cfg: PipelineConfig
    config_found: bool
    issues: pd.DataFrame | None = None
    predictions: object | None = None  # auditor.tables.OofPredictions
    corpus: object | None = None  # datasets.DatasetDict
    decisions: dict | None = None  # issue_id -> Decision (latest)
    problems: list[str] = field(default_factory=list)  # artifacts present but unreadable


def load_run(run_dir: Path) -> RunInputs:
    """Read what exists of a run directory. A missing directory is a DataError; a missing or
    unreadable artifact only leaves its field None and is noted in `problems`."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: no such run directory (run a pipeline first: auditor run <pipeline.yaml>)")
    metrics = read_metrics(run_dir)
    metrics.pop("report", None)  # our own output; never an input
    cfg, found, problems = _read_config(run_dir)
    inputs = RunInputs(run_dir, metrics, cfg, found, problems=problems)
    inputs.issues = _try(inputs, "issues.parquet", lambda p: _read_issues(p))
    inputs.predictions = _try(inputs, "predictions.parquet", lambda p: _read_predictions(p))
    inputs.corpus = _try(inputs, "corpus", lambda p: _read_corpus(p))
    inputs.decisions = _try(inputs, "review.sqlite", lambda p: _read_decisions(p))
    return inputs


def _read_config(run_dir: Path) -> tuple[PipelineConfig, bool, list[str]]:
    path = run_dir / "config.yaml"
    if not path.is_file():
        return PipelineConfig(name=_safe_name(run_dir.name)), False, []
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return config_from_dict(raw, str(path)), True, []
    except (yaml.YAMLError, AuditorError, UnicodeDecodeError) as err:
        return PipelineConfig(name=_safe_name(run_dir.name)), False, [f"config.yaml ({str(err).splitlines()[0]})"]


def _safe_name(name: str) -> str:
    import re

    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", name).lstrip("._-")
    return cleaned or "run"


def _try(inputs: RunInputs, name: str, read):
    path = inputs.run_dir / name
    if not path.exists():
        return None
    try:
        return read(path)
    except Exception as err:  # a broken artifact must not stop the report; it is named in it
        inputs.problems.append(f"{name} ({str(err).splitlines()[0] if str(err) else type(err).__name__})")
        return None


def _read_issues(path: Path) -> pd.DataFrame:
    from auditor.tables import read_issues

    return read_issues(path)


def _read_predictions(path: Path):
    from auditor.tables import OofPredictions

    return OofPredictions.read(path)


def _read_corpus(path: Path):
    from datasets import load_from_disk

    return load_from_disk(str(path))


def _read_decisions(path: Path) -> dict:
    from auditor.review.store import DecisionStore

    return DecisionStore(path).latest()


# --- derived data --------------------------------------------------------------------


@dataclass
class OofView:
    """Out-of-fold predictions joined with the given tags, one entry per predicted sentence.

    ids/langs: (S,) sentences in id order; given/predicted: label indices per sentence;
    word_losses: -log p(given) per word (nats); losses: (S,) their sums.
    """

    label_names: list[str]
    ids: list[str]
    langs: list[str]
    tokens: list[list[str]]
    given: list[np.ndarray]
    predicted: list[np.ndarray]
    word_losses: list[np.ndarray]
    losses: np.ndarray
    clean: list[np.ndarray] | None = None  # known clean label indices, when the corpus has them
    skipped: int = 0  # sentences whose prediction length does not match the corpus


def oof_view(predictions, corpus) -> OofView:
    """Join predictions (OofPredictions) with the corpus's given tags by sentence id."""
    names = predictions.label_names
    corpus_names = None
    from auditor.data.corpus import CLEAN_COLUMN, has_clean_tags

    with_clean = has_clean_tags(corpus)
    rows: dict[str, tuple[list[str], list[int], str, list[int] | None]] = {}
    for ds in corpus.values():
        corpus_names = list(ds.features["ner_tags"].feature.names)
        clean_col = ds[CLEAN_COLUMN] if with_clean else [None] * len(ds)
        for i, tokens, tags, lang, clean in zip(ds["id"], ds["tokens"], ds["ner_tags"], ds["lang"], clean_col):
            rows[i] = (tokens, tags, lang, clean)
    # map corpus label indices onto the predictions' label order (same set, maybe other order)
    remap = np.array([names.index(n) if n in names else -1 for n in (corpus_names or [])])
    view = OofView(list(names), [], [], [], [], [], [], np.zeros(0), clean=[] if with_clean else None)
    losses = []
    for sid, probs in sorted(predictions.by_sentence().items()):
        row = rows.get(sid)
        if row is None or len(row[1]) != len(probs) or (len(row[1]) and remap[row[1]].min() < 0):
            view.skipped += 1
            continue
        tokens, tags, lang, clean = row
        given = remap[np.asarray(tags, dtype=int)]
        word_losses = -np.log(np.clip(probs[np.arange(len(given)), given], 1e-12, None))
        view.ids.append(sid)
        view.langs.append(lang)
        view.tokens.append(list(tokens))
        if view.clean is not None:
            view.clean.append(remap[np.asarray(clean, dtype=int)])
        view.given.append(given)
        view.predicted.append(probs.argmax(axis=1))
        view.word_losses.append(word_losses)
        losses.append(float(word_losses.sum()))
    view.losses = np.asarray(losses, dtype=float)
    return view


def normalized_confusion(view: OofView) -> np.ndarray:
    """(K, K) confusion of given (rows) vs predicted (cols) labels, each row summing to 1 (0 if empty)."""
    from sklearn.metrics import confusion_matrix

    k = len(view.label_names)
    if not view.ids:
        return np.zeros((k, k))
    y_true = np.concatenate(view.given)
    y_pred = np.concatenate(view.predicted)
    return confusion_matrix(y_true, y_pred, labels=list(range(k)), normalize="true")


# --- the document --------------------------------------------------------------------


class _Builder:
    """Collects sections, the derived numbers (for metrics["report"]) and the figures."""

    def __init__(self, inputs: RunInputs, report_dir: Path):
        self.inputs = inputs
        self.m = inputs.metrics
        self.cfg = inputs.cfg
        self.report_dir = report_dir
        self.sections: list[Section] = []
        self.derived: dict = {"tables": {}}
        self.figures: list[Path] = []
        self._view: OofView | None = None
        self._view_done = False

    # helpers
    def section(self, title: str, anchor: str, level: int = 2) -> Section:
        s = Section(title, anchor, level=level)
        self.sections.append(s)
        return s

    def table(self, sec: Section, table: Table) -> None:
        if table.key in self.derived["tables"]:
            raise ValueError(f"duplicate report table key {table.key}")
        self.derived["tables"][table.key] = table.to_dict()
        sec.blocks.append(table)

    def figure(self, sec: Section, path: Path, caption: str) -> None:
        self.figures.append(path)
        sec.blocks.append(Figure(path, caption, alt=caption))

    def missing_note(self, sec: Section, key: str) -> None:
        what, stage = SECTIONS[key]
        sec.blocks.append(Paragraph(f"Not in this run: no {what} in metrics.json (written by {stage}).", note=True))

    @property
    def want_figures(self) -> bool:
        return self.cfg.report.figures

    def view(self) -> OofView | None:
        if not self._view_done:
            self._view_done = True
            if self.inputs.predictions is not None and self.inputs.corpus is not None:
                self._view = oof_view(self.inputs.predictions, self.inputs.corpus)
        return self._view

    @property
    def flagged_ids(self) -> set[str]:
        issues = self.inputs.issues
        return set(issues["id"]) if issues is not None else set()

    # sections
    def overview(self) -> None:
        sec = self.section("Overview", "overview")
        cfg = self.cfg
        d = cfg.data
        langs = ", ".join(f"{k} ({v:g})" if v < 1 else k for k, v in d.languages.items())
        rows = [
            ["data source", d.source if d.source != "hub" else f"hub: {d.dataset} {d.config}"],
            ["languages", langs],
            ["audited splits", ", ".join(d.audit)],
            ["model", cfg.model.name],
            ["cross-validation", f"{cfg.crossval.mode}, {cfg.crossval.folds} folds"],
            ["review policy", cfg.review.policy + (f" (unattended: {cfg.review.unattended})" if cfg.review.policy == "interactive" else "")],
        ]
        if self.inputs.config_found:
            self.table(sec, Table("overview", [Column("setting"), Column("value")], rows))
        else:
            # the defaults would be a guess: better say nothing about the settings
            sec.blocks.append(Paragraph("No readable config.yaml in the run directory: the run's settings are unknown.", note=True))
        for p in self.inputs.problems:
            sec.blocks.append(Paragraph(f"Could not read {p}.", note=True))

    def corpus(self) -> None:
        sec = self.section("Corpus", "corpus")
        corpus = self.inputs.corpus
        stats = self.m.get("corpus") or {}
        if corpus is not None:
            self.table(sec, corpus_table(corpus))
        elif stats.get("sentences"):
            sec.blocks.append(Paragraph("The corpus folder is missing; these counts come from metrics.json.", note=True))
            self.table(sec, corpus_stats_table(stats))
        if not stats:
            self.missing_note(sec, "corpus")
            return
        findings = [
            f"{stats.get('iob_violations', 0)} IOB2 violations (repaired or still present)",
            f"{stats.get('empty_tokens', 0)} empty tokens",
        ]
        sec.blocks.append(Paragraph(f"Labels: {' '.join(stats.get('label_names', []))}. Loader findings: {'; '.join(findings)}."))

    def crossval(self) -> None:
        sec = self.section("Cross-validation", "crossval")
        cv = self.m.get("crossval")
        if not cv:
            self.missing_note(sec, "crossval")
            return
        folds = cv.get("folds", [])
        wps = cv.get("words_per_second")
        text = f"Mode: {cv.get('mode', '?')}, {len(folds)} folds. Each sentence was scored by a model that never saw it."
        if wps:
            text += f" Prediction speed: {wps:,.0f} words per second."
        sec.blocks.append(Paragraph(text))
        cols = [
            Column("fold", "num", "d"),
            Column("F1", "num"),
            Column("ECE before", "num"),
            Column("ECE after", "num"),
            Column("temperature", "num", ".2f"),
            Column("train", "num", ",d"),
            Column("held out", "num", ",d"),
            Column("seconds", "num", ".1f"),
        ]
        keys = ["fold", "f1", "ece_before", "ece_after", "temperature", "n_train", "n_heldout", "seconds"]
        rows = [[f.get(k) for k in keys] for f in folds]
        kinds = ["" for _ in rows]
        if rows:
            mean = ["mean"] + [_mean([r[i] for r in rows]) for i in range(1, 5)] + [None, None, _sum([r[7] for r in rows])]
            rows.append(mean)
            kinds.append("total")
            cols[0] = Column("fold", "text")
            rows = [[str(r[0]) if r[0] is not None else None, *r[1:]] for r in rows]
        self.table(sec, Table("crossval_folds", cols, rows, "ECE = expected calibration error before/after temperature scaling; the last row's seconds are the total.", kinds))

    def issues(self) -> None:
        sec = self.section("Issues found", "issues")
        sc = self.m.get("scoring")
        if not sc:
            self.missing_note(sec, "scoring")
        else:
            n_sent, n_flag = sc.get("n_sentences"), sc.get("n_flagged_sentences")
            share = ""
            if n_sent and n_flag is not None:
                self.derived["flagged_sentence_share"] = n_flag / n_sent
                share = f" ({n_flag / n_sent:.1%} of {n_sent:,})"
            sec.blocks.append(
                Paragraph(f"{sc.get('n_issues', 0):,} issues in {n_flag if n_flag is not None else '?'} sentences{share}.")
            )
            for key, title in (("by_lang", "language"), ("by_kind", "kind"), ("by_type", "entity type")):
                if sc.get(key):
                    self.table(sec, counts_table(f"issues_{key}", title, sc[key]))
        issues = self.inputs.issues
        if issues is not None and len(issues):
            cross = pd.crosstab(issues["lang"], issues["kind"])
            rows = [[lang, *[int(v) for v in cross.loc[lang]], int(cross.loc[lang].sum())] for lang in cross.index]
            cols = [Column("language"), *[Column(k, "num", "d") for k in cross.columns], Column("total", "num", "d")]
            self.table(sec, Table("issues_lang_kind", cols, rows, "Issues by language and kind (from issues.parquet)."))
        elif issues is None and sc:
            sec.blocks.append(Paragraph("issues.parquet is missing: no per-issue breakdown.", note=True))

    def detection(self) -> None:
        det = self.m.get("detection")
        if not det:
            return  # only exists with known clean labels; listed among the missing sections
        sec = self.section("Detection quality (against known clean labels)", "detection")
        sec.blocks.append(
            Paragraph(
                f"Noise rate {det.get('noise_rate', 0):.1%}: {det.get('n_error_sentences', '?')} sentences and "
                f"{det.get('n_error_spans', '?')} spans carry a known error. AP = average precision of the ranking, "
                "P@k/R@k = precision/recall among the k top-ranked items."
            )
        )
        for level in ("span", "sentence"):
            rows = det.get(level) or []
            if rows:
                self.table(sec, detection_table(f"detection_{level}", level, rows))
        level = "span" if det.get("span") else "sentence"
        if self.want_figures and det.get(level):
            path = figs.detection_figure(detection_curves(det[level]), level, self.report_dir / "detection.png")
            self.figure(sec, path, f"Precision and recall of detection at the top k ranked {level}s, per method.")

    def review(self) -> None:
        sec = self.section("Review", "review")
        rv = self.m.get("review")
        if not rv:
            self.missing_note(sec, "review")
        else:
            policy = rv.get("policy", "?")
            total, decided = rv.get("total"), rv.get("decided")
            sec.blocks.append(Paragraph(f"Policy: {policy}. {decided} of {total} issues decided."))
            # the review stage's own statement names the policy's details; ours is the fallback
            statement = rv.get("note") or POLICY_STATEMENTS.get(policy)
            if statement:
                sec.blocks.append(Paragraph(statement, note=True))
            if rv.get("by_action"):
                self.table(sec, counts_table("review_by_action", "action", rv["by_action"]))
            details = details_table("review_details", rv, {"policy", "total", "decided", "by_action", "note"})
            if details.rows:
                self.table(sec, details)
        decisions = self.inputs.decisions
        if decisions and any(d.action != "undo" for d in decisions.values()):
            # an undo row reopens the issue: it is not a decision
            by = Counter((d.curator or "?", d.action) for d in decisions.values() if d.action != "undo")
            curators = sorted({c for c, _ in by})
            actions = sorted({a for _, a in by})
            rows = [[c, *[by.get((c, a), 0) for a in actions], sum(by.get((c, a), 0) for a in actions)] for c in curators]
            cols = [Column("curator"), *[Column(a, "num", "d") for a in actions], Column("total", "num", "d")]
            self.table(sec, Table("review_curators", cols, rows, "Latest decision per issue, by curator (review.sqlite)."))
        elif rv and rv.get("policy") == "interactive":
            sec.blocks.append(Paragraph("No review.sqlite in the run directory: the curators' log is not available.", note=True))

    def apply(self) -> None:
        sec = self.section("Cleaning", "apply")
        ap = self.m.get("apply")
        if not ap:
            self.missing_note(sec, "apply")
            return
        text = (
            f"{ap.get('decisions', 0)} decisions applied: {ap.get('changed_sentences', 0)} sentences and "
            f"{ap.get('changed_tokens', 0)} tags changed."
        )
        if ap.get("stale"):
            text += f" {ap['stale']} decisions were stale (the issue no longer matches the corpus) and were not applied."
        sec.blocks.append(Paragraph(text))
        if ap.get("by_action"):
            self.table(sec, counts_table("apply_by_action", "action", ap["by_action"]))
        details = details_table("apply_details", ap, {"decisions", "by_action", "changed_sentences", "changed_tokens"})
        if details.rows:
            self.table(sec, details)
        # issue 13 (team review): issues curators decided differently, as listed by the apply stage
        if ap.get("curator_conflict_list"):
            rows = [[c["issue_id"], c["applied"], c["overruled"]] for c in ap["curator_conflict_list"]]
            cols = [Column("issue"), Column("applied (committed last)"), Column("overruled")]
            self.table(sec, Table("apply_curator_conflicts", cols, rows, "Curators disagreed on these issues; the decision committed last was applied."))

    def retrain(self) -> None:
        sec = self.section("F1 before and after cleaning", "retrain")
        rt = self.m.get("retrain")
        if not rt or not rt.get("experiments"):
            if rt and rt.get("disabled"):
                sec.blocks.append(Paragraph("Retraining is disabled in this run's config (retrain.enabled: false).", note=True))
            else:
                self.missing_note(sec, "retrain")
            return
        from auditor.evaluation import RetrainResult, primary_labels

        result = RetrainResult.from_dict(rt)
        label_sets = result.label_sets()
        primary = primary_labels(result)
        sec.blocks.append(
            Paragraph(
                "Each experiment trains one tagger on the original training data (before) and one on the "
                "cleaned data (after), same model, settings and seed, and tests both on each language's test "
                "split (entity-level micro F1, seqeval). Test tags: "
                + "; ".join(_LABEL_TEXT[s] for s in label_sets)
                + "."
            )
        )
        for labels in label_sets:
            if labels == "silver" and "clean" in label_sets and _same_scores(result, "silver", "clean"):
                sec.blocks.append(
                    Paragraph("The silver test tags equal the clean ones (the test split carries no noise): one table for both.")
                )
                continue
            self.table(sec, f1_delta_table(result, labels))
        self.table(sec, per_type_table(result, primary))
        if self.want_figures:
            path = figs.f1_before_after(f1_bars(result, primary), primary, self.report_dir / "f1_before_after.png")
            self.figure(sec, path, f"Entity F1 per test language before and after cleaning ({primary} test tags).")

    def errors(self) -> None:
        """The out-of-fold view: what the audit models think of the given tags."""
        sec = self.section("Error analysis (out-of-fold)", "errors")
        view = self.view()
        top_n, n_sent = self.cfg.report.top_tokens, self.cfg.report.top_sentences
        if view is not None and view.ids:
            if view.skipped:
                sec.blocks.append(Paragraph(f"{view.skipped} predicted sentences did not match the corpus and were left out.", note=True))
            self._confusion(sec, "confusion", view.label_names, normalized_confusion(view), "out-of-fold predictions")
            self._loss_histogram(sec, view)
        else:
            sec.blocks.append(
                Paragraph("No out-of-fold predictions with their corpus: no confusion matrix or loss distribution.", note=True)
            )
        scoring = self.m.get("scoring") or {}
        if scoring.get("top_tokens"):
            caption = "Tokens with the highest summed loss of their given tags (nats)."
            self.table(sec, loss_table("top_tokens", "token", caption, scoring["top_tokens"][:top_n]))
        if scoring.get("loss_per_tag"):
            self.table(sec, loss_table("loss_per_tag", "tag", "Loss per given tag (nats).", scoring["loss_per_tag"]))

        sentences = self._worst_sentences(view, n_sent)
        if sentences:
            sub = self.section(f"Highest-loss sentences (top {len(sentences)})", "worst", level=3)
            sub.blocks.append(
                Paragraph(
                    "Each word with its given (silver) tag, the out-of-fold prediction"
                    + (", the known clean tag (bold where the given tag is wrong)" if sentences[0].clean is not None else "")
                    + " and the word's loss in nats; words where given and predicted tags differ are marked."
                )
            )
            sub.blocks.extend(sentences)
            self.derived["worst_sentences"] = [_sentence_dict(s) for s in sentences]

    def analysis(self) -> None:
        """`auditor analyze`: the chapter's error analysis of a final tagger on a held-out split."""
        an = self.m.get("analysis")
        if not an:
            return  # optional; named among the missing sections
        sec = self.section("Error analysis of the final tagger", "analysis")
        what = f"the {an.get('model', '?')} tagger" + (f" of experiment {an['experiment']}" if an.get("experiment") else "")
        where = f"the {an.get('split', '?')} split" + (f" ({an['lang']})" if an.get("lang") else "")
        acc = an.get("accuracy")
        acc_text = f", word accuracy {acc:.3f}" if isinstance(acc, (int, float)) else ""
        sec.blocks.append(
            Paragraph(f"{what[0].upper()}{what[1:]} on {where}: {an.get('n_sentences', '?')} sentences, {an.get('n_words', '?')} words{acc_text}.")
        )
        conf = an.get("confusion") or {}
        if conf.get("matrix"):
            matrix = np.asarray(conf["matrix"], dtype=float)
            self._confusion(sec, "analysis_confusion", conf["labels"], matrix, "final tagger's predictions")
        if an.get("top_tokens"):
            caption = "Tokens with the highest summed loss (nats)."
            self.table(sec, loss_table("analysis_top_tokens", "token", caption, an["top_tokens"][: self.cfg.report.top_tokens]))
        if an.get("loss_per_tag"):
            self.table(sec, loss_table("analysis_loss_per_tag", "tag", "Loss per gold tag (nats).", an["loss_per_tag"]))
        worst = an.get("worst_sentences") or []
        if worst:
            sub = self.section("The final tagger's highest-loss sentences", "analysis-worst", level=3)
            sub.blocks.append(Paragraph("Each word with its gold tag, the tagger's prediction and the word's loss in nats."))
            sub.blocks.extend(
                TaggedSentence(
                    id=w["id"], lang=w.get("lang") or w["id"].split("/")[0], loss=float(sum(w.get("losses") or [0.0])),
                    tokens=list(w["tokens"]), given=list(w["labels"]), predicted=list(w["predictions"]),
                    losses=[float(x) for x in w["losses"]] if w.get("losses") else None, given_name="gold",
                )
                for w in worst[: self.cfg.report.top_sentences]
            )
            self.derived["analysis_sentence_losses"] = [float(sum(w.get("losses") or [0.0])) for w in worst[: self.cfg.report.top_sentences]]

    def _confusion(self, sec: Section, key: str, labels: list[str], matrix: np.ndarray, source: str) -> None:
        self.derived[key] = {"labels": list(labels), "matrix": matrix.tolist(), "source": source}
        if self.want_figures:
            path = figs.confusion_matrix_figure(matrix, labels, self.report_dir / f"{key}.png")
            self.figure(sec, path, f"Normalized confusion matrix of the {source} (rows = given tag, each row sums to 1).")
        else:
            cols = [Column("given"), *[Column(lab, "num", ".2f") for lab in labels]]
            self.table(sec, Table(key, cols, [[lab, *row] for lab, row in zip(labels, matrix.tolist())]))

    def _loss_histogram(self, sec: Section, view: OofView) -> None:
        flagged = np.array([i in self.flagged_ids for i in view.ids], dtype=bool)
        edges = np.histogram_bin_edges(view.losses, bins=30)
        all_counts, _ = np.histogram(view.losses, bins=edges)
        flagged_counts, _ = np.histogram(view.losses[flagged], bins=edges)
        self.derived["loss_histogram"] = {
            "edges": edges.tolist(),
            "not_flagged": (all_counts - flagged_counts).tolist(),
            "flagged": flagged_counts.tolist(),
        }
        rows = [
            ["all sentences", len(view.losses), float(np.mean(view.losses)), float(np.median(view.losses)), float(np.max(view.losses))],
        ]
        if flagged.any():
            f = view.losses[flagged]
            rows.append(["flagged", int(flagged.sum()), float(np.mean(f)), float(np.median(f)), float(np.max(f))])
        if (~flagged).any() and flagged.any():
            u = view.losses[~flagged]
            rows.append(["not flagged", int((~flagged).sum()), float(np.mean(u)), float(np.median(u)), float(np.max(u))])
        cols = [Column("sentences"), Column("count", "num", ",d"), Column("mean", "num"), Column("median", "num"), Column("max", "num")]
        self.table(sec, Table("sequence_loss", cols, rows, "Sequence loss = sum of the word cross-entropies of the given tags (nats)."))
        if self.want_figures:
            path = figs.loss_histogram(edges, all_counts - flagged_counts, flagged_counts, self.report_dir / "sequence_loss.png")
            self.figure(sec, path, "Distribution of sequence losses; sentences with at least one flagged issue stacked in orange.")

    def _worst_sentences(self, view: OofView | None, n: int) -> list[TaggedSentence]:
        if view is not None and view.ids:
            order = sorted(range(len(view.ids)), key=lambda i: (-view.losses[i], view.ids[i]))[:n]
            names = view.label_names
            flagged = self.flagged_ids
            return [
                TaggedSentence(
                    id=view.ids[i],
                    lang=view.langs[i],
                    loss=float(view.losses[i]),
                    tokens=view.tokens[i],
                    given=[names[k] for k in view.given[i]],
                    predicted=[names[k] for k in view.predicted[i]],
                    losses=[float(x) for x in view.word_losses[i]],
                    flagged=view.ids[i] in flagged,
                    clean=[names[k] for k in view.clean[i]] if view.clean is not None else None,
                )
                for i in order
            ]
        issues = self.inputs.issues
        if issues is not None and len(issues):
            first = issues.sort_values(["sequence_loss", "id"], ascending=[False, True]).drop_duplicates("id").head(n)
            return [
                TaggedSentence(
                    id=r.id, lang=r.lang, loss=float(r.sequence_loss), tokens=list(r.tokens), given=list(r.tags),
                    predicted=list(r.predicted), losses=[float(x) for x in r.token_losses], flagged=True,
                )
                for r in first.itertuples()
            ]
        return []

    def curve(self) -> None:
        cv = self.m.get("curve")
        if not cv:
            return
        sec = self.section("Zero-shot transfer and fine-tuning curve", "curve")
        src, tgt = cv.get("source", "?"), cv.get("target", "?")
        zs = cv.get("zero_shot") or {}
        sec.blocks.append(
            Paragraph(f"Trained on {src}, tested on {tgt}: zero-shot F1 before cleaning {_fmt(zs.get('before'))}, after {_fmt(zs.get('after'))}.")
        )
        points = cv.get("points") or []
        if points:
            # before, after, then any other model name
            models = sorted({p["model"] for p in points}, key=lambda m: (("before", "after").index(m) if m in ("before", "after") else 2, m))
            sizes = sorted({int(p["size"]) for p in points})
            f1 = {(int(p["size"]), p["model"]): p["f1"] for p in points}
            rows = [[s, *[f1.get((s, m)) for m in models]] for s in sizes]
            cols = [Column(f"{tgt} sentences", "num", ",d"), *[Column(f"F1 {m}", "num") for m in models]]
            self.table(sec, Table("curve", cols, rows))
            if self.want_figures:
                series = {m: [f1.get((s, m)) for s in sizes] for m in models}
                path = figs.learning_curve_figure(sizes, series, zs, tgt, self.report_dir / "learning_curve.png")
                self.figure(sec, path, f"F1 on {tgt} against the number of {tgt} training sentences; dashed: zero-shot from {src}.")

    def document(self) -> Document:
        for step in (self.overview, self.corpus, self.crossval, self.issues, self.detection, self.review, self.apply, self.retrain, self.errors, self.analysis, self.curve):
            step()
        missing = [k for k in SECTIONS if k not in self.m]
        self.derived["missing"] = missing
        if missing:
            items = "; ".join(f"{SECTIONS[k][0]} ({SECTIONS[k][1]})" for k in missing)
            self.sections[0].blocks.insert(0, Paragraph(f"Not in this run: {items}.", note=True))
        subtitle = _subtitle(self.cfg) if self.inputs.config_found else f"Run directory: {self.inputs.run_dir.name}."
        return Document(f"Label audit report: {self.cfg.name}", subtitle, self.sections)


def _sentence_dict(s: TaggedSentence) -> dict:
    return {
        "id": s.id, "lang": s.lang, "loss": s.loss, "tokens": s.tokens, "given": s.given,
        "predicted": s.predicted, "losses": s.losses, "clean": s.clean, "flagged": s.flagged,
    }


_LABEL_TEXT = {
    "silver": "silver = the test tags as given (as noisy as the training data was)",
    "clean": "clean = the known clean tags (the true error rate of each model)",
    "reviewed": "reviewed = the test tags after review",
}


def _subtitle(cfg: PipelineConfig) -> str:
    langs = ", ".join(cfg.data.languages)
    return f"Corpus languages: {langs}. Model: {cfg.model.name}."


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.3f}"


def _mean(values: list) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def _sum(values: list) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.sum(vals)) if vals else None


# --- tables --------------------------------------------------------------------------


def corpus_table(corpus) -> Table:
    """Sentences, tokens and entities (by type) per split and language, with a total per split."""
    from auditor.data.corpus import CLEAN_COLUMN
    from auditor.data.iob import spans

    names = list(next(iter(corpus.values())).features["ner_tags"].feature.names)
    types = sorted({n[2:] for n in names if n != "O"})
    with_clean = all(CLEAN_COLUMN in ds.column_names for ds in corpus.values())
    rows, kinds = [], []
    for split, ds in corpus.items():
        counts: dict[str, Counter] = {}
        tags_col = ds["ner_tags"]
        clean_col = ds[CLEAN_COLUMN] if with_clean else [None] * len(ds)
        for lang, tokens, tags, clean in zip(ds["lang"], ds["tokens"], tags_col, clean_col):
            c = counts.setdefault(lang, Counter())
            c["sentences"] += 1
            c["tokens"] += len(tokens)
            for _, _, t in spans([names[k] for k in tags]):
                c[t] += 1
                c["entities"] += 1
            if clean is not None and list(clean) != list(tags):
                c["noisy"] += 1
        total = Counter()
        for lang in sorted(counts):
            total.update(counts[lang])
            rows.append(_corpus_row(split, lang, counts[lang], types, with_clean))
            kinds.append("")
        if len(counts) > 1:
            rows.append(_corpus_row(split, "all", total, types, with_clean))
            kinds.append("total")
    cols = [Column("split"), Column("language"), Column("sentences", "num", ",d"), Column("tokens", "num", ",d"), Column("entities", "num", ",d")]
    cols += [Column(t, "num", ",d") for t in types]
    caption = "Entities are counted from the given (silver) tags."
    if with_clean:
        cols.append(Column("noisy sentences", "num", ",d"))
        caption += " Noisy sentences: given tags differ from the known clean tags."
    return Table("corpus", cols, rows, caption, kinds)


def _corpus_row(split: str, lang: str, c: Counter, types: list[str], with_clean: bool) -> list:
    row = [split, lang, c["sentences"], c["tokens"], c["entities"], *[c[t] for t in types]]
    return row + [c["noisy"]] if with_clean else row


def corpus_stats_table(stats: dict) -> Table:
    """Sentences and tokens per split and language from metrics.json["corpus"] (CorpusStats.to_dict())."""
    rows = []
    for split, by_lang in stats["sentences"].items():
        for lang, n in by_lang.items():
            rows.append([split, lang, n, (stats.get("tokens") or {}).get(split, {}).get(lang)])
    cols = [Column("split"), Column("language"), Column("sentences", "num", ",d"), Column("tokens", "num", ",d")]
    return Table("corpus_metrics", cols, rows)


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


def detection_table(key: str, level: str, rows: list[dict]) -> Table:
    ks = []
    for r in rows:
        ks += [k for k in (r.get("precision_at") or {}) if k not in ks]
    cols = [Column("method"), Column("AP", "num"), Column("AUROC", "num")]
    cols += [Column(f"P@{k}", "num") for k in ks] + [Column(f"R@{k}", "num") for k in ks]
    out = [
        [r["method"], r.get("ap"), r.get("auroc"), *[(r.get("precision_at") or {}).get(k) for k in ks], *[(r.get("recall_at") or {}).get(k) for k in ks]]
        for r in rows
    ]
    return Table(key, cols, out, f"Ranking known-wrong {level}s first: per detection method.")


def detection_curves(rows: list[dict]) -> list[figs.DetectionCurve]:
    curves = []
    for r in rows:
        ks = sorted((r.get("precision_at") or {}), key=lambda k: int(k))
        curves.append(
            figs.DetectionCurve(r["method"], [int(k) for k in ks], [r["precision_at"].get(k) for k in ks], [(r.get("recall_at") or {}).get(k) for k in ks])
        )
    return curves


def loss_table(key: str, what: str, caption: str, rows: list[dict]) -> Table:
    cols = [Column(what), Column("count", "num", ",d"), Column("mean loss", "num"), Column("summed loss", "num", ",.2f")]
    return Table(key, cols, [[r[what], r.get("count"), r.get("mean"), r.get("sum")] for r in rows], caption)


def _retrain_cells(result, labels: str) -> tuple[list[str], dict[tuple[str, str, str], object]]:
    """Test languages in first-seen order and (experiment, model, lang) -> Scores for one label set."""
    langs: list[str] = []
    cells = {}
    for exp in result.experiments:
        for r in exp.results:
            if r.labels == labels:
                cells[(exp.name, r.model, r.lang)] = r.scores
                if r.lang not in langs:
                    langs.append(r.lang)
    return langs, cells


def _same_scores(result, a: str, b: str) -> bool:
    """True when label sets a and b gave identical F1 for every (experiment, model, language)."""
    _, ca = _retrain_cells(result, a)
    _, cb = _retrain_cells(result, b)
    return ca.keys() == cb.keys() and all(ca[k].f1 == cb[k].f1 and ca[k].support == cb[k].support for k in ca)


def f1_delta_table(result, labels: str) -> Table:
    """Per experiment: a before row, an after row and a delta row; columns = test languages + mean."""
    langs, cells = _retrain_cells(result, labels)
    rows, kinds = [], []
    for exp in result.experiments:
        per_model = {}
        for model in ("before", "after"):
            vals = [cells[(exp.name, model, lang)].f1 if (exp.name, model, lang) in cells else None for lang in langs]
            if any(v is not None for v in vals):
                per_model[model] = vals
                rows.append([exp.name, model, *vals, _mean(vals)])
                kinds.append("")
        if len(per_model) == 2:
            delta = [a - b if a is not None and b is not None else None for a, b in zip(per_model["after"], per_model["before"])]
            mean_delta = rows[-1][-1] - rows[-2][-1] if rows[-1][-1] is not None and rows[-2][-1] is not None else None
            rows.append([exp.name, "Δ", *delta, mean_delta])
            kinds.append("delta")
    cols = [Column("trained on"), Column("model"), *[Column(lang, "num") for lang in langs], Column("mean", "num")]
    return Table(f"f1_{labels}", cols, rows, f"Entity F1 per test language against the {labels} test tags.", kinds)


def per_type_table(result, labels: str) -> Table:
    """F1 per entity type before, after and the difference: one row per (experiment, test language),
    three columns per type."""
    langs, cells = _retrain_cells(result, labels)
    types = sorted({t for s in cells.values() for t in s.per_type})
    rows = []
    for exp in result.experiments:
        for lang in langs:
            before, after = cells.get((exp.name, "before", lang)), cells.get((exp.name, "after", lang))
            if before is None and after is None:
                continue
            row = [exp.name, lang]
            for t in types:
                b = before.per_type[t].f1 if before and t in before.per_type else None
                a = after.per_type[t].f1 if after and t in after.per_type else None
                row += [b, a, a - b if a is not None and b is not None else None]
            rows.append(row)
    cols = [Column("trained on"), Column("test")]
    for t in types:
        cols += [Column(f"{t} before", "num"), Column(f"{t} after", "num"), Column(f"{t} Δ", "delta")]
    return Table(f"per_type_{labels}", cols, rows, f"F1 per entity type against the {labels} test tags.")


def f1_bars(result, labels: str) -> list[figs.F1Bars]:
    langs, cells = _retrain_cells(result, labels)
    out = []
    for exp in result.experiments:
        test = [lang for lang in langs if any((exp.name, m, lang) in cells for m in ("before", "after"))]
        get = lambda m, lang: cells[(exp.name, m, lang)].f1 if (exp.name, m, lang) in cells else None  # noqa: E731
        out.append(figs.F1Bars(exp.name, test, [get("before", lang) for lang in test], [get("after", lang) for lang in test]))
    return out


# --- entry point ---------------------------------------------------------------------


def build_document(inputs: RunInputs, report_dir: Path) -> tuple[Document, dict, list[Path]]:
    """The report document, the derived numbers for metrics["report"], and the figure files written."""
    report_dir.mkdir(parents=True, exist_ok=True)
    builder = _Builder(inputs, report_dir)
    doc = builder.document()
    return doc, builder.derived, builder.figures


def default_report_dir(run_dir: Path) -> Path:
    """Where a run's report goes by default: the config's report.dir/<name>, i.e. reports/<run name>."""
    cfg, _, _ = _read_config(Path(run_dir))
    return cfg.report_dir


def build_report(run_dir: Path, report_dir: Path) -> ReportPaths:
    """Write report_dir/report.md, report_dir/report.html (self-contained) and the PNG figures.

    Every section of metrics.json is optional; missing ones are named in the report.
    Derived numbers go to run_dir/metrics.json["report"].
    """
    from auditor.reporting import html, markdown

    run_dir, report_dir = Path(run_dir), Path(report_dir)
    inputs = load_run(run_dir)
    doc, derived, figures = build_document(inputs, report_dir)
    md_path, html_path = report_dir / "report.md", report_dir / "report.html"
    write_text_atomic(md_path, markdown.render(doc, report_dir))
    write_text_atomic(html_path, html.render(doc))
    derived["figures"] = [p.name for p in figures]
    update_metrics(run_dir, "report", derived)
    return ReportPaths(md_path, html_path, figures)

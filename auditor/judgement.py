"""Which test labels judge the cleaning, and what to say when two judges disagree.

Every F1 the retrain stage reports is judged on some test labels: the given (silver) test
tags, known clean tags, the reviewed test split, or a curator's verified test sentences
(auditor.verified_test). The silver tags share the corpus's conventions, right or wrong, so
when cleaning corrected a convention they mark it down: on CoNLL with expert corrections,
cleaning everything gives -0.049 F1 on the silver test tags and +0.009 on the corrected
ones. Where the silver test and the verified sentences disagree on the sign of
after - before, the report and the CLI say so in one sentence and trust the verified.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.evaluation import F1Interval, RetrainResult

# a difference smaller than this (a rounding of the shown three decimals) has no sign
NO_CHANGE = 0.0005


def judged_on(labels: str, n_sentences: int | None = None, weighted: bool = False) -> str:
    """What a label set's numbers are judged on, for a table's row or caption. weighted: the
    verified sentences were drawn where the taggers disagree and stand for the whole split."""
    if labels == "verified":
        text = f"{n_sentences} verified test sentences" if n_sentences is not None else "verified test sentences"
        return text + " (weighted)" if weighted else text
    return {"silver": "silver test tags", "clean": "clean test tags", "reviewed": "reviewed test tags"}.get(labels, labels)


def verified_sentences(result: RetrainResult, experiment: str) -> int:
    """Verified test sentences an experiment was judged on (summed over its test languages)."""
    exp = next(e for e in result.experiments if e.name == experiment)
    return sum(r.interval.n_sentences for r in exp.intervals if r.labels == "verified" and r.model == "before")


@dataclass(frozen=True)
class Disagreement:
    """One experiment and test language where the silver test and the verified sentences
    give after - before opposite signs."""

    experiment: str
    lang: str
    silver: float  # after - before on the silver test tags (all test sentences of lang)
    verified: F1Interval  # after - before on the verified sentences, with its paired interval
    # how the tables name the silver numbers: "clean test tags" where silver equals clean and
    # only the clean rows are shown (RetrainResult.shown_label_sets)
    silver_name: str = "silver test tags"

    def sentence(self) -> str:
        v = self.verified
        hurt_helped = ("hurt", "helped") if self.silver < 0 else ("helped", "hurt")
        # a verified difference inside its own sampling noise is no verdict to trust over the
        # silver one: then the sentence says what would settle it instead
        verdict = (
            "within the verified sentences' sampling noise (the interval includes 0): verify more test sentences to settle it"
            if v.low <= 0 <= v.high
            else "trust the verified sentences"
        )
        return (
            f"Trained on {self.experiment}, tested on {self.lang}: the {self.silver_name} say cleaning {hurt_helped[0]} "
            f"({self.silver:+.3f} F1), the {v.n_sentences} verified test sentences say it {hurt_helped[1]} "
            f"({v.f1:+.3f}, {v.level:.0%} interval {v.low:+.3f} to {v.high:+.3f}); {verdict}."
        )


def disagreements(result: RetrainResult) -> list[Disagreement]:
    """Every (experiment, test language) where silver and verified after - before differ in sign
    (a difference under NO_CHANGE has none), in experiment and language order."""
    out = []
    name = judged_on("clean") if "silver" not in result.shown_label_sets() else judged_on("silver")
    for exp in result.experiments:
        f1 = {(r.model, r.labels, r.lang): r.scores.f1 for r in exp.results}
        for lang in exp.test:
            verified = exp.interval("delta", "verified", lang)
            before, after = f1.get(("before", "silver", lang)), f1.get(("after", "silver", lang))
            if verified is None or before is None or after is None:
                continue
            silver = after - before
            if abs(silver) >= NO_CHANGE and abs(verified.f1) >= NO_CHANGE and (silver > 0) != (verified.f1 > 0):
                out.append(Disagreement(exp.name, lang, silver, verified, name))
    return out

"""Why an issue was flagged, in words, from the issue row's own signals.

Always available (auditor.tables.ISSUE_COLUMNS): the per-word loss of the given tag (nats,
so the model's probability of the given tag is exp(-loss)), the model's tags (`predicted`),
cleanlab's label quality and the share of the words' occurrences labelled like this one
(`consistency_score`). Used when the score stage provides them (optional columns):

    given_prob      list[float]  per word of the span: the model's probability of the given tag
    suggested_prob  list[float]  per word of the span: the model's probability of the suggested tag
    form_count       int          occurrences of the span's words in the corpus
    form_same        int          of those, labelled like this one
    reference_score  float        a verified sample's evidence (0 = corrected in the sample)
    reference_example str         the corrected verified word that evidence rests on ("" = none)
"""

from __future__ import annotations

import math

from auditor.review.groups import span_types
from auditor.review.queue import Issue
from auditor.scoring.reference import REFERENCE_FLAG_BELOW

LOW = 0.10  # a given tag the model gives less than this is called unlikely


def percent(p: float) -> str:
    """0.031 -> '3%'; the ends are never rounded to a certainty the model does not have."""
    if p < 0.01:
        return "<1%"
    if p > 0.99:
        return ">99%"
    return f"{p:.0%}"


def _span_list(values, n: int) -> list[float] | None:
    if values is None:
        return None
    values = list(values)
    return [float(v) for v in values] if len(values) == n and all(v is not None for v in values) else None


def what_changes(issue: Issue) -> str:
    """The change the suggestion makes, by kind."""
    given, new = span_types(issue.given), span_types(issue.suggested)
    words = f"“{issue.surface}”"
    if issue.kind == "missing":
        return f"{words} is not tagged; the suggestion makes it {new}"
    if issue.kind == "spurious":
        return f"{words} is tagged {given}; the suggestion is no entity"
    if issue.kind == "boundary":
        return f"the {given} entity's edges look wrong around {words}"
    return f"{words} is tagged {given}; the suggestion is {new}"


def model_view(issue: Issue) -> str | None:
    """What the model says about the least likely given tag of the span."""
    n = issue.end - issue.start
    if n <= 0 or len(issue.token_losses) < issue.end:
        return None
    given_p = _span_list(issue.signals.get("given_prob"), n)
    if given_p is None:
        given_p = [math.exp(-max(0.0, float(issue.token_losses[i] or 0.0))) for i in range(issue.start, issue.end)]
    # the word the suggestion changes says most; among those, the least likely given tag
    changed = [k for k in range(n) if k < len(issue.suggested) and issue.suggested[k] != issue.given[k]] or list(range(n))
    j = min(changed, key=lambda k: given_p[k])
    w = issue.start + j
    word, given_tag = issue.tokens[w], issue.tags[w]
    suggested_tag = issue.suggested[j]
    text = f"the model gives “{word}” the given {given_tag} {percent(given_p[j])}"
    suggested_p = _span_list(issue.signals.get("suggested_prob"), n)
    if suggested_p is not None and suggested_tag != given_tag:
        text += f", the suggested {suggested_tag} {percent(suggested_p[j])}"
    elif w < len(issue.predicted) and issue.predicted[w] != given_tag:
        text += f" and predicts {issue.predicted[w]}"
    unlikely = sum(p < LOW for p in given_p)
    if n > 1 and unlikely > 1:
        share = f"all {n}" if unlikely == n else f"{unlikely} of the {n}"
        text += f" ({share} words' given tags below {percent(LOW)})"
    if given_p[j] >= 0.5:
        text += " — the model agrees with the given tags; the other signals flagged it"
    return text


def corpus_view(issue: Issue) -> str | None:
    """How the corpus labels the same words elsewhere."""
    count, same = issue.signals.get("form_count"), issue.signals.get("form_same")
    if count and same is not None and int(count) > 1:
        return f"“{issue.surface}” is labelled like this in {int(same)} of its {int(count)} occurrences in the corpus"
    share = issue.signals.get("consistency_score")
    if share is None or not share < 1.0:
        return None
    return f"“{issue.surface}” is labelled like this in only {percent(float(share))} of its occurrences in the corpus"


def _reference(issue: Issue) -> float | None:
    value = issue.signals.get("reference_score")
    return float(value) if value is not None and value == value else None  # NaN: no sample


def sample_view(issue: Issue) -> str | None:
    """What the verified sample says (auditor.scoring.reference)."""
    ref = _reference(issue)
    if ref == 0.0:
        return "the curator corrected this sentence in the verified sample"
    # the same rule as the evidence's own doubt (ReferenceEvidence.doubted): above it the
    # corrected neighbours are too few or too far to be a reason, whatever the number says
    if ref is None or ref >= REFERENCE_FLAG_BELOW:
        return None
    example = issue.signals.get("reference_example")
    like = f", e.g. {example}" if isinstance(example, str) and example else ""
    return f"the curator corrected similar words{like} (evidence {ref:.2f}; 1 = none corrected)"


def suggestion_source(issue: Issue) -> str | None:
    predicted = issue.predicted[issue.start : issue.end]
    if list(predicted) == list(issue.suggested):
        return None
    ref = _reference(issue)
    if ref == 0.0:
        return "the suggestion is the curator's tags from the verified sample, not the model's"
    if ref is not None and ref < REFERENCE_FLAG_BELOW:
        return "the suggestion follows the curator's corrections of similar words, not the model"
    return "the suggestion follows the corpus's usual labelling of these words, not the model"


def why_flagged(issue: Issue, change: bool = False) -> list[str]:
    """Short sentences, most telling first, e.g. ['the model gives “England” the given B-LOC 3%
    and predicts B-ORG', '“England” is labelled like this in only 21% of its occurrences in
    the corpus', 'cleanlab label quality 0.04']. change: start with what the suggestion
    changes (when the kind and change are not shown next to it)."""
    parts = [
        what_changes(issue) if change else None, sample_view(issue), model_view(issue), corpus_view(issue), suggestion_source(issue),
    ]
    quality = issue.signals.get("cleanlab_score")
    if quality is not None and quality == quality:  # not NaN
        parts.append(f"cleanlab label quality {float(quality):.2f}")
    return [p for p in parts if p]

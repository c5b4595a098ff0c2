"""metrics.json["review"]: what the review stage decided, by a policy or by curators.

One record for both ways a review happens. An unattended policy (policies.PolicySummary)
fills the policy fields and a `note` for the report; curators in the UI leave them None and
name themselves in `curators`. None fields are not written, so each way keeps its own keys.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from auditor.records import fields_from_dict


@dataclass
class ReviewSummary:
    """policy: interactive | threshold | oracle; total: issues in the table; decided: issues
    with a current decision; by_action: decided issues per action.

    Unattended only: curator (the policy's name in the store), considered (issues in the top
    fraction), recorded (rows this call appended), human_decisions_kept (issues left to the
    curators who decided them), stale (considered issues whose sentence changed), top_fraction,
    note (one sentence for the report), threshold, adaptive (batch, refits, ...).
    Interactive only: curators (who decided).
    """

    SECTION: ClassVar[str] = "review"

    policy: str
    total: int
    decided: int
    by_action: dict[str, int]
    unattended: bool = False
    curator: str | None = None
    considered: int | None = None
    recorded: int | None = None
    human_decisions_kept: int | None = None
    stale: int | None = None
    top_fraction: float | None = None
    note: str | None = None
    threshold: float | None = None
    adaptive: dict | None = None
    curators: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        # the order of the keys is the order of the report's details table
        order = ("policy", "unattended", "curator", "total", "considered", "decided", "recorded",
                 "human_decisions_kept", "stale", "by_action", "top_fraction", "note", "threshold",
                 "adaptive", "curators")
        d = asdict(self)
        return {k: d[k] for k in order if d[k] is not None and not (k == "unattended" and not d[k])}

    @classmethod
    def from_dict(cls, d: dict) -> ReviewSummary:
        return cls(**fields_from_dict(cls, d))

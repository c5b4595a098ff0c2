"""Verified test sentences: the judge of the cleaning when the test tags share its errors.

The retrain stage measures each tagger on the test split's given (silver) tags. On a corpus
whose errors are a wrong *convention*, those tags carry the convention too, so a tagger
trained on corrected tags is marked down for being right (CoNLL with expert corrections:
-0.049 F1 on the original test tags, +0.009 on the corrected ones). A few hundred test
sentences a curator checked are the fair judge: ``auditor sample RUN --split test`` draws
them (stratified by language), ``auditor verify`` checks them, ``retrain.verified_test``
names the file, and only its lines marked verified count.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from auditor.errors import DataError

SPLIT = "test"


@dataclass(frozen=True)
class VerifiedTest:
    """tags: test sentence id -> the curator's tags (one tag string per word), verified
    lines only; n_lines: all lines of the file (verified or not); source: the file."""

    tags: dict[str, list[str]]
    n_lines: int
    source: str

    def __len__(self) -> int:
        return len(self.tags)


def read_verified_test(path: str | Path, test, label_names: list[str]) -> VerifiedTest:
    """The verified lines of a sample file of test sentences, checked against the test split.

    test: the corpus's test split (a datasets.Dataset with id, tokens); label_names: the
    corpus's tag names. Raises DataError (one line, what to do) when the file is missing,
    was drawn from another split, holds no verified line, or a verified sentence is not a
    test sentence, has another length, other words or a tag the corpus does not have."""
    from auditor.data.sample import read_sample

    p = Path(path)
    if not p.is_file():
        raise DataError(
            f"retrain.verified_test {str(path)!r} does not exist; draw one with "
            f"`auditor sample RUN_DIR --split {SPLIT} --out FILE` and check it with `auditor verify FILE`"
        )
    rows = read_sample(p)
    wrong_split = next((r for r in rows if r.extra.get("split", SPLIT) != SPLIT), None)
    if wrong_split is not None:
        raise DataError(
            f"{p}: sentence {wrong_split.id!r} was drawn from the {wrong_split.extra['split']!r} split; "
            f"the judge needs test sentences (`auditor sample RUN_DIR --split {SPLIT}`)"
        )
    known = set(label_names)
    position = {sid: i for i, sid in enumerate(test["id"])}
    tags: dict[str, list[str]] = {}
    for row in rows:
        if not row.verified:
            continue
        i = position.get(row.id)
        if i is None:
            raise DataError(f"{p}: sentence {row.id!r} is not in the corpus's test split; was the sample drawn from this corpus?")
        unknown = next((t for t in row.tags if t not in known), None)
        if unknown is not None:
            raise DataError(f"{p}: sentence {row.id!r}: tag {unknown!r} is not one of the corpus's labels {label_names}")
        words = test[i]["tokens"]
        if len(row.tags) != len(words):
            raise DataError(f"{p}: sentence {row.id!r} has {len(row.tags)} tags but the test sentence has {len(words)} words")
        if row.tokens and list(row.tokens) != list(words):
            raise DataError(f"{p}: sentence {row.id!r} has other words than the test sentence of that id; was it drawn from this corpus?")
        tags[row.id] = list(row.tags)
    if not tags:
        what = f"none of its {len(rows)} sentences is verified yet; check them with `auditor verify {p}`" if rows else "it is empty"
        raise DataError(f"{p} (retrain.verified_test) holds no verified sentence: {what}")
    return VerifiedTest(tags, len(rows), str(p))

"""Verified test sentences: the judge of the cleaning when the test tags share its errors.

The judge stage measures each retrained tagger on the test split's given (silver) tags. On a corpus
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
from auditor.sample_design import STRATUM, STRATUM_SIZE, SampleDesign, design_from_strata

SPLIT = "test"


@dataclass(frozen=True)
class VerifiedTest:
    """tags: test sentence id -> the curator's tags (one tag string per word), verified
    lines only; n_lines: all lines of the file (verified or not); source: the file;
    design: how the verified sentences were drawn, in the order of tags, when the sample was
    drawn with unequal chances (`auditor sample --where disagree`, auditor.sample_design),
    None for a uniform one."""

    tags: dict[str, list[str]]
    n_lines: int
    source: str
    design: SampleDesign | None = None

    def __len__(self) -> int:
        return len(self.tags)

    def design_of(self, ids: list[str]) -> SampleDesign | None:
        """The design of some verified sentences, in the order of ids (None when uniform)."""
        if self.design is None:
            return None
        position = {sid: i for i, sid in enumerate(self.tags)}
        return self.design.subset([position[sid] for sid in ids])


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
    return VerifiedTest(tags, len(rows), str(p), read_design(p, rows))


def read_design(path: str | Path, rows: list) -> SampleDesign | None:
    """The design of a sample file's verified lines (in file order) from the "stratum" and
    "stratum_size" keys a weighted draw writes; None when no line has them. rows: every line
    of the file (auditor.data.sample.read_sample). All lines or none must have them: a sample
    with some lines weighted and some not has no honest weight for the rest. Every stratum
    drawn needs a verified line: without one its sentences would silently count for nothing."""
    marked = [r for r in rows if STRATUM in r.extra]
    if not marked:
        return None
    if len(marked) != len(rows):
        plain = next(r for r in rows if STRATUM not in r.extra)
        raise DataError(
            f"{path}: sentence {plain.id!r} has no {STRATUM!r} but other lines do; a weighted sample needs every line "
            f"from its draw (draw it again with `auditor sample RUN_DIR --split {SPLIT} --where disagree`)"
        )
    population: dict[str, int] = {}
    for r in marked:
        size = r.extra.get(STRATUM_SIZE)
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise DataError(f"{path}: sentence {r.id!r}: {STRATUM_SIZE!r} must be a whole number >= 1 (got {size!r})")
        name = str(r.extra[STRATUM])
        if population.setdefault(name, size) != size:
            raise DataError(f"{path}: stratum {name!r} has two sizes ({population[name]} and {size}); was the file edited by hand?")
    verified = [r for r in marked if r.verified]
    unchecked = sorted(set(population) - {str(r.extra[STRATUM]) for r in verified})
    if unchecked:
        first = next(r for r in marked if str(r.extra[STRATUM]) == unchecked[0])
        raise DataError(
            f"{path}: no sentence of stratum {unchecked[0]!r} is verified yet, so the {population[unchecked[0]]} test "
            f"sentences it stands for would count for nothing; verify at least one (e.g. {first.id!r}) with `auditor verify {path}`"
        )
    try:
        return design_from_strata([str(r.extra[STRATUM]) for r in verified], population)
    except ValueError as err:
        raise DataError(f"{path}: {err}; was the file edited by hand?") from None

"""From flagged words to spans: IOB2 repair, regions, suggestions and issue kinds."""

import numpy as np
import pytest
from datasets import DatasetDict
from simulated_oof import simulate_oof

from auditor.config import ScoringConfig, SyntheticConfig
from auditor.data.corpus import dataset_from_records
from auditor.data.iob import violations
from auditor.data.synthetic import generate_synthetic
from auditor.scoring.score import score_corpus
from auditor.scoring.spans import LabelScheme, classify, regions, repair_iob2_ids
from auditor.tables import ISSUE_COLUMNS, OofPredictions, read_issues, write_issues

NAMES = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]


def test_repair_iob2_ids_turns_stray_inside_tags_into_begin_tags_per_sentence():
    scheme = LabelScheme.from_names(NAMES)
    ix = {n: i for i, n in enumerate(NAMES)}
    tags = ["I-PER", "I-PER", "O", "I-ORG", "B-LOC", "I-ORG", "I-LOC"]
    # two sentences: [0, 4) and [4, 7); word 4 starts a sentence
    out = repair_iob2_ids(np.array([ix[t] for t in tags]), np.array([0, 4, 7]), scheme)
    assert [NAMES[i] for i in out] == ["B-PER", "I-PER", "O", "B-ORG", "B-LOC", "B-ORG", "B-LOC"]


def test_regions_grow_to_whole_given_and_suggested_entities_and_merge():
    given = ["O", "B-ORG", "I-ORG", "I-ORG", "O", "O", "B-PER"]
    suggested = ["O", "B-ORG", "I-ORG", "O", "O", "O", "B-PER"]
    flagged = np.array([0, 0, 0, 1, 0, 1, 0], dtype=bool)
    assert regions(flagged, given, suggested) == [(1, 4), (5, 6)]


def test_classify_kinds():
    assert classify(["B-PER", "I-PER"], ["B-ORG", "I-ORG"]) == ("type", "ORG")
    assert classify(["B-LOC", "I-LOC", "I-LOC"], ["B-LOC", "O", "O"]) == ("boundary", "LOC")
    assert classify(["O", "O"], ["B-PER", "I-PER"]) == ("missing", "PER")
    assert classify(["B-ORG"], ["O"]) == ("spurious", "ORG")


def _filler(n: int) -> list[dict]:
    """Correct sentences so every class is present (cleanlab estimates per-class noise)."""
    out = []
    for i in range(n):
        out.append(
            {
                "id": f"f{i:03d}",
                "tokens": ["Anna", "Meier", "besucht", "Bad", "Ems", "und", "die", "Deutsche", "Bahn", "."],
                "ner_tags": ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "O", "B-ORG", "I-ORG", "O"],
                "lang": "de",
            }
        )
    return out


def _run(cases: list[tuple[list[str], list[str], list[str]]], cfg: ScoringConfig | None = None):
    """cases: (tokens, given tags, model tags); the model puts 0.9 on its tag."""
    records = _filler(30) + [
        {"id": f"case{i}", "tokens": toks, "ner_tags": given, "lang": "de"} for i, (toks, given, _) in enumerate(cases)
    ]
    corpus = DatasetDict(train=dataset_from_records(records, NAMES))
    model = [r["ner_tags"] for r in records[:30]] + [m for _, _, m in cases]
    ids, words, probs = [], [], []
    for r, tags in zip(records, model):
        for j, t in enumerate(tags):
            p = np.full(len(NAMES), 0.1 / (len(NAMES) - 1))
            p[NAMES.index(t)] = 0.9
            ids.append(r["id"]), words.append(j), probs.append(p)
    preds = OofPredictions(
        ids=np.array(ids, dtype=object),
        word_index=np.array(words),
        fold=np.zeros(len(ids), dtype=np.int16),
        probs=np.array(probs, dtype=np.float32),
        label_names=NAMES,
    )
    return score_corpus(corpus, preds, cfg or ScoringConfig(), progress=False).issues


@pytest.mark.parametrize(
    ("tokens", "given", "model", "kind", "span", "suggested"),
    [
        (["Die", "Weltbank", "tagt"], ["O", "B-PER", "O"], ["O", "B-ORG", "O"], "type", (1, 2), ["B-ORG"]),
        (
            ["Rom", "(", "Italien", ")", "liegt"],
            ["B-LOC", "I-LOC", "I-LOC", "I-LOC", "O"],
            ["B-LOC", "O", "B-LOC", "O", "O"],
            "boundary",
            (0, 4),
            ["B-LOC", "O", "B-LOC", "O"],
        ),
        (
            ["Gestern", "kam", "Otto", "Kurz"],
            ["O", "O", "O", "O"],
            ["O", "O", "B-PER", "I-PER"],
            "missing",
            (2, 4),
            ["B-PER", "I-PER"],
        ),
        (
            ["Am", "8.", "Juli", "regnete"],
            ["O", "B-ORG", "I-ORG", "O"],
            ["O", "O", "O", "O"],
            "spurious",
            (1, 3),
            ["O", "O"],
        ),
    ],
)
def test_each_issue_kind_on_an_unambiguous_example(tokens, given, model, kind, span, suggested):
    issues = _run([(tokens, given, model)])
    assert len(issues) == 1
    row = issues.iloc[0]
    assert row["kind"] == kind
    assert (row["start"], row["end"]) == span
    assert row["issue_id"] == f"case0:{span[0]}-{span[1]}"
    assert list(row["given"]) == given[span[0] : span[1]]
    assert list(row["suggested"]) == suggested
    assert row["surface"] == " ".join(tokens[span[0] : span[1]])
    assert list(row["tokens"]) == tokens and list(row["tags"]) == given


def test_model_inside_tag_after_o_is_suggested_as_begin_tag():
    # the model's argmax I-ORG after O is invalid IOB2; the suggestion must start with B-ORG
    issues = _run([(["Die", "Weltbank", "tagt"], ["O", "O", "O"], ["O", "I-ORG", "O"])])
    row = issues.iloc[0]
    assert row["kind"] == "missing"
    assert list(row["suggested"]) == ["B-ORG"]
    assert list(row["predicted"]) == ["O", "B-ORG", "O"]


def test_no_issue_when_the_model_agrees_with_the_given_tags(tmp_path):
    issues = _run([(["Anna", "lacht"], ["B-PER", "O"], ["B-PER", "O"])])
    assert len(issues) == 0
    write_issues(issues, tmp_path / "issues.parquet")  # an empty table is still a valid issue file
    assert list(read_issues(tmp_path / "issues.parquet").columns) == list(ISSUE_COLUMNS)


def test_suggestions_and_predictions_are_valid_iob2_on_a_noisy_corpus():
    corpus = generate_synthetic(SyntheticConfig(sentences={"train": 400}), ["de", "fr"], seed=3)
    preds = simulate_oof(corpus, ["train"], seed=3, strength=2.0, noise=1.5, error_rate=0.1)
    issues = score_corpus(corpus, preds, ScoringConfig(), progress=False).issues
    assert len(issues) > 50
    assert set(issues["kind"]) == {"type", "boundary", "missing", "spurious"}
    for row in issues.itertuples():
        assert violations(list(row.suggested)) == []
        assert violations(list(row.predicted)) == []
        # the suggestion applied to the sentence keeps the whole sentence valid IOB2
        applied = list(row.tags[: row.start]) + list(row.suggested) + list(row.tags[row.end :])
        assert violations(applied) == [] or violations(list(row.tags)) != []
        assert list(row.suggested) != list(row.given)

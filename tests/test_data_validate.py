"""Bad input fails with one DataError line naming the place; IOB2 helpers."""

from __future__ import annotations

import json

import pytest

from auditor.config import DataConfig
from auditor.data.build import load_corpus, load_corpus_with_report
from auditor.data.corpus import label_names
from auditor.data.iob import diff_spans, iob1_to_iob2, is_tag, repair_iob2, spans, tags_from_spans, violations
from auditor.errors import DataError


def cfg_for(path, source, **kw) -> DataConfig:
    return DataConfig(source=source, files={"train": str(path)}, splits=["train"], languages={"de": 1.0}, **kw)


def fails(cfg, pattern: str) -> str:
    with pytest.raises(DataError, match=pattern) as err:
        load_corpus(cfg)
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def jsonl(tmp_path, rows, name="train.jsonl"):
    p = tmp_path / name
    p.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return p


GOOD = {"tokens": ["Hans", "lebt"], "ner_tags": ["B-PER", "O"]}


def test_length_mismatch_names_file_and_line(tmp_path):
    p = jsonl(tmp_path, [GOOD, {"tokens": ["a", "b", "c"], "ner_tags": ["O", "O"]}])
    fails(cfg_for(p, "jsonl"), rf"^{p}:2: 3 tokens but 2 ner_tags$")


def test_unknown_tag_string_in_conll(tmp_path):
    p = tmp_path / "train.conll"
    p.write_text("Hans\tB-PER\nlebt\tO\n\nin\tO\nBern\tB_LOC\n")
    fails(cfg_for(p, "conll"), rf"^{p}:4: word 1 has tag 'B_LOC'")


def test_tag_outside_label_names(tmp_path):
    p = jsonl(tmp_path, [GOOD, {"tokens": ["x"], "ner_tags": ["B-MISC"]}])
    fails(cfg_for(p, "jsonl", label_names=["O", "B-PER", "I-PER"]), rf"^{p}:2: .*'B-MISC', not in data.label_names")


def test_int_tag_out_of_range(tmp_path):
    p = jsonl(tmp_path, [{"tokens": ["a"], "ner_tags": [0]}, {"tokens": ["a"], "ner_tags": [7]}])
    fails(cfg_for(p, "jsonl", label_names=["O", "B-PER", "I-PER"]), rf"^{p}:2: integer tag 7 out of range 0..2")


def test_int_tags_without_label_names(tmp_path):
    p = jsonl(tmp_path, [{"tokens": ["a"], "ner_tags": [0]}])
    fails(cfg_for(p, "jsonl"), rf"^{p}:1: integer tag 0 but no label names; set data.label_names")


def test_empty_sentence(tmp_path):
    p = jsonl(tmp_path, [GOOD, GOOD, {"tokens": [], "ner_tags": []}])
    fails(cfg_for(p, "jsonl"), rf"^{p}:3: empty sentence")


def test_tag_column_missing(tmp_path):
    p = tmp_path / "train.conll"
    p.write_text("Hans\tB-PER\nlebt\n")
    fails(cfg_for(p, "conll"), rf"^{p}:2: no tag column")


def test_jsonl_field_missing_and_bad_json(tmp_path):
    p = jsonl(tmp_path, [GOOD, {"tokens": ["a"]}])
    fails(cfg_for(p, "jsonl"), rf"^{p}:2: no `ner_tags` field")
    q = jsonl(tmp_path, [GOOD, '{"tokens": ["a"], '], name="b.jsonl")
    fails(cfg_for(q, "jsonl"), rf"^{q}:2: not valid JSON")


def test_non_utf8_bytes(tmp_path):
    p = tmp_path / "train.conll"
    p.write_bytes(b"Hans\tB-PER\n\nK" + b"\xf6ln\tB-LOC\n")
    fails(cfg_for(p, "conll"), rf"^{p}:3: not UTF-8 text \(byte 0xf6 at column 2\)")


def test_iob2_violation_reported_then_repaired_on_request(tmp_path):
    p = tmp_path / "train.conll"
    p.write_text("Hans\tB-PER\n\nder\tO\nRhein\tI-LOC\nfließt\tO\n")
    fails(cfg_for(p, "conll"), rf"^{p}:3: IOB2 violation at word 1: I-LOC after O .*repair_iob")
    lc = load_corpus_with_report(cfg_for(p, "conll", repair_iob=True))
    names = label_names(lc.corpus)
    assert [names[t] for t in lc.corpus["train"][1]["ner_tags"]] == ["O", "B-LOC", "O"]
    assert lc.report.iob_repaired == 1 and lc.report.iob_locations == [f"{p}:3 word 1"]


def test_duplicate_ids(tmp_path):
    p = jsonl(tmp_path, [dict(GOOD, id="x1"), dict(GOOD, id="x2"), dict(GOOD, id="x1")])
    fails(cfg_for(p, "jsonl"), rf"^{p}:3: duplicate id 'x1' in split train \(first at {p}:1\)")


def test_missing_file(tmp_path):
    fails(cfg_for(tmp_path / "nope.conll", "conll"), "nope.conll: no such file")


def test_bad_gzip(tmp_path):
    p = tmp_path / "train.jsonl.gz"
    p.write_text("not gzip")
    fails(cfg_for(p, "jsonl"), rf"^{p}: cannot read")


def test_bad_parquet(tmp_path):
    p = tmp_path / "train.parquet"
    p.write_text("not parquet")
    fails(cfg_for(p, "parquet"), rf"^{p}: not a readable Parquet file")


def test_parquet_bad_row_names_row(tmp_path):
    import pandas as pd

    p = tmp_path / "train.parquet"
    pd.DataFrame({"tokens": [["a", "b"], ["c"]], "ner_tags": [["O", "O"], ["O", "O"]]}).to_parquet(p)
    fails(cfg_for(p, "parquet"), rf"^{p} row 1: 1 tokens but 2 ner_tags")


# --- iob helpers -------------------------------------------------------------------------


def test_spans_end_exclusive_and_lenient():
    assert spans(["B-PER", "I-PER", "O", "B-LOC"]) == [(0, 2, "PER"), (3, 4, "LOC")]
    assert spans(["O", "I-ORG", "I-ORG", "B-ORG", "I-LOC"]) == [(1, 3, "ORG"), (3, 4, "ORG"), (4, 5, "LOC")]
    assert spans([]) == []


def test_violations_and_repair():
    tags = ["I-PER", "O", "B-ORG", "I-LOC", "I-LOC"]
    assert violations(tags) == [0, 3]
    assert repair_iob2(tags) == ["B-PER", "O", "B-ORG", "B-LOC", "I-LOC"]
    assert tags == ["I-PER", "O", "B-ORG", "I-LOC", "I-LOC"]  # input untouched


def test_iob1_to_iob2():
    assert iob1_to_iob2(["I-PER", "I-PER", "B-PER", "O", "I-LOC"]) == ["B-PER", "I-PER", "B-PER", "O", "B-LOC"]


def test_is_tag_and_round_trip():
    assert all(is_tag(t) for t in ["O", "B-PER", "I-MISC"])
    assert not any(is_tag(t) for t in ["B_PER", "PER", "B-", "o", "B-P ER", ""])
    tags = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC"]
    assert tags_from_spans(len(tags), spans(tags)) == tags


def test_diff_spans_kinds():
    clean = ["B-ORG", "I-ORG", "O", "B-LOC", "O", "O", "B-PER"]
    assert [d.kind for d in diff_spans(["B-PER", "I-PER", "O", "B-LOC", "O", "O", "B-PER"], clean)] == ["type"]
    assert [d.kind for d in diff_spans(["B-ORG", "I-ORG", "O", "B-LOC", "I-LOC", "O", "B-PER"], clean)] == ["boundary"]
    assert [d.kind for d in diff_spans(["B-ORG", "I-ORG", "O", "O", "O", "O", "B-PER"], clean)] == ["missing"]
    assert [d.kind for d in diff_spans(["B-ORG", "I-ORG", "O", "B-LOC", "O", "B-ORG", "B-PER"], clean)] == ["spurious"]
    assert diff_spans(clean, clean) == []

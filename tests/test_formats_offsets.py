"""The offset core: tokens <-> text, character spans <-> IOB2 tags, strict alignment, units."""

import pytest

from auditor.data.offsets import (
    AlignmentError,
    CharSpan,
    OffsetUnits,
    convert_spans,
    join_tokens,
    layout_from_offsets,
    spans_to_tags,
    tags_to_spans,
    tokenize,
)
from auditor.errors import DataError

TEXT = "Angela Merkel  besuchte\tZürich 👍🏽 und Cafe\u0301 Müller."
TAGS = ["B-PER", "I-PER", "O", "B-LOC", "O", "O", "B-ORG", "I-ORG", "O"]


def test_tokenize_keeps_graphemes_and_accents_and_the_text():
    layout = tokenize(TEXT)
    assert layout.tokens == ["Angela", "Merkel", "besuchte", "Zürich", "👍🏽", "und", "Cafe\u0301", "Müller", "."]
    assert layout.gaps() == ["", " ", "  ", "\t", " ", " ", " ", " ", "", ""]
    assert "".join(g + t for g, t in zip(layout.gaps(), layout.tokens + [""])) == TEXT


def test_tags_to_spans_and_back_is_identity():
    layout = tokenize(TEXT)
    spans = tags_to_spans(layout, TAGS)
    assert [(s.text, s.label) for s in spans] == [("Angela Merkel", "PER"), ("Zürich", "LOC"), ("Cafe\u0301 Müller", "ORG")]
    tags, misfits = spans_to_tags(layout, spans, "x")
    assert tags == TAGS and misfits == []


def test_join_tokens_single_spaces():
    layout = join_tokens(["a", "b  c"[:1], "Zürich"])
    assert layout.text == "a b Zürich" and layout.tokens == ["a", "b", "Zürich"]


@pytest.mark.parametrize(
    "span, reason",
    [
        (CharSpan(0, 5, "PER"), "ends inside or between words (word 'Angela'"),
        (CharSpan(1, 6, "PER"), "starts inside or between words"),
        (CharSpan(0, 6, "PER", "Angelx"), "the text there is 'Angela'"),
        (CharSpan(0, 99, "PER"), "not a non-empty range inside the text"),
        (CharSpan(0, 6, "TWO WORDS"), "cannot be a tag"),
        (CharSpan(6, 7, "PER"), "starts inside or between words (offset 6 is whitespace"),
    ],
)
def test_misaligned_span_is_reported_with_record_and_span(span, reason):
    _, misfits = spans_to_tags(tokenize(TEXT), [span], "file.jsonl:3")
    assert len(misfits) == 1 and misfits[0].span == span and misfits[0].where == "file.jsonl:3"
    assert reason in misfits[0].reason
    assert "file.jsonl:3: span [" in misfits[0].line()


def test_overlapping_spans_report_the_second_and_keep_the_first():
    tags, misfits = spans_to_tags(tokenize(TEXT), [CharSpan(0, 13, "PER"), CharSpan(7, 13, "LOC")], "x")
    assert tags[:2] == ["B-PER", "I-PER"]
    assert [m.span.label for m in misfits] == ["LOC"] and "overlaps span [0, 13) PER" in misfits[0].reason


def test_utf16_units_shift_after_an_emoji():
    text = "👍 Berlin"
    units = OffsetUnits(text, "utf16")
    assert units.to_codepoint(3) == 2 and units.from_codepoint(2) == 3
    assert units.to_codepoint(1) is None  # inside the surrogate pair
    spans, bad = convert_spans(text, [CharSpan(3, 9, "LOC")], "utf16", "x")
    assert spans == [CharSpan(2, 8, "LOC")] and bad == []
    spans, bad = convert_spans(text, [CharSpan(1, 9, "LOC")], "utf16", "x")
    assert spans == [] and "half of a UTF-16 surrogate pair" in bad[0].reason
    # the same offsets read as code points are shifted by one and do not fit
    spans, bad = convert_spans(text, [CharSpan(3, 9, "LOC")], "codepoint", "x")
    assert spans == [] and "outside the text" in bad[0].reason


def test_alignment_error_lists_and_counts():
    _, misfits = spans_to_tags(tokenize(TEXT), [CharSpan(0, 5, "PER")] * 25, "f:1")
    err = AlignmentError("f", misfits)
    assert "25 entity spans do not fit" in str(err) and "... and 5 more" in str(err)
    assert isinstance(err, DataError)


def test_layout_from_offsets_refuses_overlapping_tokens():
    with pytest.raises(DataError, match="token 1 has offsets"):
        layout_from_offsets("ab cd", [0, 1], [2, 5], "x")

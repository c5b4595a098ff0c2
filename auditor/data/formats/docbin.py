"""spaCy DocBin (.spacy), through spaCy itself (the optional extra: pip install auditor[spacy]).

Reading takes each Doc's own tokens (no re-tokenising) and its entities (doc.ents) as character
spans. spaCy keeps runs of whitespace beyond one space as whitespace tokens; they are not words
of the corpus (their text stays in the layout), and an entity starting or ending on one is
reported. Writing builds Doc(vocab, words, spaces) from the layout, whitespace tokens where the
text between two words is not one space, turns IOB2 into BILUO (spaCy's biluo_tags_to_spans
drops IOB entities that are not BILUO) and sets doc.ents. Our id and language travel in
doc.user_data ("id", "lang").
"""

from __future__ import annotations

from pathlib import Path

from auditor.data.formats.common import optional_str, raise_misfits
from auditor.data.offsets import CharSpan, Layout, ReadResult, TextRecord, spans_to_tags
from auditor.errors import DataError

NAME = "spacy"
UNIT = None  # Docs hold tokens, not offsets
SUFFIX = ".spacy"


def _docbin():
    try:
        from spacy.tokens import DocBin
    except ImportError:
        raise DataError("the spacy format needs spaCy: pip install 'auditor[spacy]'") from None
    return DocBin


def doc_layout(doc) -> Layout:
    words = [t for t in doc if not t.text.isspace()]
    return Layout(doc.text, tuple(t.idx for t in words), tuple(t.idx + len(t.text) for t in words))


def read(path: str, unit: str | None = UNIT) -> ReadResult:
    DocBin = _docbin()
    from spacy.vocab import Vocab

    p = Path(path)
    if not p.is_file():
        raise DataError(f"{path}: no such file")
    try:
        docs = list(DocBin().from_disk(p).get_docs(Vocab()))
    except Exception as err:  # noqa: BLE001 - srsly/msgpack raise many kinds on a file that is not a DocBin
        raise DataError(f"{path}: not a spaCy DocBin ({type(err).__name__}: {str(err)[:120]})") from None
    res, misfits = ReadResult(), []
    for i, doc in enumerate(docs):
        where = f"{path} doc {i}"
        layout = doc_layout(doc)
        spans = [CharSpan(e.start_char, e.end_char, e.label_, e.text) for e in doc.ents]
        tags, bad = spans_to_tags(layout, spans, where)
        misfits += bad
        user = doc.user_data if isinstance(doc.user_data, dict) else {}
        res.records.append(TextRecord(layout, tags, where, optional_str(user.get("id")), optional_str(user.get("lang"))))
    raise_misfits(path, misfits)
    return res


def make_doc(vocab, record: TextRecord):
    """The Doc of a record: its words with the layout's whitespace, and its entities."""
    from spacy.tokens import Doc
    from spacy.training import biluo_tags_to_spans, iob_to_biluo

    layout, gaps = record.layout, record.layout.gaps()
    words, spaces, tags = [], [], []

    def whitespace(gap: str, tag: str) -> None:
        words.append(gap)
        spaces.append(False)
        tags.append(tag)

    if gaps[0]:
        whitespace(gaps[0], "O")
    for i, tok in enumerate(layout.tokens):
        words.append(tok)
        tags.append(record.tags[i])
        gap = gaps[i + 1]
        spaces.append(gap.startswith(" "))
        rest = gap.removeprefix(" ")
        if rest:
            # whitespace inside an entity belongs to it (the next word continues it)
            inside = i + 1 < len(record.tags) and record.tags[i + 1].startswith("I-")
            whitespace(rest, "I-" + record.tags[i + 1][2:] if inside else "O")
    doc = Doc(vocab, words=words, spaces=spaces)
    doc.ents = biluo_tags_to_spans(doc, iob_to_biluo(tags))
    doc.user_data["id"] = record.id
    doc.user_data["lang"] = record.lang
    if doc.text != layout.text:
        raise DataError(f"sentence {record.id}: spaCy would store another text ({doc.text!r} for {layout.text!r})")
    return doc


def write(records: list[TextRecord], path: Path, unit: str | None = UNIT) -> None:
    DocBin = _docbin()
    from spacy.vocab import Vocab

    vocab = Vocab()
    db = DocBin(attrs=["ENT_IOB", "ENT_TYPE"], store_user_data=True)
    for r in records:
        db.add(make_doc(vocab, r))
    db.to_disk(Path(path))

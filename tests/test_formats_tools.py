"""The five annotation tools' formats: records shaped as each tool's documentation shows read
right, tokens and tags -> format -> back are identical, misfits and skipped records reported."""

import json

import pytest

from auditor.config import DataConfig
from auditor.data.build import load_corpus
from auditor.data.formats import module, read_records, sniff
from auditor.data.offsets import AlignmentError, TextRecord, join_tokens, tokenize
from auditor.data.sources import detect_format
from auditor.errors import DataError

HARD = [
    ("Angela Merkel  besuchte\tZürich 👍🏽 und Cafe\u0301 Müller.", ["B-PER", "I-PER", "O", "B-LOC", "O", "O", "B-ORG", "I-ORG", "O"]),
    ("👨‍👩‍👧 Noël in 🇨🇭 Genève", ["O", "B-PER", "O", "O", "B-LOC"]),
    ("Kein Name hier .", ["O", "O", "O", "O"]),
]
TOOLS = ["prodigy", "labelstudio", "doccano", "brat", "spacy"]


def records():
    return [TextRecord(tokenize(t), tags, f"r{i}", f"doc:{i + 1}", "de") for i, (t, tags) in enumerate(HARD)]


def _roundtrip(tool, recs, tmp_path):
    if tool == "spacy":
        pytest.importorskip("spacy")
    mod = module(tool)
    path = tmp_path / f"out{mod.SUFFIX or '_brat'}"
    mod.write(recs, path, mod.UNIT)
    return read_records(str(path), tool)


@pytest.mark.parametrize("tool", TOOLS)
def test_roundtrip_keeps_text_tokens_and_tags(tool, tmp_path):
    recs = records()
    back = _roundtrip(tool, recs, tmp_path)
    assert [r.tokens for r in back] == [r.tokens for r in recs]
    assert [r.tags for r in back] == [r.tags for r in recs]
    assert [r.layout.text for r in back] == [r.layout.text for r in recs]
    assert [r.id for r in back] == [r.id for r in recs]


# brat files hold no tokens (their tokens are the tokenizer's; see the export test below)
@pytest.mark.parametrize("tool", [t for t in TOOLS if t != "brat"])
def test_roundtrip_of_a_token_corpus_the_tokenizer_would_split_otherwise(tool, tmp_path):
    tokens = ["U.S.", "-", "Präsident", "O'Neill", "sagte", "''", "ja", "''"]
    tags = ["B-LOC", "O", "O", "B-PER", "O", "O", "O", "O"]
    recs = [TextRecord(join_tokens(tokens), tags, "r", "en/train/000000", "en")]
    back = _roundtrip(tool, recs, tmp_path)
    assert back[0].tokens == tokens and back[0].tags == tags


# --- each tool's documented shape ------------------------------------------------------


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_prodigy_ner_manual_task_and_skipped_answers(tmp_path, caplog):
    text = "Apple  kauft\tBüro in Zürich"
    task = {
        "text": text,
        "tokens": [
            {"text": "Apple", "start": 0, "end": 5, "id": 0, "ws": True},
            {"text": "kauft", "start": 7, "end": 12, "id": 1, "ws": True},
            {"text": "Büro", "start": 13, "end": 17, "id": 2, "ws": True},
            {"text": "in", "start": 18, "end": 20, "id": 3, "ws": True},
            {"text": "Zürich", "start": 21, "end": 27, "id": 4, "ws": False},
        ],
        "spans": [
            {"start": 0, "end": 5, "token_start": 0, "token_end": 0, "label": "ORG"},
            {"start": 21, "end": 27, "token_start": 4, "token_end": 4, "label": "LOC"},
        ],
        "answer": "accept", "_input_hash": 1, "_task_hash": 2,
    }
    path = _jsonl(tmp_path / "p.jsonl", [task, {**task, "answer": "reject"}, {**task, "answer": "ignore"}])
    assert sniff(path) == "prodigy" and detect_format(path) == "prodigy"
    recs = read_records(path, "prodigy")
    assert len(recs) == 1 and recs[0].tokens == ["Apple", "kauft", "Büro", "in", "Zürich"]
    assert recs[0].tags == ["B-ORG", "O", "O", "O", "B-LOC"]
    assert "skipped 1 record (answer reject)" in caplog.text and "(answer ignore)" in caplog.text


def test_prodigy_token_indices_that_disagree_with_offsets_are_reported(tmp_path):
    task = {
        "text": "Apple kauft", "answer": "accept",
        "tokens": [{"text": "Apple", "start": 0, "end": 5, "id": 0}, {"text": "kauft", "start": 6, "end": 11, "id": 1}],
        "spans": [{"start": 0, "end": 5, "token_start": 1, "token_end": 1, "label": "ORG"}],
    }
    with pytest.raises(AlignmentError, match=r"p.jsonl:1: span \[0, 5\) ORG: token_start/token_end say words 1..1"):
        read_records(_jsonl(tmp_path / "p.jsonl", [task]), "prodigy")


def test_labelstudio_newest_annotation_is_read_and_said(tmp_path, caplog):
    def region(s, e, t, label):
        return {"id": "x", "from_name": "label", "to_name": "text", "type": "labels", "origin": "manual",
                "value": {"start": s, "end": e, "text": t, "labels": [label]}}

    tasks = [
        {"id": 7, "data": {"text": "Noël 👍🏽 in Genève"},
         "annotations": [
             {"id": 1, "completed_by": 1, "created_at": "2024-01-01T10:00:00Z", "updated_at": "2024-01-01T10:00:00Z",
              "result": [region(0, 4, "Noël", "ORG")]},
             {"id": 2, "completed_by": 2, "created_at": "2024-01-02T10:00:00Z", "updated_at": "2024-01-03T10:00:00Z",
              "result": [region(0, 4, "Noël", "PER"), region(11, 17, "Genève", "LOC")]},
             {"id": 3, "was_cancelled": True, "updated_at": "2025-01-01T00:00:00Z", "result": []},
         ], "predictions": []},
        {"id": 8, "data": {"text": "nicht annotiert"}, "annotations": []},
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    assert detect_format(path) == "labelstudio"
    recs = read_records(str(path), "labelstudio")
    assert len(recs) == 1 and recs[0].id == "7" and recs[0].tags == ["B-PER", "O", "O", "B-LOC"]
    assert "1 task had several annotations: the newest of each was read" in caplog.text
    assert "skipped 1 record (not annotated)" in caplog.text


def test_labelstudio_multi_label_region_is_reported(tmp_path):
    task = {"id": 1, "data": {"text": "Paris Hilton"}, "annotations": [{"result": [
        {"type": "labels", "value": {"start": 0, "end": 5, "text": "Paris", "labels": ["LOC", "PER"]}}]}]}
    (tmp_path / "t.json").write_text(json.dumps([task]), encoding="utf-8")
    with pytest.raises(AlignmentError, match="carries 2 labels"):
        read_records(str(tmp_path / "t.json"), "labelstudio")


def test_doccano_reads_all_three_span_keys_in_utf16(tmp_path):
    text = "👍 Berlin und Paris"  # the emoji is two UTF-16 units: doccano's offsets count them
    rows = [
        {"id": 1, "text": text, "label": [[3, 9, "LOC"]]},
        {"text": text, "labels": [[14, 19, "LOC"]]},
        {"id": 3, "text": text, "entities": [{"id": 9, "label": "LOC", "start_offset": 3, "end_offset": 9}], "relations": []},
    ]
    path = _jsonl(tmp_path / "d.jsonl", rows)
    assert detect_format(path) == "doccano"
    recs = read_records(path, "doccano")
    assert [r.tags for r in recs] == [["O", "B-LOC", "O", "O"], ["O", "O", "O", "B-LOC"], ["O", "B-LOC", "O", "O"]]
    # read as code points the same file is off by one after the emoji: reported, not shifted
    with pytest.raises(AlignmentError, match="data.offsets: utf16|data.offsets: codepoint"):
        read_records(path, "doccano", "codepoint")


def test_doccano_span_inside_a_word_names_the_line(tmp_path):
    path = _jsonl(tmp_path / "d.jsonl", [{"text": "Berlin, Germany", "label": [[0, 6, "LOC"]]}, {"text": "Berlin", "label": [[0, 4, "LOC"]]}])
    with pytest.raises(AlignmentError) as err:
        read_records(path, "doccano")
    assert "d.jsonl:2: span [0, 4) LOC: ends inside or between words (word 'Berlin'" in str(err.value)
    assert "d.jsonl:1" not in str(err.value)


def test_brat_lines_are_sentences_and_discontinuous_spans_are_reported(tmp_path):
    (tmp_path / "a.txt").write_text("Angela Merkel besucht Zürich.\n\nParis  ist schön.\n", encoding="utf-8")
    (tmp_path / "a.ann").write_text(
        "T1\tPER 0 13\tAngela Merkel\nT2\tLOC 22 28\tZürich\nT3\tLOC 31 36\tParis\n#1\tAnnotatorNotes T1\tok\n",
        encoding="utf-8",
    )
    assert detect_format(tmp_path) == "brat"
    recs = read_records(str(tmp_path), "brat")
    assert [r.id for r in recs] == ["a:1", "a:3"]
    assert recs[0].tags == ["B-PER", "I-PER", "O", "B-LOC", "O"] and recs[1].tags == ["B-LOC", "O", "O", "O"]
    with (tmp_path / "a.ann").open("a", encoding="utf-8") as fh:
        fh.write("T4\tLOC 0 6;14 21\tAngela besucht\nT5\tPER 22 33\tZürich.\n")
    with pytest.raises(AlignmentError) as err:
        read_records(str(tmp_path), "brat")
    assert "discontinuous (2 fragments: 0 6;14 21)" in str(err.value)
    assert "crosses the line break after line 1" in str(err.value)


def test_brat_write_puts_sentences_back_on_their_lines(tmp_path):
    recs = [TextRecord(tokenize("Paris ist schön ."), ["B-LOC", "O", "O", "O"], "w", "a:3", None)]
    module("brat").write(recs, tmp_path)
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "\n\nParis ist schön .\n"
    assert (tmp_path / "a.ann").read_text(encoding="utf-8") == "T1\tLOC 2 7\tParis\n"


def test_spacy_docbin_of_spacy_tokens_with_whitespace_tokens(tmp_path):
    spacy = pytest.importorskip("spacy")
    from spacy.tokens import DocBin

    nlp = spacy.blank("de")
    doc = nlp("Angela Merkel  besucht\tZürich 👍🏽.")
    doc.ents = [doc.char_span(0, 13, "PER"), doc.char_span(23, 29, "LOC")]
    DocBin(docs=[doc]).to_disk(tmp_path / "c.spacy")
    recs = read_records(str(tmp_path / "c.spacy"), "spacy")
    # spaCy's own tokens (it splits the emoji from its skin tone), never re-tokenised; whitespace
    # tokens are not words
    assert recs[0].tokens == ["Angela", "Merkel", "besucht", "Zürich", "👍", "🏽."]
    assert recs[0].tags == ["B-PER", "I-PER", "O", "B-LOC", "O", "O"]
    assert recs[0].layout.text == doc.text


def test_a_tool_file_is_a_data_source(tmp_path):
    path = _jsonl(tmp_path / "train.jsonl", [{"text": "Noël in Genève", "label": [[0, 4, "PER"], [8, 14, "LOC"]]}])
    cfg = DataConfig(source="doccano", files={"train": path}, splits=["train"], languages={"fr": 1.0}, default_lang="fr")
    ds = load_corpus(cfg)["train"]
    assert ds[0]["tokens"] == ["Noël", "in", "Genève"]
    names = ds.features["ner_tags"].feature.names
    assert [names[t] for t in ds[0]["ner_tags"]] == ["B-PER", "O", "B-LOC"]


def test_unknown_json_is_not_taken_for_a_tool(tmp_path):
    path = _jsonl(tmp_path / "x.jsonl", [{"tokens": ["a"], "ner_tags": ["O"]}])
    assert sniff(path) is None and detect_format(path) == "jsonl"
    with pytest.raises(DataError, match="no `text` string"):
        read_records(path, "doccano")


@pytest.mark.parametrize("tool", ["doccano", "labelstudio", "prodigy"])
def test_export_of_a_tool_corpus_keeps_the_source_text(tool, tmp_path):
    import yaml

    from auditor.export import export_corpus

    text = "Noël  in\tGenève 👍🏽"
    src = _jsonl(tmp_path / "train.jsonl", [{"id": "s1", "text": text, "label": [[0, 4, "PER"], [9, 15, "LOC"]]}])
    data = {"source": "doccano", "files": {"train": src}, "splits": ["train"], "audit": ["train"],
            "train_splits": ["train"], "languages": {"fr": 1.0}, "default_lang": "fr"}
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"name": "t", "data": data}), encoding="utf-8")
    corpus = load_corpus(DataConfig(**data))
    out = export_corpus(corpus, tool, tmp_path / "out", run_dir=run)
    mod = module(tool)
    back = read_records(str(out / f"train{mod.SUFFIX}"), tool)
    assert back[0].layout.text == text and back[0].tags == ["B-PER", "O", "B-LOC", "O"] and back[0].id == "s1"


@pytest.mark.parametrize("tool", TOOLS)
def test_export_of_a_token_corpus_reads_back_identical(tool, tmp_path, caplog):
    if tool == "spacy":
        pytest.importorskip("spacy")
    from auditor.config import SyntheticConfig
    from auditor.data.synthetic import generate_synthetic
    from auditor.export import export_corpus

    corpus = generate_synthetic(SyntheticConfig(sentences={"train": 20}), ["de", "fr"], seed=3)
    out = export_corpus(corpus, tool, tmp_path / "out")
    names = corpus["train"].features["ner_tags"].feature.names
    want = [(r["id"], r["tokens"], [names[t] for t in r["ner_tags"]], r["lang"]) for r in corpus["train"]]
    back = read_records(str(out / f"train{module(tool).SUFFIX}"), tool)
    got = [(r.id, r.tokens, r.tags, r.lang) for r in back]
    if tool == "brat":
        # brat holds no tokens, no language, and its ids are document:line: the entities'
        # text and labels come back, and the export said which sentences are re-tokenised
        from auditor.data.offsets import tags_to_spans

        def ents(layout, tags):
            return [(s.text, s.label) for s in tags_to_spans(layout, tags)]

        assert [ents(r.layout, r.tags) for r in back] == [ents(join_tokens(w[1]), w[2]) for w in want]
        assert "come back re-tokenised" in caplog.text
        return
    assert got == want


def test_inspect_tells_a_tool_format_from_the_content(tmp_path):
    from auditor.data.sniff import inspect_config

    (tmp_path / "brat").mkdir()
    (tmp_path / "brat" / "a.txt").write_text("Paris ist schön .\n", encoding="utf-8")
    (tmp_path / "brat" / "a.ann").write_text("T1\tLOC 0 5\tParis\n", encoding="utf-8")
    assert inspect_config(str(tmp_path / "brat")).source == "brat"
    prodigy = _jsonl(tmp_path / "ner.jsonl", [{"text": "Paris", "tokens": [{"text": "Paris", "start": 0, "end": 5, "id": 0}],
                                                "spans": [], "answer": "accept"}])
    assert inspect_config(prodigy).source == "prodigy"
    doccano = _jsonl(tmp_path / "admin.jsonl", [{"text": "Paris", "label": [[0, 5, "LOC"]]}])
    assert inspect_config(doccano).source == "doccano"

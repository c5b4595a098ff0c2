"""Every source format, written in tmp_path, through load_corpus."""

from __future__ import annotations

import gzip
import json
from collections import Counter

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

from auditor.config import DataConfig
from auditor.data.build import load_corpus, load_corpus_with_report
from auditor.data.corpus import CLEAN_COLUMN, label_names
from auditor.data.sources import detect_format
from auditor.errors import DataError

PANX = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
SORTED = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]

SENTS = [
    (["Angela", "Merkel", "besucht", "Paris", "."], ["B-PER", "I-PER", "O", "B-LOC", "O"]),
    (["Die", "Vereinte", "Nationen", "tagen"], ["O", "B-ORG", "I-ORG", "O"]),
    (["Am", "8.", "Juli", "regnet", "es"], ["O", "O", "O", "O", "O"]),
]


def conll_text(sents, sep="\t", prefix=""):
    return "\n\n".join("\n".join(f"{prefix}{w}{sep}{t}" for w, t in zip(toks, tags)) for toks, tags in sents) + "\n"


def tags_of(ds):
    names = label_names(ds)
    return [[names[t] for t in row] for row in ds["ner_tags"]]


def one_split(**kw) -> DataConfig:
    kw.setdefault("languages", {"de": 1.0})
    return DataConfig(splits=["train"], audit=["train"], **kw)


def test_conll_tab_separated_with_docstart(tmp_path):
    p = tmp_path / "train.conll"
    p.write_text("-DOCSTART-\tO\n\n" + conll_text(SENTS), encoding="utf-8")
    ds = load_corpus(one_split(source="conll", files={"train": str(p)}))["train"]
    assert ds["tokens"] == [s[0] for s in SENTS]
    assert tags_of(ds) == [s[1] for s in SENTS]
    assert ds["id"] == ["de/train/000000", "de/train/000001", "de/train/000002"]
    assert ds["lang"] == ["de"] * 3
    assert label_names(ds) == SORTED


def test_conll_space_separated_tag_in_last_column(tmp_path):
    p = tmp_path / "train.txt"
    p.write_text("Angela NNP x B-PER\nMerkel NNP x I-PER\n\nParis NNP x B-LOC\n", encoding="utf-8")
    ds = load_corpus(one_split(source="conll", files={"train": str(p)}))["train"]
    assert ds["tokens"] == [["Angela", "Merkel"], ["Paris"]]
    assert tags_of(ds) == [["B-PER", "I-PER"], ["B-LOC"]]


def test_wikiann_lang_prefix_gives_language(tmp_path):
    p = tmp_path / "mixed.tsv"
    text = conll_text(SENTS[:2], prefix="de:") + "\n" + conll_text(SENTS[2:], prefix="fr:")
    p.write_text(text, encoding="utf-8")
    ds = load_corpus(one_split(source="conll", files={"train": str(p)}, languages={"de": 1.0, "fr": 1.0}))["train"]
    assert ds["lang"] == ["de", "de", "fr"]
    assert ds["tokens"][0][0] == "Angela"  # prefix removed
    assert ds["id"] == ["de/train/000000", "de/train/000001", "fr/train/000000"]


def test_iob1_is_converted(tmp_path):
    p = tmp_path / "train.iob"
    p.write_text("Hans\tI-PER\nMüller\tI-PER\nKarl\tB-PER\nund\tO\nBern\tI-LOC\n", encoding="utf-8")
    ds = load_corpus(one_split(source="conll", files={"train": str(p)}, scheme="iob1"))["train"]
    assert tags_of(ds) == [["B-PER", "I-PER", "B-PER", "O", "B-LOC"]]


def test_gzip_conll_and_jsonl(tmp_path):
    c = tmp_path / "train.conll.gz"
    c.write_bytes(gzip.compress(conll_text(SENTS).encode()))
    j = tmp_path / "train.jsonl.gz"
    j.write_bytes(gzip.compress("".join(json.dumps({"tokens": t, "ner_tags": g}) + "\n" for t, g in SENTS).encode()))
    a = load_corpus(one_split(source="conll", files={"train": str(c)}))["train"]
    b = load_corpus(one_split(source="jsonl", files={"train": str(j)}))["train"]
    assert a.to_list() == b.to_list()
    assert a["tokens"] == [s[0] for s in SENTS]


def write_lang_files(tmp_path, splits=("train", "test"), n=20):
    """data/{lang}/{split}.jsonl with n sentences each; token 0 names lang and index."""
    for lang in ("de", "fr"):
        (tmp_path / lang).mkdir(exist_ok=True)
        for split in splits:
            rows = [
                {"tokens": [f"{lang}{i}", "Berlin"], "ner_tags": ["O", "B-LOC"], "langs": [lang, lang]}
                for i in range(n)
            ]
            (tmp_path / lang / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(tmp_path / "{lang}" / "{split}.jsonl")


def test_jsonl_lang_expansion_fractions_and_stable_ids(tmp_path):
    pattern = write_lang_files(tmp_path)
    files = {s: pattern.replace("{split}", s) for s in ("train", "test")}
    base = dict(source="jsonl", files=files, splits=["train", "test"], audit=["train"])
    full = load_corpus(DataConfig(languages={"de": 1.0, "fr": 1.0}, **base))
    part = load_corpus(DataConfig(languages={"de": 0.5, "fr": 0.25}, **base))
    assert Counter(part["train"]["lang"]) == {"de": 10, "fr": 5}
    assert Counter(part["test"]["lang"]) == {"de": 10, "fr": 5}
    # the id is the index in the original file, whatever was sampled
    for row in part["train"]:
        lang, split, index = row["id"].split("/")
        assert row["tokens"][0] == f"{lang}{int(index)}" and split == "train"
    assert set(part["train"]["id"]) <= set(full["train"]["id"])
    again = load_corpus(DataConfig(languages={"de": 0.5, "fr": 0.25}, **base))
    assert again["train"]["id"] == part["train"]["id"]


def test_sampling_matches_dataset_shuffle(tmp_path):
    """The chapter's recipe: ds.shuffle(seed).select(range(int(frac * n)))."""
    pattern = write_lang_files(tmp_path, splits=("train",), n=50)
    cfg = one_split(source="jsonl", files={"train": pattern.replace("{split}", "train")}, languages={"de": 0.3}, seed=7)
    ours = load_corpus(cfg)["train"]["tokens"]
    ref = Dataset.from_list([{"tokens": [f"de{i}", "Berlin"]} for i in range(50)]).shuffle(seed=7).select(range(15))
    assert sorted(map(tuple, ours)) == sorted(map(tuple, ref["tokens"]))


def test_jsonl_int_tags_with_label_names_and_explicit_ids(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text(
        json.dumps({"id": "a1", "tokens": ["Hans", "lebt"], "ner_tags": [1, 0], "lang": "de"})
        + "\n\n"
        + json.dumps({"id": "a2", "tokens": ["Rom"], "ner_tags": [5], "lang": "it"})
        + "\n"
    )
    ds = load_corpus(
        one_split(source="jsonl", files={"train": str(p)}, label_names=PANX, languages={"de": 1.0, "it": 1.0})
    )["train"]
    assert ds["id"] == ["a1", "a2"]
    assert ds["lang"] == ["de", "it"]
    assert label_names(ds) == PANX  # the given order is kept
    assert tags_of(ds) == [["B-PER", "O"], ["B-LOC"]]


def test_parquet_string_tags_and_classlabel(tmp_path):
    import pandas as pd

    p1 = tmp_path / "plain.parquet"
    pd.DataFrame({"tokens": [s[0] for s in SENTS], "ner_tags": [s[1] for s in SENTS]}).to_parquet(p1)
    p2 = tmp_path / "hf.parquet"
    feats = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=PANX))})
    Dataset.from_dict(
        {"tokens": [s[0] for s in SENTS], "ner_tags": [[PANX.index(t) for t in s[1]] for s in SENTS]}, features=feats
    ).to_parquet(p2)
    a = load_corpus(one_split(source="parquet", files={"train": str(p1)}))["train"]
    b = load_corpus(one_split(source="parquet", files={"train": str(p2)}))["train"]
    assert tags_of(a) == tags_of(b) == [s[1] for s in SENTS]


def test_disk_round_trip_keeps_ids_and_clean_tags(tmp_path):
    src = load_corpus(DataConfig(languages={"de": 1.0}, synthetic={"sentences": {"train": 30, "test": 10}}, splits=["train", "test"]))
    src.save_to_disk(str(tmp_path / "corpus"))
    back = load_corpus(DataConfig(source="disk", path=str(tmp_path / "corpus"), languages={"de": 1.0}, splits=["train", "test"]))
    assert back["train"].to_list() == src["train"].to_list()
    assert CLEAN_COLUMN in back["test"].column_names
    assert detect_format(tmp_path / "corpus") == "disk"


def test_disk_missing_split_is_named(tmp_path):
    DatasetDict({"train": Dataset.from_dict({"tokens": [["a"]], "ner_tags": [["O"]]})}).save_to_disk(str(tmp_path / "d"))
    with pytest.raises(DataError, match="no split.*test"):
        load_corpus(DataConfig(source="disk", path=str(tmp_path / "d"), languages={"de": 1.0}, splits=["train", "test"]))


@pytest.fixture
def local_hub(tmp_path, monkeypatch):
    """A folder shaped like google/xtreme on the Hub: Parquet per config, configs in README.md."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    root = tmp_path / "xtreme"
    feats = Features(
        {"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=PANX)), "langs": Sequence(Value("string"))}
    )
    cards = []
    for lang in ("de", "fr"):
        (root / f"PAN-X.{lang}").mkdir(parents=True)
        rows = {"tokens": [], "ner_tags": [], "langs": []}
        for toks, tags in SENTS:
            rows["tokens"].append(toks)
            rows["ner_tags"].append([PANX.index(t) for t in tags])
            rows["langs"].append([lang] * len(toks))
        files = "".join(f"  - split: {s}\n    path: PAN-X.{lang}/{s}-*\n" for s in ("train", "validation", "test"))
        cards.append(f"- config_name: PAN-X.{lang}\n  data_files:\n{files}")
        for split in ("train", "validation", "test"):
            Dataset.from_dict(rows, features=feats).to_parquet(root / f"PAN-X.{lang}" / f"{split}-00000-of-00001.parquet")
    (root / "README.md").write_text("---\nconfigs:\n" + "".join(cards) + "---\n")
    return root


def test_hub_reader_on_a_local_dataset_folder(local_hub):
    cfg = DataConfig(source="hub", dataset=str(local_hub), config="PAN-X.{lang}", languages={"de": 1.0, "fr": 1.0})
    ds = load_corpus(cfg)
    assert set(ds) == {"train", "validation", "test"}
    assert Counter(ds["validation"]["lang"]) == {"de": 3, "fr": 3}
    assert ds["test"]["id"][3] == "fr/test/000000"
    assert tags_of(ds["train"])[:3] == [s[1] for s in SENTS]


def test_hub_failure_is_one_line_with_advice(local_hub):
    cfg = DataConfig(source="hub", dataset=str(local_hub), config="PAN-X.{lang}", languages={"it": 1.0})
    with pytest.raises(DataError) as err:
        load_corpus(cfg)
    msg = str(err.value)
    assert "\n" not in msg and "PAN-X.it" in msg and "local cache" in msg and "local files" in msg


def test_truth_by_position_attaches_clean_tags(tmp_path):
    given = tmp_path / "train.conll"
    given.write_text(conll_text(SENTS))
    fixed = [(SENTS[0][0], SENTS[0][1]), (SENTS[1][0], ["O", "B-ORG", "I-ORG", "O"]), (SENTS[2][0], ["O", "B-ORG", "I-ORG", "O", "O"])]
    truth = tmp_path / "truth.conll"
    truth.write_text(conll_text(fixed))
    cfg = one_split(source="conll", files={"train": str(given)}, truth={"train": str(truth)})
    ds = load_corpus(cfg)["train"]
    names = label_names(ds)
    assert [[names[t] for t in r] for r in ds[CLEAN_COLUMN]] == [f[1] for f in fixed]
    assert tags_of(ds) == [s[1] for s in SENTS]


def test_truth_by_id_in_another_order(tmp_path):
    given = tmp_path / "g.jsonl"
    truth = tmp_path / "t.jsonl"
    rows = [{"id": f"s{i}", "tokens": t, "ner_tags": g, "lang": "de"} for i, (t, g) in enumerate(SENTS)]
    given.write_text("".join(json.dumps(r) + "\n" for r in rows))
    fixed = [dict(r, ner_tags=["O"] * len(r["tokens"])) for r in reversed(rows)]
    truth.write_text("".join(json.dumps(r) + "\n" for r in fixed))
    ds = load_corpus(one_split(source="jsonl", files={"train": str(given)}, truth={"train": str(truth)}))["train"]
    assert all(set(r) == {0} for r in ds[CLEAN_COLUMN])


def test_truth_with_other_tokens_fails_clearly(tmp_path):
    given = tmp_path / "train.conll"
    given.write_text(conll_text(SENTS))
    truth = tmp_path / "truth.conll"
    truth.write_text(conll_text([SENTS[0], (["Die", "UNO", "tagt", "heute"], ["O", "B-ORG", "O", "O"]), SENTS[2]]))
    with pytest.raises(DataError, match=r"truth.conll:\d+: truth sentence de/train/000001 has other tokens"):
        load_corpus(one_split(source="conll", files={"train": str(given)}, truth={"train": str(truth)}))


def test_missing_language_needs_default_lang(tmp_path):
    p = tmp_path / "train.conll"
    p.write_text(conll_text(SENTS))
    cfg = DataConfig(source="conll", files={"train": str(p)}, splits=["train"], languages={"de": 1.0, "fr": 1.0})
    with pytest.raises(DataError, match="default_lang"):
        load_corpus(cfg)
    ok = load_corpus(cfg.model_copy(update={"default_lang": "de", "languages": {"de": 1.0}}))
    assert ok["train"]["lang"] == ["de"] * 3


def test_language_without_sentences_is_an_error(tmp_path):
    p = tmp_path / "train.conll"
    p.write_text(conll_text(SENTS, prefix="de:"))
    with pytest.raises(DataError, match="fr"):
        load_corpus(one_split(source="conll", files={"train": str(p)}, languages={"de": 1.0, "fr": 1.0}))


def test_missing_split_file_is_named(tmp_path):
    p = tmp_path / "train.conll"
    p.write_text(conll_text(SENTS))
    with pytest.raises(DataError, match="validation"):
        load_corpus(DataConfig(source="conll", files={"train": str(p)}, languages={"de": 1.0}))


@pytest.mark.parametrize(
    "name,fmt",
    [("a.conll", "conll"), ("a.iob", "conll"), ("a.tsv.gz", "conll"), ("a.jsonl.gz", "jsonl"), ("a.parquet", "parquet")],
)
def test_detect_format(name, fmt):
    assert detect_format(name) == fmt


def test_detect_format_unknown(tmp_path):
    with pytest.raises(DataError, match="--format"):
        detect_format(tmp_path / "a.xyz")


def test_report_counts_empty_tokens(tmp_path):
    p = tmp_path / "train.conll"
    p.write_text("Hans\tB-PER\n \tO\nlebt\tO\n\n\tO\nhier\tO\n")
    lc = load_corpus_with_report(one_split(source="conll", files={"train": str(p)}))
    assert lc.corpus["train"]["tokens"] == [["Hans", " ", "lebt"], ["", "hier"]]
    assert lc.report.empty_tokens == 2
    assert lc.report.empty_locations[0] == f"{p}:1 word 1"

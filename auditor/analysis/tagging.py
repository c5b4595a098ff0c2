"""Tagging free text with a trained tagger (`auditor tag`), word by word with a confidence.

Free text is split into words the way PAN-X is: on whitespace, with punctuation as words
of its own ("Kalifornien." -> "Kalifornien", "."). Combining marks stay with their base
letter, so scripts written with them (Tibetan, Devanagari, ...) keep whole words.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import regex
from datasets import Dataset

from auditor.errors import DataError
from auditor.modeling.training import TrainedTagger

# a run of letters/digits/underscore with their combining marks, or one other visible
# character with its marks (\w alone would cut the vowel signs off Tibetan or Hindi words)
_WORD = regex.compile(r"[\w\p{M}]+|[^\w\s\p{M}]\p{M}*")


def split_words(text: str) -> list[str]:
    """Words of a free-text sentence: \\w runs (with combining marks) and single punctuation."""
    return _WORD.findall(text)


@dataclass(frozen=True)
class Entity:
    """An entity span of a tagged sentence; end is exclusive (word offsets)."""

    type: str
    start: int
    end: int
    text: str

    def to_dict(self) -> dict:
        return {"type": self.type, "start": self.start, "end": self.end, "text": self.text}


@dataclass(frozen=True)
class TaggedSentence:
    """One sentence with the tagger's argmax tag and its probability for every word.

    words, tags: (n_words,) strings; confidence: (n_words,) probabilities in [0, 1]
    (after the tagger's temperature).
    """

    words: list[str]
    tags: list[str]
    confidence: list[float]

    def entities(self) -> list[Entity]:
        """The predicted entities (seqeval's conlleval-style chunking of the tags)."""
        from seqeval.metrics.sequence_labeling import get_entities

        return [
            Entity(kind, start, end + 1, " ".join(self.words[start : end + 1]))
            for kind, start, end in get_entities(list(self.tags))
        ]

    def to_dict(self) -> dict:
        return {
            "words": [
                {"word": w, "tag": t, "confidence": round(c, 4)}
                for w, t, c in zip(self.words, self.tags, self.confidence)
            ],
            "entities": [e.to_dict() for e in self.entities()],
        }


def tag_sentences(
    tagger: TrainedTagger, sentences: list[list[str]], max_length: int, stride: int, progress: bool = False
) -> list[TaggedSentence]:
    """Tag pre-split sentences: one TaggedSentence per input, one tag per word, in input order.

    Every word gets a tag, including punctuation, words beyond max_length (sliding
    windows) and words the tokenizer maps to nothing (auditor.modeling.predict).
    """
    from auditor.modeling.predict import predict_word_probs

    # an empty sentence has nothing to predict; keep its slot so the output lines up
    filled = [i for i, s in enumerate(sentences) if len(s)]
    probs: list[np.ndarray] = [np.zeros((0, len(tagger.label_names)), dtype=np.float32)] * len(sentences)
    if filled:
        ds = Dataset.from_dict({"tokens": [list(sentences[i]) for i in filled]})
        for i, p in zip(filled, predict_word_probs(tagger, ds, max_length, stride, progress=progress)):
            probs[i] = p
    names = tagger.label_names
    out = []
    for words, p in zip(sentences, probs):
        best = np.asarray(p).argmax(axis=1)
        out.append(
            TaggedSentence(
                words=list(words),
                tags=[names[k] for k in best],
                confidence=[float(p[i, k]) for i, k in enumerate(best)],
            )
        )
    return out


@dataclass(frozen=True)
class TagResult:
    """What `auditor tag` shows: which model tagged, and one TaggedSentence per input text."""

    model: str  # ModelRef.describe()
    texts: list[str]
    sentences: list[TaggedSentence]

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "sentences": [{"text": t, **s.to_dict()} for t, s in zip(self.texts, self.sentences)],
        }


def tag_texts(
    target: str | Path, texts: list[str], model: str = "after", experiment: str | None = None, progress: bool = False
) -> TagResult:
    """Tag free-text sentences with a run's model (model/experiment) or a model folder.

    Raises DataError when a text has no words, ModelError when no model is found.
    """
    from auditor.analysis.models import find_model, window_settings
    from auditor.modeling.training import load_tagger

    words = [split_words(t) for t in texts]
    if not texts:
        raise DataError("nothing to tag: give a sentence or --file with one sentence per line")
    empty = [i for i, w in enumerate(words) if not w]
    if empty:
        raise DataError(f"sentence {empty[0] + 1} has no words to tag")
    ref = find_model(Path(target), model, experiment)
    tagger = load_tagger(ref.path)
    max_length, stride = window_settings(ref, tagger.tokenizer)
    return TagResult(ref.describe(), list(texts), tag_sentences(tagger, words, max_length, stride, progress))


def read_sentences(path: str | Path) -> list[str]:
    """Non-blank lines of a UTF-8 text file ("-" = stdin), one sentence per line."""
    import sys

    if str(path) == "-":
        text = sys.stdin.read()
    else:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no such file (give a text file with one sentence per line)")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise DataError(f"{path}: not UTF-8 text") from None
    # a BOM (Windows editors) would otherwise become part of the first word
    text = text.removeprefix("\ufeff")
    return [line.strip() for line in text.splitlines() if line.strip()]

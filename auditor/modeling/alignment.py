"""Words <-> sub-words: first-sub-word labelling and sliding windows over long sentences.

Conventions (DESIGN.md, "Core data shapes"):

* A word is represented by its **first sub-word** (BERT paper); the other sub-words and the
  special tokens get label -100 (ignored by the loss).
* A word the tokenizer turns into **no sub-word** (a zero-width space, a control character,
  a lone space, an empty string) is replaced by the tokenizer's unknown token before
  encoding, both for training and prediction. It therefore keeps its position in the
  sentence and receives a real, contextual prediction from the model, rather than a
  borrowed neighbour's label or a blind prior. (In PAN-X such words sit almost always in
  O context, and the model learns whatever they are tagged with.)
* A sentence longer than the model's ``max_length`` is cut into **overlapping windows**:
  each window holds ``max_length - n_special`` sub-words and shares ``stride`` sub-words
  with the next. Every word is predicted in exactly one window, its **owner**: among the
  windows containing the word's first sub-word, the one where that sub-word is most
  central (largest distance to the nearer window edge; ties -> the earlier window), i.e.
  the prediction that saw the most context on both sides.

We slice the windows ourselves from the full sub-word sequence instead of using
``return_overflowing_tokens``: the windows are the same, but we keep each sub-word's
position in the whole sentence, which is what tells a word's first sub-word apart from a
continuation sub-word that happens to open the next window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from transformers import PreTrainedTokenizerBase

from auditor.errors import ModelError

IGNORE_INDEX = -100


@dataclass
class EncodedSentence:
    """One sentence as sub-words (no special tokens).

    input_ids:  (n_subwords,) token ids of the whole sentence
    first_sub:  (n_words,) index into input_ids of each word's first sub-word
    """

    input_ids: list[int]
    first_sub: list[int]

    @property
    def n_words(self) -> int:
        return len(self.first_sub)


@dataclass
class Window:
    """One model input: a slice of a sentence's sub-words wrapped in special tokens.

    sentence:  row of the sentence in its dataset
    input_ids: (T,) ids including special tokens, T <= max_length
    words:     words whose first sub-word lies in the window, as (word_index, position in input_ids)
    owned:     the subset of ``words`` this window predicts (see the module docstring)
    content_end: position in input_ids one past the last sub-word (where the trailing specials begin)
    """

    sentence: int
    input_ids: list[int]
    words: list[tuple[int, int]]
    owned: list[tuple[int, int]] = field(default_factory=list)
    content_end: int | None = None


def special_tokens_layout(tokenizer: PreTrainedTokenizerBase) -> tuple[list[int], list[int]]:
    """The special-token ids the tokenizer puts before and after one sequence (e.g. [<s>], [</s>])."""
    probe = tokenizer(["a"], is_split_into_words=True, add_special_tokens=True)
    ids, word_ids = probe["input_ids"], probe.word_ids()
    content = [i for i, w in enumerate(word_ids) if w is not None]
    if not content:
        raise ModelError("the tokenizer turns the word 'a' into nothing; it cannot be used for tagging")
    return ids[: content[0]], ids[content[-1] + 1 :]


def encode_sentences(
    tokenizer: PreTrainedTokenizerBase, sentences: Sequence[Sequence[str]], batch_size: int = 1000
) -> list[EncodedSentence]:
    """Sub-word ids and first-sub-word indices of every sentence (see module docstring for
    words that tokenize to nothing). Requires a fast tokenizer (word_ids)."""
    if not tokenizer.is_fast:
        raise ModelError(f"{tokenizer.name_or_path}: a fast tokenizer is needed (word alignment); none found")
    out: list[EncodedSentence] = []
    for lo in range(0, len(sentences), batch_size):
        batch = [list(s) for s in sentences[lo : lo + batch_size]]
        out.extend(_encode_batch(tokenizer, batch))
    return out


def _encode_batch(tokenizer: PreTrainedTokenizerBase, batch: list[list[str]]) -> list[EncodedSentence]:
    nonempty = [i for i, s in enumerate(batch) if s]
    results: list[EncodedSentence] = [EncodedSentence([], []) for _ in batch]
    if not nonempty:
        return results
    enc = tokenizer(
        [batch[i] for i in nonempty], is_split_into_words=True, add_special_tokens=False, verbose=False
    )
    for j, i in enumerate(nonempty):
        ids, word_ids = enc["input_ids"][j], enc.word_ids(j)
        sent = _from_word_ids(ids, word_ids, len(batch[i]))
        if sent is None:  # some word has no sub-word: re-encode with <unk> in its place
            sent = _encode_with_unk(tokenizer, batch[i], word_ids)
        results[i] = sent
    return results


def _from_word_ids(ids: list[int], word_ids: list[int | None], n_words: int) -> EncodedSentence | None:
    first = [-1] * n_words
    for pos, w in enumerate(word_ids):
        if w is not None and first[w] < 0:
            first[w] = pos
    if min(first) < 0:
        return None
    return EncodedSentence(list(ids), first)


def _encode_with_unk(
    tokenizer: PreTrainedTokenizerBase, words: list[str], word_ids: list[int | None]
) -> EncodedSentence:
    if tokenizer.unk_token is None:
        raise ModelError(
            f"{tokenizer.name_or_path}: the tokenizer has no unknown token, so words it turns into nothing "
            "(zero-width or control characters) cannot be tagged; remove such tokens from the corpus"
        )
    seen = {w for w in word_ids if w is not None}
    fixed = [w if i in seen else tokenizer.unk_token for i, w in enumerate(words)]
    enc = tokenizer([fixed], is_split_into_words=True, add_special_tokens=False, verbose=False)
    sent = _from_word_ids(enc["input_ids"][0], enc.word_ids(0), len(words))
    if sent is None:
        raise ModelError(f"{tokenizer.name_or_path}: even its unknown token encodes to nothing; cannot tag")
    return sent


def make_windows(
    encoded: Sequence[EncodedSentence],
    max_length: int,
    stride: int,
    prefix: Sequence[int],
    suffix: Sequence[int],
) -> list[Window]:
    """Cut every sentence into windows of at most max_length ids (specials included), consecutive
    windows sharing ``stride`` sub-words; mark each word's owner window. A sentence with no
    words gives no window. Windows come sentence by sentence, left to right."""
    content = max_length - len(prefix) - len(suffix)
    if content < 1:
        raise ModelError(f"max_length {max_length} leaves no room for sub-words after the special tokens")
    step = max(1, content - min(stride, content - 1))
    windows: list[Window] = []
    for row, sent in enumerate(encoded):
        n_sub = len(sent.input_ids)
        if sent.n_words == 0:
            continue
        starts = list(range(0, max(n_sub - content, 0) + 1, step))
        if starts[-1] + content < n_sub:
            starts.append(n_sub - content)
        mine: list[Window] = []
        best: dict[int, tuple[int, int, int]] = {}  # word -> (centrality, window, position)
        for start in starts:
            end = min(start + content, n_sub)
            ids = list(prefix) + sent.input_ids[start:end] + list(suffix)
            words = []
            for w, g in enumerate(sent.first_sub):
                if start <= g < end:
                    pos = len(prefix) + g - start
                    words.append((w, pos))
                    centrality = min(g - start, end - 1 - g)
                    if w not in best or centrality > best[w][0]:
                        best[w] = (centrality, len(mine), pos)
            mine.append(Window(row, ids, words, content_end=len(prefix) + end - start))
        for w in range(sent.n_words):
            _, k, pos = best[w]
            mine[k].owned.append((w, pos))
        windows.extend(mine)
    return windows


def window_labels(window: Window, tags: Sequence[int]) -> list[int]:
    """Training labels of a window: the word's tag at each first sub-word it contains, -100 elsewhere.

    Every first sub-word in the window is labelled (not only owned ones): a word near a
    window edge is still a valid training example, just with less context.
    """
    labels = [IGNORE_INDEX] * len(window.input_ids)
    for w, pos in window.words:
        labels[pos] = int(tags[w])
    return labels

"""Terminal tables (rich) for `auditor tag` and `auditor analyze`."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from auditor.analysis.tagging import TaggedSentence

# entity types get stable colours; anything beyond these cycles
_COLORS = ["cyan", "magenta", "green", "yellow", "blue", "red"]


def _tag_style(tag: str, types: list[str]) -> str:
    if tag == "O" or len(tag) < 3:
        return "dim"
    kind = tag[2:]
    return _COLORS[types.index(kind) % len(_COLORS)] if kind in types else ""


def tagged_table(sentence: TaggedSentence, title: str | None = None) -> Table:
    """One row per word: index, word, predicted tag, confidence (probability of that tag)."""
    types = sorted({t[2:] for t in sentence.tags if t != "O"})
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("word")
    table.add_column("tag")
    table.add_column("confidence", justify="right")
    for i, (word, tag, conf) in enumerate(zip(sentence.words, sentence.tags, sentence.confidence)):
        table.add_row(str(i), Text(word), Text(tag, style=_tag_style(tag, types)), f"{conf:.3f}")
    return table


def entities_line(sentence: TaggedSentence) -> Text:
    ents = sentence.entities()
    if not ents:
        return Text("entities: none", style="dim")
    line = Text("entities: ")
    for i, e in enumerate(ents):
        if i:
            line.append(", ")
        line.append(e.text, style="bold")
        line.append(f" ({e.type})")
    return line


def loss_table(rows: list[dict], key: str, title: str) -> Table:
    """A (key, count, mean, sum) table of losses in nats."""
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False, min_width=len(title))
    table.add_column(key)
    for name in ("count", "mean", "sum"):
        table.add_column(name, justify="right")
    for r in rows:
        table.add_row(Text(str(r[key])), str(r["count"]), f"{r['mean']:.3f}", f"{r['sum']:.2f}")
    return table


def confusion_table(labels: list[str], matrix: list[list[float]], title: str) -> Table:
    """Row-normalized confusion matrix: rows = gold tag, columns = predicted tag."""
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    table.add_column("gold \\ predicted")
    for name in labels:
        table.add_column(name, justify="right")
    for name, row in zip(labels, matrix):
        table.add_row(name, *(Text(f"{v:.2f}", style="bold" if v >= 0.005 else "dim") for v in row))
    return table


def sentence_table(sentence: dict) -> Table:
    """A worst sentence, word by word: token, gold label, prediction, loss (nats)."""
    total = sum(sentence["losses"])
    table = Table(
        title=f"{sentence['id']}  (loss {total:.2f} nats)", box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False
    )
    for name in ("token", "label", "prediction"):
        table.add_column(name)
    table.add_column("loss", justify="right")
    for tok, lab, pred, loss in zip(sentence["tokens"], sentence["labels"], sentence["predictions"], sentence["losses"]):
        style = "bold red" if lab != pred else ""
        table.add_row(Text(tok), Text(lab, style=style), Text(pred, style=style), f"{loss:.2f}")
    return table


def curve_table(result) -> Group:
    """Learning curve numbers: one row per training size, one F1 column per model, zero-shot first."""
    series = result.series()
    models = list(result.zero_shot)
    # a heading line rather than a table title: rich wraps titles to the (narrow) table width
    heading = Text(
        f"F1 on {result.target} test ({result.labels} tags): zero-shot from {result.source} "
        f"vs fine-tuned on {result.target}",
        style="italic",
    )
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column(f"{result.target} train sentences", justify="right")
    for m in models:
        table.add_column(f"F1 {m}", justify="right")
    table.add_row(f"zero-shot ({result.source})", *(f"{result.zero_shot[m]:.3f}" for m in models), style="italic")
    for i, n in enumerate(result.sizes):
        cells = [series.get(m, [None] * len(result.sizes))[i] for m in models]
        table.add_row(str(n), *("—" if v is None else f"{v:.3f}" for v in cells))
    return Group(heading, table)

"""Render a report Document as one self-contained HTML file.

Self-contained: CSS is inline, figures are embedded as base64 PNG data URIs, and there
are no links to anything outside the file (no fonts, scripts or stylesheets to fetch),
so the file can be mailed or archived on its own and opens offline.
"""

from __future__ import annotations

import base64
from html import escape

from auditor.reporting import Column, Document, Figure, Paragraph, Table, TaggedSentence
from auditor.reporting.markdown import cell_text

CSS = """
:root { --fg: #1d2330; --muted: #5b6478; --line: #d9dee7; --bg-alt: #f5f7fa; --accent: #2a6fbb;
        --good: #17803d; --bad: #c0392b; --note-bg: #fff7e6; --note-line: #f0b429; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--fg);
       max-width: 1180px; margin: 0 auto; padding: 28px 36px 60px; line-height: 1.5; font-size: 15px; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
h2 { font-size: 1.3em; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.1em; margin: 26px 0 8px; }
.subtitle { color: var(--muted); margin: 0 0 14px; }
nav.toc { background: var(--bg-alt); border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; }
nav.toc { display: flex; flex-wrap: wrap; gap: 4px 16px; }
nav.toc a { color: var(--accent); text-decoration: none; white-space: nowrap; }
.tables-row { display: flex; flex-wrap: wrap; gap: 0 28px; align-items: flex-start; }
.tables-row > div { min-width: 0; }
p.note { background: var(--note-bg); border-left: 4px solid var(--note-line); padding: 6px 12px; border-radius: 3px; }
.table-wrap { overflow-x: auto; margin: 8px 0 4px; }
table { border-collapse: collapse; font-size: 0.92em; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); }
th { background: var(--bg-alt); text-align: left; font-weight: 600; border-bottom: 2px solid var(--line); }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 600; border-top: 1px solid #aab3c3; }
tr.delta td { background: var(--bg-alt); }
td.pos { color: var(--good); font-weight: 600; }
td.neg { color: var(--bad); font-weight: 600; }
.caption { color: var(--muted); font-size: 0.88em; margin: 12px 0 2px; font-weight: 600; }
figure { margin: 14px 0 20px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
figcaption { color: var(--muted); font-size: 0.88em; }
.sentence { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; margin: 10px 0; }
.sentence .head { font-size: 0.88em; color: var(--muted); margin-bottom: 6px; }
.sentence .head b { color: var(--fg); font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.words { display: flex; flex-wrap: wrap; gap: 4px; }
.word { display: inline-flex; flex-direction: column; align-items: center; padding: 2px 6px;
        border: 1px solid transparent; border-radius: 4px; min-width: 2.2em; }
.word .tok { font-weight: 600; }
.word .tag { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.74em; color: var(--muted); }
.word .pred { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.74em; color: var(--accent); }
.word .clean { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.74em; color: var(--good); }
.word .clean.wrong { font-weight: 700; }
.word .loss { font-size: 0.68em; color: var(--muted); font-variant-numeric: tabular-nums; }
.word.key { align-items: flex-end; border-right: 1px solid var(--line); border-radius: 0; margin-right: 4px; }
.word.diff { border-color: var(--bad); background: #fdecea; }
"""


def _cell(value, column: Column, row_kind: str) -> str:
    text = escape(cell_text(value, column, row_kind))
    classes = []
    if column.kind != "text":
        classes.append("num")
    signed = column.kind == "delta" or (row_kind == "delta" and column.kind == "num")
    if signed and isinstance(value, (int, float)) and value == value:
        # a difference below display precision is neither gain nor loss
        if round(value, 3) > 0:
            classes.append("pos")
        elif round(value, 3) < 0:
            classes.append("neg")
    cls = f' class="{" ".join(classes)}"' if classes else ""
    return f"<td{cls}>{text}</td>"


def _table(t: Table) -> str:
    kinds = t.row_kinds or [""] * len(t.rows)
    head = "".join(f'<th class="{"num" if c.kind != "text" else "text"}">{escape(c.name)}</th>' for c in t.columns)
    body = []
    for row, kind in zip(t.rows, kinds):
        cls = f' class="{kind}"' if kind else ""
        body.append(f"<tr{cls}>" + "".join(_cell(v, c, kind) for v, c in zip(row, t.columns)) + "</tr>")
    caption = f'<p class="caption">{escape(t.caption)}</p>' if t.caption else ""
    return (
        f'<div>{caption}<div class="table-wrap"><table id="t-{escape(t.key)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div></div>"
    )


def _is_small(block) -> bool:
    """Narrow tables (a count per name) are laid out side by side instead of one per line."""
    return isinstance(block, Table) and len(block.columns) <= 4 and len(block.rows) <= 12


def _blocks(blocks: list) -> list[str]:
    out, row = [], []
    for b in [*blocks, None]:
        if b is not None and _is_small(b):
            row.append(_table(b))
            continue
        if row:
            out.append(f'<div class="tables-row">{"".join(row)}</div>' if len(row) > 1 else row[0])
            row = []
        if b is not None:
            out.append(_block(b))
    return out


def _figure(f: Figure) -> str:
    data = base64.b64encode(f.path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{escape(f.alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{escape(f.caption)}</figcaption></figure>"
    )


def _sentence(s: TaggedSentence) -> str:
    # a key column naming the rows, so a reader needs no legend
    loss_key = '<span class="loss">loss</span>' if s.losses is not None else ""
    clean_key = '<span class="clean">clean</span>' if s.clean is not None else ""
    words = [
        f'<span class="word key"><span class="tok">&nbsp;</span><span class="tag">{escape(s.given_name)}</span>'
        f'<span class="pred">predicted</span>{clean_key}{loss_key}</span>'
    ]
    losses = s.losses if s.losses is not None else [None] * len(s.tokens)
    cleans = s.clean if s.clean is not None else [None] * len(s.tokens)
    for tok, given, pred, loss, clean in zip(s.tokens, s.given, s.predicted, losses, cleans):
        diff = given != pred
        loss_html = f'<span class="loss">{loss:.2f}</span>' if loss is not None else ""
        if clean is not None:
            cls = "clean wrong" if clean != given else "clean"
            loss_html = f'<span class="{cls}">{escape(clean)}</span>' + loss_html
        title = f' title="{escape(s.given_name)} {escape(given)}, predicted {escape(pred)}"'
        words.append(
            f'<span class="word{" diff" if diff else ""}"{title}><span class="tok">{escape(tok)}</span>'
            f'<span class="tag">{escape(given)}</span><span class="pred">{escape(pred)}</span>{loss_html}</span>'
        )
    flag = " · flagged" if s.flagged else ""
    return (
        f'<div class="sentence"><div class="head"><b>{escape(s.id)}</b> · {escape(s.lang)} · '
        f"sequence loss {s.loss:.2f}{flag}</div><div class=\"words\">{''.join(words)}</div></div>"
    )


def _block(block) -> str:
    if isinstance(block, Paragraph):
        return f'<p class="note">{escape(block.text)}</p>' if block.note else f"<p>{escape(block.text)}</p>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figure):
        return _figure(block)
    if isinstance(block, TaggedSentence):
        return _sentence(block)
    raise TypeError(f"unknown report block {type(block).__name__}")


def render(doc: Document) -> str:
    """The whole report as one HTML page with inline CSS and embedded figures."""
    toc = "".join(f'<a href="#{escape(s.anchor)}">{escape(s.title)}</a>' for s in doc.sections if s.level == 2)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(doc.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(doc.title)}</h1>",
        f'<p class="subtitle">{escape(doc.subtitle)}</p>',
        f'<nav class="toc">{toc}</nav>',
    ]
    for sec in doc.sections:
        parts.append(f'<section id="{escape(sec.anchor)}"><h{sec.level}>{escape(sec.title)}</h{sec.level}>')
        parts.extend(_blocks(sec.blocks))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"

"""Issue-table rows for the review UI tests (auditor.tables.ISSUE_COLUMNS), small and readable."""

from __future__ import annotations

import numpy as np
import pandas as pd


def issue_row(
    sid: str, tokens: str, tags: str, start: int, end: int, suggested: str, kind: str, score: float
) -> dict:
    """One issue-table row (auditor.tables.ISSUE_COLUMNS) for sentence `sid` ('lang/split/n')."""
    words, given_all, new = tokens.split(), tags.split(), suggested.split()
    assert len(words) == len(given_all) and len(new) == end - start
    predicted = given_all[:start] + new + given_all[end:]
    losses = [0.05 * (i % 3) for i in range(len(words))]
    losses[start:end] = [2.5 + 0.5 * k for k in range(end - start)]
    types = [t[2:] for t in given_all[start:end] + new if t != "O"]
    return {
        "issue_id": f"{sid}:{start}-{end}",
        "id": sid,
        "lang": sid.split("/")[0],
        "split": sid.split("/")[1],
        "start": start,
        "end": end,
        "kind": kind,
        "entity_type": types[0] if types else "O",
        "surface": " ".join(words[start:end]),
        "given": given_all[start:end],
        "suggested": new,
        "score": score,
        "cleanlab_score": score,
        "token_loss": max(losses[start:end]),
        "consistency_score": 0.5,
        "sequence_loss": float(sum(losses)),
        "sequence_loss_mean": float(np.mean(losses)),
        "tokens": words,
        "tags": given_all,
        "predicted": predicted,
        "token_losses": losses,
    }


UN = "B-PER I-PER"
ROWS = [
    # (id, tokens, tags, start, end, suggested, kind, score); ranked by score
    ("de/train/000005", "Das Fest am 8. Juli 2020 in Bern", "O O O B-ORG I-ORG O O B-LOC", 3, 5, "O O", "spurious", 0.02),
    ("en/train/000001", "The United Nations met in Geneva .", f"O {UN} O O B-LOC O", 1, 3, "B-ORG I-ORG", "type", 0.05),
    ("de/train/000002", "Die United Nations tagten in Genf .", f"O {UN} O O B-LOC O", 1, 3, "B-ORG I-ORG", "type", 0.10),
    ("fr/train/000003", "Les United Nations à Genève", f"O {UN} O B-LOC", 1, 3, "B-ORG I-ORG", "type", 0.20),
    ("it/train/000004", "United Nations a Ginevra", f"{UN} O B-LOC", 0, 2, "B-ORG I-ORG", "type", 0.30),
    ("en/train/000006", "United Nations staff", "B-LOC I-LOC O", 0, 2, "B-ORG I-ORG", "type", 0.40),
    ("fr/train/000007", "Angela Merkel visite Paris", "O O O B-LOC", 0, 2, "B-PER I-PER", "missing", 0.50),
    ("de/train/000008", "Kanton Zürich ( Schweiz ) liegt", "B-LOC I-LOC I-LOC I-LOC I-LOC O", 0, 5, "B-LOC I-LOC O B-LOC O", "boundary", 0.60),
]


def make_issues(rows=ROWS) -> pd.DataFrame:
    return pd.DataFrame([issue_row(*r) for r in rows])


# how the help writes keys that Textual names otherwise
HELP_KEY_NAMES = {"down": "↓", "up": "↑", "pagedown": "pgdn", "pageup": "pgup", "slash": "/", "question_mark": "?",
                  "escape": "esc", "right_square_bracket": "]", "number_sign": "#", "left": "←/→", "right": "←/→"}


def keys_missing_from_help(bindings, sections) -> list[str]:
    """Every key of `bindings` the help `sections` ((title, [(keys, text)]) lists) does not show."""
    shown = " ".join(keys for _, rows in sections for keys, _ in rows).split()
    return [key for b in bindings for key in b.key.split(",") if HELP_KEY_NAMES.get(key, key) not in shown]

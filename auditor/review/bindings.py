"""Every key of the review UI in one place, and the help text that explains them and the
screen. The help screen and the README show the same lists; a test checks that every
binding appears in the help."""

from __future__ import annotations

from textual.binding import Binding

O_KEYS = ("x", "0")
# keys a relabel type may not take (they already mean something on the relabel screen)
_RESERVED = set(O_KEYS) | {"q"}

APP = [
    Binding("q", "quit", "quit"),
    Binding("question_mark", "help", "help"),
]

REVIEW = [
    Binding("a", "decide('accept')", "accept"),
    Binding("k", "decide('keep')", "keep"),
    Binding("r", "relabel", "relabel"),
    Binding("s", "decide('skip')", "skip"),
    Binding("u", "undo", "undo"),
    Binding("b", "bulk", "bulk"),
    # the order line names these three, so they stay out of the footer (80 columns)
    Binding("o", "toggle_adaptive", "adaptive order", show=False),
    Binding("G", "toggle_groups", "groups first", show=False),
    Binding("A", "group", "decide the group", show=False),
    Binding("n,down", "move(1)", "next", show=False),
    Binding("p,up", "move(-1)", "previous", show=False),
    Binding("pagedown", "page(1)", "page down", show=False),
    Binding("pageup", "page(-1)", "page up", show=False),
    Binding("home", "jump('first')", "first", show=False),
    Binding("end", "jump('last')", "last", show=False),
    # g and c stay out of the footer: at 80 columns it would push out "? help"
    Binding("g", "next_open", "open", show=False),
    Binding("tab", "next_open", "next open", show=False, priority=True),
    Binding("right_square_bracket", "next_kind", "same kind", show=False),
    Binding("number_sign", "goto", "go to #", show=False),
    Binding("c", "context", "context", show=False),
    Binding("f", "filter('lang')", "filter"),
    Binding("slash", "filter('text')", "search", show=False),
    Binding("escape", "clear_filter", "clear filter", show=False),
]

HELP_SCREEN = [Binding("escape,question_mark,q", "dismiss", "close")]

BULK = [
    Binding("enter,y,a", "choose('accept')", "accept all", priority=True),
    Binding("k", "choose('keep')", "keep all"),
    Binding("r", "choose('relabel')", "relabel all"),
    Binding("escape,n", "choose(None)", "cancel"),
]

# the group preview (A): space (the member list's own key) leaves a member out or takes it back
GROUP = [
    Binding("enter,y,a", "choose('accept')", "accept the ticked", priority=True),
    Binding("k", "choose('keep')", "keep the ticked"),
    Binding("r", "choose('relabel')", "relabel the ticked"),
    Binding("escape,n", "choose(None)", "cancel"),
]

RELABEL = [
    Binding("left", "move('start', -1)", "start ←", show=False),
    Binding("right", "move('start', 1)", "start →", show=False),
    Binding("shift+left", "move('end', -1)", "end ←", show=False),
    Binding("shift+right", "move('end', 1)", "end →", show=False),
    Binding("enter", "confirm", "save", priority=True),
    Binding("escape", "cancel", "cancel"),
]

FILTER = [
    Binding("enter", "apply", "apply"),
    Binding("escape", "cancel", "cancel"),
    Binding("ctrl+r", "reset", "clear all"),
]

# the status drop-down opens with these; enter applies the filter like in every other field
STATUS_SELECT = [Binding("down,space,up", "show_overlay", "show menu", show=False)]

REPLACE = [
    Binding("y,enter", "answer(True)", "replace", priority=True),
    Binding("n,escape", "answer(False)", "leave it"),
]

GOTO = [Binding("escape", "cancel", "cancel")]

CONTEXT = [Binding("escape,c,q", "dismiss", "close")]


# `auditor verify`: checking a random sample sentence by sentence (auditor.review.verify)
VERIFY = [
    Binding("v", "verify", "verified"),
    Binding("r", "relabel", "relabel"),
    Binding("u", "undo", "undo"),
    Binding("left", "word(-1)", "word ←", show=False),
    Binding("right", "word(1)", "word →", show=False),
    Binding("n,down", "move(1)", "next", show=False),
    Binding("p,up", "move(-1)", "previous", show=False),
    Binding("g,tab", "next_open", "next unchecked", show=False, priority=True),
]

VERIFY_HELP: list[tuple[str, list[tuple[str, str]]]] = [
    ("Checking a random sample: every change is saved at once", [
        ("v", "the sentence's tags (as shown on the 'now' line) are right: verified, on to the next unchecked one"),
        ("←/→", "move the word cursor"),
        ("r", "relabel the entity under the cursor (or the word): ←/→ move the start, shift+←/→ the end, "
              "a type key or x/0 for O, enter saves, esc cancels; then v when the whole sentence is right"),
        ("u", "undo: back to the tags as drawn, not verified"),
    ]),
    ("Moving", [("n ↓  p ↑", "next / previous sentence"), ("g  tab", "next unchecked sentence")]),
    ("Reading the screen", [
        ("✓ ✎ ·", "verified, changed but not yet verified, unchecked"),
        ("drawn / now", "the corpus's tags when the sample was drawn, and the tags as they stand"),
    ]),
    ("", [("?", "this help"), ("q", "quit; the file is always saved")]),
]


def assign_type_keys(types: list[str]) -> dict[str, str]:
    """One lower-case key per entity type: its first free letter (p/o/l for PER/ORG/LOC),
    else the first free letter or digit. Returns key -> type, in the order of `types`."""
    keys: dict[str, str] = {}
    spare = [c for c in "abcdefghijklmnopqrstuvwyz123456789" if c not in _RESERVED]
    for entity_type in types:
        letters = [c for c in entity_type.lower() if c.isalnum()]
        key = next((c for c in letters if c not in keys and c not in _RESERVED), None)
        key = key or next((c for c in spare if c not in keys), None)
        if key is not None:
            keys[key] = entity_type
    return keys


POLL_SECONDS = 2.0  # how often an open UI reads the others' decisions (one indexed query)

# (keys, what they do) per section; the help screen and the README show the same list
HELP: list[tuple[str, list[tuple[str, str]]]] = [
    ("Deciding: each decision is saved at once and moves to the next issue", [
        ("a", "accept the suggested tags"),
        ("k", "keep the original tags (they were right)"),
        ("r", "relabel: ←/→ move the start, shift+←/→ the end, a type key (shown on screen) "
              "or x/0 for O, enter saves, esc cancels"),
        ("s", "skip (decide later; a skip is not done)"),
        ("u", "undo your last decision of this session (a bulk decision as a whole); "
              "only ever your own, another curator's decision stands"),
        ("b", "bulk, within the filter, with a preview first: the same decision for every open issue "
              "with the same words and change, or your last relabel for the other occurrences of its words"),
        ("A", "decide the group: every open issue of the issue's systematic group, whatever the filter, "
              "after a preview listing each member: accept (or keep) them, or repeat your decision on this issue "
              "(accept, relabel, keep); u undoes it as a whole"),
        ("space", "in the group preview: leave the highlighted member out (or take it back); "
                  "the members left out stay open"),
    ]),
    ("Ordering: the line above the queue says which order is shown", [
        ("o", "adaptive order on/off: once there are enough decisions (changed and kept labels), a model "
              "learns from them which open issues are likely wrong and re-ranks the queue, again every few "
              "decisions; the line says what it waits for. Open issues come first, then the decided ones"),
        ("G", "largest systematic groups first on/off (within a group, the score or adaptive order)"),
        ("", "o and G move to the first open issue of the new order; a re-rank in the background keeps "
             "the current issue, and the next decision goes on at the top"),
    ]),
    ("Moving", [
        ("n ↓  p ↑", "next / previous issue"),
        ("pgdn pgup", "a page down / up"),
        ("home end", "first / last issue"),
        ("g  tab", "next open issue"),
        ("]", "next open issue of the same kind"),
        ("#", "go to issue number N (numbers are the same in every shard)"),
        ("c", "context: the neighbouring sentences and the other occurrences of the words with their tags"),
    ]),
    ("Finding", [
        ("f", "filter by language, kind, entity type, score range, status (conflicts too), groups ×2+"),
        ("/", "search the words of the sentences (any case, accents optional: munchen finds München)"),
        ("esc", "clear the filter"),
    ]),
    ("Reading the screen", [
        ("score", "0 to 1, lower = more suspicious; #1 is the most suspicious issue"),
        ("type", "kind: the entity's type looks wrong (e.g. PER→ORG)"),
        ("boundary", "kind: the entity's edges look wrong (a word too many or too few)"),
        ("missing", "kind: words tagged O look like an entity"),
        ("spurious", "kind: words tagged as an entity look like none"),
        ("· ✓ ✎ = »", "open, accepted, relabelled, kept, skipped"),
        ("!", "curators disagree on the issue (the later decision applies; filter status: conflicts)"),
        ("×N", "N issues have the same words and the same change: a systematic group (A decides it)"),
        ("loss ▁▄█", "per word: how unlikely the model finds the given tag, in nats "
                     "(0.7 ≈ 50%, 2.3 ≈ 10%, 4.6 ≈ 1%)"),
        ("why", "the signals behind the flag: the model's probability of the given tag, how the corpus "
                "labels the same words elsewhere, cleanlab's label quality (0 = surely wrong, 1 = surely right)"),
    ]),
    ("Working as a team", [
        ("", f"other curators' decisions appear within {POLL_SECONDS:g} s, with their names; "
             "deciding an issue someone else decided asks first"),
    ]),
    ("", [("?", "this help"), ("q", "quit; reopening resumes at the first open issue")]),
]

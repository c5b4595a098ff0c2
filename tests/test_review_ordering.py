"""The queue's order as pure functions: score, adaptive and groups-first orders, keeping the
cursor, what the adaptive order waits for, and the order line's text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auditor.config import AdaptiveConfig
from auditor.review.groups import find_groups
from auditor.review.ordering import (
    OrderState,
    adaptive_order,
    complete,
    groups_first_order,
    position_in,
    positions,
    refit_due,
    score_order,
    view_of,
    waiting_for,
)
from auditor.review.queue import IssueFilter, IssueTable, ReviewQueue
from auditor.review.store import Ledger


def test_complete_puts_the_rest_after_in_rank_order():
    assert complete(np.array([4, 1]), 6).tolist() == [4, 1, 0, 2, 3, 5]
    assert complete(np.zeros(0, dtype=np.int64), 3).tolist() == [0, 1, 2]
    assert score_order(4).tolist() == [0, 1, 2, 3]


def test_adaptive_order_ranks_open_issues_by_priority_and_decided_ones_last():
    priority = np.array([0.5, 0.1, 0.9, 0.1, 0.0])
    is_open = np.array([True, True, True, True, False])
    # ties (ranks 1 and 3) stay in rank order; the decided rank 4 goes last despite its priority
    assert adaptive_order(priority, is_open).tolist() == [1, 3, 0, 2, 4]


def test_groups_first_order_follows_the_base_order_within_and_between_groups():
    issues = pd.DataFrame({
        "surface": ["a", "b", "a", "c", "b", "a", "c"],
        "given": [["B-LOC"]] * 7,
        "suggested": [["B-ORG"]] * 7,
    })
    groups = find_groups(issues)
    is_open = np.ones(7, dtype=bool)
    assert groups_first_order(groups, score_order(7), is_open).tolist() == [0, 2, 5, 1, 4, 3, 6]
    base = np.array([6, 4, 0, 1, 2, 3, 5])  # e.g. an adaptive order: c and b are now ahead of each other
    assert groups_first_order(groups, base, is_open).tolist() == [0, 2, 5, 6, 3, 4, 1]
    is_open[[0, 2]] = False  # two of "a" decided: "a" has one open member left, and goes last
    assert groups_first_order(groups, score_order(7), is_open).tolist() == [1, 4, 3, 6, 5, 0, 2]


def test_positions_view_and_cursor_helpers():
    order = np.array([3, 0, 2, 1])
    assert positions(order).tolist() == [1, 3, 2, 0]
    keep = np.array([True, False, True, True])
    view = view_of(order, keep)
    assert view.tolist() == [3, 0, 2]
    assert position_in(view, 2) == 2 and position_in(view, 1) is None


def test_waiting_for_names_only_what_is_missing():
    s = AdaptiveConfig(min_wrong=30, min_right=10)
    assert waiting_for(30, 3, s) == "waiting for 10 keeps (3 so far)"
    assert waiting_for(12, 3, s) == "waiting for 30 changed labels (12 so far) and 10 keeps (3 so far)"
    assert waiting_for(30, 10, s) == ""


def test_refit_is_due_first_and_then_every_n_decisions():
    assert refit_due(40, None, 50)
    assert not refit_due(89, 40, 50)
    assert refit_due(90, 40, 50)


def test_order_line_text():
    state = OrderState()
    assert state.describe() == "order: score"
    state.adaptive, state.waiting = True, "waiting for 10 keeps (3 so far)"
    assert state.describe() == "order: score — adaptive: waiting for 10 keeps (3 so far)"
    state.groups_first = True
    assert state.describe().startswith("order: largest groups first · score — adaptive: waiting")
    state.priority, state.refit_number, state.refit_decisions, state.refit_time = np.zeros(3), 3, 85, "14:02"
    assert state.describe() == "order: largest groups first · adaptive, refit #3 from 85 decisions at 14:02"
    state.groups_first, state.refitting = False, True
    assert state.describe() == "order: adaptive, refit #3 from 85 decisions at 14:02 (refitting…)"
    state.adaptive = False  # switched off: the refit is kept for later but not shown
    assert state.describe() == "order: score"


# --- the queue with an order -----------------------------------------------------------------


@pytest.fixture
def queue():
    import pyarrow as pa
    from review_rows import make_issues

    return ReviewQueue(IssueTable(pa.Table.from_pandas(make_issues())), Ledger())


def test_queue_keeps_the_cursor_on_its_issue_when_reordered(queue):
    queue.goto(2)  # rank 2
    queue.set_order(np.array([7, 6, 5, 4, 3, 2, 1, 0]))
    assert queue.view.tolist() == [7, 6, 5, 4, 3, 2, 1, 0] and queue.current_rank() == 2
    queue.set_order(score_order(8), keep_cursor=False)
    assert queue.current_rank() == 0  # the first open issue


def test_filters_keep_the_queues_order_and_the_group_filter(queue):
    queue.set_order(np.array([7, 6, 5, 4, 3, 2, 1, 0]))
    queue.set_filter(IssueFilter(langs=("de",)))
    assert queue.view.tolist() == [7, 2, 0]
    queue.set_filter(IssueFilter(grouped=True))
    # the United Nations PER→ORG group: ranks 1-4 (four languages), in the queue's order
    assert queue.view.tolist() == [4, 3, 2, 1]
    assert queue.group_size.tolist() == [1, 4, 4, 4, 4, 1, 1, 1]
    assert IssueFilter(grouped=True).describe() == "groups ×2+"


def test_goto_first_takes_the_earliest_in_the_queues_order(queue):
    queue.set_order(np.array([7, 6, 5, 4, 3, 2, 1, 0]))
    queue.goto_first([1, 5])
    assert queue.current_rank() == 5
    queue.set_filter(IssueFilter(langs=("de",)))  # ranks 7, 2, 0 shown
    assert queue.goto_rank(5, nearest=True) and queue.current_rank() == 2  # the next shown after 5 in this order

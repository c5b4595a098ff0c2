"""Files keep the group's permissions (issue 24, row 9): a team on separate Unix accounts in
one group works under umask 002, so what auditor creates must honour the umask, and an atomic
save must keep the mode of the file it replaces."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from auditor.atomic import exclusive_lock, write_text_atomic
from auditor.data.sample import SampleRow, save_row, write_sample
from auditor.errors import StoreError
from auditor.review.store import DecisionStore, curator_session


@pytest.fixture
def umask():
    def set_to(mask: int) -> None:
        os.umask(mask)

    old = os.umask(0o022)
    yield set_to
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _row(id_: str, verified: bool = False) -> SampleRow:
    return SampleRow(id=id_, lang="en", tokens=["Paris"], tags=["B-LOC"], given=["B-LOC"], verified=verified)


def test_the_store_its_wal_and_the_curator_lock_honour_a_group_umask(tmp_path: Path, umask) -> None:
    umask(0o002)
    path = tmp_path / "review.sqlite"
    with DecisionStore(path, curator="ana") as s:
        s.record("a:0-1", "keep")
        assert mode(path) == 0o664
        assert mode(path.with_name("review.sqlite-wal")) == 0o664
        assert mode(path.with_name("review.sqlite-shm")) == 0o664
    with curator_session(path, "ana"):
        locks = list(tmp_path.glob(".review.sqlite.curators/*.lock"))
        assert [mode(p) for p in locks] == [0o664]
    with exclusive_lock(tmp_path / ".x.lock"):
        assert mode(tmp_path / ".x.lock") == 0o664
    with DecisionStore(path, curator="ana") as s:
        s.record("b:0-1", "keep")
        assert s.backup(tmp_path / "copy.sqlite") == 2
        for p in tmp_path.glob("review.sqlite*"):
            p.unlink()
        with pytest.raises(StoreError, match="deleted or replaced"):
            s.decide("c:0-1", "keep")
    assert mode(tmp_path / "copy.sqlite") == 0o664
    assert [mode(p) for p in tmp_path.glob("review.sqlite.rescued-*")] == [0o664]


def test_a_new_sample_file_honours_the_umask(tmp_path: Path, umask) -> None:
    umask(0o002)
    write_sample(tmp_path / "sample.jsonl", [_row("en/train/000001")])
    assert mode(tmp_path / "sample.jsonl") == 0o664


def test_an_atomic_save_keeps_the_replaced_files_mode(tmp_path: Path, umask) -> None:
    umask(0o022)  # the second account's own umask is stricter than the file's
    sample = tmp_path / "sample.jsonl"
    write_sample(sample, [_row("en/train/000001"), _row("en/train/000002")])
    sample.chmod(0o664)
    save_row(sample, _row("en/train/000001", verified=True))
    assert mode(sample) == 0o664
    other = tmp_path / "notes.txt"
    write_text_atomic(other, "one")
    other.chmod(0o640)
    write_text_atomic(other, "two")
    assert mode(other) == 0o640 and other.read_text() == "two"

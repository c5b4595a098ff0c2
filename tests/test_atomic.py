"""Atomic writes reach the disk before they get their final name (issue 14: no fsync)."""

import os
from pathlib import Path

import pytest

from auditor.atomic import atomic_path, write_text_atomic


@pytest.fixture
def synced(monkeypatch):
    paths: list[Path] = []
    real = os.fsync

    def record(fd):
        paths.append(Path(os.readlink(f"/proc/self/fd/{fd}")))
        return real(fd)

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to map file descriptors to paths")
    monkeypatch.setattr(os, "fsync", record)
    return paths


def test_text_file_and_its_folder_are_fsynced(tmp_path, synced):
    write_text_atomic(tmp_path / "a.json", "{}")
    assert (tmp_path / "a.json").read_text() == "{}"
    assert any(p.name == "a.json" for p in synced), synced  # the data, before the rename
    assert tmp_path in synced  # the rename itself


def test_every_file_of_a_folder_is_fsynced(tmp_path, synced):
    with atomic_path(tmp_path / "out", is_dir=True) as tmp:
        (tmp / "x.arrow").write_bytes(b"1")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "y.json").write_text("2")
    names = {p.name for p in synced}
    assert {"x.arrow", "y.json"} <= names
    assert (tmp_path / "out" / "sub" / "y.json").read_text() == "2"


def test_failure_leaves_the_old_file(tmp_path):
    write_text_atomic(tmp_path / "a.txt", "old")
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "a.txt") as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert (tmp_path / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]

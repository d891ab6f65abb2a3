"""Directory writes: the whole tree is on disk before the directory appears."""

from __future__ import annotations

import os
from pathlib import Path

from asffbench import atomic


def test_write_dir_atomic_fsyncs_every_file_and_folder_before_the_rename(tmp_path, monkeypatch):
    out = tmp_path / "out"
    synced: list[int] = []  # inodes fsynced, in order; "renamed" marks the rename
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd: int) -> None:
        synced.append(os.fstat(fd).st_ino)
        real_fsync(fd)

    def rename(src, dst) -> None:
        synced.append(-1)
        real_rename(src, dst)

    def fill(tmp: Path) -> None:
        (tmp / "images").mkdir()
        (tmp / "images" / "1.png").write_bytes(b"png")
        (tmp / "ann.json").write_text("{}")

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "rename", rename)
    atomic.write_dir_atomic(out, fill)
    before_rename = set(synced[: synced.index(-1)])
    tree = [out, out / "images", out / "images" / "1.png", out / "ann.json"]
    assert {p.stat().st_ino for p in tree} <= before_rename
    assert synced[-1] == tmp_path.stat().st_ino  # the parent, so the rename itself is durable
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]

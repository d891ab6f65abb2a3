"""Atomic file writes: temp file in the target folder, fsync, rename (never a torn file).

Torch-free, so the results layer uses it too.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable


def write_path_atomic(path: Path, write_to: Callable[[Path], None]) -> Path:
    """Call `write_to(tmp_path)` for a temp file next to `path`, fsync it, rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp's 0600 is not what open() would give
        write_to(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def write_atomic(path: Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call `write(handle)` on a temp file next to `path`, then rename it over `path`."""

    def write_to(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            write(handle)

    return write_path_atomic(path, write_to)


def write_text_atomic(path: Path, text: str) -> Path:
    return write_atomic(path, lambda handle: handle.write(text.encode("utf-8")))


def write_json_atomic(path: Path, obj: Any, indent: int | None = 2) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=indent, default=str) + "\n")


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (skipped where a directory cannot be opened or synced)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(folder: Path) -> None:
    """fsync every file and folder under `folder` (itself included), so a rename after it never
    publishes a directory whose files a crash could leave empty."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                os.fsync(handle.fileno())
        fsync_dir(Path(root))


def write_dir_atomic(out: Path, fill: Callable[[Path], None], replace: bool = False) -> Path:
    """Build a directory in a temp dir beside `out` with `fill(tmp)`, fsync it, rename it to `out`.

    `out` must be absent or empty, unless `replace`: then an existing `out` is moved aside and
    removed only once the new one is in place. `out` only ever exists complete. Returns `out`.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes it private; the result is ordinary
    try:
        fill(tmp)
        fsync_tree(tmp)
        old = move_aside(out) if replace and out.exists() else None
        if out.exists():
            out.rmdir()
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(out.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out


def move_aside(folder: Path) -> Path:
    """Rename `folder` into a fresh hidden temp dir beside it; returns that temp dir."""
    holder = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
    os.rename(folder, holder / folder.name)
    return holder

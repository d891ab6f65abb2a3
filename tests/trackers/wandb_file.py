"""A reader of W&B's offline run files (`run-<id>.wandb`) for the tests, with wandb's own protobuf.

wandb 0.31 has no Python reader of its transaction log any more (the `wandb.sdk.internal.datastore`
of earlier releases moved into its Go core), so the framing is read here: a 7-byte header (":W&B",
magic 0xBEE1, version), then LevelDB log blocks of 32 KiB whose chunks (4-byte checksum, 2-byte
length, 1-byte type: full, first, middle, last) carry serialized `wandb_internal_pb2.Record`s.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import Any, Iterator

BLOCK = 32 * 1024
HEADER = struct.Struct("<4sHB")
CHUNK = struct.Struct("<IHB")
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def payloads(path: Path) -> Iterator[bytes]:
    data = Path(path).read_bytes()
    ident, magic, _version = HEADER.unpack_from(data, 0)
    assert (ident, magic) == (b":W&B", 0xBEE1), f"{path}: not a W&B transaction log"
    pos, pending = HEADER.size, b""
    while pos + CHUNK.size <= len(data):
        left_in_block = BLOCK - pos % BLOCK
        if left_in_block < CHUNK.size:  # a block's tail too short for a chunk is padding
            pos += left_in_block
            continue
        _checksum, length, kind = CHUNK.unpack_from(data, pos)
        if kind == 0 and length == 0:  # zero padding at the end of the file
            break
        if pos + CHUNK.size + length > len(data):  # a chunk cut short by a killed writer
            break
        body = data[pos + CHUNK.size: pos + CHUNK.size + length]
        pos += CHUNK.size + length
        if kind == FULL:
            yield body
        elif kind == FIRST:
            pending = body
        elif kind == MIDDLE:
            pending += body
        elif kind == LAST:
            yield pending + body
            pending = b""


def records(path: Path) -> list[Any]:
    """The `Record` messages of a .wandb file, in order."""
    from wandb.proto import wandb_internal_pb2

    out = []
    for body in payloads(path):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(body)
        out.append(record)
    return out


def closed_records(path: Path, timeout_s: float = 60.0) -> list[Any]:
    """The records once the file holds its run's `exit` record: W&B's core process may still be
    writing the log when `finish()` has returned."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = records(path)
        if any(r.WhichOneof("record_type") == "exit" for r in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def offline_runs(run_dir: Path) -> list[Path]:
    """The .wandb files of the offline W&B runs under an asffbench run dir, oldest first."""
    return sorted((Path(run_dir) / "wandb").glob("offline-run-*/run-*.wandb"))

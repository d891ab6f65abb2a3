"""`bench --out FILE`: one result appended as a row of a .jsonl or .csv file.

A CSV keeps one header: a file whose header differs from the row's columns (an older version, or
the other `bench.mode`) is refused with one line, before measuring, rather than written under the
wrong names.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from asffbench.errors import UserError
from asffbench.memory import headline_mib

ROW_SUFFIXES = (".jsonl", ".csv")


COMMON_COLUMNS = ("mode", "fusion", "model", "deform_conv", "img_size", "batch_size", "device", "device_name", "precision",
                  "channels_last", "compile", "cudnn_benchmark", "params")
INFER_COLUMNS = (*COMMON_COLUMNS, "fused", "input", "gmacs", "gflops", "forward_ms", "forward_ms_std",
                 "forward_ms_median", "forward_ms_p90", "nms_ms", "nms_ms_std", "nms_ms_median",
                 "nms_candidates_per_image", "fps", "fps_median", "peak_memory_mib", "torch")
TRAIN_COLUMNS = (*COMMON_COLUMNS, "step_ms", "step_ms_median", "step_ms_p90", "forward_ms", "loss_ms",
                 "backward_ms", "optimizer_ms", "images_per_s", "loader_images_per_s", "peak_memory_mib", "torch")


def columns(mode: str) -> tuple[str, ...]:
    return TRAIN_COLUMNS if mode == "train" else INFER_COLUMNS


def check_row_file(path: Path, mode: str = "infer") -> None:
    """Fail before measuring when the row could not be written (or not under the file's header)."""
    if path.suffix not in ROW_SUFFIXES:
        raise UserError(f"--out {path}: use a .jsonl or .csv file")
    if not path.parent.exists():
        raise UserError(f"--out {path}: folder {path.parent} does not exist")
    if path.is_dir():
        raise UserError(f"--out {path}: is a directory")
    header = csv_header(path) if path.suffix == ".csv" else None
    if header is not None and header != list(columns(mode)):
        raise UserError(
            f"--out {path}: its header has other columns than a bench.mode={mode} row "
            "(written by another mode or version); give a new file"
        )


def flat_row(result: dict) -> dict:
    """The CSV columns of one result (`columns(mode)`): its settings and headline figures."""
    row = {key: result[key] for key in COMMON_COLUMNS}
    if result["mode"] == "train":
        step = result["step_ms"]
        row.update(step_ms=step["mean"], step_ms_median=step["median"], step_ms_p90=step["p90"])
        row.update({f"{phase}_ms": s["mean"] for phase, s in result["phases_ms"].items()})
        row.update(images_per_s=result["images_per_s"], loader_images_per_s=result["loader"]["images_per_s"])
    else:
        lat = result["latency_ms"]
        row.update(
            fused=result["fused"], input=result["input"]["kind"], gmacs=result["gmacs"], gflops=result["gflops"],
            forward_ms=lat["forward"]["mean"], forward_ms_std=lat["forward"]["std"],
            forward_ms_median=lat["forward"]["median"], forward_ms_p90=lat["forward"]["p90"],
            nms_ms=lat["nms"]["mean"], nms_ms_std=lat["nms"]["std"], nms_ms_median=lat["nms"]["median"],
            nms_candidates_per_image=result["input"]["nms_candidates_per_image"],
            fps=result["fps"], fps_median=result["fps_median"],
        )
    row.update(peak_memory_mib=headline_mib(result["memory"]), torch=result["torch"])
    return {key: row[key] for key in columns(result["mode"])}


def csv_header(path: Path) -> list[str] | None:
    """The header of an existing non-empty CSV, or None."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    with open(path, encoding="utf-8", newline="") as f:
        return next(csv.reader(f), None)


def append_row(path: Path, result: dict) -> None:
    """Append one row; a line is written whole with one write call so rows never interleave."""
    check_row_file(path, result["mode"])  # again: the file may have changed while measuring
    if path.suffix == ".jsonl":
        line = json.dumps(result, default=str) + "\n"
    else:
        row = flat_row(result)
        header = csv_header(path)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(row))
        if header is None:
            writer.writeheader()
        writer.writerow(row)
        line = buffer.getvalue()
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line)
    except OSError as err:  # e.g. no write permission
        raise UserError(f"--out {path}: cannot append the row ({err.strerror or err})") from None

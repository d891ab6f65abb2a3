"""What a run record and the other files of a run directory are called, which schema the record
follows, how a run is named, and how its train log reads.

A leaf module (no torch, no hydra, nothing of asffbench): `runs/` writes records with it,
`results/` reads them with it, and `bench/` states its FLOPs convention from it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator, Mapping

RECORD_NAME = "record.json"
# The evaluation's files in a run directory (written by engine.evaluate, read by results.compare).
DETECTIONS_NAME = "detections.json"
METRICS_NAME = "metrics.json"
GROUND_TRUTH_NAME = "ground_truth.json"  # the val set as COCO JSON, when it was not read from one (VOC XML)
MATCHES_NAME = "coco_matches.npz"  # the detections' match table (engine.match_table), so no reader matches twice
# Evaluations during training (`train.eval_every`): each keeps its detections and match table in
# TRAINING_EVALS_DIR/epoch_NNNN/ (NNNN: epochs done), so the report can bootstrap Δ over training.
TRAINING_EVALS_DIR = "evals"
TRAINING_EVAL_PREFIX = "epoch_"


def training_eval_dir(run_dir: Path, epochs_done: int) -> Path:
    return Path(run_dir) / TRAINING_EVALS_DIR / f"{TRAINING_EVAL_PREFIX}{epochs_done:04d}"


def training_eval_epoch(path: Path) -> int | None:
    """The epochs done of a training evaluation's directory (None for another name)."""
    match = re.fullmatch(rf"{TRAINING_EVAL_PREFIX}(\d+)", Path(path).name)
    return int(match.group(1)) if match else None
# A test split's evaluation (image info, no annotations: no AP) writes its metrics here, beside the
# evaluation server's results file, and leaves the run's metrics.json (its val evaluation) alone.
TEST_METRICS_NAME = "metrics_{testset}.json"
# In a sweep dir: `sweep NAME --estimate`'s device-hours per run (runs.sweep_estimate; the report reads it).
ESTIMATE_NAME = "estimate.json"
# Training's JSON-lines log (written by engine.logging; read by a resumed run and by results/).
TRAIN_LOG_NAME = "train_log.jsonl"
# The metric family an evaluation is headed by (metrics.json and the record's `metrics.metric`).
COCO_METRIC, VOC_METRIC = "coco", "voc"
SCHEMA_VERSION = 1  # DESIGN.md's record schema; readers accept records up to this version
STATUSES = ("running", "completed", "failed", "skipped")

FLOPS_CONVENTION = (
    "fvcore FlopCountAnalysis at batch 1: one fused multiply-add counts once, so its total is "
    "GMACs; GFLOPs = 2 x GMACs. Element-wise operators listed in uncounted_ops are not counted."
)


def format_value(value: Any) -> str:
    """A value as Hydra override text (`true`, `0.5`, `[1,2]`, `null`, `asff`)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{format_value(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if isinstance(value, str) and not re.match(r"^[\w./+-]*$", text):
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return text


def run_name(axes: Mapping[str, Any]) -> str:
    """A swept run's name from its axis values (a record's `axes`): `fusion=asff,seed=0`.

    It is also the run's directory name in its sweep (what Hydra's `override_dirname` gives for
    the axis overrides), so a report names a run exactly as the folder that holds it.
    """
    return ",".join(sorted(f"{key}={format_value(value)}" for key, value in axes.items()))


def train_log_entries(log: Path) -> Iterator[dict]:
    """The JSON objects of a train_log.jsonl, in order; unreadable lines are skipped."""
    for line in Path(log).read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a killed run
        if isinstance(entry, dict):
            yield entry

"""What `compare`, `analyze` and the report's intervals read from a run: its detections, the
ground truth its evaluation used, its metric, and whether it has AP at all.

An input is a run directory (its `detections.json`, scored against the ground truth its
evaluation used; its stored match table, `coco_matches.npz`, saves matching it again), a COCO
results file (scored against `--gt`), or a quoted glob matching several run directories: the
seeds of one sweep cell. A run directory's record is read through `record.storage.read_record`
and its metrics as the typed `Metrics`.
"""

from __future__ import annotations

import contextlib
import glob
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from pycocotools.coco import COCO

from asffbench.coco_format import read_ground_truth, read_json, read_results
from asffbench.errors import UserError
from asffbench.record.layout import (COCO_METRIC, DETECTIONS_NAME, GROUND_TRUTH_NAME, MATCHES_NAME, METRICS_NAME,
                                     RECORD_NAME, TEST_METRICS_NAME, VOC_METRIC)
from asffbench.record.run_record import Metrics
from asffbench.record.sections import or_none
from asffbench.record.storage import read_record

METRIC_CHOICES = ("auto", COCO_METRIC, VOC_METRIC)  # auto: voc for runs whose metrics.json says so


@dataclass(frozen=True)
class RunInput:
    name: str
    detections: Path
    ground_truth: Path
    voc: bool = False  # also score VOC mAP
    table: Optional[Path] = None  # where its match table is kept (run directories)


def metrics_in(path: Path) -> Optional[Metrics]:
    """The metrics a metrics.json (or a test split's metrics file) or a record.json holds; None
    when the file is absent or holds none."""
    if not path.is_file():
        return None
    if path.name == RECORD_NAME:
        metrics = read_record(path).metrics
        return metrics if isinstance(metrics, Metrics) else None
    data = read_json(path, path.name)
    return Metrics.from_dict(data) if isinstance(data, dict) else None


def run_ground_truth(run_dir: Path) -> Optional[Path]:
    """The val annotation file a run's evaluation used: the copy in the run dir (VOC runs write
    one), else the path in metrics.json, else the record's metrics, else the record's config."""
    if (run_dir / GROUND_TRUTH_NAME).is_file():  # still right after the run dir was moved
        return run_dir / GROUND_TRUTH_NAME
    for path in (run_dir / METRICS_NAME, run_dir / RECORD_NAME):
        metrics = metrics_in(path)
        if metrics is not None and metrics.ground_truth:
            return Path(metrics.ground_truth)
    record = run_dir / RECORD_NAME
    ann = read_record(record).config_value("data.val.ann") if record.is_file() else None
    return Path(ann) if ann else None


def run_without_ap(run_dir: Path) -> Optional[str]:
    """Why a run has no AP to resample (evaluated on a test split only, whose detections went to
    the evaluation server's file), from metrics.json, else the record, else a test split's
    metrics file; None for a scored run."""
    test_split = sorted(run_dir.glob(TEST_METRICS_NAME.format(testset="*")))
    for path in (run_dir / METRICS_NAME, run_dir / RECORD_NAME, *test_split):
        metrics = metrics_in(path)
        if metrics is None:
            continue
        if metrics.scored:
            return None
        return f"no AP: {or_none(metrics.no_ap_reason)} (detections: {or_none(metrics.server_results)})"
    return None


def run_metric(run_dir: Path) -> str:
    """The metric a run was evaluated with (`coco` or `voc`, from metrics.json; `coco` without one)."""
    metrics = metrics_in(run_dir / METRICS_NAME)
    return str(metrics.metric or COCO_METRIC) if metrics is not None else COCO_METRIC


def wants_voc(path: Path, metric: str) -> bool:
    if metric not in METRIC_CHOICES:
        raise UserError(f"--metric {metric}: choose one of {', '.join(METRIC_CHOICES)}")
    if metric == "auto":
        return path.is_dir() and run_metric(path) == VOC_METRIC
    return metric == VOC_METRIC


def resolve_input(spec: str, gt: Optional[Path], metric: str = "auto") -> list[RunInput]:
    """The runs one side names (one, or several when `spec` is a glob)."""
    paths = [Path(p) for p in sorted(glob.glob(spec))] if glob.has_magic(spec) else [Path(spec)]
    if not paths:
        raise UserError(f"{spec}: matches no run directory or file")
    inputs = []
    for path in paths:
        if path.is_dir():
            no_ap = run_without_ap(path)
            if no_ap is not None:
                raise UserError(f"{path}: {no_ap}")
            truth = gt or run_ground_truth(path)
            if truth is None:
                raise UserError(f"{path}: no ground-truth path in its metrics.json or record (pass --gt ANN)")
            inputs.append(RunInput(str(path), path / DETECTIONS_NAME, truth, wants_voc(path, metric),
                                   path / MATCHES_NAME))
        elif path.is_file():
            if gt is None:
                raise UserError(f"{path}: a COCO results file needs --gt ANN (the annotation file)")
            inputs.append(RunInput(str(path), path, gt, wants_voc(path, metric)))
        else:
            raise UserError(f"{path}: no such run directory or file")
    return inputs


@lru_cache(maxsize=8)
def load_ground_truth(path: Path) -> Any:
    """The annotation file as a pycocotools COCO (the error analysis matches with COCOeval)."""
    coco = COCO()
    coco.dataset = read_ground_truth(path)
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def input_detections(run: RunInput) -> tuple[Any, list]:
    """The ground truth (pycocotools COCO) and the checked detections (a list) of one input."""
    gt = load_ground_truth(run.ground_truth)
    return gt, read_results(run.detections, gt.dataset, run.ground_truth)

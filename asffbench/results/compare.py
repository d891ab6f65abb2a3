"""`asffbench compare A B`: paired bootstrap of two runs (or two cells of seeds) on one val set.

An input is a run directory (its `detections.json`, scored against the ground truth its
evaluation used; its stored match table, `coco_matches.npz`, saves matching it again), a COCO
results file (scored against `--gt`), or a quoted glob matching several run directories: the
seeds of one sweep cell. Both sides must cover the same images.

VOC runs (metrics.json says `metric: voc`, or `--metric voc`) are also matched the VOC way, and
their mAP and mAP07 are resampled with the same image weights as the COCO metrics.
"""

from __future__ import annotations

import contextlib
import glob
import io
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
from pycocotools.coco import COCO

from asffbench.coco_format import read_ground_truth, read_json, read_results
from asffbench.engine.run_matches import run_matches
from asffbench.errors import UserError
from asffbench.record_schema import (COCO_METRIC, DETECTIONS_NAME, GROUND_TRUTH_NAME, MATCHES_NAME, METRICS_NAME,
                                     RECORD_NAME, TEST_METRICS_NAME, VOC_METRIC)
from asffbench.record_types import Metrics, or_none
from asffbench.results.bootstrap import MatchedDetections, bootstrap_weights, matched_from_table
from asffbench.results.families import METHOD_WORDS, adjust_deltas
from asffbench.results.multiplicity import check_adjustment
from asffbench.results.significance import (DEFAULT_REPLICATES, DEFAULT_SEED, MetricDelta, RunSample,
                                            combine_seeds, compare_sides, image_set_difference, sample_run)


METRIC_CHOICES = ("auto", COCO_METRIC, VOC_METRIC)  # auto: voc for runs whose metrics.json says so


@dataclass(frozen=True)
class RunInput:
    name: str
    detections: Path
    ground_truth: Path
    voc: bool = False  # also score VOC mAP
    table: Optional[Path] = None  # where its match table is kept (run directories)


def run_ground_truth(run_dir: Path) -> Optional[Path]:
    """The val annotation file a run's evaluation used: the copy in the run dir (VOC runs write
    one), else the path in metrics.json, else the record's config."""
    if (run_dir / GROUND_TRUTH_NAME).is_file():  # still right after the run dir was moved
        return run_dir / GROUND_TRUTH_NAME
    for name in (METRICS_NAME, RECORD_NAME):
        path = run_dir / name
        if not path.is_file():
            continue
        data = read_json(path, name)
        metrics = data.get("metrics") if name == RECORD_NAME else data
        if isinstance(metrics, dict) and metrics.get("ground_truth"):
            return Path(metrics["ground_truth"])
        ann = (((data.get("config") or {}).get("data") or {}).get("val") or {}).get("ann")
        if name == RECORD_NAME and ann:
            return Path(ann)
    return None


def run_without_ap(run_dir: Path) -> Optional[str]:
    """Why a run has no AP to resample (evaluated on a test split only, whose detections went to
    the evaluation server's file), from metrics.json, else the record, else a test split's
    metrics file; None for a scored run."""
    test_split = sorted(run_dir.glob(TEST_METRICS_NAME.format(testset="*")))
    for path in (run_dir / METRICS_NAME, run_dir / RECORD_NAME, *test_split):
        if not path.is_file():
            continue
        data = read_json(path, path.name)
        found = data.get("metrics") if isinstance(data, dict) and path.name == RECORD_NAME else data
        if not isinstance(found, dict):
            continue
        metrics = Metrics.from_dict(found)
        if metrics.scored:
            return None
        return f"no AP: {or_none(metrics.no_ap_reason)} (detections: {or_none(metrics.server_results)})"
    return None


def run_metric(run_dir: Path) -> str:
    """The metric a run was evaluated with (`coco` or `voc`, from metrics.json; `coco` without one)."""
    path = run_dir / METRICS_NAME
    data = read_json(path, METRICS_NAME) if path.is_file() else {}
    return str(data.get("metric") or COCO_METRIC) if isinstance(data, dict) else COCO_METRIC


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


def match_input(run: RunInput, max_det: int = 100) -> MatchedDetections:
    """The run's matching: its stored match table when fresh (run directories), else matched now."""
    coco, voc = run_matches(run.detections, run.ground_truth, run.voc, run.table, max_det)
    matched = matched_from_table(coco)
    matched.voc = voc if run.voc else None
    return matched


@dataclass
class Comparison:
    a: list[str]
    b: list[str]
    images: int
    replicates: int
    seed: int
    metrics: dict[str, MetricDelta]

    def to_json(self) -> dict:
        def number(value: float) -> Optional[float]:
            return None if value is None or not math.isfinite(value) else float(value)

        metrics = {}
        for name, m in self.metrics.items():
            entry = {"a": number(m.a), "b": number(m.b), "delta": number(m.delta),
                     "ci95": [number(v) for v in m.ci95], "p": number(m.p),
                     "significant": m.significant}
            if m.adjusted is not None and m.adjusted.method != "none":
                entry["adjusted"] = {"method": m.adjusted.method, "family": m.adjusted.family,
                                     "ci95": [number(v) for v in m.adjusted.ci95], "p": number(m.adjusted.p)}
                entry["significant_unadjusted"] = m.significant_unadjusted
            if len(self.a) > 1 or len(self.b) > 1:
                entry["seed_std"] = {"a": number(m.a_seed_std), "b": number(m.b_seed_std)}
            metrics[name] = entry
        return {"a": self.a if len(self.a) > 1 else self.a[0],
                "b": self.b if len(self.b) > 1 else self.b[0],
                "images": self.images, "bootstrap": self.replicates, "seed": self.seed,
                "metrics": metrics}


def bootstrap_compare(a: Sequence[MatchedDetections], b: Sequence[MatchedDetections],
                      replicates: int = DEFAULT_REPLICATES, seed: int = DEFAULT_SEED,
                      sample: Callable[[Any, np.ndarray], RunSample] = sample_run) -> dict[str, MetricDelta]:
    """Paired (two-level with several seeds) bootstrap of B - A; UserError for unequal image sets.
    `sample` scores one input on the resamples (`analyze` passes its error scenarios)."""
    differ = image_set_difference([a, b])
    if differ is not None:
        raise UserError(f"A and B cover different images: {differ}")
    if replicates < 1:
        raise UserError(f"--bootstrap {replicates}: must be at least 1")
    rng = np.random.default_rng(seed)
    weights = bootstrap_weights(a[0].num_images, replicates, rng)
    side_a = combine_seeds([sample(m, weights) for m in a], rng)
    side_b = combine_seeds([sample(m, weights) for m in b], rng)
    return compare_sides(side_a, side_b)


def compare_inputs(a: str, b: str, gt: Optional[Path] = None, replicates: int = DEFAULT_REPLICATES,
                   seed: int = DEFAULT_SEED, metric: str = "auto", adjustment: str = "none") -> Comparison:
    check_adjustment(adjustment)
    runs_a, runs_b = resolve_input(a, gt, metric), resolve_input(b, gt, metric)
    matched_a = [match_input(r) for r in runs_a]
    matched_b = [match_input(r) for r in runs_b]
    metrics = bootstrap_compare(matched_a, matched_b, replicates, seed)
    adjust_deltas(metrics, adjustment)
    return Comparison(a=[r.name for r in runs_a], b=[r.name for r in runs_b],
                      images=matched_a[0].num_images, replicates=replicates, seed=seed, metrics=metrics)


def comparison_lines(result: Comparison) -> list[str]:
    """A plain-text table: metric, A, B, Δ, interval, p (AP and mAP in percent)."""
    seeds = len(result.a) > 1 or len(result.b) > 1
    header = f"{'metric':<6} {'A':>6} {'B':>6} {'Δ (B-A)':>8} {'95% interval':>17} {'p':>6}"
    lines = [f"A: {', '.join(result.a)}", f"B: {', '.join(result.b)}",
             f"{result.images} images, {result.replicates} paired bootstrap replicates (seed {result.seed})"
             + (", seeds resampled too" if seeds else ""), "",
             header + ("   seed std A / B" if seeds else "")]
    for name, m in result.metrics.items():
        mark = " *" if m.significant else "  "
        line = (f"{name:<6} {100 * m.a:>6.2f} {100 * m.b:>6.2f} {100 * m.delta:>+8.2f} "
                f"[{100 * m.ci95[0]:+6.2f}, {100 * m.ci95[1]:+6.2f}] {m.p:>6.3f}{mark}")
        if seeds:
            line += f" {100 * m.a_seed_std:.2f} / {100 * m.b_seed_std:.2f}"
        lines.append(line.replace("nan", "n/a"))
    lines += ["", adjustment_legend(result.metrics)]
    return lines


def adjustment_legend(metrics: dict[str, MetricDelta]) -> str:
    """What `*` means in `compare`'s and `analyze`'s tables (AP and mAP in percent)."""
    adjusted = next((m.adjusted for m in metrics.values() if m.adjusted is not None), None)
    if adjusted is None or adjusted.method == "none":
        return "*: the 95% interval of Δ excludes 0, each metric taken alone (AP and mAP in percent)."
    lines = [f"*: significant with the {adjusted.family} metrics' deltas taken together ({METHOD_WORDS[adjusted.method]}); "
             "the interval shown is each one's own. Adjusted:"]
    lines += [f"  {name:<6} [{100 * m.adjusted.ci95[0]:+6.2f}, {100 * m.adjusted.ci95[1]:+6.2f}] p {m.adjusted.p:.3f}"
              for name, m in metrics.items() if m.adjusted is not None]
    return "\n".join(lines)

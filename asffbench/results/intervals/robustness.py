"""Robustness under corruption (Michaelis et al. 2019): P, mPC, rPC of a run, and of two runs
their differences with paired bootstrap intervals. Torch-free: it reads what `asffbench robust`
stored.

A run's clean evaluation is its own detections.json / metrics.json; each corrupted one (a cell:
corruption x severity) sits in `<run>/robust/<name>-<severity>/` with the same files and its match
table. The metric is the run's: COCO AP (`eval.metric=coco`), VOC mAP@0.5 on VOC data (Pascal-C).

- P: the clean metric; mPC: its mean over the cells; rPC = mPC / P;
- per corruption: the mean over its severities.

Two runs are compared as `compare` does (`results.compare.match_input`, the stored match tables;
`bootstrap.bootstrap_weights` and `replicate_metrics`; `significance.compare_sides`): one weight
matrix of image draws is shared by the clean set and every cell of both runs, so mPC's interval
resamples the images once across all cells, and image difficulty cancels out of each difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from asffbench.coco_format import read_json
from asffbench.corruptions import ROBUST_DIR, Corruption, catalogue_order, cell_dir, valid_corruption
from asffbench.errors import UserError
from asffbench.record.layout import DETECTIONS_NAME, MATCHES_NAME, METRICS_NAME, VOC_METRIC
from asffbench.results.intervals.bootstrap import MatchedDetections, bootstrap_weights, replicate_metrics
from asffbench.results.intervals.matching import match_input
from asffbench.results.reading.run_inputs import RunInput
from asffbench.results.intervals.significance import (DEFAULT_REPLICATES, DEFAULT_SEED, MetricDelta, SideEstimate,
                                            compare_sides, image_set_difference)

SUMMARY_NAMES = ("P", "mPC", "rPC")


def metric_name(metrics: dict) -> str:
    """The figure robustness is measured in: mAP (VOC mAP@0.5) for VOC runs, else AP."""
    return "mAP" if metrics.get("metric") == VOC_METRIC else "AP"


def evaluation_done(folder: Path) -> bool:
    """An evaluation finished there: metrics.json is written last, after the detections."""
    return (folder / METRICS_NAME).is_file() and (folder / DETECTIONS_NAME).is_file()


def read_metrics(folder: Path) -> dict:
    path = folder / METRICS_NAME
    if not path.is_file():
        raise UserError(f"{folder}: no {METRICS_NAME} (not evaluated; `asffbench robust` evaluates it)")
    data = read_json(path, METRICS_NAME)
    if not isinstance(data, dict):
        raise UserError(f"{path}: not a metrics object")
    return data


def value_of(metrics: dict, name: str) -> float:
    value = metrics.get(name)
    return math.nan if value is None else float(value)


@dataclass
class Robustness:
    """One run's figures (fractions; NaN where undefined)."""

    run: str
    metric: str  # AP or mAP
    clean: float  # P
    cells: dict[Corruption, float]  # the metric of every corrupted evaluation

    @property
    def mpc(self) -> float:
        return float(np.mean(list(self.cells.values()))) if self.cells else math.nan

    @property
    def rpc(self) -> float:
        return self.mpc / self.clean if self.clean else math.nan

    def by_corruption(self) -> dict[str, float]:
        """Each corruption's mean over its severities, in the cells' order."""
        names = list(dict.fromkeys(c.name for c in self.cells))
        return {name: float(np.mean([v for c, v in self.cells.items() if c.name == name])) for name in names}

    def by_severity(self) -> dict[str, dict[int, float]]:
        """corruption -> severity -> metric (the figure's lines)."""
        out: dict[str, dict[int, float]] = {}
        for c, value in self.cells.items():
            out.setdefault(c.name, {})[c.severity] = value
        return out

    def summary(self) -> dict[str, float]:
        return {"P": self.clean, "mPC": self.mpc, "rPC": self.rpc}


def read_robustness(run_dir: Path, cells: Sequence[Corruption]) -> Robustness:
    """A run's P and its cells' metrics from the stored evaluations; UserError naming a missing one."""
    clean = read_metrics(run_dir)
    metric = metric_name(clean)
    values = {}
    for corruption in catalogue_order(cells):
        folder = cell_dir(run_dir, corruption)
        if not evaluation_done(folder):
            raise UserError(f"{folder}: not evaluated (run `asffbench robust {run_dir}`)")
        values[corruption] = value_of(read_metrics(folder), metric)
    return Robustness(str(run_dir), metric, value_of(clean, metric), values)


def stored_cells(run_dir: Path) -> list[Corruption]:
    """The finished corrupted evaluations under a run's robust/ folder (the report reads these)."""
    found = []
    for folder in (Path(run_dir) / ROBUST_DIR).glob("*-[1-5]"):
        name, _, severity = folder.name.rpartition("-")
        if valid_corruption(name) and evaluation_done(folder):
            found.append(Corruption(name, int(severity)))
    return catalogue_order(found)


@dataclass
class RobustComparison:
    a: Robustness
    b: Robustness
    images: int
    replicates: int
    seed: int
    deltas: dict[str, MetricDelta]  # P, mPC, rPC, then each corruption's mean


def evaluation_input(run_dir: Path, folder: Path) -> RunInput:
    """One evaluation of a run as `compare` reads a run directory (its stored match table)."""
    metrics = read_metrics(folder)
    truth = metrics.get("ground_truth")
    if not truth:
        raise UserError(f"{folder / METRICS_NAME}: names no ground_truth file")
    return RunInput(f"{run_dir}:{folder.name}", folder / DETECTIONS_NAME, Path(truth),
                    metrics.get("metric") == VOC_METRIC, folder / MATCHES_NAME)


def matched_evaluations(run_dir: Path, cells: Sequence[Corruption]) -> list[MatchedDetections]:
    """The clean evaluation, then every cell's, matched once (stored tables when fresh)."""
    folders = [run_dir] + [cell_dir(run_dir, c) for c in cells]
    return [match_input(evaluation_input(run_dir, folder)) for folder in folders]


def side_estimate(robustness: Robustness, matched: Sequence[MatchedDetections], weights: np.ndarray) -> SideEstimate:
    """The run's P, mPC, rPC and per-corruption means, on every replicate of `weights`."""
    metric = robustness.metric
    per_evaluation = np.stack([replicate_metrics(m, weights)[metric] for m in matched])  # (1 + cells, R)
    clean, cells = per_evaluation[0], per_evaluation[1:]
    corruptions = list(robustness.cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        replicates = {"P": clean, "mPC": cells.mean(axis=0), "rPC": cells.mean(axis=0) / clean}
    for name in robustness.by_corruption():
        rows = [i for i, c in enumerate(corruptions) if c.name == name]
        replicates[name] = cells[rows].mean(axis=0)
    point = {**robustness.summary(), **robustness.by_corruption()}
    return SideEstimate(point, replicates, 1, {name: math.nan for name in point})


def compare_robustness(run_a: Path, run_b: Path, cells: Sequence[Corruption],
                       replicates: int = DEFAULT_REPLICATES, seed: int = DEFAULT_SEED) -> RobustComparison:
    """B - A of P, mPC, rPC and each corruption's mean, with paired bootstrap intervals."""
    cells = catalogue_order(cells)
    a, b = read_robustness(run_a, cells), read_robustness(run_b, cells)
    if a.metric != b.metric:
        raise UserError(f"{run_a} is scored by {a.metric}, {run_b} by {b.metric}: not comparable")
    matched_a, matched_b = matched_evaluations(run_a, cells), matched_evaluations(run_b, cells)
    differ = image_set_difference([matched_a, matched_b])
    if differ is not None:
        raise UserError(f"{run_a} and {run_b}: their evaluations cover different images: {differ}")
    if replicates < 1:
        raise UserError(f"--bootstrap {replicates}: must be at least 1")
    weights = bootstrap_weights(matched_a[0].num_images, replicates, np.random.default_rng(seed))
    deltas = compare_sides(side_estimate(a, matched_a, weights), side_estimate(b, matched_b, weights))
    return RobustComparison(a, b, matched_a[0].num_images, replicates, seed, deltas)


def percent(value: float, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{100 * value:+.2f}" if signed else f"{100 * value:.2f}"


def robustness_lines(result: Robustness) -> list[str]:
    """P, mPC, rPC and the per-corruption means of one run (metric in percent, rPC in percent too)."""
    lines = [f"{result.run}: {result.metric} under {len(result.cells)} corrupted evaluations",
             f"P    {percent(result.clean)}  (clean {result.metric})",
             f"mPC  {percent(result.mpc)}  (mean {result.metric} over the cells)",
             f"rPC  {percent(result.rpc)}  (mPC / P, percent)", "", "per corruption (mean over severities):"]
    for name, value in result.by_corruption().items():
        lines.append(f"  {name:<18} {percent(value)}")
    return lines


def comparison_lines(result: RobustComparison) -> list[str]:
    header = f"{'':<18} {'A':>6} {'B':>6} {'Δ (B-A)':>8} {'95% interval':>17} {'p':>6}"
    lines = [f"A: {result.a.run}", f"B: {result.b.run}",
             f"{result.a.metric} in percent; {len(result.a.cells)} cells, {result.images} images, "
             f"{result.replicates} paired bootstrap replicates (seed {result.seed}), images resampled "
             "once across all cells", "", header]
    for name, m in result.deltas.items():
        mark = " *" if m.significant else "  "
        label = name if name in SUMMARY_NAMES else f"  {name}"
        lines.append(f"{label:<18} {percent(m.a):>6} {percent(m.b):>6} {percent(m.delta, True):>8} "
                     f"[{percent(m.ci95[0], True):>6}, {percent(m.ci95[1], True):>6}] {m.p:>6.3f}{mark}")
        if name == SUMMARY_NAMES[-1]:
            lines.append("per corruption (mean over severities):")
    lines += ["", "*: the 95% interval of Δ excludes 0."]
    return lines


def robustness_json(result: Robustness, comparison: Optional[RobustComparison] = None) -> dict:
    def number(value: float) -> Optional[float]:
        return None if value is None or not math.isfinite(value) else float(value)

    def one(r: Robustness) -> dict:
        return {"run": r.run, "metric": r.metric, **{k: number(v) for k, v in r.summary().items()},
                "by_corruption": {k: number(v) for k, v in r.by_corruption().items()},
                "cells": {c.cell: number(v) for c, v in r.cells.items()}}

    if comparison is None:
        return one(result)
    return {"a": one(comparison.a), "b": one(comparison.b), "images": comparison.images,
            "bootstrap": comparison.replicates, "seed": comparison.seed,
            "delta": {name: {"delta": number(m.delta), "ci95": [number(v) for v in m.ci95], "p": number(m.p),
                             "significant": m.significant} for name, m in comparison.deltas.items()}}

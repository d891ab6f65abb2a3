"""Bootstrap intervals of a report's AP (and, for VOC runs, mAP) deltas, from each run's detections.json.

Every table cell against its baseline (or previous row, for cumulative tables) is a paired
bootstrap over the val images, two-level when the cells have several seeds (see
`asffbench.results.intervals.significance`). All cells on the same images share one set of resamples, and
each run's detections are matched once. A run without detections or ground truth leaves its cell
without intervals and says why (`IntervalGap`); the rest of the report does not depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from asffbench.errors import UserError
from asffbench.record.layout import DETECTIONS_NAME, MATCHES_NAME, VOC_METRIC
from asffbench.results.intervals.bootstrap import MatchedDetections, bootstrap_weights
from asffbench.results.intervals.matching import match_input
from asffbench.results.intervals.significance import MetricDelta, RunSample, combine_seeds, compare_sides, sample_run
from asffbench.results.reading.run_inputs import RunInput, run_ground_truth, run_metric, run_without_ap
from asffbench.results.tables.result_tables import Cell, ResultTable


def interval_keys(table: ResultTable, result: dict[str, MetricDelta]) -> list[str]:
    """The table's Δ columns that were bootstrapped (COCO AP, APs, APm, APl; VOC mAP, mAP07)."""
    return [q.key for q in table.quantities if q.delta and q.key in result]


@dataclass(frozen=True)
class IntervalGap:
    table: str
    cell: str
    reason: str


class RunSamples:
    """Each run's matching and replicates, computed once and shared by every table."""

    def __init__(self, replicates: int, seed: int) -> None:
        self.replicates, self.seed = replicates, seed
        self.matched: dict[str, MatchedDetections | str] = {}  # run dir -> matching, or why not
        self.weights: dict[tuple, np.ndarray] = {}  # image set -> resample weights
        self.samples: dict[str, RunSample] = {}

    def match(self, run_dir: str) -> MatchedDetections | str:
        if run_dir not in self.matched:
            self.matched[run_dir] = self._match(Path(run_dir))
        return self.matched[run_dir]

    def prepare(self, run: RunInput) -> MatchedDetections:
        """What a run's replicates are computed from (a subclass may prepare something else)."""
        return match_input(run)

    def sample_of(self, matched: MatchedDetections, weights: np.ndarray) -> RunSample:
        return sample_run(matched, weights)

    def _match(self, run_dir: Path) -> MatchedDetections | str:
        no_ap = run_without_ap(run_dir)
        if no_ap is not None:
            return f"{run_dir.name}: {no_ap}"
        if not (run_dir / DETECTIONS_NAME).is_file():
            return f"{run_dir.name}: no {DETECTIONS_NAME}"
        truth = run_ground_truth(run_dir)
        if truth is None:
            return f"{run_dir.name}: no ground-truth path in metrics.json or the record"
        try:
            voc = run_metric(run_dir) == VOC_METRIC
            return self.prepare(RunInput(run_dir.name, run_dir / DETECTIONS_NAME, truth, voc, run_dir / MATCHES_NAME))
        except UserError as err:
            return str(err)

    def sample(self, run_dir: str, matched: MatchedDetections) -> RunSample:
        if run_dir not in self.samples:
            key = tuple(matched.image_ids)
            if key not in self.weights:
                rng = np.random.default_rng(self.seed)
                self.weights[key] = bootstrap_weights(len(key), self.replicates, rng)
            self.samples[run_dir] = self.sample_of(matched, self.weights[key])
        return self.samples[run_dir]

    def side(self, cell: Cell) -> list[tuple[str, MatchedDetections]] | str:
        if not cell.runs:
            return f"{cell.label}: no completed run"
        matched = [(run, self.match(run)) for run in cell.runs]
        missing = [m for _, m in matched if isinstance(m, str)]
        return missing[0] if missing else matched


def cell_delta(samples: RunSamples, cell: Cell, base: Cell, seed: int) -> dict[str, MetricDelta] | str:
    side_b, side_a = samples.side(cell), samples.side(base)
    for side in (side_b, side_a):
        if isinstance(side, str):
            return side
    if len({tuple(m.image_ids) for _, m in side_a + side_b}) > 1:
        return f"{cell.label}: evaluated on other images than {base.label}"
    rng = np.random.default_rng(seed)
    a = combine_seeds([samples.sample(run, m) for run, m in side_a], rng)
    b = combine_seeds([samples.sample(run, m) for run, m in side_b], rng)
    return compare_sides(a, b)


def add_intervals(tables: Sequence[ResultTable], replicates: int, seed: int = 0) -> list[IntervalGap]:
    """Fill `cell.intervals` (percent, like the table) of every cell that has a base; the gaps."""
    samples = RunSamples(replicates, seed)
    gaps: list[IntervalGap] = []
    for table in tables:
        table.bootstrap = replicates
        for cell in table.cells:
            if cell.base is None or cell.base is cell:
                continue
            result = cell_delta(samples, cell, cell.base, seed)
            if isinstance(result, str):
                gaps.append(IntervalGap(table.title, cell.label, result))
                table.interval_gaps.append(result)
                continue
            cell.intervals = {key: scaled_delta(result[key], 100.0) for key in interval_keys(table, result)}
            cell.own_ci95 = {key: m.b_ci95 for key, m in cell.intervals.items()}
            if not cell.base.own_ci95:
                cell.base.own_ci95 = {key: m.a_ci95 for key, m in cell.intervals.items()}
    return gaps


def scaled_delta(m: MetricDelta, factor: float) -> MetricDelta:
    return m.scaled(factor)

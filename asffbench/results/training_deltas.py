"""Δ over training: each row against its base at every evaluation during training, with intervals.

Evaluations during training (`train.eval_every`) keep their detections and match table in
`evals/epoch_NNNN/` of each run (`record_schema.training_eval_dir`). At every epoch all runs of a
row and of its base have, the delta is the same paired (two-level with seeds) bootstrap as the
table's (`intervals`), on the same image resamples. A row whose interval excluded 0 at an earlier
epoch but not at the end (the final evaluation, the table's interval) gets a sentence: a gain seen
early that did not last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from asffbench.errors import UserError
from asffbench.record_schema import DETECTIONS_NAME, MATCHES_NAME, TRAINING_EVALS_DIR, VOC_METRIC, training_eval_epoch
from asffbench.results.bootstrap import MatchedDetections
from asffbench.results.compare import RunInput, match_input, run_ground_truth, run_metric
from asffbench.results.families import row_name
from asffbench.results.intervals import RunSamples, scaled_delta
from asffbench.results.significance import MetricDelta, combine_seeds, compare_sides
from asffbench.results.tables import Cell, ResultTable

KEY = "AP"


@dataclass
class DeltaCurve:
    row: str
    base: str
    epochs: list[int] = field(default_factory=list)
    deltas: list[MetricDelta] = field(default_factory=list)  # percent, one per epoch
    final: Optional[MetricDelta] = None  # the table's interval (final evaluation), percent

    def faded(self) -> list[int]:
        """Epochs whose interval excluded 0, when the final one does not (else none)."""
        if self.final is None or self.final.significant_unadjusted:
            return []
        return [e for e, m in zip(self.epochs, self.deltas) if m.significant_unadjusted]


def epoch_dirs(run_dir: str) -> dict[int, Path]:
    folder = Path(run_dir) / TRAINING_EVALS_DIR
    if not folder.is_dir():
        return {}
    found = {training_eval_epoch(p): p for p in folder.iterdir() if (p / DETECTIONS_NAME).is_file()}
    return {e: p for e, p in found.items() if e is not None}


def epoch_matching(run_dir: str, folder: Path) -> MatchedDetections | None:
    truth = run_ground_truth(Path(run_dir))
    if truth is None:
        return None
    try:
        voc = run_metric(Path(run_dir)) == VOC_METRIC
        return match_input(RunInput(folder.name, folder / DETECTIONS_NAME, truth, voc, folder / MATCHES_NAME))
    except UserError:
        return None  # an unreadable evaluation leaves its epoch out; the table stands


def side_at(samples: RunSamples, cell: Cell, epoch: int, dirs: dict[str, dict[int, Path]],
            rng: np.random.Generator):
    """One side at `epoch`, as `intervals.cell_delta` builds it (None when a run's evaluation is unreadable)."""
    matched = [(f"{run}@{epoch}", epoch_matching(run, dirs[run][epoch])) for run in cell.runs]
    if any(m is None for _, m in matched):
        return None
    return combine_seeds([samples.sample(name, m) for name, m in matched], rng)


def cell_curve(table: ResultTable, cell: Cell, samples: RunSamples) -> Optional[DeltaCurve]:
    base = cell.base
    if base is None or base is cell or not cell.runs or not base.runs:
        return None
    dirs = {run: epoch_dirs(run) for run in cell.runs + base.runs}
    common = sorted(set.intersection(*(set(d) for d in dirs.values())))
    curve = DeltaCurve(row_name(table, cell), row_name(table, base), final=cell.intervals.get(KEY))
    for epoch in common:
        rng = np.random.default_rng(samples.seed)  # one generator for both sides, as the table's deltas
        a, b = side_at(samples, base, epoch, dirs, rng), side_at(samples, cell, epoch, dirs, rng)
        if a is None or b is None or KEY not in a.point or KEY not in b.point:
            continue
        m = compare_sides(a, b)[KEY]
        curve.epochs.append(epoch)
        curve.deltas.append(scaled_delta(m, 100.0))
    return curve if curve.epochs else None


def training_curves(tables: Sequence[ResultTable], replicates: int, seed: int = 0) -> dict[str, list[DeltaCurve]]:
    """Table name -> the ΔAP curve of each of its rows that has evaluations during training."""
    samples = RunSamples(replicates, seed)
    out = {}
    for table in tables:
        curves = [c for c in (cell_curve(table, cell, samples) for cell in table.cells) if c is not None]
        if curves:
            out[table.name] = curves
    return out


def plot_curves(curves: Sequence[DeltaCurve], title: str, path: Path) -> Path:
    figure = Figure(figsize=(6.4, 4.0))
    axes = figure.add_subplot()
    for curve in curves:
        x = np.asarray(curve.epochs, dtype=float)
        y = np.array([m.delta for m in curve.deltas])
        lo = np.array([m.ci95[0] for m in curve.deltas])
        hi = np.array([m.ci95[1] for m in curve.deltas])
        line, = axes.plot(x, y, marker="o", label=f"{curve.row} − {curve.base}")
        axes.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2)
    axes.axhline(0.0, color="black", linewidth=0.8)
    axes.set_xlabel("epochs done")
    axes.set_ylabel(f"Δ{KEY} (percent), 95% interval")
    axes.set_title(title)
    axes.legend(fontsize="small")
    FigureCanvasAgg(figure)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return path


def curve_sentences(curves: Sequence[DeltaCurve]) -> list[str]:
    """The #934 pattern in words: an interval that excluded 0 earlier but not at the end."""
    out = []
    for curve in curves:
        faded = curve.faded()
        if faded:
            lo, hi = curve.final.ci95
            epochs = ", ".join(str(e) for e in faded)
            out.append(f"Δ{KEY} of {curve.row} against {curve.base} excluded 0 after epoch(s) {epochs} of training "
                       f"but not at the end ({curve.final.delta:+.1f} [{lo:+.1f}, {hi:+.1f}]): the difference seen "
                       "during training did not last.")
    return out


def training_markdown(curves: dict[str, list[DeltaCurve]], titles: dict[str, str], figures: dict[str, str]) -> str:
    parts = []
    for name, table_curves in curves.items():
        parts.append(f"### {titles.get(name, name)}\n")
        if name in figures:
            parts.append(f"![delta over training {name}]({figures[name]})\n")
        sentences = curve_sentences(table_curves)
        parts.append(" ".join(sentences) + "\n" if sentences else
                     "No row's interval excluded 0 during training and then stopped doing so at the end.\n")
    parts.append(f"Δ{KEY} at every evaluation during training (`train.eval_every`), each with its paired "
                 "bootstrap 95% interval (unadjusted), from the detections those evaluations kept.\n")
    return "\n".join(parts)

"""The report's figures as PNG files, drawn with matplotlib's Agg canvas.

Figures are built as `matplotlib.figure.Figure` objects, never through pyplot, so no global
backend or figure state is touched and nothing needs a display. Every function returns the path it
wrote, or None when there is nothing to draw (the report then says so).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from asffbench.record.layout import TRAIN_LOG_NAME, train_log_entries
from asffbench.record.run_record import Metrics
from asffbench.results.reading.records import LoadedRecord, run_label
from asffbench.results.tables.axes import FUSION_LABELS
from asffbench.results.tables.result_tables import Cell, ResultTable

DPI = 120


def cell_name(table: ResultTable, cell: Cell) -> str:
    context = [f"{a.header} {a.label(v)}" for a, v in zip(table.context_axes, cell.context)]
    return ", ".join(context + [cell.label])


def save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    return path


def finite(value: float) -> bool:
    return value is not None and not math.isnan(value)


def error(value: float) -> Optional[float]:
    return value if finite(value) else None


def interval_error(cell: Cell, key: str) -> Optional[list[list[float]]]:
    """Asymmetric error bar of a cell's metric: its 95% bootstrap interval, else ± the seed std."""
    mean = cell.stats[key].mean
    if key in cell.own_ci95 and finite(cell.own_ci95[key][0]) and finite(mean):
        lo, hi = cell.own_ci95[key]
        return [[max(0.0, mean - lo)], [max(0.0, hi - mean)]]
    spread = error(cell.stats[key].std)
    return None if spread is None else [[spread], [spread]]


def plot_ap_versus(table: ResultTable, cost: str, xlabel: str, path: Path) -> Optional[Path]:
    """Paper Figure 1 style: AP against a cost (FPS or GFLOPs), one labelled point per row."""
    points = [c for c in table.cells if finite(c.stats["AP"].mean) and finite(c.stats[cost].mean)]
    if not points:
        return None
    figure = Figure(figsize=(6.4, 4.8))
    ax = figure.add_subplot()
    for cell in points:
        ap, x = cell.stats["AP"], cell.stats[cost]
        ax.errorbar(x.mean, ap.mean, xerr=error(x.std), yerr=interval_error(cell, "AP"), fmt="o", capsize=3)
        ax.annotate(cell_name(table, cell), (x.mean, ap.mean), textcoords="offset points",
                    xytext=(5, 5), fontsize=8)
    paper = [c.paper for c in table.cells if c.paper is not None and c.paper.fps is not None]
    if cost == "fps" and paper:
        ax.scatter([p.fps for p in paper], [p.metrics["AP"] for p in paper], marker="s",
                   facecolors="none", edgecolors="gray", label="paper (V100)")
        for p in paper:
            ax.annotate(f"{FUSION_LABELS.get(p.method, p.method)} {p.img_size}",
                        (p.fps, p.metrics["AP"]), textcoords="offset points", xytext=(5, -10),
                        fontsize=7, color="gray")
        ax.legend(loc="best", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("COCO AP (%)")
    ax.set_title(f"{table.title}: AP vs {xlabel}")
    ax.grid(True, alpha=0.3)
    return save(figure, path)


def plot_ap_by_scale(table: ResultTable, path: Path) -> Optional[Path]:
    """APs / APm / APl bars, a group per row."""
    cells = [c for c in table.cells if any(finite(c.stats[k].mean) for k in ("APs", "APm", "APl"))]
    if not cells:
        return None
    figure = Figure(figsize=(max(6.4, 1.2 * len(cells) + 2), 4.8))
    ax = figure.add_subplot()
    width = 0.8 / 3
    for i, key in enumerate(("APs", "APm", "APl")):
        xs = [j + (i - 1) * width for j in range(len(cells))]
        means = [c.stats[key].mean if finite(c.stats[key].mean) else 0.0 for c in cells]
        bars = [interval_error(c, key) or [[0.0], [0.0]] for c in cells]
        errs = [[b[0][0] for b in bars], [b[1][0] for b in bars]]
        ax.bar(xs, means, width, yerr=errs if any(map(any, errs)) else None, capsize=2, label=key)
    ax.set_xticks(range(len(cells)), [cell_name(table, c) for c in cells], rotation=20, ha="right")
    ax.set_ylabel("COCO AP (%)")
    ax.set_title(f"{table.title}: AP by object size")
    ax.legend()
    ax.grid(True, axis="y", alpha=0.3)
    return save(figure, path)


def read_loss_curve(log: Path) -> list[tuple[float, float]]:
    """(iteration, loss) of every step line of a train_log.jsonl; unreadable lines are skipped."""
    points = []
    for entry in train_log_entries(log):
        if "iter" not in entry or "loss" not in entry:
            continue
        try:
            it, loss = float(entry["iter"]), float(entry["loss"])
        except (TypeError, ValueError):
            continue
        if math.isfinite(loss):
            points.append((it, loss))
    return points


def plot_training_curves(records: Sequence[LoadedRecord], path: Path) -> Optional[Path]:
    curves = []
    for record in records:
        log = record.run_dir / TRAIN_LOG_NAME
        if log.is_file():
            points = read_loss_curve(log)
            if points:
                curves.append((run_label(record), points))
    if not curves:
        return None
    figure = Figure(figsize=(6.4, 4.8))
    ax = figure.add_subplot()
    for name, points in curves:
        ax.plot([p[0] for p in points], [p[1] for p in points], label=name)
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss")
    if all(p[1] > 0 for _, points in curves for p in points):
        ax.set_yscale("log")
    ax.set_title("Training loss")
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.3)
    return save(figure, path)


EVAL_KEYS = ("AP", "APs", "APm", "APl")


def read_eval_curve(log: Path) -> list[tuple[int, dict]]:
    """(epochs trained, metrics) of every `train.eval_every` line of a train_log.jsonl."""
    return [(int(entry.get("epoch", 0)) + 1, entry["metrics"]) for entry in train_log_entries(log)
            if entry.get("event") == "eval" and isinstance(entry.get("metrics"), dict)]


def eval_curve(record: LoadedRecord) -> list[tuple[int, dict]]:
    """The evaluations during training, then the final one (the record's metrics) at the last epoch."""
    log = record.run_dir / TRAIN_LOG_NAME
    points = read_eval_curve(log) if log.is_file() else []
    if not points:
        return []
    epochs = record.record.config_value("train.epochs")
    final = record.record.metrics
    if isinstance(final, Metrics) and isinstance(epochs, int) and epochs > points[-1][0]:
        points.append((epochs, final.to_dict()))
    return points


def plot_ap_over_training(records: Sequence[LoadedRecord], path: Path) -> Optional[Path]:
    """AP, APs, APm, APl against epochs trained, a line per run: does a gain hold to the end?"""
    curves = [(run_label(r), points) for r in records if (points := eval_curve(r))]
    if not curves:
        return None
    figure = Figure(figsize=(9.6, 7.2))
    for i, key in enumerate(EVAL_KEYS):
        ax = figure.add_subplot(2, 2, i + 1)
        for name, points in curves:
            xs = [epoch for epoch, m in points if isinstance(m.get(key), (int, float))]
            ys = [100 * m[key] for _, m in points if isinstance(m.get(key), (int, float))]
            if xs:
                ax.plot(xs, ys, marker="o", markersize=3, label=name)
        ax.set_xlabel("epochs trained")
        ax.set_ylabel(f"{key} (%)")
        ax.set_title(f"{key} over training")
        ax.grid(True, alpha=0.3)
    figure.axes[0].legend(fontsize=7)
    return save(figure, path)

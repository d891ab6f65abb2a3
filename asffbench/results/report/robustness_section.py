"""The report's "Robustness" section: P / mPC / rPC of every row whose run has corrupted
evaluations (`asffbench robust`, `sweep --robust`), Δ mPC and Δ rPC against the row's baseline with
paired bootstrap intervals (`results.intervals.robustness.compare_robustness`), and a figure of the metric by
severity per corruption family.

A table's rows are compared on the cells every one of its runs has (the grid a sweep's
`robust.*` asked for). A row with several seeds is represented by its first run (said under the
table): the paired bootstrap here resamples images, not seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from asffbench.corruptions import FAMILIES, Corruption, catalogue_order, family_of
from asffbench.errors import UserError
from asffbench.results.intervals.robustness import Robustness, compare_robustness, read_robustness, stored_cells
from asffbench.results.intervals.significance import DEFAULT_SEED, MetricDelta
from asffbench.results.tables.result_tables import Cell, ResultTable

FIGURE_NAME = "robustness_by_severity.png"
DPI = 120


@dataclass
class RobustRow:
    label: str
    run: str
    figures: Robustness
    seeds: int
    deltas: dict[str, MetricDelta] = field(default_factory=dict)  # mPC, rPC against the baseline row
    baseline: bool = False
    gap: str = ""  # why a row has no interval


@dataclass
class RobustTable:
    title: str
    cells: list[Corruption]
    rows: list[RobustRow]
    replicates: int


def common_cells(runs: Sequence[str]) -> list[Corruption]:
    """The corrupted evaluations every run has."""
    sets = [set(stored_cells(Path(run))) for run in runs]
    return catalogue_order(set.intersection(*sets)) if sets else []


def first_runs(table: ResultTable) -> list[tuple[Cell, str]]:
    return [(cell, cell.runs[0]) for cell in table.cells if cell.runs]


def robust_table(table: ResultTable, replicates: int, seed: int = DEFAULT_SEED) -> Optional[RobustTable]:
    """A table's rows with their robustness, or None when its runs share no corrupted evaluation."""
    rows_runs = [(cell, run) for cell, run in first_runs(table) if stored_cells(Path(run))]
    cells = common_cells([run for _, run in rows_runs])
    if not cells:
        return None
    rows, by_cell = [], {}
    for cell, run in rows_runs:
        try:
            figures = read_robustness(Path(run), cells)
        except UserError as err:  # e.g. a run evaluated without its clean metrics.json
            rows.append(RobustRow(cell.label, run, Robustness(run, "AP", math.nan, {}), cell.n, gap=str(err)))
            continue
        row = RobustRow(cell.label, run, figures, cell.n, baseline=cell.base is None or cell.base is cell)
        by_cell[id(cell)] = (row, run)
        rows.append(row)
    if replicates > 0:
        for cell, run in rows_runs:
            if id(cell) not in by_cell or cell.base is None or cell.base is cell or id(cell.base) not in by_cell:
                continue
            row, base_run = by_cell[id(cell)][0], by_cell[id(cell.base)][1]
            try:
                result = compare_robustness(Path(base_run), Path(run), cells, replicates, seed)
                row.deltas = {name: result.deltas[name] for name in ("mPC", "rPC")}
            except UserError as err:
                row.gap = str(err)
    return RobustTable(table.title, cells, rows, replicates)


def percent(value: float) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.1f}"


def delta_text(delta: Optional[MetricDelta]) -> str:
    if delta is None:
        return ""
    lo, hi = delta.ci95
    mark = "*" if delta.significant else ""
    return f"{100 * delta.delta:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]{mark}"


def table_markdown(table: RobustTable) -> str:
    metric = next((r.figures.metric for r in table.rows if not r.gap), "AP")
    names = list(dict.fromkeys(c.name for c in table.cells))
    severities = sorted({c.severity for c in table.cells})
    lines = [f"### {table.title}\n",
             f"| Row | P ({metric}) | mPC | rPC (%) | Δ mPC [95%] | Δ rPC [95%] |",
             "|:--|--:|--:|--:|--:|--:|"]
    for row in table.rows:
        if row.gap and not row.deltas and not math.isfinite(row.figures.clean):
            lines.append(f"| {row.label} | – | – | – | {row.gap} | |")
            continue
        mark = " (baseline)" if row.baseline else ""
        lines.append(f"| {row.label}{mark} | {percent(row.figures.clean)} | {percent(row.figures.mpc)} | "
                     f"{percent(row.figures.rpc)} | {delta_text(row.deltas.get('mPC'))} | "
                     f"{delta_text(row.deltas.get('rPC'))} |")
    notes = [f"{len(table.cells)} corrupted evaluations per run: {', '.join(names)} at severities "
             f"{', '.join(map(str, severities))}. P: clean {metric}; mPC: mean {metric} over them; "
             "rPC = mPC / P."]
    if table.replicates > 0:
        notes.append(f"Δ against the table's baseline row, 95% paired bootstrap interval over the val images "
                     f"({table.replicates} replicates, one resample shared by every cell); *: excludes 0.")
    if any(r.seeds > 1 for r in table.rows):
        notes.append("Rows with several seeds are represented by their first run.")
    notes += [f"{r.label}: {r.gap}" for r in table.rows if r.gap]
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"


def family_curve(figures: Robustness, family: str) -> tuple[list[int], list[float]]:
    """Severity 0 (clean) to 5: the mean metric over the family's corruptions at each severity."""
    by_severity: dict[int, list[float]] = {}
    for corruption, value in figures.cells.items():
        if family_of(corruption.name) == family:
            by_severity.setdefault(corruption.severity, []).append(value)
    if not by_severity:
        return [], []
    xs = [0] + sorted(by_severity)
    return xs, [figures.clean] + [float(np.mean(by_severity[s])) for s in xs[1:]]


def plot_by_severity(tables: Sequence[RobustTable], path: Path) -> Optional[Path]:
    """One panel per (table, family): the metric by severity, a line per row."""
    panels = [(t, f) for t in tables for f in FAMILIES
              if any(family_curve(r.figures, f)[0] for r in t.rows if not r.gap)]
    if not panels:
        return None
    figure = Figure(figsize=(3.4 * min(4, len(panels)), 2.8 * math.ceil(len(panels) / 4)))
    for index, (table, family) in enumerate(panels):
        axes = figure.add_subplot(math.ceil(len(panels) / 4), min(4, len(panels)), index + 1)
        for row in table.rows:
            xs, ys = family_curve(row.figures, family)
            if xs:
                axes.plot(xs, [100 * y for y in ys], marker="o", label=row.label)
        metric = next((r.figures.metric for r in table.rows if not r.gap), "AP")
        axes.set_title(f"{family}" + (f" ({table.title})" if len(tables) > 1 else ""), fontsize=9)
        axes.set_xlabel("severity (0: clean)")
        axes.set_ylabel(f"{metric} (%)")
        axes.set_xticks(range(0, 6))
        axes.grid(alpha=0.3)
        if index == 0:
            axes.legend(fontsize=7)
    FigureCanvasAgg(figure)
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    return path


def robustness_section(tables: Sequence[ResultTable], out: Path, replicates: int,
                       seed: int = DEFAULT_SEED) -> Optional[str]:
    """The section's markdown (its figure written under out/figures/), None when no run has
    corrupted evaluations."""
    robust = [t for t in (robust_table(table, replicates, seed) for table in tables) if t is not None]
    if not robust:
        return None
    parts = [table_markdown(t) for t in robust]
    (out / "figures").mkdir(exist_ok=True)
    figure = plot_by_severity(robust, out / "figures" / FIGURE_NAME)
    if figure is not None:
        parts.append(f"![metric by severity per corruption family](figures/{FIGURE_NAME})\n")
        parts.append("Each family's line is the mean over its corruptions in the grid; severity 0 is the "
                     "clean evaluation.\n")
    return "\n".join(parts)

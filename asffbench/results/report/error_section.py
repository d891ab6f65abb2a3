"""The report's "Error analysis": TIDE's dAP per variant of every table, with deltas to its baseline.

Each table of the report (one per swept axis) gets one here with the same rows: every cell's AP
and the dAP of each error type at IoU .50:.95 (.50 for VOC runs), all objects, averaged over its
seeds, and every non-baseline row's change against the row its table compares it with, with the
paired bootstrap interval of `intervals.cell_intervals` (same resamples and seeds handling; `*` where the
interval excludes 0). The figure (`plot_error_bars`, matplotlib's Agg canvas) stacks each row's
main dAPs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

from asffbench.results.error_analysis.analysis import KINDS, input_scenarios, mean_points, sample_scenarios
from asffbench.results.error_analysis.error_bootstrap import ALL_IOUS, IOU50, ScenarioSet, point_scenario_metrics
from asffbench.results.error_analysis.error_tables import (ERROR_COLOURS, FOOTNOTE, IOU_TITLES, KIND_TITLES, delta_text,
                                                           percent)
from asffbench.results.error_analysis.error_types import ERROR_TYPES
from asffbench.results.intervals.cell_intervals import RunSamples, cell_delta
from asffbench.results.intervals.significance import MetricDelta, RunSample
from asffbench.results.reading.run_inputs import RunInput
from asffbench.results.report.figures import cell_name, finite, save
from asffbench.results.tables.result_tables import Cell, ResultTable
from asffbench.results.tables.text_table import TextTable, titled_markdown


class ErrorSamples(RunSamples):
    """`intervals.RunSamples` whose runs are typed errors and whose replicates are every fix's AP."""

    def prepare(self, run: RunInput) -> ScenarioSet:
        return input_scenarios(run, areas=("all",))  # the report shows all objects only

    def sample_of(self, matched: ScenarioSet, weights: np.ndarray) -> RunSample:
        return sample_scenarios(matched, weights)


@dataclass
class ErrorRow:
    cell: Cell
    point: dict[str, float] = field(default_factory=dict)  # the cell's numbers, mean over its seeds
    deltas: dict[str, MetricDelta] = field(default_factory=dict)  # against cell.base
    gap: Optional[str] = None  # why the row has no numbers or no interval


@dataclass
class ErrorSection:
    table: ResultTable
    iou: str
    rows: list[ErrorRow]
    replicates: int


def cell_row(samples: ErrorSamples, cell: Cell, seed: int) -> ErrorRow:
    side = samples.side(cell)
    if isinstance(side, str):
        return ErrorRow(cell, gap=side)
    if samples.replicates > 0:  # the replicates' sample carries the point too
        points = [samples.sample(run, s).point for run, s in side]
    else:
        points = [point_scenario_metrics(s) for _, s in side]
    row = ErrorRow(cell, point=mean_points(points))
    if samples.replicates > 0 and cell.base is not None and cell.base is not cell:
        result = cell_delta(samples, cell, cell.base, seed)
        if isinstance(result, str):
            row.gap = result
        else:
            row.deltas = result
    return row


def analyse_tables(tables: Sequence[ResultTable], replicates: int, seed: int = 0) -> list[ErrorSection]:
    """A section per table; runs are typed once and share their resamples across tables."""
    samples = ErrorSamples(replicates, seed)
    sections = []
    for table in tables:
        rows = [cell_row(samples, cell, seed) for cell in table.cells]
        typed = [samples.match(run) for cell in table.cells for run in cell.runs]
        typed = [s for s in typed if isinstance(s, ScenarioSet)]
        iou = ALL_IOUS if typed and all(len(s.matching.iou_thresholds) > 1 for s in typed) else IOU50
        sections.append(ErrorSection(table, iou, rows, replicates))
    return sections


def row_label(section: ErrorSection, cell: Cell) -> list[str]:
    return [a.label(v) for a, v in zip(section.table.context_axes, cell.context)] + [cell.label]


def section_table(section: ErrorSection) -> TextTable:
    headers = [a.header for a in section.table.context_axes] + [section.table.axis.header]
    headers += [KIND_TITLES[k] for k in ("AP",) + KINDS]
    rows = []
    for row in section.rows:
        values = []
        for kind in ("AP",) + KINDS:
            key = f"{kind}|{section.iou}|all"
            text = percent(row.point.get(key)) if row.point else "n/a"
            if key in row.deltas:
                text += f", Δ {delta_text(row.deltas[key])}"
            values.append(text)
        rows.append(row_label(section, row.cell) + values)
    title = f"{section.table.title}: where the AP goes ({IOU_TITLES[section.iou]}, all objects, percent)"
    return TextTable(headers, rows, title=title)


def section_notes(section: ErrorSection) -> list[str]:
    notes = []
    cumulative = section.table.axis.cumulative
    if section.replicates > 0:
        against = "the previous row" if cumulative else "the baseline row"
        notes.append(f"Δ: against {against}, with the 95% interval of a paired bootstrap over the val "
                     f"images ({section.replicates} replicates; seeds resampled too where a row has several).")
    gaps = sorted({row.gap for row in section.rows if row.gap})
    notes += [f"No error analysis or interval for {gap}." for gap in gaps]
    return notes


def error_markdown(sections: Sequence[ErrorSection], figures: dict[str, str]) -> str:
    """The "Error analysis" section's body (figures: table name -> relative path)."""
    if not sections:
        return "No table to analyse.\n"
    out = [FOOTNOTE + " Run `asffbench analyze RUN [RUN_B]` for IoU .50, sizes and classes.\n"]
    for section in sections:
        out.append(titled_markdown(section_table(section)))
        out += [f"- {note}" for note in section_notes(section)]
        if section.table.name in figures:
            out.append(f"\n![{section.table.title}: dAP per error type]({figures[section.table.name]})\n")
        out.append("")
    return "\n".join(out)


def plot_error_bars(section: ErrorSection, path: Path) -> Optional[Path]:
    """A horizontal bar per row, one segment per main error type (its dAP)."""
    rows = [row for row in section.rows if row.point]
    if not rows:
        return None
    figure = Figure(figsize=(9.6, max(2.4, 0.5 * len(rows) + 1.6)))
    ax = figure.add_subplot()
    labels = [cell_name(section.table, row.cell) for row in rows]
    left = [0.0] * len(rows)
    for kind in ERROR_TYPES:
        values = [100 * v if finite(v := row.point.get(f"{kind}|{section.iou}|all")) else 0.0 for row in rows]
        ax.barh(labels, values, left=left, color=ERROR_COLOURS[kind], label=KIND_TITLES[kind])
        left = [a + b for a, b in zip(left, values)]
    ax.invert_yaxis()  # first row on top, as in the table
    ax.set_xlabel(f"dAP (AP points gained by fixing only that error, {IOU_TITLES[section.iou]})")
    ax.set_title(f"{section.table.title}: where the AP goes")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the bars, never on them
    ax.grid(True, axis="x", alpha=0.3)
    return save(figure, path)

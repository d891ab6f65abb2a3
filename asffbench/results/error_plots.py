"""The error analysis figure: each row's dAP per error type, stacked (matplotlib's Agg canvas)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from matplotlib.figure import Figure

from asffbench.results.error_report import ErrorSection
from asffbench.results.error_tables import ERROR_COLOURS, IOU_TITLES, KIND_TITLES
from asffbench.results.errors import ERROR_TYPES
from asffbench.results.plots import cell_name, finite, save


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

"""Paper-style result tables: a row per value of one axis, seeds aggregated, deltas to a baseline.

The same machinery builds every table: the fusion comparison (Table 3 layout), compress_c,
upsample, the cumulative tricks (Table 1 style, each row against the previous one) and input size
(AP versus FPS). Other swept axes become leading context columns; each context group has its own
baseline. Rendering (markdown, CSV, LaTeX, rich) is in `asffbench.results.render`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Optional, Sequence

import pandas as pd

from asffbench.errors import UserError
from asffbench.record_schema import VOC_METRIC
from asffbench.results.axes import AXES, Axis, detect_axes
from asffbench.results.records import MISSING_TEXT
from asffbench.results.reference import DEFAULT_BACKBONE, PaperEntry, find_entry
from asffbench.results.stats import EMPTY, Stat, scaled, summarize, within_noise

TABLE_STATUSES = ("completed", "failed")


@dataclass(frozen=True)
class Quantity:
    key: str  # name in the numbers frame and the paper entry's metrics
    column: str  # source column of the collected frame
    header: str
    scale: float  # source units -> shown units (AP fractions -> percent)
    decimals: int
    spread: bool  # show mean ± std when a cell has several seeds
    delta: bool  # has a Δ column


QUANTITIES = (
    Quantity("AP", "AP", "AP", 100.0, 1, True, True),
    Quantity("AP50", "AP50", "AP50", 100.0, 1, True, False),
    Quantity("AP75", "AP75", "AP75", 100.0, 1, True, False),
    Quantity("APs", "APs", "APs", 100.0, 1, True, True),
    Quantity("APm", "APm", "APm", 100.0, 1, True, True),
    Quantity("APl", "APl", "APl", 100.0, 1, True, True),
    Quantity("params_m", "params", "Params (M)", 1e-6, 2, False, False),
    Quantity("gflops", "gflops", "GFLOPs", 1.0, 2, False, True),
    Quantity("fps", "fps", "FPS", 1.0, 1, True, True),
)
# VOC runs (eval.metric=voc): VOC mAP@0.5 in both conventions first, then COCO AP and its
# per-scale APs computed on the same detections, then the costs.
VOC_QUANTITIES = (
    Quantity("mAP", "mAP", "mAP", 100.0, 1, True, True),
    Quantity("mAP07", "mAP07", "mAP@07", 100.0, 1, True, True),
    Quantity("AP", "AP", "COCO AP", 100.0, 1, True, True),
    *(q for q in QUANTITIES if q.key in ("APs", "APm", "APl", "params_m", "gflops", "fps")),
)


def quantities_for(runs: pd.DataFrame) -> tuple[Quantity, ...]:
    """VOC columns when every completed run was evaluated with VOC mAP, COCO columns otherwise."""
    done = runs[runs["status"] == "completed"] if "status" in runs else runs
    is_voc = "metric" in done and len(done) > 0 and bool((done["metric"] == VOC_METRIC).all())
    return VOC_QUANTITIES if is_voc else QUANTITIES


@dataclass
class Cell:
    context: tuple  # values of the context axes
    value: Any  # value on the table's axis
    label: str
    n: int  # completed runs (seeds) in the cell
    failed: int
    stats: dict[str, Stat]
    baseline: bool = False
    deltas: dict[str, float] = field(default_factory=dict)
    noise: dict[str, bool] = field(default_factory=dict)  # delta within seed noise
    paper: Optional[PaperEntry] = None
    runs: list[str] = field(default_factory=list)  # run dirs of the completed runs
    base: Optional["Cell"] = None  # what the deltas are against (itself on the baseline row)
    intervals: dict[str, Any] = field(default_factory=dict)  # key -> bootstrap MetricDelta (percent)
    own_ci95: dict[str, tuple] = field(default_factory=dict)  # key -> the cell's own 95% interval
    unscored: int = 0  # completed runs evaluated on a test split (no AP; in n, not in the AP means)


@dataclass
class ResultTable:
    axis: Axis
    context_axes: list[Axis]
    cells: list[Cell]
    notes: list[str] = field(default_factory=list)
    quantities: tuple[Quantity, ...] = QUANTITIES  # the columns, in order
    bootstrap: int = 0  # replicates behind the cells' intervals (0: none computed)
    interval_gaps: list[str] = field(default_factory=list)  # why some cells have no interval

    @property
    def voc(self) -> bool:
        return self.quantities is VOC_QUANTITIES

    @property
    def name(self) -> str:
        return self.axis.name

    @property
    def title(self) -> str:
        return self.axis.title

    @property
    def has_paper(self) -> bool:
        return any(c.paper is not None for c in self.cells)

    @property
    def has_intervals(self) -> bool:
        return any(c.intervals for c in self.cells)

    @property
    def any_significant(self) -> bool:
        return any(m.significant for c in self.cells for m in c.intervals.values())

    def detectable_delta(self, key: str = "AP") -> Optional[float]:
        """The smallest Δ this table could have detected: the median half-width of its 95%
        intervals of Δ (a true difference smaller than that would not be told from noise)."""
        widths = sorted(c.intervals[key].half_width for c in self.cells
                        if key in c.intervals and math.isfinite(c.intervals[key].half_width))
        if not widths:
            return None
        middle = len(widths) // 2
        return widths[middle] if len(widths) % 2 else (widths[middle - 1] + widths[middle]) / 2


def table_runs(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Completed and failed runs, one per experiment hash; returns them and how many were dropped.

    A rerun of the same experiment is the same measurement again, not another seed: the completed
    and most recently finished record stands for it.
    """
    if frame.empty or "status" not in frame.columns:
        return frame.iloc[0:0], 0
    runs = frame[frame["status"].isin(TABLE_STATUSES)].copy()
    runs["_rank_completed"] = runs["status"].eq("completed")
    runs["_rank_finished"] = runs["finished"].astype(str) if "finished" in runs else ""
    runs = runs.sort_values(["_rank_completed", "_rank_finished"], ascending=False, kind="stable")
    hashed = runs["experiment_hash"].map(lambda h: isinstance(h, str) and h != MISSING_TEXT)
    keep = ~(hashed & runs["experiment_hash"].duplicated())
    kept = runs[keep].sort_index().drop(columns=["_rank_completed", "_rank_finished"])
    return kept, int((~keep).sum())


def key_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING_TEXT
    return value


def order_values(axis: Axis, values: list) -> list:
    if axis.name == "tricks":
        # Cumulative: fewer tricks first; 'none' has zero.
        return sorted(values, key=lambda v: (trick_count(v), str(v)))
    return axis.sort_values(values)


def trick_count(enabled: Any) -> int:
    if not isinstance(enabled, str) or enabled in ("none", MISSING_TEXT):
        return 0
    return len(enabled.split("+"))


def tricks_label(value: Any, previous: Any) -> str:
    """Table 1 style: the first row is its trick set, every later row names what it adds."""
    if previous is None:
        return "no tricks" if value == "none" else str(value).replace("+", ", ")
    now = set(str(value).split("+")) - {"none"}
    before = set(str(previous).split("+")) - {"none"}
    added = [t for t in str(value).split("+") if t not in before]
    if before <= now and added:
        return "+ " + ", ".join(added)
    return str(value).replace("+", ", ")


def cell_setting(rows: pd.DataFrame, column: str) -> Any:
    values = {key_value(v) for v in rows[column]} if column in rows else {MISSING_TEXT}
    return values.pop() if len(values) == 1 else None


def make_cell(axis: Axis, context: tuple, value: Any, rows: pd.DataFrame, reference,
              quantities: Sequence[Quantity] = QUANTITIES) -> Cell:
    done = rows[rows["status"] == "completed"]
    stats = {}
    for q in quantities:
        stat = summarize(done[q.column]) if q.column in done else EMPTY
        stats[q.key] = scaled(stat, q.scale)
    paper = None
    if reference:
        paper = find_entry(reference, cell_setting(rows, "fusion"), cell_setting(rows, "img_size"),
                           cell_setting(rows, "tricks_state"),
                           cell_setting(rows, "backbone") if "backbone" in rows else DEFAULT_BACKBONE)
    runs = [str(r) for r in done["run_dir"]] if "run_dir" in done else []
    unscored = int(done["ap_computed"].map(lambda v: v is False).sum()) if "ap_computed" in done else 0
    family = cell_setting(rows, "family") if "family" in rows else None
    return Cell(context=context, value=value, label=axis.label(value, family), n=len(done),
                failed=int((rows["status"] == "failed").sum()), stats=stats, paper=paper, runs=runs,
                unscored=unscored)


def set_deltas(cell: Cell, base: Optional[Cell], quantities: Sequence[Quantity] = QUANTITIES) -> None:
    cell.base = base
    for q in quantities:
        if not q.delta:
            continue
        if base is None:
            cell.deltas[q.key], cell.noise[q.key] = math.nan, False
        elif base is cell:
            cell.deltas[q.key] = 0.0 if not math.isnan(cell.stats[q.key].mean) else math.nan
            cell.noise[q.key] = False
        else:
            row, ref = cell.stats[q.key], base.stats[q.key]
            cell.deltas[q.key] = row.mean - ref.mean
            cell.noise[q.key] = within_noise(row, ref)


def build_table(
    frame: pd.DataFrame,
    axis: Axis,
    context_axes: Sequence[Axis] = (),
    reference: Sequence[PaperEntry] = (),
) -> ResultTable:
    """One table along `axis`; `frame` holds the runs (see `table_runs`)."""
    runs = frame.copy()
    quantities = quantities_for(runs)
    if quantities is VOC_QUANTITIES:
        reference = ()  # the paper's figures are COCO's: nothing to set beside VOC runs
    key_columns = [a.column for a in context_axes] + [axis.column]
    for column in key_columns:
        runs[column] = runs[column].map(key_value) if column in runs else MISSING_TEXT
    cells: list[Cell] = []
    contexts: list[tuple] = [()]
    if context_axes:
        unique = runs[key_columns[:-1]].drop_duplicates()
        contexts = [tuple(k) for k in unique.itertuples(index=False)]
    orders = [order_values(a, list({c[i] for c in contexts})) for i, a in enumerate(context_axes)]
    contexts.sort(key=lambda k: tuple(orders[i].index(v) for i, v in enumerate(k)))
    for context in contexts:
        mask = pd.Series(True, index=runs.index)
        for column, value in zip(key_columns[:-1], context):
            mask &= runs[column] == value
        group = runs[mask]
        values = order_values(axis, list(pd.unique(group[axis.column])))
        group_cells = [make_cell(axis, context, v, group[group[axis.column] == v], reference, quantities)
                       for v in values]
        if axis.cumulative:
            for i, cell in enumerate(group_cells):
                previous = group_cells[i - 1] if i else None
                cell.label = tricks_label(cell.value, previous.value if previous else None)
                cell.baseline = i == 0
                set_deltas(cell, cell if i == 0 else previous, quantities)
        else:
            base_value = axis.baseline_value(values)
            base = next(c for c in group_cells if c.value == base_value)
            base.baseline = True
            for cell in group_cells:
                set_deltas(cell, base, quantities)
        cells.extend(group_cells)
    return ResultTable(axis=axis, context_axes=list(context_axes), cells=cells, quantities=quantities)


def build_tables(
    frame: pd.DataFrame,
    reference: Sequence[PaperEntry] = (),
    baselines: Optional[Mapping[str, str]] = None,
) -> list[ResultTable]:
    """A table for every axis the records vary along (the fusion table when none varies).

    `baselines` ({axis name: value as written, e.g. "fusion": "asff"}) picks the row each axis's
    deltas and intervals are taken against, instead of the axis's default; UserError when the
    records have no such axis or no such row.
    """
    runs, _ = table_runs(frame)
    if runs.empty:
        return []
    axes = detect_axes(runs) or [AXES["fusion"]]
    axes = with_baselines(runs, axes, baselines or {})
    return [build_table(runs, axis, [a for a in axes if a is not axis], reference) for axis in axes]


def with_baselines(runs: pd.DataFrame, axes: list[Axis], baselines: Mapping[str, str]) -> list[Axis]:
    """The axes with the chosen baseline rows (`report --baseline AXIS=VALUE`)."""
    by_name = {a.name: a for a in axes}
    for key, text in baselines.items():
        axis = by_name.get(key) or next((a for a in axes if key in a.record_keys), None)
        if axis is None:
            raise UserError(f"--baseline {key}={text}: the records vary along no axis {key!r} "
                            f"(their axes: {', '.join(by_name) or 'none'})")
        if axis.cumulative:
            raise UserError(f"--baseline {key}={text}: the {axis.name} table compares each row "
                            "with the one before; it has no baseline row")
        values = list(pd.unique(runs[axis.column].map(key_value))) if axis.column in runs else []
        match = [v for v in values if text in (str(v), axis.label(v))]
        if not match:
            shown = ", ".join(axis.label(v) for v in axis.sort_values(values))
            raise UserError(f"--baseline {key}={text}: no row has {axis.name}={text} (rows: {shown})")
        by_name[axis.name] = replace(axis, baseline=match[0])
    return [by_name[a.name] for a in axes]

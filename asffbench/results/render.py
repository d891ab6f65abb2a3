"""Result tables as text: markdown (default), CSV (the numbers), LaTeX, and a rich terminal table.

Display conventions follow the paper: AP in percent with one decimal, mean ± std over seeds when
a cell has several, Δ signed against the baseline row (0.0 on the baseline itself) with its 95%
bootstrap interval ``[lo, hi]`` and `` *`` when it is significant after adjusting for the table's family (``~`` after a Δ within seed noise
when there is no interval), ``≈`` before a paper figure that is approximate, ``n/a`` for a gap.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from rich.table import Table

from asffbench.results.axes import FUSION_LABELS
from asffbench.results.families import family_sentence, seed_notes
from asffbench.results.stats import Stat
from asffbench.results.tables import Cell, ResultTable

GAP = "n/a"
NOISE_MARK = " ~"
SIGNIFICANT_MARK = " *"
APPROX_MARK = "≈"
FORMATS = ("md", "csv", "latex")
VOC_NOTE = (
    "mAP: VOC mAP@0.5, area under the PR curve (VOC2010+); mAP@07: VOC2007 11-point; both with "
    "difficult objects ignored. COCO AP, APs/APm/APl: COCO AP@[.5:.95] on the same detections "
    "(difficult as crowd). All in percent; n: completed seeds per row (mean ± std when n > 1)."
)
EXTENSIONS = {"md": "md", "csv": "csv", "latex": "tex"}


def format_stat(stat: Stat, decimals: int, spread: bool) -> str:
    if stat.n == 0 or math.isnan(stat.mean):
        return GAP
    text = f"{stat.mean:.{decimals}f}"
    if spread and stat.has_spread:
        text += f" ± {stat.std:.{decimals}f}"
    return text


def signed(value: float, decimals: int) -> str:
    return f"{round(value, decimals) + 0.0:+.{decimals}f}"  # + 0.0 turns -0.0 into 0.0


def format_delta(value: float, decimals: int, baseline: bool, noisy: bool, interval: Any = None) -> str:
    """Δ; with a bootstrap interval `Δ [lo, hi]` and SIGNIFICANT_MARK when it excludes 0."""
    if math.isnan(value):
        return GAP
    if baseline:
        return f"{0.0:.{decimals}f}"
    if interval is not None and not math.isnan(interval.ci95[0]):
        lo, hi = interval.ci95
        text = f"{signed(value, decimals)} [{signed(lo, decimals)}, {signed(hi, decimals)}]"
        return text + (SIGNIFICANT_MARK if interval.significant else "")
    return signed(value, decimals) + (NOISE_MARK if noisy else "")


def paper_cells(cell: Cell) -> dict[str, str]:
    entry = cell.paper
    if entry is None:
        return {"AP (paper)": "", "Δ paper": "", "FPS (paper)": ""}
    mark = "" if entry.exact else APPROX_MARK
    paper_ap = entry.metrics.get("AP")
    measured = cell.stats["AP"]
    if paper_ap is None:
        ap_text = delta_text = GAP
    else:
        ap_text = f"{mark}{paper_ap:.1f}"
        delta = measured.mean - paper_ap
        delta_text = GAP if math.isnan(delta) else f"{mark}{round(delta, 1) + 0.0:+.1f}"
    fps_text = GAP if entry.fps is None else f"{entry.fps:.1f}"
    return {"AP (paper)": ap_text, "Δ paper": delta_text, "FPS (paper)": fps_text}


def display_frame(table: ResultTable) -> pd.DataFrame:
    """The table as strings, one row per cell, in the order it is printed."""
    rows = []
    for cell in table.cells:
        row: dict[str, Any] = {}
        for axis, value in zip(table.context_axes, cell.context):
            row[axis.header] = axis.label(value)
        row[table.axis.header] = cell.label
        row["n"] = str(cell.n)
        for q in table.quantities:
            if cell.n == 0 and cell.failed:
                row[q.header] = "failed"
            else:
                row[q.header] = format_stat(cell.stats[q.key], q.decimals, q.spread)
        for q in table.quantities:
            if q.delta:
                row[f"Δ{q.header}"] = format_delta(
                    cell.deltas[q.key], q.decimals, cell.baseline, cell.noise[q.key], cell.intervals.get(q.key)
                )
        if table.has_paper:
            row.update(paper_cells(cell))
        rows.append(row)
    return pd.DataFrame(rows)


def numbers_frame(table: ResultTable) -> pd.DataFrame:
    """The table as numbers (for CSV): means, stds, n, deltas, noise flags and the paper figures."""
    rows = []
    for cell in table.cells:
        row: dict[str, Any] = {a.name: v for a, v in zip(table.context_axes, cell.context)}
        row[table.axis.name] = cell.value
        row.update(label=cell.label, n=cell.n, failed=cell.failed, baseline=cell.baseline)
        for q in table.quantities:
            row[q.key] = cell.stats[q.key].mean
            if q.spread:
                row[f"{q.key}_std"] = cell.stats[q.key].std
        for q in table.quantities:
            if q.delta:
                row[f"delta_{q.key}"] = cell.deltas[q.key]
                row[f"delta_{q.key}_within_noise"] = cell.noise[q.key]
                interval = cell.intervals.get(q.key)
                if interval is not None:
                    row[f"delta_{q.key}_ci95_lo"], row[f"delta_{q.key}_ci95_hi"] = interval.ci95
                    row[f"delta_{q.key}_p"] = interval.p
                    row[f"delta_{q.key}_significant"] = interval.significant
                    row[f"delta_{q.key}_significant_unadjusted"] = interval.significant_unadjusted
                    if interval.adjusted is not None:
                        adjusted = interval.adjusted
                        row[f"delta_{q.key}_adjusted_lo"], row[f"delta_{q.key}_adjusted_hi"] = adjusted.ci95
                        row[f"delta_{q.key}_adjusted_p"] = adjusted.p
                        row[f"delta_{q.key}_family"] = adjusted.family
        entry = cell.paper
        row["paper_id"] = entry.id if entry else None
        row["paper_AP"] = entry.metrics.get("AP") if entry else None
        row["paper_exact"] = entry.exact if entry else None
        row["paper_split"] = entry.split if entry else None
        row["delta_paper_AP"] = (
            cell.stats["AP"].mean - entry.metrics["AP"] if entry and "AP" in entry.metrics else None
        )
        row["paper_fps"] = entry.fps if entry else None
        rows.append(row)
    return pd.DataFrame(rows)


def table_notes(table: ResultTable) -> list[str]:
    axis = table.axis
    notes = [VOC_NOTE if table.voc else "AP columns: COCO AP in percent; n: completed seeds per row (mean ± std when n > 1)."]
    if axis.cumulative:
        notes.append("Δ: gain over the previous row (each row adds the trick it names).")
    else:
        bases = sorted({c.label for c in table.cells if c.baseline})
        per_group = " in each group" if table.context_axes else ""
        notes.append(f"Δ: change against the {' / '.join(bases)} row{per_group}.")
    if any(c.n >= 2 for c in table.cells):
        notes.append(
            "~: within seed noise, |Δ| ≤ √(s_row² + s_base²) with s the std over seeds "
            "(a row with one seed adds no spread)."
        )
    notes += interval_notes(table)
    notes += unscored_notes(table)
    failed = [c.label for c in table.cells if c.n == 0 and c.failed]
    if failed:
        notes.append(f"failed: every run of {', '.join(failed)} failed (see the failed runs).")
    matched = [c for c in table.cells if c.paper is not None]
    if matched:
        notes.append("Paper figures: FPS measured on a V100; Δ paper = measured AP − paper AP.")
    for cell in matched:
        entry = cell.paper
        kind = "exact" if entry.exact else f"approximate, {APPROX_MARK}"
        method = FUSION_LABELS.get(entry.method, entry.method)
        notes.append(f"Paper, {method} at {entry.img_size} (COCO {entry.split}, {kind}): {entry.source}.")
    return notes


def unscored_notes(table: ResultTable) -> list[str]:
    """Rows with runs evaluated on a test split: shown without their AP, which only the server gives."""
    rows = [c.label if c.unscored == c.n else f"{c.label} ({c.unscored} of {c.n} runs)"
            for c in table.cells if c.unscored]
    if not rows:
        return []
    return [f"No AP for {', '.join(rows)}: evaluated on a split without annotations (a test split); "
            "their AP comes from the evaluation server, which takes the detections_*_results.json "
            "(zipped) in their run directories. The AP columns are over the other runs only."]


def interval_notes(table: ResultTable) -> list[str]:
    if not table.has_intervals:
        if table.interval_gaps:
            return ["No bootstrap interval for any Δ: " + "; ".join(table.interval_gaps) + "."]
        return []
    notes = [f"Δ [lo, hi]: the 95% interval of Δ from a paired bootstrap over the val images "
             f"({table.bootstrap} replicates; seeds resampled too where a row has several), each taken alone; "
             f"*: significant after adjusting for the table's family of deltas (the sentence above names them). "
             f"{'mAP and ' if table.voc else ''}AP deltas only (GFLOPs and FPS have none)."]
    notes += seed_notes(table)
    headline = "mAP" if table.voc else "AP"
    smallest = table.detectable_delta(headline)
    if smallest is not None:
        notes.append(f"Smallest detectable Δ{headline}: about {smallest:.1f} {headline}, the median "
                     f"half-width of the Δ{headline} intervals; a smaller true difference cannot be "
                     "told from noise with these images and seeds.")
    if table.interval_gaps:
        notes.append("No interval for: " + "; ".join(table.interval_gaps) + ".")
    return notes


def significance_sentence(table: ResultTable) -> str:
    """The sentence under a table with intervals: its significant deltas, or that none is."""
    sentence = family_sentence(table)
    if sentence or not table.has_intervals or table.any_significant:
        return sentence
    return "**No difference in this table is significant: every 95% interval of Δ contains 0.**\n\n"


def to_markdown(table: ResultTable, heading_level: int = 3) -> str:
    frame = display_frame(table)
    labels = len(table.context_axes) + 1
    align = ["left"] * labels + ["right"] * (len(frame.columns) - labels)
    body = frame.to_markdown(index=False, tablefmt="pipe", colalign=align, disable_numparse=True)
    notes = "\n".join(f"- {note}" for note in table_notes(table))
    sentence = significance_sentence(table)
    return f"{'#' * heading_level} {table.title}\n\n{body}\n\n{sentence}{notes}\n"


def to_csv(table: ResultTable) -> str:
    return numbers_frame(table).to_csv(index=False)


LATEX_SYMBOLS = {"±": r"$\pm$", "Δ": r"$\Delta$", "≈": r"$\approx$", "√": r"$\surd$", "²": r"$^2$",
                 "≤": r"$\le$"}


def latex_symbols(text: str) -> str:
    for symbol, command in LATEX_SYMBOLS.items():
        text = text.replace(symbol, command)
    return text


def to_latex(table: ResultTable) -> str:
    frame = display_frame(table)
    labels = len(table.context_axes) + 1
    body = frame.to_latex(
        index=False, escape=True, column_format="l" * labels + "r" * (len(frame.columns) - labels),
        caption=table.title, label=f"tab:{table.name}",
    )
    return latex_symbols(body)


def render(table: ResultTable, fmt: str) -> str:
    if fmt == "md":
        return to_markdown(table)
    if fmt == "csv":
        return to_csv(table)
    if fmt == "latex":
        return to_latex(table)
    raise ValueError(f"unknown table format {fmt!r}; choose from {', '.join(FORMATS)}")


def rich_table(table: ResultTable):
    """A rich Table for the terminal."""
    frame = display_frame(table)
    labels = len(table.context_axes) + 1
    out = Table(title=table.title, title_justify="left")
    for i, column in enumerate(frame.columns):
        out.add_column(column, justify="left" if i < labels else "right", no_wrap=True)
    for values in frame.itertuples(index=False):
        out.add_row(*[str(v) for v in values])
    return out

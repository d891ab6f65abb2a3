"""An error analysis as text tables (`TextTable`): the rows `asffbench analyze` prints and the
report's error section shows."""

from __future__ import annotations

import math
from typing import Optional

from asffbench.results.error_analysis.analysis import AREAS, KINDS, ErrorAnalysis
from asffbench.results.error_analysis.error_bootstrap import ALL_IOUS, IOU50
from asffbench.results.intervals.significance import MetricDelta
from asffbench.results.tables.text_table import TextTable

KIND_TITLES = {"AP": "AP", "cls": "classification", "loc": "localisation", "both": "both (cls + loc)",
               "dupe": "duplicate", "bkg": "background", "miss": "missed", "FP": "all false positives",
               "FN": "all false negatives"}
IOU_TITLES = {IOU50: "IoU .50", ALL_IOUS: "IoU .50:.95"}


def percent(value: Optional[float], sign: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{100 * value:+.2f}" if sign else f"{100 * value:.2f}"


def delta_text(m: Optional[MetricDelta], interval: bool = True) -> str:
    """`+1.23 [-0.40, +2.80] *` (percent; * where the 95% interval excludes 0)."""
    if m is None or not math.isfinite(m.delta):
        return "n/a"
    text = percent(m.delta, sign=True)
    if interval and all(math.isfinite(v) for v in m.ci95):
        text += f" [{percent(m.ci95[0], True)}, {percent(m.ci95[1], True)}]"
    return text + (" *" if m.significant else "")


def error_tables(result: ErrorAnalysis) -> list[TextTable]:
    """Per IoU: a row per error type; columns by size (one run) or A, B and Δ by size (two)."""
    tables = []
    for iou in result.iou_labels:
        rows = []
        for kind in ("AP",) + KINDS:
            keys = [f"{kind}|{iou}|{area}" for area in AREAS]
            if result.b:
                rows.append([KIND_TITLES[kind], percent(result.point_a.get(keys[0])),
                             percent(result.point_b.get(keys[0]))]
                            + [delta_text(result.deltas.get(key)) for key in keys])
            else:
                rows.append([KIND_TITLES[kind]] + [percent(result.point_a.get(key)) for key in keys])
        headers = (["", "A", "B"] + [f"Δ {area}" for area in AREAS]) if result.b else ([""] + list(AREAS))
        what = "AP and dAP of each error (percent)"
        tables.append(TextTable(headers, rows, title=f"{IOU_TITLES[iou]}: {what}"
                                + (", B - A with 95% interval" if result.b else "")))
    return tables


def class_table(result: ErrorAnalysis) -> TextTable:
    """AP per class at each IoU (and B - A with its interval)."""
    rows = []
    for name in result.classes:
        row = [name]
        for iou in result.iou_labels:
            key = f"class|{name}|{iou}"
            row.append(percent(result.point_a.get(key)))
            if result.b:
                row += [percent(result.point_b.get(key)), delta_text(result.deltas.get(key))]
        rows.append(row)
    headers = ["class"]
    for iou in result.iou_labels:
        name = "AP50" if iou == IOU50 else "AP"
        headers += [f"{name} A", f"{name} B", f"Δ{name}"] if result.b else [name]
    return TextTable(headers, rows, title="AP per class (percent)")


def analysis_header(result: ErrorAnalysis) -> list[str]:
    lines = [f"A: {', '.join(result.a)}"]
    if result.b:
        lines += [f"B: {', '.join(result.b)}",
                  f"{result.images} images, {result.replicates} paired bootstrap replicates (seed {result.seed})"]
    else:
        lines.append(f"{result.images} images")
    return lines


FOOTNOTE = ("dAP: the AP gained by fixing only that error type (TIDE's oracles, on COCOeval's matching); "
            "FP / FN: every false positive / negative fixed. *: the 95% interval of Δ excludes 0.")
# One colour per main error type (the figure), as TIDE's summary plots distinguish them.
ERROR_COLOURS = {"cls": "#4c72b0", "loc": "#dd8452", "both": "#55a868", "dupe": "#c44e52", "bkg": "#8172b3",
                 "miss": "#937860"}

"""`asffbench analyze RUN [RUN_B]`: where a run's AP goes, and how that changes between two runs.

One run: its AP and the dAP of each error type (`errors`, `error_bootstrap`) at IoU .50 and over
.50:.95, for all objects and by COCO size, and its AP per class. Two runs (or two cells of
seeds, as `compare` takes them): the change of every one of those numbers, B - A, with the paired
bootstrap interval of `compare` (same resampling, same seeds handling, `significance`). VOC runs
are analysed at IoU .50 only, their metric's threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from asffbench.results.compare import RunInput, bootstrap_compare, input_detections, resolve_input
from asffbench.results.error_bootstrap import (ALL_IOUS, IOU50, SCENARIOS, ScenarioSet, build_scenarios,
                                               point_scenario_metrics, scenario_metrics)
from asffbench.results.errors import match_errors
from asffbench.results.significance import DEFAULT_REPLICATES, DEFAULT_SEED, MetricDelta, RunSample
from asffbench.results.families import adjust_deltas
from asffbench.results.multiplicity import check_adjustment

KINDS = SCENARIOS[1:]  # the error types, then FP and FN
KIND_TITLES = {"AP": "AP", "cls": "classification", "loc": "localisation", "both": "both (cls + loc)",
               "dupe": "duplicate", "bkg": "background", "miss": "missed", "FP": "all false positives",
               "FN": "all false negatives"}
AREAS = ("all", "small", "medium", "large")
IOU_TITLES = {IOU50: "IoU .50", ALL_IOUS: "IoU .50:.95"}


def input_scenarios(run: RunInput, areas: Optional[Sequence[str]] = None) -> ScenarioSet:
    """A run's detections matched by COCOeval once and typed (VOC runs at IoU .50 only), in the
    area ranges `areas` (default: all four)."""
    gt, detections = input_detections(run)
    return build_scenarios(match_errors(gt, detections, thresholds=[0.5] if run.voc else None, areas=areas))


def sample_scenarios(scenarios: ScenarioSet, weights: np.ndarray) -> RunSample:
    return RunSample(point=point_scenario_metrics(scenarios), replicates=scenario_metrics(scenarios, weights))


@dataclass
class ErrorAnalysis:
    a: list[str]
    b: list[str]  # empty: one side only
    images: int
    iou_labels: tuple[str, ...]
    classes: list[str]
    point_a: dict[str, float]
    point_b: dict[str, float] = field(default_factory=dict)
    deltas: dict[str, MetricDelta] = field(default_factory=dict)
    replicates: int = 0
    seed: int = DEFAULT_SEED

    def to_json(self) -> dict:
        def number(value: Optional[float]) -> Optional[float]:
            return None if value is None or not math.isfinite(value) else float(value)

        def entry(key: str) -> dict:
            out = {"a": number(self.point_a.get(key))}
            if self.b:
                m = self.deltas.get(key)
                out.update({"b": number(self.point_b.get(key)), "delta": number(m.delta if m else None),
                            "ci95": [number(v) for v in m.ci95] if m else [None, None],
                            "significant": bool(m.significant) if m else False})
            return out

        errors = {iou: {area: {kind: entry(f"{kind}|{iou}|{area}") for kind in ("AP",) + KINDS}
                        for area in AREAS} for iou in self.iou_labels}
        per_class = {name: {iou: entry(f"class|{name}|{iou}") for iou in self.iou_labels} for name in self.classes}
        out = {"a": self.a if len(self.a) > 1 else self.a[0], "images": self.images,
               "ious": list(self.iou_labels), "errors": errors, "per_class": per_class,
               "units": "fractions; an error's value is the AP it costs (dAP)"}
        if self.b:
            out.update({"b": self.b if len(self.b) > 1 else self.b[0], "bootstrap": self.replicates,
                        "seed": self.seed})
        return out


def mean_points(points: Sequence[dict[str, float]]) -> dict[str, float]:
    names = [name for name in points[0] if all(name in p for p in points[1:])]
    return {name: float(np.mean([p[name] for p in points])) for name in names}


def analyse(a: Sequence[ScenarioSet], b: Sequence[ScenarioSet] = (), replicates: int = DEFAULT_REPLICATES,
            seed: int = DEFAULT_SEED) -> tuple[dict, dict, dict[str, MetricDelta]]:
    """(A's points, B's points, B - A with intervals); a side with several seeds is their mean."""
    if not b:
        return mean_points([point_scenario_metrics(s) for s in a]), {}, {}
    deltas = bootstrap_compare(a, b, replicates, seed, sample=sample_scenarios)
    return {k: m.a for k, m in deltas.items()}, {k: m.b for k, m in deltas.items()}, deltas


def analyse_inputs(a: str, b: Optional[str] = None, gt: Optional[Path] = None,
                   replicates: int = DEFAULT_REPLICATES, seed: int = DEFAULT_SEED,
                   metric: str = "auto", adjustment: str = "none") -> ErrorAnalysis:
    """`analyze`: A's numbers, and with B every B - A, `*` decided within all of them (`adjustment`)."""
    check_adjustment(adjustment)
    runs_a = resolve_input(a, gt, metric)
    runs_b = resolve_input(b, gt, metric) if b else []
    sets_a = [input_scenarios(r) for r in runs_a]
    sets_b = [input_scenarios(r) for r in runs_b]
    point_a, point_b, deltas = analyse(sets_a, sets_b, replicates, seed)
    adjust_deltas(deltas, adjustment)
    labels = [s.iou_labels() for s in sets_a + sets_b]
    ious = min(labels, key=len)  # a VOC side limits both to IoU .50
    return ErrorAnalysis(a=[r.name for r in runs_a], b=[r.name for r in runs_b], images=sets_a[0].num_images,
                         iou_labels=ious, classes=list(sets_a[0].matching.category_names),
                         point_a=point_a, point_b=point_b, deltas=deltas,
                         replicates=replicates if runs_b else 0, seed=seed)


@dataclass
class TextTable:
    """A table as text cells: rendered as rich (CLI) or markdown (report)."""

    title: str
    headers: list[str]
    rows: list[list[str]]

    def markdown(self) -> str:
        lines = [f"**{self.title}**", "", "| " + " | ".join(self.headers) + " |",
                 "|" + "|".join([":--"] + ["--:"] * (len(self.headers) - 1)) + "|"]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"


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
        tables.append(TextTable(f"{IOU_TITLES[iou]}: {what}" + (", B - A with 95% interval" if result.b else ""),
                                headers, rows))
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
    return TextTable("AP per class (percent)", headers, rows)


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

"""Where a run's AP goes: its detections typed by TIDE's error types (`error_types`), scored with
every fix (`error_bootstrap`), at IoU .50 and over .50:.95, for all objects and by COCO size, and
its AP per class. Two runs (or two cells of seeds, as `compare` takes them): the change of every
one of those numbers, B - A, with the paired bootstrap interval of `compare` (same resampling,
same seeds handling, `intervals.significance`). VOC runs are analysed at IoU .50 only, their
metric's threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from asffbench.results.error_analysis.error_bootstrap import (SCENARIOS, ScenarioSet, build_scenarios,
                                                              point_scenario_metrics, scenario_metrics)
from asffbench.results.error_analysis.error_types import match_errors
from asffbench.results.intervals.significance import (DEFAULT_REPLICATES, DEFAULT_SEED, MetricDelta, RunSample,
                                                      bootstrap_compare)
from asffbench.results.reading.run_inputs import RunInput, input_detections

KINDS = SCENARIOS[1:]  # the error types, then FP and FN
AREAS = ("all", "small", "medium", "large")


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

"""`asffbench analyze RUN [RUN_B]`: the command's module over the error analysis library
(`error_analysis.analysis`): both sides' inputs read, typed and analysed."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from asffbench.results.error_analysis.analysis import ErrorAnalysis, analyse, input_scenarios
from asffbench.results.intervals.families import adjust_deltas
from asffbench.results.intervals.multiplicity import check_adjustment
from asffbench.results.intervals.significance import DEFAULT_REPLICATES, DEFAULT_SEED
from asffbench.results.reading.run_inputs import resolve_input


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

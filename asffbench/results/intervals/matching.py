"""A run's detections matched to its ground truth: its stored match table when fresh, else matched now."""

from __future__ import annotations

from asffbench.engine.run_matches import run_matches
from asffbench.results.intervals.bootstrap import MatchedDetections, matched_from_table
from asffbench.results.reading.run_inputs import RunInput


def match_input(run: RunInput, max_det: int = 100) -> MatchedDetections:
    """The run's matching: its stored match table when fresh (run directories), else matched now."""
    coco, voc = run_matches(run.detections, run.ground_truth, run.voc, run.table, max_det)
    matched = matched_from_table(coco)
    matched.voc = voc if run.voc else None
    return matched

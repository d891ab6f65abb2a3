"""A run's detections matched once: the stored table when it is fresh, else matched and stored.

`evaluate` calls this right after writing detections.json (so the table is there from the start);
`compare` and `report` call it again and get the stored table back, unless the detections or
the ground truth changed since (then they match again and store the new table). Numpy only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from asffbench.coco_format import read_ground_truth, read_results
from asffbench.engine import voc_eval
from asffbench.engine.coco_match import match_coco
from asffbench.engine.match_table import CocoMatches, fingerprint, load_matches, save_matches
from asffbench.engine.voc_eval import VocMatches


def run_matches(detections: Path, ground_truth: Path, voc: bool = False, table: Optional[Path] = None,
                max_det: int = 100) -> tuple[CocoMatches, Optional[VocMatches]]:
    """The COCO match table of a results file (and its VOC matching with `voc`) over every image
    of the annotation file; read from / written to `table` when given."""
    stamp = fingerprint(detections, ground_truth, max_det) if table is not None and detections.is_file() else None
    if stamp is not None:
        stored = load_matches(table, stamp)
        if stored is not None and (stored[1] is not None or not voc):
            return stored
    gt = read_ground_truth(ground_truth)
    results = read_results(detections, gt, ground_truth)
    coco = match_coco(gt, results, max_det)
    matches = voc_eval.match_detections(gt, results, coco.image_ids) if voc else None
    if stamp is not None:
        try:
            save_matches(table, coco, matches, stamp)
        except OSError:
            pass  # a read-only run directory: it is matched again next time, nothing is lost
    return coco, matches

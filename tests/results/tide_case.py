"""The fixed case of the golden comparison with the published TIDE (tidecv 1.0.1), and how to run TIDE on it.

No crowd boxes, every class with boxes, distinct scores and under 100 detections per image: where
TIDE's own evaluation and COCOeval agree. `python -m tests.results.tide_case` rewrites the golden
numbers (needs tidecv).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from tests.results.coco_cases import detections, ground_truth

GOLDEN = Path(__file__).parent / "golden" / "tide_case.json"
TIDE_NAMES = {"Cls": "cls", "Loc": "loc", "Both": "both", "Dupe": "dupe", "Bkg": "bkg", "Miss": "miss",
              "FalsePos": "FP", "FalseNeg": "FN"}
THRESHOLDS = [round(0.5 + 0.05 * i, 2) for i in range(10)]


def tide_case() -> tuple[dict, list[dict]]:
    gt = ground_truth(images=50, classes=4, seed=4)
    gt["categories"] = gt["categories"][:4]  # coco_cases adds a class without boxes
    for ann in gt["annotations"]:
        ann["iscrowd"] = 0
        x, y, w, h = ann["bbox"]
        ann["segmentation"] = [[x, y, x + w, y, x + w, y + h, x, y + h]]  # tidecv's loader needs one
    dets = [d for d in detections(gt, seed=5, decimals=None) if d["category_id"] <= 4]
    return gt, dets


def tide_numbers(gt: dict, dets: list[dict]) -> dict:
    """TIDE's AP and dAPs (percent) at IoU .50 and averaged over .50:.95 (a TIDE run per threshold)."""
    from tidecv import TIDE, datasets  # the test oracle, only installed with the dev extra

    with tempfile.TemporaryDirectory() as folder:
        gt_path, det_path = Path(folder) / "gt.json", Path(folder) / "dets.json"
        gt_path.write_text(json.dumps(gt))
        det_path.write_text(json.dumps(dets))
        gt_data, det_data = datasets.COCO(str(gt_path)), datasets.COCOResult(str(det_path))
        tide = TIDE()
        runs = {t: tide.evaluate(gt_data, det_data, pos_threshold=t, name=str(t)) for t in THRESHOLDS}
        main, special = tide.get_main_errors(), tide.get_special_errors()
    out = {}
    for label, picked in (("50", [0.5]), ("50:95", THRESHOLDS)):
        out[f"AP|{label}"] = float(np.mean([runs[t].ap for t in picked]))
        for name, ours in TIDE_NAMES.items():
            found = [(main[str(t)] if name in main[str(t)] else special[str(t)])[name] for t in picked]
            out[f"{ours}|{label}"] = float(np.mean(found))
    return out


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(tide_numbers(*tide_case()), indent=1, sort_keys=True) + "\n")

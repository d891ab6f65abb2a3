"""The tiny VOC-format set trained on for a few iterations and evaluated with VOC mAP (slow)."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_voc_set_trains_and_evaluates_with_voc_map(cli, tiny_voc, tmp_path):
    run_dir = tmp_path / "run"
    common = ["data=voc", f"data.root={tiny_voc}", "model=tiny", "model.num_classes=20", "img_size=64",
              "device=cpu", "data.workers=0", "tricks.multiscale=false", "tricks.guided_anchoring=false",
              f"run_dir={run_dir}"]
    code, _, err = cli("train", *common, "train.epochs=2", "train.batch_size=2", "train.amp=false",
                       "train.log_every=1")
    assert code == 0, err
    assert len((run_dir / "train_log.jsonl").read_text().splitlines()) >= 2
    code, out, err = cli("eval", *common, "eval.score_thresh=0.0", "--json")
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics["metric"] == "voc" and metrics["num_images"] == 2
    assert 0.0 <= metrics["mAP"] <= 1.0 and 0.0 <= metrics["mAP07"] <= 1.0
    assert metrics["AP"] is not None  # COCO AP on the same detections, beside it
    # Classes of the val split with (non-difficult) ground truth get an AP; the others None.
    defined = {name for name, ap in metrics["per_class_voc"].items() if ap["AP"] is not None}
    assert defined == {"cat", "bird"}
    assert json.loads((run_dir / "metrics.json").read_text())["conventions"]["mAP07"].startswith("VOC2007")
    # The split, read from XML, is written beside the detections so `compare` can resample it.
    assert metrics["ground_truth"] == str(run_dir / "ground_truth.json")
    code, out, err = cli("compare", str(run_dir), str(run_dir), "--json", "--bootstrap", "20")
    assert code == 0, err
    compared = json.loads(out)["metrics"]
    assert compared["mAP"]["a"] == pytest.approx(metrics["mAP"]) and compared["mAP07"]["delta"] == 0.0
    assert compared["AP"]["a"] == pytest.approx(metrics["AP"])
    code, out, _ = cli("eval", *common)
    assert code == 0 and " mAP07  " in out and "COCO metrics on the same detections" in out
    code, out, _ = cli("eval", *common, "eval.metric=coco", "--json")
    assert code == 0 and "mAP" not in json.loads(out)

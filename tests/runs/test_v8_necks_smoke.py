"""The YOLOv8 family end to end on CPU: a run trains a few iterations, is evaluated (AP) and
benchmarked (params, FLOPs, FPS), then goes through predict, viz and analyze;
`sweeps/v8_necks_smoke.yaml` runs every neck and the report takes each row, grouped under the
family."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from asffbench.record.storage import read_record
from asffbench.runs.sweep_spec import load_sweep

# Training the family needs its loss (engine/anchor_free_loss.py, another part of the same issue):
# until it is in the tree these tests skip, and they run as soon as it is.
pytest.importorskip("asffbench.engine.anchor_free_loss")

NECKS = ["pan", "none", "asff", "asff_pan", "afpn", "bifpn"]
TINY_V8 = ("model=yolov8", "model.width=0.0625", "model.num_classes=6", "tricks=none", "data=synth",
           "data.synth.images=8", "data.synth.image_size=160", "data.workers=0", "device=cpu", "img_size=64",
           "train.epochs=1", "train.batch_size=4", "train.max_iters_per_epoch=2", "train.warmup_epochs=0",
           "train.amp=false", "eval.batch_size=8", "bench.warmup=1", "bench.iters=1", "bench.repeats=1")


@pytest.mark.slow  # ~10 s of CPU: 2 iterations of a 1/16-width yolov8n at 64 px, then predict, viz, analyze
def test_a_yolov8_run_trains_evaluates_benchmarks_and_takes_predict_viz_analyze(cli, tmp_path, one_thread):
    run = tmp_path / "run"
    code, _, err = cli("run", *TINY_V8, "fusion=asff", f"run_dir={run}")
    assert code == 0, err
    record = read_record(tmp_path / "run" / "record.json").to_dict()
    assert record["status"] == "completed" and record["family"] == "yolov8"
    assert 0.0 <= record["metrics"]["AP"] <= 1.0
    assert record["bench"]["params"] > 0 and record["bench"]["gflops"] > 0 and record["bench"]["fps"] > 0
    assert record["metrics"]["fusion_weights"]  # ASFF's weights by object size, as on YOLOv3
    predict_viz_and_analyze(cli, run, tmp_path)


def predict_viz_and_analyze(cli, run, tmp_path) -> None:
    """The family's run through `predict` (a non-square image), `viz` and `analyze`."""
    image = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (72, 100, 3), dtype=np.uint8)).save(image)
    code, out, err = cli("predict", str(run), str(image), "--score-thresh", "0.001", "--json")
    assert code == 0, err
    found = json.loads(out)["images"][0]
    assert (found["width"], found["height"]) == (100, 72) and found["detections"]
    assert all(0 <= d["class"] < 6 and 0 <= d["box_xyxy"][0] <= d["box_xyxy"][2] <= 100 for d in found["detections"])
    code, out, err = cli("viz", str(run), "--out", str(tmp_path / "viz"), "--images", str(image))
    assert code == 0, err
    assert len(list((tmp_path / "viz").glob("fusion_weights_*.png"))) == 1
    code, out, err = cli("analyze", str(run), "--json")
    assert code == 0, err
    assert set(json.loads(out)["errors"]) == {"50", "50:95"}


@pytest.mark.slow  # about a minute of CPU time: 6 runs of 3 iterations at 64 px
def test_v8_necks_smoke_runs_every_neck_and_reports_it(cli, tmp_path, one_thread):
    assert load_sweep("v8_necks_smoke").axes["fusion"] == NECKS
    sweep_dir = tmp_path / "sweep"
    code, out, err = cli("sweep", "v8_necks_smoke", f"hydra.sweep.dir={sweep_dir}", "--no-live")
    assert code == 0, err
    assert "6 runs: completed 6, skipped 0, failed 0" in out
    records = {fusion: read_record(sweep_dir / f"fusion={fusion}" / "record.json").to_dict() for fusion in NECKS}
    assert all(r["status"] == "completed" and r["family"] == "yolov8" for r in records.values())
    exported = {fusion: {"edge_weights", "fusion_weights"} & set(r["metrics"]) for fusion, r in records.items()}
    assert exported == {**{f: set() for f in NECKS}, "bifpn": {"edge_weights"},
                        **{f: {"fusion_weights"} for f in ("asff", "asff_pan", "afpn")}}
    code, out, err = cli("report", str(sweep_dir), "--baseline", "fusion=pan", "--bootstrap", "20", "--no-errors")
    assert code == 0, err
    report = (sweep_dir / "report" / "report.md").read_text()
    assert "- Δ: change against the PAN" in report
    rows = [line.split("|")[1].strip() for line in report.split("## Figures")[0].splitlines()
            if line.startswith("| ") and not line.startswith("| Method")]
    assert rows == ["top-down only (no PAN)", "PAN (YOLOv8's PAFPN)", "BiFPN", "ASFF", "ASFF on PAN", "AFPN"]

"""report: a complete markdown report with figures; empty and partly failed sweeps said plainly."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from asffbench.errors import UserError
from asffbench.results.report.figures import read_loss_curve
from asffbench.results.report.report_writer import write_report
from tests.results.markdown_text import unpadded

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_real_png(path):
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    with Image.open(path) as image:
        assert image.width >= 400 and image.height >= 300, image.size
        pixels = np.asarray(image.convert("L"), dtype=np.float64)
    assert pixels.std() > 5.0, f"{path.name} looks blank"


def test_partly_failed_sweep_report(sweep_copy, tmp_path):
    sweep = sweep_copy("fusion_sweep")
    summary = write_report([sweep])
    assert summary.out_dir == sweep / "report"
    text = unpadded((sweep / "report" / "report.md").read_text(encoding="utf-8"))
    first_lines = text.splitlines()[:3]
    assert "**Partly failed sweep: 6 of 7 runs completed, 1 failed" in first_lines[2]
    for expected in (
        "### Fusion methods (Table 3 layout)",
        "| YOLOv3 baseline |",
        "NonFiniteLossError: loss became nan at epoch 3, iteration 1210 (in train)",
        "| killed | killed | run directory without a record.json",
        "| fusion=sum,seed=1 | sweep fixture | no record for this combination |",
        "broken/record.json`: not valid JSON",
        "GFLOPs = 2 x GMACs",
        "warmup=10, iters=50, repeats=3",
        "0123456789abcdef0123456789abcdef01234567",
        "4 x NVIDIA V100-SXM2-32GB",
        "score_thresh=0.001, nms_iou=0.65, max_det=100",
    ):
        assert expected in text, expected
    names = sorted(p.name for p in summary.figures)
    assert names == ["fusion_ap_by_scale.png", "fusion_ap_vs_fps.png", "fusion_ap_vs_gflops.png",
                     "training_curves.png"]
    for figure in summary.figures:
        assert f"(figures/{figure.name})" in text
        assert_real_png(figure)
    assert (sweep / "report" / "records.csv").is_file()
    assert (sweep / "report" / "tables" / "fusion.md").is_file()


def test_empty_sweep_says_so(tmp_path):
    (tmp_path / "sweep").mkdir()
    summary = write_report([tmp_path / "sweep"], tmp_path / "out")
    text = summary.report.read_text(encoding="utf-8")
    assert summary.statement.startswith("Empty sweep: no run records found under")
    assert summary.statement in text
    assert "there is nothing to tabulate" in text
    assert summary.tables == [] and summary.figures == []


def test_sweep_where_everything_failed(tmp_path, fixtures):
    sweep = tmp_path / "sweep"
    (sweep / "r0").mkdir(parents=True)
    record = json.loads((fixtures / "fusion_sweep/asff_star_s0/record.json").read_text())
    (sweep / "r0" / "record.json").write_text(json.dumps(record))
    summary = write_report([sweep], tmp_path / "out")
    assert summary.statement == "No run completed: 0 of 1 runs completed, 1 failed."
    text = summary.report.read_text(encoding="utf-8")
    assert re.search(r"\| ASFF\* +\| +0 \| +failed \|", text)
    assert "No completed run has metrics or a training log to plot." in text


def test_report_replaces_an_old_one_whole(tmp_path, fixtures):
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("from an older report")
    write_report([fixtures / "size_sweep"], out, table_format="csv")
    assert not (out / "stale.txt").exists()
    assert (out / "tables" / "img_size.csv").read_text().startswith("img_size,label,n,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temp dirs left behind


def test_bad_report_inputs_are_user_errors(tmp_path, fixtures):
    with pytest.raises(UserError, match="no such directory"):
        write_report([tmp_path / "nope"], tmp_path / "out")
    with pytest.raises(UserError, match="--format html: unknown format"):
        write_report([fixtures / "size_sweep"], tmp_path / "out", table_format="html")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="exists and is not a directory"):
        write_report([fixtures / "size_sweep"], tmp_path / "file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_loss_curve_reader_skips_events_and_torn_lines(tmp_path):
    log = tmp_path / "train_log.jsonl"
    log.write_text(
        '{"epoch": 0, "iter": 0, "loss": 9.5}\n'
        '{"epoch": 0, "event": "epoch_end"}\n'
        '{"epoch": 1, "iter": 10, "loss": NaN}\n'
        '{"epoch": 1, "iter": 20, "loss": 4.0}\n'
        '{"epoch": 1, "iter": 30, "lo'
    )
    assert read_loss_curve(log) == [(0.0, 9.5), (20.0, 4.0)]


def test_budget_sets_the_estimate_beside_the_recorded_device_hours(tmp_path, fixtures):
    import shutil

    sweep = tmp_path / "size_sweep"
    shutil.copytree(fixtures / "size_sweep", sweep)
    for name, seconds in (("s320", 7200.0), ("s416", 1800.0)):  # s608's record has none
        path = sweep / name / "record.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "device_seconds": seconds}))
    runs = [{"run": f"img_size={size}", "device_hours": hours} for size, hours in ((320, 1.0), (416, 1.0), (608, 3.0))]
    (sweep / "estimate.json").write_text(json.dumps({"runs": runs}))
    text = write_report([sweep], tmp_path / "out", bootstrap=0).report.read_text()
    budget = unpadded(text.split("## Budget")[1])
    assert "| img_size=320 | 1.00 | 2.00 | 2.00 |" in budget
    assert "| img_size=416 | 1.00 | 0.50 | 0.50 |" in budget
    assert "| img_size=608 | 3.00 | – | – |" in budget
    assert "| **total of the 2 runs with both** | 2.00 | 2.50 | 1.25 |" in budget
    (sweep / "estimate.json").unlink()
    assert "## Budget" not in write_report([sweep], tmp_path / "out", bootstrap=0).report.read_text()

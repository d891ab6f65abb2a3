"""`sweeps/necks_smoke.yaml` end to end, as CI runs it: every neck trains, is evaluated and
benchmarked, exports the fusion weights it has, and takes its row in the report."""

from __future__ import annotations

import pytest

from asffbench.record.storage import read_record
from asffbench.runs.sweep_spec import load_sweep
from tests.results.markdown_text import unpadded

LABELS = {"none": "YOLOv3 baseline", "sum": "sum", "concat": "concat", "pan": "PAN", "bifpn": "BiFPN",
          "asff": "ASFF", "asff_pan": "ASFF on PAN", "asff_star": "ASFF*"}


@pytest.mark.slow  # about 20 s of CPU time: 8 runs of 2 iterations at 64 px
def test_necks_smoke_runs_every_neck_and_reports_it(cli, tmp_path, one_thread):
    assert load_sweep("necks_smoke").axes["fusion"] == list(LABELS)
    sweep_dir = tmp_path / "sweep"
    code, out, err = cli("sweep", "necks_smoke", f"hydra.sweep.dir={sweep_dir}", "--no-live")
    assert code == 0, err
    assert "8 runs: completed 8, skipped 0, failed 0" in out
    records = {fusion: read_record(sweep_dir / f"fusion={fusion}" / "record.json").to_dict() for fusion in LABELS}
    for fusion, record in records.items():
        assert record["status"] == "completed" and record["bench"]["params"] > 0, fusion
    exported = {fusion: {"edge_weights", "fusion_weights"} & set(r["metrics"]) for fusion, r in records.items()}
    assert exported == {**{f: set() for f in LABELS}, "bifpn": {"edge_weights"},
                        **{f: {"fusion_weights"} for f in ("asff", "asff_pan", "asff_star")}}

    code, out, err = cli("report", str(sweep_dir), "--baseline", "fusion=asff", "--bootstrap", "20", "--no-errors")
    assert code == 0, err
    report = (sweep_dir / "report" / "report.md").read_text()
    table = [line.split("|")[1].strip() for line in report.split("## Figures")[0].splitlines()
             if line.startswith("| ") and not line.startswith("| Method")]
    assert table == [LABELS[f] for f in ("none", "concat", "sum", "pan", "bifpn", "asff", "asff_pan", "asff_star")]
    assert "- Δ: change against the ASFF row." in report
    assert "## BiFPN edge weights" in report and "| 1 | out16 | in16 " in unpadded(report)
    weights_section = report.split("## Fusion weights by object size")[1].split("## BiFPN")[0]
    assert "### fusion=asff_pan" in weights_section and "### fusion=pan" not in weights_section

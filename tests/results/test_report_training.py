"""The report's AP-over-training curve (train.eval_every lines) and fusion weights by size."""

from __future__ import annotations

import copy
import json

from PIL import Image
from tests.results.markdown_text import unpadded

WEIGHTS = {"sources": [32, 16, 8],
           "by_size": {"small": {"boxes": 4, "weights": {"32": [0.1, 0.2, 0.7], "16": [0.2, 0.2, 0.6], "8": [0.0, 0.1, 0.9]}},
                       "medium": {"boxes": 3, "weights": {"32": [0.3, 0.4, 0.3], "16": [0.2, 0.5, 0.3], "8": [0.1, 0.6, 0.3]}},
                       "large": {"boxes": 0, "weights": {"32": None, "16": None, "8": None}}},
           "by_owner": {"32": {"boxes": 2, "weights": {"32": [0.8, 0.1, 0.1], "16": [0.5, 0.3, 0.2], "8": [0.4, 0.3, 0.3]}},
                        "16": {"boxes": 5, "weights": {"32": [0.2, 0.6, 0.2], "16": [0.1, 0.8, 0.1], "8": [0.1, 0.5, 0.4]}},
                        "8": {"boxes": 0, "weights": {"32": None, "16": None, "8": None}}}}


def write_sweep(tmp_path, fixtures):
    template = json.loads((fixtures / "fusion_sweep" / "none_s0" / "record.json").read_text())
    sweep = tmp_path / "sweep"
    for k, fusion in enumerate(("none", "asff")):
        run = sweep / f"fusion={fusion}"
        run.mkdir(parents=True)
        record = copy.deepcopy(template)
        record.update(axes={"fusion": fusion}, experiment_hash=f"{k:016d}")
        record["config"]["fusion"]["name"] = fusion
        record["config"]["train"]["epochs"] = 6
        if fusion == "asff":
            record["metrics"]["fusion_weights"] = WEIGHTS
        (run / "record.json").write_text(json.dumps(record))
        lines = [{"epoch": e, "iter": e, "loss": 1.0 / (e + 1)} for e in range(6)]
        lines += [{"epoch": e, "event": "eval", "metrics": {"AP": 0.05 * e + 0.01 * k, "APs": 0.02 * e,
                                                             "APm": 0.04 * e, "APl": None}} for e in (1, 3)]
        (run / "train_log.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return sweep


def test_report_draws_ap_over_training_and_fusion_weights(tmp_path, fixtures):
    from asffbench.results.report.figures import eval_curve
    from asffbench.record.run_record import RunRecord
    from asffbench.results.reading.records import LoadedRecord
    from asffbench.results.report.report_writer import write_report

    sweep = write_sweep(tmp_path, fixtures)
    run = sweep / "fusion=asff"
    record = RunRecord.from_dict(json.loads((run / "record.json").read_text()))
    curve = eval_curve(LoadedRecord(run / "record.json", sweep, record))
    assert [epoch for epoch, _ in curve] == [2, 4, 6]  # eval lines after epochs 2 and 4, then the final metrics
    assert curve[-1][1]["AP"] == 0.3  # the record's own (final-weights) AP

    summary = write_report([sweep], tmp_path / "report", bootstrap=0)
    names = {p.name for p in summary.figures}
    assert {"ap_over_training.png", "fusion_weights.png"} <= names
    with Image.open(tmp_path / "report" / "figures" / "ap_over_training.png") as image:
        assert image.size[0] > 500
    text = unpadded(summary.report.read_text())
    assert "## Fusion weights by object size" in text
    assert "| small | 4 | stride 32 | 0.10 | 0.20 | 0.70 |" in text
    assert "| owned by stride 16 | 5 | stride 16 | 0.10 | 0.80 | 0.10 |" in text
    assert "![ap over training](figures/ap_over_training.png)" in text


def test_no_eval_lines_no_curve(tmp_path, fixtures):
    from asffbench.results.report.report_writer import write_report

    sweep = write_sweep(tmp_path, fixtures)
    for log in sweep.rglob("train_log.jsonl"):
        log.write_text("\n".join(l for l in log.read_text().splitlines() if '"eval"' not in l))
    summary = write_report([sweep], tmp_path / "report", bootstrap=0)
    assert "ap_over_training.png" not in {p.name for p in summary.figures}

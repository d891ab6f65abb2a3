"""The report's speed by runtime: FPS and latency / none per runtime, side by side (hand-made records)."""

from __future__ import annotations

from pathlib import Path

from asffbench.record_types import RunRecord
from asffbench.results.records import LoadedRecord
from asffbench.results.runtimes import runtime_markdown


def record(fusion: str, runtime: str, total_ms: float, status: str = "completed") -> LoadedRecord:
    data = {"status": status, "config": {"fusion": {"name": fusion}},
            "bench": {"mode": "infer", "fps": 1000.0 / total_ms, "latency_ms": {"total": {"mean": total_ms}},
                      "runtime": {"runtime": runtime}}}
    return LoadedRecord(Path(f"{fusion}-{runtime}/record.json"), Path("."), RunRecord.from_dict(data))


def test_fps_and_latency_ratio_per_runtime_side_by_side():
    records = [record("none", "torch", 10.0), record("asff", "torch", 12.0), record("asff", "torch", 14.0),
               record("none", "onnxruntime", 2.0), record("asff", "onnxruntime", 3.0),
               record("asff", "onnxruntime", 1.0, status="failed")]
    lines = runtime_markdown(records).splitlines()
    assert lines[0] == ("| Fusion | FPS (torch) | FPS (onnxruntime) | latency / none (torch) "
                        "| latency / none (onnxruntime) |")
    assert lines[2] == "| none | 100.0 | 500.0 | 1.00x | 1.00x |"
    # Replicates averaged (FPS 83.3 and 71.4); the failed run is left out; ratios within a runtime.
    assert lines[3] == "| asff | 77.4 | 333.3 | 1.30x | 1.50x |"


def test_no_table_unless_two_runtimes_ran():
    assert runtime_markdown([record("none", "torch", 10.0), record("asff", "torch", 12.0)]) is None
    old = LoadedRecord(Path("old/record.json"), Path("."), RunRecord.from_dict(
        {"status": "completed", "config": {"fusion": {"name": "asff"}}, "bench": {"fps": 50.0}}))
    assert runtime_markdown([record("none", "torch", 10.0), old]) is None  # records before bench.runtime


def test_a_missing_baseline_reads_n_a():
    lines = runtime_markdown([record("asff", "torch", 12.0), record("asff", "onnxruntime", 3.0)]).splitlines()
    assert lines[2] == "| asff | 83.3 | 333.3 | n/a | n/a |"

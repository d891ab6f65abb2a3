"""The report's speed by runtime: FPS and latency / none per runtime, side by side (hand-made records)."""

from __future__ import annotations

from pathlib import Path

from asffbench.record.run_record import RunRecord
from asffbench.results.reading.records import LoadedRecord
from asffbench.results.report.runtimes import runtime_markdown
from tests.results.markdown_text import unpadded


def record(fusion: str, runtime: str, total_ms: float, status: str = "completed") -> LoadedRecord:
    data = {"status": status, "config": {"fusion": {"name": fusion}},
            "bench": {"mode": "infer", "fps": 1000.0 / total_ms, "latency_ms": {"total": {"mean": total_ms}},
                      "runtime": {"runtime": runtime}}}
    return LoadedRecord(Path(f"{fusion}-{runtime}/record.json"), Path("."), RunRecord.from_dict(data))


def test_fps_and_latency_ratio_per_runtime_side_by_side():
    records = [record("none", "torch", 10.0), record("asff", "torch", 12.0), record("asff", "torch", 14.0),
               record("none", "onnxruntime", 2.0), record("asff", "onnxruntime", 3.0),
               record("asff", "onnxruntime", 1.0, status="failed")]
    lines = unpadded(runtime_markdown(records)).splitlines()
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
    lines = unpadded(runtime_markdown([record("asff", "torch", 12.0), record("asff", "onnxruntime", 3.0)])).splitlines()
    assert lines[2] == "| asff | 83.3 | 333.3 | n/a | n/a |"


def sized(fusion: str, runtime: str, total_ms: float, img_size: int, model: str = "tiny",
          axes: dict | None = None) -> LoadedRecord:
    loaded = record(fusion, runtime, total_ms)
    data = loaded.record.to_dict()
    data["config"]["model"] = {"name": model}
    data["bench"].update(img_size=img_size, batch_size=1, device="cpu", precision="fp32")
    data["axes"] = {"fusion": fusion, "bench.runtime": runtime, **(axes or {})}
    return LoadedRecord(Path(f"{fusion}-{runtime}-{img_size}-{model}/record.json"), Path("."), RunRecord.from_dict(data))


def test_records_that_differ_in_another_setting_are_not_merged():
    records = [sized("none", "torch", 10.0, 320), sized("asff", "torch", 12.0, 320),
               sized("none", "onnxruntime", 2.0, 320), sized("asff", "onnxruntime", 3.0, 320),
               sized("none", "torch", 40.0, 608), sized("asff", "torch", 60.0, 608),
               sized("none", "onnxruntime", 8.0, 608), sized("asff", "onnxruntime", 10.0, 608)]
    lines = unpadded(runtime_markdown(records)).splitlines()
    # img_size varies (a column, each ratio within its size); model, batch, device, precision do not.
    assert lines[0].startswith("| Fusion | img_size | FPS (torch) |")
    assert lines[2:6] == ["| none | 320 | 100.0 | 500.0 | 1.00x | 1.00x |",
                          "| asff | 320 | 83.3 | 333.3 | 1.20x | 1.50x |",
                          "| none | 608 | 25.0 | 125.0 | 1.00x | 1.00x |",
                          "| asff | 608 | 16.7 | 100.0 | 1.50x | 1.25x |"]


def test_a_swept_axis_and_a_second_model_each_get_a_column():
    records = [sized(f, r, ms, 320, model, {"bench.ort_threads": threads})
               for model, threads, scale in (("tiny", 1, 1.0), ("darknet53", 4, 5.0))
               for f, r, ms in (("none", "torch", 10.0), ("asff", "torch", 11.0),
                                ("none", "onnxruntime", 4.0), ("asff", "onnxruntime", 6.0))
               for ms in [ms * scale]]
    lines = unpadded(runtime_markdown(records)).splitlines()
    assert lines[0].startswith("| Fusion | model | bench.ort_threads | FPS (torch) |")
    assert lines[2] == "| none | darknet53 | 4 | 20.0 | 50.0 | 1.00x | 1.00x |"
    assert lines[5] == "| asff | tiny | 1 | 90.9 | 166.7 | 1.10x | 1.50x |"

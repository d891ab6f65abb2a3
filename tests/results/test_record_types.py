"""Typed records: round trip, old and odd records, the report's column table, refused versions."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest

from asffbench.config.compose import compose_config, to_plain
from asffbench.errors import UserError
from asffbench.record_types import (
    MISSING,
    InferBench,
    Metrics,
    RunRecord,
    TrainBench,
    part,
    record_from_json,
    unknown_keys,
)
from asffbench.results.collect import collect
from asffbench.results.records import COLUMNS, MISSING_TEXT, Column, LoadedRecord, flatten_record, load_record

FIXTURES = Path(__file__).parent / "fixtures"
V1 = FIXTURES / "schema_v1"  # written by `asffbench run` before records were typed (schema_version 1)


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def full_record() -> RunRecord:
    """Every field the report reads set: the v1 inference record, VOC metrics, an error, a GPU,
    the device time."""
    data = read(V1 / "infer" / "record.json")
    voc = read(V1 / "train_bench" / "record.json")["metrics"]
    data.update(config=to_plain(compose_config([])), sweep="smoke", axes={"fusion": "asff"},
                error={"type": "X", "message": "m", "where": "bench", "traceback": ""})
    data["metrics"].update(mAP=voc["mAP"], mAP07=voc["mAP07"], APl=0.5, ARl=0.5)  # no large boxes in it
    data["hardware"].update(gpu="GPU", gpu_count=1)
    data.update(devices=1, device_seconds=3600.0)  # newer than the v1 fixture
    return RunRecord.from_dict(data)


def unset(value) -> bool:
    return value is None or value == MISSING_TEXT or (isinstance(value, float) and math.isnan(value))


def json_records() -> list[Path]:
    return [p for p in sorted(FIXTURES.rglob("record.json")) if p.parent.name != "broken"]  # not JSON


@pytest.mark.parametrize("path", json_records(), ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}")
def test_every_fixture_record_round_trips_to_the_same_json(path):
    data = read(path)
    back = RunRecord.from_dict(data).to_dict()
    assert back == data and list(back) == list(data)
    assert json.dumps(back) == json.dumps(data)  # nested key order too


@pytest.mark.parametrize("run, bench_type", [("infer", InferBench), ("train_bench", TrainBench)])
def test_records_of_the_previous_version_read_with_every_key_known(run, bench_type):
    record = record_from_json(read(V1 / run / "record.json"), V1 / run / "record.json")
    assert record.schema_version == 1 and record.status == "completed"
    assert type(record.bench) is bench_type and unknown_keys(record) == []
    if bench_type is TrainBench:
        assert record.bench.step_ms.mean > 0 and set(record.bench.phases_ms) >= {"forward", "backward"}
        assert record.metrics.metric == "voc" and record.metrics.mAP > 0
    else:
        assert record.bench.latency_ms["forward"].mean > 0 and record.bench.input.kind == "val"
        assert record.train_peak_memory.device == "cpu" and record.train_seconds > 0


def test_missing_null_unknown_and_misshapen_keys():
    data = {"status": "failed", "metrics": None, "bench": [1, 2], "future": {"x": 1},
            "hardware": {"cpu": "c", "npu": "n"}}
    record = RunRecord.from_dict(data)
    assert record.metrics is None and record.experiment_hash is MISSING  # null vs absent
    assert record.bench is MISSING and record.extra == {"bench": [1, 2], "future": {"x": 1}}
    assert record.hardware.cpu == "c" and record.hardware.extra == {"npu": "n"}
    assert sorted(unknown_keys(record)) == ["bench", "future", "hardware.npu"]
    assert record.to_dict() == data  # nothing lost, nothing added
    assert part(record.metrics, Metrics).AP is MISSING  # readers chain through absent sections
    assert RunRecord.from_dict({"bench": {"mode": "train"}}).bench.__class__ is TrainBench
    assert RunRecord.from_dict({"bench": {"fps": 3.0}}).bench.__class__ is InferBench  # before bench.mode


def test_every_column_resolves_on_a_fully_populated_record():
    record = full_record()
    row = flatten_record(LoadedRecord(Path("run/record.json"), Path("."), record))
    assert [c.name for c in COLUMNS if unset(c.value(record))] == []
    assert row["mAP07"] > 0 and row["latency_nms_median_ms"] > 0 and row["error"] == "X: m (in bench)"


def test_a_renamed_field_fails_loudly_instead_of_reading_nan():
    record = full_record()
    renamed = Column("AP", lambda r: part(r.metrics, Metrics).ap)  # the field is `AP`
    with pytest.raises(AttributeError, match="'Metrics' object has no attribute 'ap'"):
        renamed.value(record)
    # A config key the schema no longer has reads as missing: the table above names none.
    assert record.config_value("fusion.no_such_key") is MISSING


def test_unknown_schema_version_is_refused_with_one_line(tmp_path):
    for version in ("2b", 0, True):
        run = tmp_path / f"v{version}"
        run.mkdir()
        (run / "record.json").write_text(json.dumps({"schema_version": version, "status": "completed"}))
        problem = load_record(run / "record.json", tmp_path)
        assert not isinstance(problem, LoadedRecord) and not problem.loaded
        assert problem.reason == (f"schema_version {json.dumps(version)} is not a record schema this "
                                  "asffbench knows (1..1)")
        with pytest.raises(UserError) as err:
            record_from_json(read(run / "record.json"), run / "record.json")
        assert str(err.value).startswith(f"{run / 'record.json'}: schema_version ") and "\n" not in str(err.value)
    collection = collect([tmp_path])
    assert len(collection.records) == 0 and len(collection.problems) == 3


def test_records_written_now_have_no_unknown_keys_and_read_back_equal(tmp_path):
    from asffbench.runs.record import new_record, write_record
    from asffbench.runs.record_io import read_run_record

    cfg = compose_config(["model=tiny", "device=cpu", f"run_dir={tmp_path}"])
    record = new_record(cfg, "0" * 16, {"seed": 0})
    write_record(tmp_path / "record.json", record)
    back = read_run_record(tmp_path / "record.json")
    assert back == record and unknown_keys(back) == []
    assert list(read(tmp_path / "record.json")) == [
        "schema_version", "status", "experiment_hash", "sweep", "axes", "family", "config", "metrics", "bench",
        "train_seconds", "train_seconds_attempt", "devices", "device_seconds", "hardware", "versions", "started",
        "finished", "error"]
    assert copy.deepcopy(back) == back

"""collect: records -> one DataFrame; old and broken records load or are listed, never crash."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from asffbench.errors import UserError
from asffbench.results.reading.collect import collect, write_frame


def test_collect_fusion_sweep_rows_columns_and_problems(fixtures):
    collection = collect([fixtures / "fusion_sweep"])
    frame = collection.frame
    assert len(frame) == 7  # the broken record is not a row
    assert sorted(frame["status"]) == ["completed"] * 6 + ["failed"]
    for column in ("axis.fusion", "axis.seed", "fusion", "compress_c", "upsample", "img_size",
                   "seed", "tricks.mixup", "AP", "APs", "params", "gmacs", "gflops", "fps",
                   "latency_forward_ms", "error", "versions.torch", "git_commit", "hardware.gpu",
                   "run_dir"):
        assert column in frame.columns, column
    none0 = frame[frame["run_dir"].str.endswith("none_s0")].iloc[0]
    assert none0["AP"] == pytest.approx(0.30)
    assert none0["gflops"] == pytest.approx(141.0)
    assert none0["axis.fusion"] == "none" and none0["axis.seed"] == 0
    failed = frame[frame["status"] == "failed"].iloc[0]
    assert math.isnan(failed["AP"])
    assert failed["error"] == ("NonFiniteLossError: loss became nan at epoch 3, iteration 1210 "
                               "(in train)")
    assert [p.path.parent.name for p in collection.problems] == ["broken"]
    assert "not valid JSON" in collection.problems[0].reason
    assert [p.name for p in collection.unrecorded_runs] == ["killed"]


def test_old_records_load_with_gaps_visible(fixtures):
    frame = collect([fixtures / "old_records"]).frame.set_index("fusion")
    assert list(frame.index) == ["none", "asff"]
    assert frame.loc["none", "upsample"] == "missing"
    assert frame.loc["none", "experiment_hash"] == "missing"
    assert frame.loc["none", "tricks_enabled"] == "missing"
    assert math.isnan(frame.loc["none", "schema_version"])
    assert math.isnan(frame.loc["none", "params"]) and math.isnan(frame.loc["none", "fps"])
    assert frame.loc["none", "AP50"] == pytest.approx(0.45)
    # GMACs alone: GFLOPs = 2 x GMACs.
    assert frame.loc["asff", "gflops"] == pytest.approx(80.0)


def test_unreadable_and_newer_records_are_problems_not_crashes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "record.json").write_text("[1, 2]")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "record.json").write_text(json.dumps(
        {"schema_version": 9, "status": "completed", "metrics": {"AP": 0.5}}))
    collection = collect([tmp_path])
    assert len(collection.records) == 1 and collection.frame["AP"].iloc[0] == 0.5
    reasons = {p.path.parent.name: p for p in collection.problems}
    assert "not a JSON object" in reasons["a"].reason and not reasons["a"].loaded
    assert "newer" in reasons["b"].reason and reasons["b"].loaded


def test_missing_path_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no-such-dir: no such directory"):
        collect([tmp_path / "no-such-dir"])


def test_same_record_through_two_paths_is_one_row(fixtures):
    collection = collect([fixtures / "old_records", fixtures / "old_records" / "run_a"])
    assert len(collection.frame) == 2


def test_write_frame_csv_and_parquet_round_trip(fixtures, tmp_path):
    frame = collect([fixtures / "fusion_sweep"]).frame
    written = write_frame(frame, tmp_path / "out" / "records.csv")
    assert [p.name for p in written] == ["records.csv", "records.parquet"]
    back = pd.read_csv(written[0])
    assert len(back) == 7 and back["AP"].sum() == pytest.approx(frame["AP"].sum())
    parquet = pd.read_parquet(written[1])
    assert list(parquet.columns) == list(frame.columns)
    assert sorted(parquet["fusion"]) == sorted(frame["fusion"])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["records.csv", "records.parquet"]

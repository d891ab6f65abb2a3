"""Experiment hash and record writing."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from pathlib import Path

import pytest

from asffbench.config.compose import compose_config, to_plain
from asffbench.record.storage import read_record
from asffbench.runs.experiment import experiment_hash, write_record_on_rank0
from asffbench.runs.sweep_spec import iter_run_overrides, load_sweep, shipped_sweeps


def test_hash_ignores_output_paths_launch_and_sweep_settings(tmp_path):
    base = compose_config(["fusion=asff", "model=tiny"])
    moved = compose_config([
        "fusion=asff", "model=tiny", f"run_dir={tmp_path / 'elsewhere'}", "sweep.name=smoke",
        "sweep.axes=[fusion]", "sweep.force=true", "data.workers=7", f"data.cache_dir={tmp_path}",
        "train.resume=true", "train.log_every=3",
    ])
    assert experiment_hash(base) == experiment_hash(moved)
    assert len(experiment_hash(base)) == 16 and int(experiment_hash(base), 16) >= 0


def test_hash_is_the_same_in_another_process():
    cfg = compose_config(["fusion=sum", "img_size=416", "seed=3"])
    code = (
        "from asffbench.config.compose import compose_config;"
        "from asffbench.runs.experiment import experiment_hash;"
        "print(experiment_hash(compose_config(['fusion=sum', 'img_size=416', 'seed=3'])))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == experiment_hash(cfg)


@pytest.mark.parametrize("name", shipped_sweeps())
def test_every_swept_axis_changes_the_hash(name):
    # The runs one axis step away from the sweep's first run: every value of every axis (seeds
    # included) must move the hash. Composing the whole product (180 configs for `speed`) took
    # minutes and adds no key the one-step runs do not hash.
    spec = load_sweep(name).with_seeds(2)
    first = spec.combinations()[0]
    hashes = {}
    for combo, overrides in iter_run_overrides(spec, []):
        if sum(combo[axis] != first[axis] for axis in combo) <= 1:
            hashes[tuple(sorted(combo.items()))] = experiment_hash(compose_config(overrides))
    assert len(hashes) == 1 + sum(len(values) - 1 for values in spec.axes.values())
    assert len(set(hashes.values())) == len(hashes)


def test_device_is_hashed_as_its_resolved_kind():
    cpu = compose_config(["device=cpu"])
    cuda = compose_config(["device=cuda"])
    assert experiment_hash(cpu) != experiment_hash(cuda)
    auto = compose_config(["device=auto"])
    import torch

    expected = experiment_hash(cuda if torch.cuda.is_available() else cpu)
    assert experiment_hash(auto) == expected


def test_record_is_written_atomically_by_rank_zero_only(tmp_path, monkeypatch):
    path = tmp_path / "run" / "record.json"
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert write_record_on_rank0(path, {"status": "running"}) is False
    assert not path.exists()
    monkeypatch.setenv("RANK", "0")
    assert write_record_on_rank0(path, {"status": "completed"}) is True
    assert read_record(path).to_dict() == {"status": "completed"}
    assert [p.name for p in path.parent.iterdir()] == ["record.json"]  # no temp file left


def hammer(sweep_dir: str, index: int, rounds: int) -> None:
    """One writer: its own record many times, and the shared one (last writer wins, whole)."""
    own = Path(sweep_dir) / f"run{index}" / "record.json"
    for step in range(rounds):
        payload = {"run": index, "step": step, "status": "running", "pad": "x" * 20000}
        write_record_on_rank0(own, payload)
        write_record_on_rank0(Path(sweep_dir) / "shared" / "record.json", payload)
    write_record_on_rank0(own, {"run": index, "step": rounds, "status": "completed"})


def test_eight_concurrent_writers_leave_eight_intact_records(tmp_path):
    ctx = multiprocessing.get_context("fork")
    writers = [ctx.Process(target=hammer, args=(str(tmp_path), i, 40)) for i in range(8)]
    for proc in writers:
        proc.start()
    torn = 0
    while any(p.is_alive() for p in writers):  # read while they write: never a torn file
        for path in tmp_path.glob("*/record.json"):
            text = path.read_text()
            try:
                json.loads(text)
            except ValueError:
                torn += 1
    for proc in writers:
        proc.join(60)
        assert proc.exitcode == 0
    assert torn == 0
    records = {p.parent.name: read_record(p).to_dict() for p in tmp_path.glob("run*/record.json")}
    assert sorted(records) == [f"run{i}" for i in range(8)]
    assert all(r == {"run": int(n[3:]), "step": 40, "status": "completed"} for n, r in records.items())
    shared = read_record(tmp_path / "shared" / "record.json").to_dict()
    assert shared is not None and shared["status"] == "running" and len(shared["pad"]) == 20000
    assert not list(tmp_path.rglob("*.tmp"))


def test_keys_a_run_does_not_use_leave_its_hash_alone():
    def same(*overrides_pairs):
        return len({experiment_hash(compose_config(list(o))) for o in overrides_pairs}) == 1

    # The baseline has no resize stage; sum and concat have no weight branch.
    assert same(["fusion=none"], ["fusion=none", "fusion.upsample=bilinear"])
    assert same(["fusion=sum"], ["fusion=sum", "fusion.compress_c=4"])
    assert same(["fusion=asff"], ["fusion=asff", "fusion.dropblock_keep_prob=0.5"])
    assert same(["tricks.multiscale=false"], ["tricks.multiscale=false", "train.multiscale_max=416"])
    # ... and a run that uses them is another experiment for each value.
    assert not same(["fusion=asff"], ["fusion=asff", "fusion.upsample=bilinear"])
    assert not same(["fusion=sum"], ["fusion=sum", "fusion.upsample=bilinear"])
    assert not same(["fusion=asff"], ["fusion=asff", "fusion.compress_c=4"])
    assert not same(["fusion=asff_star"], ["fusion=asff_star", "fusion.dropblock_keep_prob=0.5"])
    assert not same([], ["train.multiscale_max=416"])
    # model.scale: the YOLOv8 family's alone (a YOLOv3 run keeps the hash it had before the key).
    assert same(["model=tiny"], ["model=tiny", "model.scale=s"])
    assert not same(["model=yolov8"], ["model=yolov8", "model.scale=s"])


def test_neck_keys_change_the_hash_only_of_the_necks_that_use_them():
    def same(*overrides_pairs):
        return len({experiment_hash(compose_config(list(o))) for o in overrides_pairs}) == 1

    assert same(["fusion=asff"], ["fusion=asff", "fusion.pan_merge=sum", "fusion.bifpn_layers=3"])
    assert same(["fusion=pan"], ["fusion=pan", "fusion.bifpn_weighting=softmax", "fusion.compress_c=4"])
    assert same(["fusion=bifpn"], ["fusion=bifpn", "fusion.pan_merge=sum"])
    assert not same(["fusion=pan"], ["fusion=pan", "fusion.pan_merge=sum"])
    assert not same(["fusion=asff_pan"], ["fusion=asff_pan", "fusion.pan_merge=sum"])
    for key in ("bifpn_layers=2", "bifpn_weighting=softmax", "bifpn_channels=64", "upsample=bilinear"):
        assert not same(["fusion=bifpn"], ["fusion=bifpn", f"fusion.{key}"]), key


def test_onnx_runtime_session_keys_matter_only_where_onnx_runtime_runs():
    def same(*overrides_pairs):
        return len({experiment_hash(compose_config(list(o))) for o in overrides_pairs}) == 1

    assert same([], ["bench.ort_threads=4", "bench.ort_optimization=basic"])
    assert same(["bench.ort_threads=4"], ["bench.ort_threads=2"])  # eager runs: one experiment
    assert not same(["bench.runtime=onnxruntime"], ["bench.runtime=onnxruntime", "bench.ort_threads=4"])
    assert not same(["eval.runtime=onnxruntime"], ["eval.runtime=onnxruntime", "bench.ort_optimization=basic"])
    assert not same([], ["bench.runtime=onnxruntime"])


@pytest.mark.parametrize("overrides", [
    ["fusion=asff"], ["fusion=asff_star"], ["fusion=asff", "model=tiny", "tricks=none"], ["fusion=none"],
])
def test_runs_with_unused_keys_at_their_defaults_keep_their_old_hash_and_still_skip(overrides, monkeypatch, tmp_path):
    import asffbench.runs.experiment as record
    from asffbench.runs.resume import SKIP, plan_run

    cfg = compose_config(overrides)
    new = experiment_hash(cfg)
    # The hash before keys were conditional, of the config before the neck zoo added its keys.
    before = to_plain(cfg)
    for dotted in record.ADDED_CONDITIONAL_KEYS:
        section, _, key = dotted.partition(".")
        del before[section][key]
    monkeypatch.setattr(record, "CONDITIONAL_KEYS", {})
    old = experiment_hash(before)
    assert old == new
    monkeypatch.undo()
    write_record_on_rank0(tmp_path / "run" / "record.json", {"status": "completed", "experiment_hash": old})
    assert plan_run(new, tmp_path / "run", tmp_path, force=False).action == SKIP



def test_a_corruption_changes_the_hash_and_the_robust_stage_does_not():
    def same(*overrides_pairs):
        return len({experiment_hash(compose_config(list(o))) for o in overrides_pairs}) == 1

    assert same([], ["eval.severity=5"], ["robust.enabled=true", "robust.corruptions=[fog]"])
    assert not same([], ["eval.corruption=fog"])
    assert not same(["eval.corruption=fog"], ["eval.corruption=fog", "eval.severity=5"])

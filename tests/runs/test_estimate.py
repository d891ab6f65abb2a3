"""`sweep NAME --estimate`: the device-hours arithmetic, the SLURM request, and that nothing runs."""

from __future__ import annotations

import json

import pytest

from asffbench.runs.estimate import RunWork, Throughput, estimate_run, slurm_request

FUSIONS = ("none", "sum", "concat", "asff", "asff_star")


def test_device_hours_are_train_plus_eval_plus_bench():
    work = RunWork(run="r", train_images=118_287, epochs=300, val_images=5_000, evaluations=2, bench_images=1_000)
    speed = Throughput(train_images_per_s=100.0, forward_s_per_image=0.01, source="given")
    estimate = estimate_run(work, speed)
    assert estimate.train_hours == pytest.approx(118_287 * 300 / 100.0 / 3600)  # 98.57 h
    assert estimate.eval_hours == pytest.approx(2 * 5_000 * 0.01 / 3600)
    assert estimate.bench_hours == pytest.approx(1_000 * 0.01 / 3600)
    assert estimate.device_hours == pytest.approx(98.5725 + 100 / 3600 + 10 / 3600)


def test_slurm_request_fits_the_longest_run_on_its_devices():
    speed = Throughput(train_images_per_s=10.0, forward_s_per_image=0.0, source="given")
    short = estimate_run(RunWork("a", 36_000, 1, 0, 0, 0), speed)  # 1 device-hour
    long = estimate_run(RunWork("b", 36_000, 4, 0, 0, 0), speed)  # 4 device-hours
    request = slurm_request([short, long], devices_per_job=4)
    assert request.array_size == 2 and request.array_parallelism == 2
    assert request.timeout_min == 75  # 4 device-hours on 4 devices: 60 min, x 1.25
    assert "hydra.launcher.timeout_min=75" in request.overrides()
    assert "hydra.launcher.tasks_per_node=4" in request.overrides()
    assert slurm_request([short], devices_per_job=1).timeout_min == 75
    assert slurm_request([], devices_per_job=1).timeout_min == 10  # never below the floor


def train_result(fusion: str, images_per_s: float, forward_ms: float = 80.0) -> dict:
    """What `bench --mode train --json` prints, reduced to what the estimate reads."""
    return {"mode": "train", "fusion": fusion, "model": "tiny", "img_size": 128, "batch_size": 8,
            "precision": "fp32", "images_per_s": images_per_s, "phases_ms": {"forward": {"mean": forward_ms}}}


@pytest.fixture
def nothing_runs(monkeypatch):
    """Training, evaluation, launching and benchmarking all fail the test if called."""
    def refuse(*_args, **_kwargs):
        raise AssertionError("--estimate ran something")

    import asffbench.runs.estimate_inputs as inputs
    import asffbench.runs.sweep as sweep

    monkeypatch.setattr(sweep, "run_multirun", refuse)
    monkeypatch.setattr(inputs, "benchmark", refuse)


def test_estimate_from_a_throughput_file_runs_nothing(cli, tmp_path, nothing_runs):
    speeds = tmp_path / "train.jsonl"
    speeds.write_text("\n".join(json.dumps(train_result(f, 40.0 if f == "none" else 32.0)) for f in FUSIONS))
    sweep_dir = tmp_path / "sweep"
    code, out, err = cli("sweep", "smoke", "--estimate", "--throughput", str(speeds), "--train-images", "120",
                         "--val-images", "40", f"hydra.sweep.dir={sweep_dir}")
    assert code == 0, err
    written = json.loads((sweep_dir / "estimate.json").read_text())
    assert [p.name for p in sweep_dir.iterdir()] == ["estimate.json"]  # no run directory, no record
    runs = {run["run"]: run for run in written["runs"]}
    none = runs["fusion=none"]
    # smoke: 7 epochs, evaluations at epochs 2, 4, 6 and the final one; bench 5 + 20 x 3 batches of 1.
    assert none["train_images"] == 120 and none["epochs"] == 7 and none["evaluations"] == 4
    assert none["train_hours"] == pytest.approx(120 * 7 / 40.0 / 3600)
    assert none["eval_hours"] == pytest.approx(4 * 40 * 0.010 / 3600)  # 80 ms forward / 8 images
    assert none["bench_hours"] == pytest.approx(65 * 0.010 / 3600)
    assert runs["fusion=asff"]["train_hours"] == pytest.approx(120 * 7 / 32.0 / 3600)
    assert written["device_hours"] == pytest.approx(sum(run["device_hours"] for run in written["runs"]))
    assert written["slurm"]["array_size"] == 5 and written["slurm"]["timeout_min"] == 10
    assert "fusion=asff_star" in out and "timeout_min=10" in out and "device-hours" in out


def test_a_run_without_a_fitting_throughput_is_named(cli, tmp_path, nothing_runs, one_line_error):
    speeds = tmp_path / "train.json"
    speeds.write_text(json.dumps(train_result("asff", 30.0)))
    code, _out, err = cli("sweep", "smoke", "--estimate", "--throughput", str(speeds), "--train-images", "1",
                          "--val-images", "1", f"hydra.sweep.dir={tmp_path / 's'}")
    one_line_error(code, err, "run fusion=none", "no --throughput result", "fusion=asff model=tiny")
    speeds.write_text(json.dumps({"mode": "infer", "fps": 3}))
    code, _out, err = cli("sweep", "smoke", "--estimate", "--throughput", str(speeds), f"hydra.sweep.dir={tmp_path / 's'}")
    one_line_error(code, err, str(speeds), "bench --mode train --json")


def test_each_setting_is_measured_once_at_the_runs_batch(cli, tmp_path, monkeypatch):
    import asffbench.runs.estimate_inputs as inputs

    calls = []

    def fake_bench(cfg):
        calls.append((cfg.fusion.name, cfg.bench.mode, cfg.bench.batch_size, cfg.bench.precision, cfg.seed))
        return {**train_result(cfg.fusion.name, 20.0), "device": "cpu"}

    monkeypatch.setattr(inputs, "benchmark", fake_bench)
    code, out, err = cli("sweep", "smoke", "--estimate", "--seeds", "2", "--train-images", "100", "--val-images", "10",
                         f"hydra.sweep.dir={tmp_path / 's'}")
    assert code == 0, err
    assert sorted(c[0] for c in calls) == sorted(FUSIONS)  # 10 runs, 5 settings: seeds share one
    assert {c[1:4] for c in calls} == {("train", 8, "fp32")}
    assert out.count("seed=") == 10 and "measured on cpu" in out


def test_actual_device_seconds_count_every_attempts_training_and_this_attempts_rest():
    from asffbench.record_types import RunRecord
    from asffbench.runs.record import device_seconds

    # Resumed: 100 s of training over all attempts, 30 s of them in this attempt, which ran 50 s.
    resumed = RunRecord(train_seconds=100.0, train_seconds_attempt=30.0, devices=4)
    assert device_seconds(resumed, 50.0) == 4 * (100.0 + 20.0)
    assert device_seconds(RunRecord(train_seconds=None, devices=1), 7.0) == 7.0  # nothing trained


def a_plan(images_by_seeds: dict[int, int | None], pilot_images: int = 500) -> dict:
    """What `plan --json` prints, reduced to what `--estimate --plan` reads."""
    return {"metric": "AP", "delta": 0.5, "pilot": {"images": pilot_images},
            "designs": [{"seeds": k, "images": n} for k, n in images_by_seeds.items()]}


@pytest.mark.slow
def test_estimate_prices_the_seeds_a_plan_recommends(cli, tmp_path, nothing_runs, one_line_error):
    speeds = tmp_path / "train.jsonl"
    speeds.write_text("\n".join(json.dumps(train_result(f, 40.0)) for f in FUSIONS))
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(a_plan({1: None, 2: 900, 3: 600, 4: 450})))
    sweep_dir = tmp_path / "sweep"
    code, out, err = cli("sweep", "smoke", "--estimate", "--plan", str(plan), "--throughput", str(speeds),
                         "--train-images", "120", "--val-images", "700", f"hydra.sweep.dir={sweep_dir}")
    assert code == 0, err
    assert "3 seed(s) per run detect its delta on 700 val images" in out
    runs = json.loads((sweep_dir / "estimate.json").read_text())["runs"]
    assert len(runs) == 3 * len(FUSIONS)  # every run repeated over the three seeds it needs
    code, _out, err = cli("sweep", "smoke", "--estimate", "--plan", str(plan), "--throughput", str(speeds),
                          "--train-images", "120", "--val-images", "300", f"hydra.sweep.dir={sweep_dir}")
    one_line_error(code, err, str(plan), "no design of the plan detects ΔAP = 0.5 on 300 val images")
    one_line_error(*cli("sweep", "smoke", "--plan", str(plan))[::2], "--plan: goes with --estimate")

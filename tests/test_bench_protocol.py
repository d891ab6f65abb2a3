"""Speed protocol v2: distributions, inputs, peak memory, the train-step benchmark, variants, rows."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from asffbench.bench.rows import append_row, check_row_file, columns
from asffbench.bench.speed import SpeedProtocol, SpeedResult, measure_speed
from asffbench.bench.timing_stats import interquartile_range, outlier_share, percentile, summarize
from asffbench.build import build_model
from asffbench.config.compose import compose_config
from asffbench.errors import UserError
from asffbench.record.run_record import bench_from_dict
from asffbench.record.sections import unknown_keys
from asffbench.runs.benchmark import benchmark

TINY = ["model=tiny", "model.num_classes=6", "img_size=64", "device=cpu", "data.workers=0"]
QUICK = ["bench.warmup=1", "bench.iters=2", "bench.repeats=1"]


# --- statistics of a fixed list ------------------------------------------------------------
def test_percentiles_of_a_fixed_list():
    values = [float(v) for v in range(1, 11)]  # 1..10; linear interpolation at q/100 * (n - 1)
    assert percentile(values, 50) == pytest.approx(5.5)
    assert percentile(values, 90) == pytest.approx(9.1)
    assert percentile(values, 99) == pytest.approx(9.91)
    assert interquartile_range(values) == pytest.approx(7.75 - 3.25)
    summary = summarize(values)
    assert summary["min"] == 1.0 and summary["mean"] == pytest.approx(5.5)
    assert summary["std"] == pytest.approx(3.0276503540974917)
    assert summary["outlier_share"] == 0.0


def test_iqr_outlier_share():
    # Sorted: 10 10 11 11 12 12 13 100: q1 10.75, median 11.5, q3 12.25, IQR 1.5, limit 16.
    values = [12.0, 10.0, 100.0, 11.0, 13.0, 10.0, 12.0, 11.0]
    assert outlier_share(values) == pytest.approx(1 / 8)
    assert outlier_share([*values[:-1], 16.0]) == pytest.approx(1 / 8)  # 100 still out, 16 not
    assert outlier_share([5.0] * 4) == 0.0


def test_fps_and_fps_median_from_iterations():
    result = SpeedResult(forward_ms=[10.0, 10.0, 40.0], nms_ms=[2.0, 2.0, 2.0], batch_size=2)
    assert result.total_ms == [12.0, 12.0, 42.0]
    assert result.fps() == pytest.approx(2 / (22.0 / 1e3))
    assert result.fps_median() == pytest.approx(2 / (12.0 / 1e3))
    assert result.latency_ms()["total"]["median"] == pytest.approx(12.0)


# --- timed inputs --------------------------------------------------------------------------
def test_random_fallback_for_a_fresh_model_says_so():
    result = benchmark(compose_config([*TINY, *QUICK]))
    assert result["input"]["kind"] == "random" and result["input"]["model_has_weights"] is False
    assert "random" in result["protocol"]["input"]
    assert result["input"]["nms_candidates_per_image"] >= 0
    assert len(result["latency_ms"]) == 3 and result["protocol"]["timed_iterations"] == 2


def test_val_images_when_weights_are_given(tmp_path):
    cfg = compose_config([*TINY, *QUICK])
    torch.manual_seed(0)
    checkpoint = tmp_path / "weights.pt"
    torch.save({"model": build_model(cfg).state_dict()}, checkpoint)
    result = benchmark(compose_config([*TINY, *QUICK, f"eval.checkpoint={checkpoint}"]))
    assert result["input"]["kind"] == "val" and result["input"]["model_has_weights"] is True
    assert "val images" in result["input"]["description"]
    assert result["protocol"]["input"] == result["input"]["description"]
    # bench.input=random overrides the choice, and says so.
    forced = benchmark(compose_config([*TINY, *QUICK, f"eval.checkpoint={checkpoint}", "bench.input=random"]))
    assert forced["input"]["kind"] == "random"


def test_val_batches_cycle_a_small_split():
    from asffbench.bench.inputs import TimingImages

    pool = TimingImages("val", "3 images", torch.arange(3.0).reshape(3, 1, 1, 1))
    batches = pool.batches(2)
    assert [b.flatten().tolist() for b in batches] == [[0.0, 1.0], [2.0, 0.0]]
    assert [b.flatten().tolist() for b in pool.batches(5)] == [[0.0, 1.0, 2.0, 0.0, 1.0]]


# --- memory ----------------------------------------------------------------------------------
def test_cpu_peak_memory_grows_with_the_batch():
    torch.manual_seed(0)
    model = build_model(compose_config(TINY)).eval()

    def growth(batch_size: int) -> float:
        protocol = SpeedProtocol(warmup=0, iters=1, repeats=1, batch_size=batch_size, precision="fp32",
                                 fused=False, img_size=128, device="cpu")
        memory = measure_speed(model, protocol, None, torch.device("cpu")).memory
        assert memory["device"] == "cpu" and "method" in memory
        return memory["rss_growth_mib"]

    small, large = growth(1), growth(16)
    assert large > small and large > 5  # 16 images of 128 px need tens of MiB of activations


# --- train step ------------------------------------------------------------------------------
@pytest.mark.slow
def test_train_mode_phases_add_up_to_the_step(cli):
    code, out, err = cli("bench", "--mode", "train", *TINY, "bench.warmup=1", "bench.iters=2",
                         "bench.repeats=1", "bench.batch_size=2", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["mode"] == "train" and result["batch_size"] == 2
    assert result["protocol"]["batch_size_from"] == "bench.batch_size"
    phases = result["phases_ms"]
    assert set(phases) == {"forward", "loss", "backward", "optimizer"}
    assert all(p["mean"] > 0 for p in phases.values())
    assert sum(p["mean"] for p in phases.values()) == pytest.approx(result["step_ms"]["mean"])
    assert result["images_per_s"] == pytest.approx(2 / (result["step_ms"]["mean"] / 1e3))
    assert result["loader"]["images_per_s"] > 0
    assert "rss_growth_mib" in result["memory"]
    # Every key of the train-mode result has its field in asffbench.record.run_record.
    assert unknown_keys(bench_from_dict(result)) == []


def test_batch_size_max_needs_cuda(cli, one_line_error):
    code, _, err = cli("bench", *TINY, *QUICK, "bench.batch_size=max")
    one_line_error(code, err, "bench.batch_size=max", "cuda")


@pytest.mark.parametrize("args,needles", [
    (["bench.compile=fast"], ["bench.compile=fast", "reduce-overhead"]),
    (["bench.batch_size=two"], ["bench.batch_size=two"]),
    (["bench.mode=eval"], ["bench.mode"]),
])
def test_variant_errors_are_one_line(cli, one_line_error, args, needles):
    code, _, err = cli("bench", *TINY, *QUICK, *args)
    one_line_error(code, err, *needles)


# --- variants --------------------------------------------------------------------------------
def test_variants_are_stated_and_hashed():
    from asffbench.runs.experiment import experiment_hash

    plain = compose_config(TINY)
    for override in ("bench.channels_last=true", "bench.compile=default", "bench.cudnn_benchmark=true",
                     "bench.mode=train", "bench.input=val"):
        assert experiment_hash(compose_config([*TINY, override])) != experiment_hash(plain), override
    # Spelling out a default is the same experiment.
    assert experiment_hash(compose_config([*TINY, "bench.compile=false"])) == experiment_hash(plain)


def test_channels_last_runs_and_is_recorded():
    result = benchmark(compose_config([*TINY, *QUICK, "bench.channels_last=true"]))
    assert result["channels_last"] is True and result["protocol"]["channels_last"] is True


def test_the_result_names_the_deformable_conv_it_timed():
    from asffbench.bench.rows import flat_row

    guided = [*TINY, *QUICK, "tricks.guided_anchoring=true"]
    chosen = benchmark(compose_config([*guided, "model.deform_conv=torchvision"]))
    assert chosen["deform_conv"] == "torchvision" and flat_row(chosen)["deform_conv"] == "torchvision"
    assert benchmark(compose_config(guided))["deform_conv"] == "sampled"  # auto on CPU
    assert benchmark(compose_config([*TINY, *QUICK, "tricks.guided_anchoring=false"]))["deform_conv"] is None


@pytest.mark.slow
def test_compile_default_runs_or_stops_with_one_line(cli, one_line_error):
    # The plainest tiny model (no ASFF, no guided anchoring): inductor's compile time grows with
    # the graph's operators (about 50 s here against 2-3 minutes for the default tiny model).
    code, out, err = cli("bench", *TINY, *QUICK, "fusion=none", "tricks=none", "bench.compile=default", "--json")
    if code == 0:
        result = json.loads(out)
        assert result["compile"] == "default" and result["compile_seconds"] > 0
    else:
        one_line_error(code, err, "bench.compile=default", "torch.compile failed")


@pytest.mark.parametrize("mode", [[], ["bench.mode=train", "bench.batch_size=2"]], ids=["infer", "train"])
def test_compile_failure_names_the_operator(monkeypatch, mode):
    from asffbench.bench import runner

    def broken_compile(model, mode):
        def call(*args, **kwargs):
            raise RuntimeError("Unsupported: torchvision::deform_conv2d has no meta kernel\nmore text")
        return call

    monkeypatch.setattr(runner.torch, "compile", broken_compile)
    with pytest.raises(UserError, match=r"^bench.compile=default: torch.compile failed: RuntimeError: "
                                        r"Unsupported: torchvision::deform_conv2d has no meta kernel$"):
        benchmark(compose_config([*TINY, *QUICK, "bench.compile=default", *mode]))


# --- rows --------------------------------------------------------------------------------------
def fake_result(mode: str = "infer") -> dict:
    summary = {"mean": 2.0, "std": 0.1, "median": 2.0, "p90": 2.5, "p99": 3.0, "min": 1.0, "iqr": 0.2,
               "outlier_share": 0.0}
    result = {key: 1 for key in (*columns("infer"), *columns("train"))}
    result.update(mode=mode, memory={"device": "cpu", "rss_growth_mib": 12.0}, torch="2")
    result.update(step_ms=summary, phases_ms={p: summary for p in ("forward", "loss", "backward", "optimizer")},
                  loader={"images_per_s": 3.0}, latency_ms={"forward": summary, "nms": summary},
                  input={"kind": "val", "nms_candidates_per_image": 40.0})
    return result


def test_csv_rows_keep_one_header(tmp_path):
    rows = tmp_path / "rows.csv"
    append_row(rows, fake_result())
    append_row(rows, fake_result())
    with open(rows, newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == list(columns("infer")) and len(table) == 3
    assert table[1][table[0].index("peak_memory_mib")] == "12.0"
    with pytest.raises(UserError, match="rows.csv: its header has other columns than a bench.mode=train row"):
        check_row_file(rows, "train")
    with pytest.raises(UserError, match="header"):
        append_row(rows, fake_result("train"))
    assert len(rows.read_text().splitlines()) == 3  # nothing written by the refused row


def test_bench_out_refuses_a_foreign_csv_before_measuring(cli, one_line_error, tmp_path):
    rows = tmp_path / "old.csv"
    rows.write_text("fusion,model,fps\nasff,tiny,3.0\n")
    code, _, err = cli("bench", *TINY, *QUICK, "--out", str(rows))
    one_line_error(code, err, "old.csv", "header")
    assert rows.read_text() == "fusion,model,fps\nasff,tiny,3.0\n"


# --- sweeps ------------------------------------------------------------------------------------
def report_process(cfg, axes, attempt):
    import os

    return {"pid": os.getpid(), "axes": axes, "attempt": attempt, "seed": cfg.seed}


@pytest.mark.slow
def test_isolated_run_happens_in_another_process():
    import os

    from asffbench.runs.isolation import run_in_fresh_process

    got = run_in_fresh_process(report_process, compose_config(TINY), {"fusion": "asff"}, {"id": "x"})
    assert got["pid"] != os.getpid()
    assert got["axes"] == {"fusion": "asff"} and got["attempt"] == {"id": "x"} and got["seed"] == 0


def test_speed_sweep_is_timing_only_and_isolated():
    from asffbench.runs.sweep_spec import load_sweep

    spec = load_sweep("speed")
    assert spec.isolate is True
    assert spec.overrides["train.epochs"] == 0 and spec.overrides["eval.enabled"] is False
    assert spec.axes["bench.batch_size"] == [1, 8, 32]
    assert spec.axes["bench.precision"] == ["fp32", "fp16", "bf16"]
    assert len(spec) == 5 * 3 * 3 * 2


# --- runs --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_runs_time_given_weights_on_val_images_and_fresh_models_on_random(tmp_path):
    from asffbench.runs.run import run_experiment

    cfg = compose_config([*TINY, *QUICK, "train.epochs=0", "eval.enabled=false", f"run_dir={tmp_path / 'fresh'}"])
    fresh = run_experiment(cfg)
    assert fresh.status == "completed", fresh.error
    assert fresh.metrics is None and fresh.bench.input.kind == "random"
    assert unknown_keys(fresh) == []  # every key the run wrote has its field in record.run_record
    checkpoint = tmp_path / "weights.pt"
    torch.manual_seed(0)
    torch.save({"model": build_model(cfg).state_dict()}, checkpoint)
    given = run_experiment(compose_config([*TINY, *QUICK, "train.epochs=0", "eval.enabled=false",
                                           f"train.checkpoint={checkpoint}", f"run_dir={tmp_path / 'given'}"]))
    assert given.status == "completed", given.error
    assert given.bench.input.kind == "val"


@pytest.mark.slow
def test_training_logs_peak_memory_per_epoch_and_the_record_keeps_the_peak(tmp_path):
    from asffbench.runs.run import run_experiment

    record = run_experiment(compose_config([*TINY, *QUICK, "train.epochs=2", "train.max_iters_per_epoch=1",
                                            "train.batch_size=2", "tricks.multiscale=false",
                                            f"run_dir={tmp_path}"]))
    assert record.status == "completed", record.error
    epochs = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    peaks = [line["peak_memory"] for line in epochs if line.get("event") == "epoch_end"]
    assert len(peaks) == 2 and all(p["device"] == "cpu" and p["rss_growth_mib"] >= 0 for p in peaks)
    assert record.train_peak_memory.rss_growth_mib == max(p["rss_growth_mib"] for p in peaks)
    assert record.bench.input.kind == "val"  # the trained model, on val images
    assert unknown_keys(record) == []  # metrics, bench, peak memory: every key has its field
    assert record.devices == 1 and record.device_seconds >= record.train_seconds > 0  # + eval, bench

"""`asffbench bench`: params by part, fvcore FLOPs with units, the speed protocol, errors."""

from __future__ import annotations

import json

import pytest
import torch

from asffbench.bench.flops import count_flops
from asffbench.bench.fuse import fuse_conv_bn
from asffbench.bench.params import params_by_part
from asffbench.bench.speed import SpeedProtocol, SpeedResult, measure_speed
from asffbench.build import build_model
from asffbench.config.compose import compose_config
from asffbench.models.outputs import DetectorOutput

TINY = ["model=tiny", "img_size=64", "device=cpu"]
QUICK = ["bench.warmup=1", "bench.iters=2", "bench.repeats=2"]


def tiny_model(*overrides: str):
    torch.manual_seed(0)
    return build_model(compose_config([*TINY, *overrides])).eval()


def test_params_by_part_add_up():
    model = tiny_model("fusion=asff")
    parts = params_by_part(model)
    assert set(parts) == {"backbone", "neck", "fusion", "head"}
    assert sum(parts.values()) == sum(p.numel() for p in model.parameters())
    assert all(n > 0 for n in parts.values())


# Pinned fvcore count of one tiny config (model=tiny, fusion=asff, guided anchoring on, 64 px,
# batch 1). It was produced by this code and changes only when the architecture or the counting
# convention changes; a change here must be explained in the commit.
PINNED_TINY_ASFF_MACS_64PX = 39_388_160


def test_pinned_tiny_flops():
    flops = count_flops(tiny_model("fusion=asff"), img_size=64)
    assert flops.gflops == pytest.approx(2 * flops.gmacs)
    assert round(flops.gmacs * 1e9) == PINNED_TINY_ASFF_MACS_64PX


def test_flops_scale_with_area_and_list_uncounted_ops():
    model = tiny_model("fusion=asff")
    small, large = count_flops(model, 64), count_flops(model, 128)
    # Convolutions dominate: 4x the pixels is close to 4x the MACs.
    assert 3.9 < large.gmacs / small.gmacs < 4.1
    assert sum(small.gmacs_by_part.values()) == pytest.approx(small.gmacs)
    # fvcore skips element-wise work: softmax (ASFF weights) and leaky_relu must be listed.
    assert any("softmax" in op for op in small.uncounted_ops)
    assert any("leaky_relu" in op for op in small.uncounted_ops)


def test_deformable_conv_is_counted():
    with_ga = count_flops(tiny_model("tricks.guided_anchoring=true"), 64)
    assert "torchvision::deform_conv2d" not in with_ga.uncounted_ops
    without_ga = count_flops(tiny_model("tricks.guided_anchoring=false"), 64)
    assert with_ga.gmacs_by_part["head"] > without_ga.gmacs_by_part["head"]


def test_fusing_conv_bn_keeps_outputs():
    model = tiny_model("fusion=asff")
    # Non-trivial BN statistics, so a wrong fold would show.
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5, generator=generator)
            module.running_var.uniform_(0.5, 2.0, generator=generator)
    fused, pairs = fuse_conv_bn(model)
    assert pairs > 10
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    images = torch.randn(1, 3, 64, 64, generator=generator)
    with torch.no_grad():
        expected, got = model(images).levels, fused(images).levels
    for a, b in zip(expected, got):
        torch.testing.assert_close(b.pred, a.pred, rtol=1e-3, atol=1e-3)


def test_speed_protocol_counts_iterations():
    calls = {"forward": 0, "post": 0}
    model = tiny_model()
    original_forward = model.forward

    def counting_forward(images, **kwargs):
        calls["forward"] += 1
        return original_forward(images, **kwargs)

    def counting_post(levels):
        calls["post"] += 1
        return levels

    model.forward = counting_forward
    protocol = SpeedProtocol(warmup=2, iters=3, repeats=2, batch_size=2, precision="fp32",
                             fused=False, img_size=64, device="cpu")
    result = measure_speed(model, protocol, counting_post, torch.device("cpu"))
    assert calls == {"forward": 2 + 3 * 2, "post": 2 + 3 * 2}
    assert len(result.forward_ms) == len(result.nms_ms) == 3 * 2  # every timed iteration kept
    assert all(ms > 0 for ms in result.forward_ms)


class FakeClock:
    """time.perf_counter for the speed loop: advances only when the fake work says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_speed_of_work_with_known_durations(monkeypatch):
    # Forward takes 20 ms then 30 ms on alternate calls, NMS 5 ms: timings known without a clock.
    clock = FakeClock()
    monkeypatch.setattr("asffbench.bench.speed.time.perf_counter", clock)
    durations = iter([0.020, 0.030] * 10)

    class TimedModel(torch.nn.Module):
        def forward(self, images):
            clock.now += next(durations)
            return DetectorOutput(levels=[], fusion_weights=None)

    def timed_nms(levels):
        clock.now += 0.005
        return []

    protocol = SpeedProtocol(warmup=2, iters=2, repeats=3, batch_size=4, precision="fp32",
                             fused=False, img_size=32, device="cpu")
    result = measure_speed(TimedModel(), protocol, timed_nms, torch.device("cpu"))
    # Every timed iteration is kept (warm-up took the first 20 and 30 ms calls).
    assert result.forward_ms == pytest.approx([20.0, 30.0] * 3)
    assert result.nms_ms == pytest.approx([5.0] * 6)
    assert result.fps() == pytest.approx(4 / 0.030)  # 4 images per 25 + 5 ms on average
    assert result.latency_ms()["total"]["p90"] == pytest.approx(35.0)


def test_fps_is_images_over_forward_plus_nms():
    result = SpeedResult(forward_ms=[20.0, 22.0], nms_ms=[2.0, 4.0], batch_size=4)
    assert result.fps() == pytest.approx(4 / 0.024)
    lat = result.latency_ms()
    assert lat["forward"]["mean"] == pytest.approx(21.0)
    assert lat["forward"]["std"] == pytest.approx(2 ** 0.5)


@pytest.mark.slow
def test_bench_json_has_the_documented_keys(cli):
    code, out, err = cli("bench", *TINY, *QUICK, "fusion=concat", "--json")
    assert code == 0, err
    result = json.loads(out)
    for key in ("params", "params_by_part", "gmacs", "gflops", "img_size", "batch_size", "device",
                "precision", "fused", "latency_ms", "fps", "uncounted_ops", "torch",
                "device_name"):
        assert key in result, key
    assert isinstance(result["params"], int)
    assert result["gflops"] == pytest.approx(2 * result["gmacs"])
    assert set(result["latency_ms"]) == {"forward", "nms", "total"}
    assert {"mean", "std", "median", "p90", "p99", "min", "iqr", "outlier_share"} == set(
        result["latency_ms"]["forward"])
    assert result["device"] == "cpu" and result["precision"] == "fp32"
    assert result["protocol"]["iters"] == 2 and result["protocol"]["synchronized"] is True
    per_image_s = (result["latency_ms"]["forward"]["mean"] + result["latency_ms"]["nms"]["mean"]) / 1e3
    assert result["fps"] == pytest.approx(result["batch_size"] / per_image_s)


@pytest.mark.slow
def test_bench_table_and_row_file(cli, tmp_path):
    rows = tmp_path / "rows.csv"
    code, out, err = cli("bench", *TINY, *QUICK, "--out", str(rows), "bench.fuse=true")
    assert code == 0, err
    assert "GMACs" in out and "GFLOPs" in out and "FPS" in out
    code, _, err = cli("bench", *TINY, *QUICK, "--out", str(rows), "fusion=none")
    assert code == 0, err
    lines = rows.read_text().splitlines()
    assert len(lines) == 3 and lines[0].startswith("mode,fusion,")
    assert lines[1].startswith("infer,asff,") and lines[2].startswith("infer,none,")


@pytest.mark.parametrize("args,needles", [
    (["bench.precision=fp16"], ["bench.precision=fp16", "cuda"]),
    (["img_size=100"], ["img_size=100", "32"]),
    (["bench.iters=0"], ["bench.iters=0"]),
    (["fusion=asf"], ["fusion=asf", "asff_star"]),
    (["--out", "rows.txt"], ["rows.txt"]),
])
def test_bench_errors_are_one_line(cli, one_line_error, args, needles):
    code, _, err = cli("bench", *TINY, *QUICK, *args)
    one_line_error(code, err, *needles)


def test_bench_out_directory_fails_before_measuring(cli, one_line_error, tmp_path):
    folder = tmp_path / "rows.csv"
    folder.mkdir()
    code, _, err = cli("bench", *TINY, *QUICK, "--out", str(folder))
    one_line_error(code, err, "rows.csv", "directory")


def test_cpu_threads_follow_the_slurm_allotment(monkeypatch):
    from asffbench.device import configure_cpu_threads

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
        assert configure_cpu_threads() == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_fusing_folds_sync_batchnorm_as_well():
    model = tiny_model("fusion=asff")
    _, plain_pairs = fuse_conv_bn(model)
    synced = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    fused, pairs = fuse_conv_bn(synced)
    assert pairs == plain_pairs
    assert not any(isinstance(m, torch.nn.SyncBatchNorm) for m in fused.modules())

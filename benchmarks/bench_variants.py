"""Forward latency of one model plain, channels-last and compiled, as ratios to plain, in one run.

Full-size YOLOv3 + ASFF (Darknet-53, 80 classes, guided anchoring) at 608 px, batch 1, fp32 by
default. Each variant is prepared by bench's own `prepare_for_timing` from its `bench.*` keys
(`bench.channels_last=true`, `bench.compile=default`), which makes and times torch.compile's
first call (the compilation) before any timing; the variants are then timed by bench's speed
protocol in alternating rounds (asffbench.bench.rounds), so that drifts of the machine hit all of
them alike.

    python benchmarks/bench_variants.py [--img-size 608] [--rounds 3] [--iters 2] [--no-compile] [OVERRIDES...]
"""

from __future__ import annotations

import argparse
import copy
import statistics

import torch

from asffbench.bench.rounds import alternating_rounds
from asffbench.bench.runner import prepare_for_timing
from asffbench.settings import bench_settings
from asffbench.bench.speed import SpeedProtocol, measure_speed
from asffbench.build import build_model
from asffbench.config.compose import compose_config
from asffbench.device import device_name, resolve_device

# Variant name -> its bench keys (on top of the command line's overrides).
VARIANTS = {"plain": (), "channels_last": ("bench.channels_last=true",), "compiled": ("bench.compile=default",)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--img-size", type=int, default=608)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iters", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides (default: the paper's ASFF model)")
    args = parser.parse_args()

    cfg = compose_config([f"img_size={args.img_size}", *args.overrides])
    device = resolve_device(cfg.device)
    torch.manual_seed(0)
    plain = build_model(cfg).to(device).eval()
    sample = torch.randn(1, 3, args.img_size, args.img_size, device=device)
    names = [name for name in VARIANTS if not (args.no_compile and name == "compiled")]
    timed = {}
    for name in names:
        settings = bench_settings(compose_config([f"img_size={args.img_size}", *args.overrides, *VARIANTS[name]]))
        timed[name] = (prepare_for_timing(copy.deepcopy(plain), settings, device, sample), settings.channels_last)
    compile_s = timed["compiled"][0].compile_seconds if "compiled" in timed else None

    def forward_ms(name: str) -> list[float]:
        model, channels_last = timed[name]
        protocol = SpeedProtocol(
            warmup=args.warmup, iters=args.iters, repeats=1, batch_size=1, precision="fp32", fused=False,
            img_size=args.img_size, device=device.type, nms_included=False, channels_last=channels_last,
        )
        return measure_speed(model.model, protocol, None, device).forward_ms

    rounds = alternating_rounds({name: (lambda name=name: forward_ms(name)) for name in names}, args.rounds)
    samples = {name: [ms for values in per_round for ms in values] for name, per_round in rounds.items()}

    base = statistics.median(samples["plain"])
    print(f"device: {device_name(device)} ({device.type}), torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"model: fusion={cfg.fusion.name} model={cfg.model.name}, {args.img_size} px, batch 1, fp32, forward only; "
          f"warm-up {args.warmup}, {args.iters} iters x {args.rounds} alternating rounds, median of iterations")
    if compile_s is not None:
        print(f"torch.compile (default mode): first call {compile_s:.0f} s")
    print(f"{'variant':<14} {'forward ms':>11} {'min..max':>18} {'ratio vs plain':>15}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:<14} {median:>11.1f} {f'{min(values):.1f}..{max(values):.1f}':>18} {median / base:>15.3f}")


if __name__ == "__main__":
    main()

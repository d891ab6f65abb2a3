"""Forward latency of each fusion relative to the plain YOLOv3 baseline, measured in one run.

The paper reports 20 -> 22 ms on a V100 for baseline -> ASFF (ratio 1.10). Here: full-size
Darknet-53 models at 608 px, batch 1, fp32, on this machine's device. The variants are timed in
alternating rounds so that drifts of the machine (other load, frequency) hit all of them alike.

    python benchmarks/bench_fusion_latency.py [--img-size 608] [--rounds 7] [--iters 4] [--fusions none,asff,...|all]

`--fusions all` times every registered fusion (the neck zoo: pan, bifpn, asff_pan included).
"""

from __future__ import annotations

import argparse
import statistics

import torch

from asffbench.bench.speed import SpeedProtocol, measure_speed
from asffbench.build import build_model
from asffbench.config.compose import compose_config
from asffbench.device import device_name, resolve_device
from asffbench.models import FUSIONS


def fusion_list(text: str) -> list[str]:
    """The fusions to time: `all` is every registered one, the `none` baseline first."""
    if text != "all":
        return text.split(",")
    return ["none", *(name for name in FUSIONS.names() if name != "none")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--img-size", type=int, default=608)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iters", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--fusions", default="none,asff",
                        help=f"comma list of {', '.join(FUSIONS.names())}, or all (none first)")
    args = parser.parse_args()

    device = resolve_device(args.device)
    fusions = fusion_list(args.fusions)
    models = {}
    for name in fusions:
        torch.manual_seed(0)
        cfg = compose_config([f"fusion={name}", f"img_size={args.img_size}"])
        models[name] = build_model(cfg).to(device).eval()
    protocol = SpeedProtocol(
        warmup=args.warmup, iters=args.iters, repeats=1, batch_size=1, precision="fp32",
        fused=False, img_size=args.img_size, device=device.type, nms_included=False,
    )
    samples: dict[str, list[float]] = {name: [] for name in fusions}
    for _ in range(args.rounds):
        for name in fusions:
            result = measure_speed(models[name], protocol, None, device)
            samples[name].append(statistics.fmean(result.forward_ms))

    base = statistics.median(samples["none"]) if "none" in samples else None
    print(f"device: {device_name(device)} ({device.type}), torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}")
    print(f"protocol: {args.img_size} px, batch 1, fp32, unfused, warm-up {args.warmup}, "
          f"{args.iters} iters x {args.rounds} alternating rounds, forward only, median of rounds")
    print(f"{'fusion':<10} {'forward ms':>11} {'min..max of rounds':>20} {'ratio vs none':>14}")
    for name in fusions:
        median = statistics.median(samples[name])
        spread = f"{min(samples[name]):.1f}..{max(samples[name]):.1f}"
        ratio = f"{median / base:.3f}" if base else "-"
        print(f"{name:<10} {median:>11.1f} {spread:>20} {ratio:>14}")
    if base and "asff" in samples:
        ratio = statistics.median(samples["asff"]) / base
        verdict = "within" if ratio <= 1.10 else "ABOVE"
        print(f"ASFF / baseline = {ratio:.3f} ({verdict} the paper's 22/20 = 1.10)")


if __name__ == "__main__":
    main()

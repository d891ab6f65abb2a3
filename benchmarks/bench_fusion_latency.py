"""Forward latency of each fusion relative to the plain YOLOv3 baseline, measured in one run.

The paper reports 20 -> 22 ms on a V100 for baseline -> ASFF (ratio 1.10). Here: full-size
Darknet-53 models at 608 px, batch 1, fp32, on this machine's device, timed by bench's speed
protocol (asffbench.bench.speed) in alternating rounds (asffbench.bench.rounds) so that drifts of
the machine (other load, frequency) hit all of them alike. The fusions are the registry's names.

    python benchmarks/bench_fusion_latency.py [--img-size 608] [--rounds 7] [--iters 4] [--fusions none,asff,...|all]
        [--baseline none]

`--fusions all` times every registered fusion (the neck zoo: pan, bifpn, asff_pan included), the
baseline first.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from asffbench.bench.rounds import forward_ms_rounds, latency_table
from asffbench.bench.speed import SpeedProtocol, measure_speed
from asffbench.build import build_model
from asffbench.config.compose import compose_config
from asffbench.device import device_name, resolve_device
from asffbench.models.fusion import FUSIONS


def registered(names: list[str], baseline: str) -> list[str]:
    if names == ["all"]:
        return [baseline, *(name for name in FUSIONS.names() if name != baseline)]
    unknown = [name for name in names if name not in FUSIONS.names()]
    if unknown:
        raise SystemExit(f"--fusions: unknown {', '.join(unknown)}; registered: {', '.join(FUSIONS.names())}")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--img-size", type=int, default=608)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iters", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--fusions", default="none,asff", help=f"comma list of {', '.join(FUSIONS.names())}, or all")
    parser.add_argument("--baseline", default="none", help="the fusion the others are divided by")
    args = parser.parse_args()

    device = resolve_device(args.device)
    fusions = registered(args.fusions.split(","), args.baseline)
    models = {}
    for name in fusions:
        torch.manual_seed(0)
        cfg = compose_config([f"fusion={name}", f"img_size={args.img_size}"])
        models[name] = build_model(cfg).to(device).eval()
    protocol = SpeedProtocol(
        warmup=args.warmup, iters=args.iters, repeats=1, batch_size=1, precision="fp32",
        fused=False, img_size=args.img_size, device=device.type, nms_included=False,
    )
    samples = forward_ms_rounds(models, protocol, device, args.rounds)

    print(f"device: {device_name(device)} ({device.type}), torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}")
    print(f"protocol: {args.img_size} px, batch 1, fp32, unfused, warm-up {args.warmup}, "
          f"{args.iters} iters x {args.rounds} alternating rounds, forward only, median of rounds")
    print("\n".join(latency_table(samples, args.baseline, "fusion")))
    base = statistics.median(samples[args.baseline]) if args.baseline in samples else None
    if base and "asff" in samples and args.baseline == "none":  # the paper's figure: ASFF over plain YOLOv3
        ratio = statistics.median(samples["asff"]) / base
        verdict = "within" if ratio <= 1.10 else "ABOVE"
        print(f"ASFF / baseline = {ratio:.3f} ({verdict} the paper's 22/20 = 1.10)")


if __name__ == "__main__":
    main()

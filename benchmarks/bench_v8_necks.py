"""Forward latency of each neck on the YOLOv8 family relative to its own PAFPN (`pan`), and
asffbench's yolov8n relative to ultralytics' (the pinned dev-extra oracle), in one run.

Models at the chosen scale, batch 1, fp32, unfused, random weights, on this machine's device,
timed by bench's speed protocol (asffbench.bench.speed) in alternating rounds
(asffbench.bench.rounds) so that drifts of a shared machine hit every model alike. Ultralytics'
model is its DetectionModel from yolov8<scale>.yaml; its eval forward also decodes the boxes
(DFL and distances to corners), which asffbench leaves to the post-processing, so the ratio
slightly favours asffbench. The necks are the registry's names.

    python benchmarks/bench_v8_necks.py [--scale n] [--img-size 640] [--rounds 5] [--iters 3]
        [--fusions pan,none,asff,asff_pan,afpn,bifpn] [--no-oracle]
"""

from __future__ import annotations

import argparse
import os
import statistics

import torch

from asffbench.bench.rounds import forward_ms_rounds, latency_table
from asffbench.bench.speed import SpeedProtocol, measure_speed
from asffbench.build import build_model
from asffbench.config.compose import compose_config
from asffbench.device import device_name, resolve_device
from asffbench.models.fusion import FUSIONS

NECKS = ("pan", "none", "asff", "asff_pan", "afpn", "bifpn")
ORACLE = "ultralytics"


def oracle_model(scale: str) -> torch.nn.Module:
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    from ultralytics.nn.tasks import DetectionModel  # the dev extra's oracle, benchmarks only

    torch.manual_seed(0)
    return DetectionModel(f"yolov8{scale}.yaml", nc=80, verbose=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="n")
    parser.add_argument("--img-size", type=int, default=640)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--fusions", default=",".join(NECKS), help=f"comma list of {', '.join(FUSIONS.names())}")
    parser.add_argument("--no-oracle", action="store_true", help="skip ultralytics' model")
    args = parser.parse_args()

    device = resolve_device(args.device)
    fusions = args.fusions.split(",")
    unknown = [name for name in fusions if name not in FUSIONS]
    if unknown or fusions[0] != "pan":
        raise SystemExit(f"--fusions: pan first, then registered names ({', '.join(FUSIONS.names())})")
    models = {}
    for name in fusions:
        torch.manual_seed(0)
        cfg = compose_config(["model=yolov8", f"model.scale={args.scale}", f"fusion={name}",
                              f"img_size={args.img_size}"])
        models[name] = build_model(cfg).to(device).eval()
    if not args.no_oracle:
        models[ORACLE] = oracle_model(args.scale).to(device).eval()
    protocol = SpeedProtocol(
        warmup=args.warmup, iters=args.iters, repeats=1, batch_size=1, precision="fp32",
        fused=False, img_size=args.img_size, device=device.type, nms_included=False,
    )
    samples = forward_ms_rounds(models, protocol, device, args.rounds)
    median = {name: statistics.median(values) for name, values in samples.items()}
    print(f"device: {device_name(device)} ({device.type}), torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}")
    print(f"protocol: yolov8{args.scale}, {args.img_size} px, batch 1, fp32, unfused, warm-up {args.warmup}, "
          f"{args.iters} iters x {args.rounds} alternating rounds, forward only, median of rounds")
    print("\n".join(latency_table(samples, "pan", "neck")))
    if ORACLE in median:
        ratio = median["pan"] / median[ORACLE]
        verdict = "within" if ratio <= 1.0 else "ABOVE"
        print(f"asffbench yolov8{args.scale} / ultralytics yolov8{args.scale} = {ratio:.3f} "
              f"({median['pan']:.1f} / {median[ORACLE]:.1f} ms; {verdict} the goal of 1.0)")


if __name__ == "__main__":
    main()

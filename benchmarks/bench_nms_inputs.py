"""Post-processing (decode + NMS) time per image of one model on val images vs random images.

An untrained model, or random noise, leaves NMS almost nothing to do; a trained model on real
images hands it hundreds of candidates. This times the same weights both ways, in alternating
rounds, through `benchmark()` (bench.input=val and bench.input=random).

    python benchmarks/bench_nms_inputs.py CHECKPOINT [--rounds 3] [OVERRIDES...]
"""

from __future__ import annotations

import argparse
import statistics

from asffbench.runs.benchmark import benchmark
from asffbench.bench.rounds import alternating_rounds
from asffbench.config.compose import compose_config

KINDS = ("val", "random")  # bench.input values compared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the model the checkpoint belongs to")
    args = parser.parse_intermixed_args()

    base = [*args.overrides, f"eval.checkpoint={args.checkpoint}"]
    results = alternating_rounds(
        {kind: (lambda kind=kind: benchmark(compose_config([*base, f"bench.input={kind}"]))) for kind in KINDS},
        args.rounds,
    )
    per_image = {kind: [r["latency_ms"]["nms"]["median"] / r["batch_size"] for r in rs] for kind, rs in results.items()}
    candidates = {kind: rs[-1]["input"]["nms_candidates_per_image"] for kind, rs in results.items()}
    last = results[KINDS[-1]][-1]
    print(f"device: {last['device_name']} ({last['device']}), torch {last['torch']}; fusion={last['fusion']} "
          f"model={last['model']}, {last['img_size']} px, batch {last['batch_size']}, {last['precision']}")
    print(f"protocol: {args.rounds} alternating rounds of bench ({last['protocol']['iters']} iters x "
          f"{last['protocol']['repeats']} repeats), median NMS time of each round / batch, median of rounds")
    print(f"{'input':<8} {'NMS ms/image':>13} {'boxes into NMS/image':>21}")
    for kind, values in per_image.items():
        print(f"{kind:<8} {statistics.median(values):>13.3f} {candidates[kind]:>21.1f}")
    ratio = statistics.median(per_image["val"]) / max(statistics.median(per_image["random"]), 1e-9)
    print(f"val / random = {ratio:.2f}")


if __name__ == "__main__":
    main()

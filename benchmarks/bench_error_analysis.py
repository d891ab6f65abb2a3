"""Error analysis speed on a val2017-sized synthetic input (the input of bench_bootstrap.py).

Timed, for one run: COCOeval's matching once (`evaluate()`), TIDE's typing of it
(`errors.type_errors`) and the scenario groups (`error_bootstrap.build_scenarios`); then
`--replicates` bootstrap replicates of every scenario (`error_bootstrap.scenario_metrics`: AP,
each error's dAP and the per-class APs), and, for scale, `compare`'s replicates of the same run
(`bootstrap.replicate_metrics`). `asffbench analyze A B` pays the first three per run and the
replicates twice. Wall and CPU (process) seconds.

    python benchmarks/bench_error_analysis.py [--images 5000] [--replicates 1000] [--json]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from asffbench.results.error_analysis.error_bootstrap import build_scenarios, scenario_metrics
from asffbench.results.error_analysis.error_types import type_errors
from asffbench.results.intervals.bootstrap import bootstrap_weights, matched_from, replicate_metrics
from benchmarks.bench_bootstrap import Clock, evaluated, synthetic_coco


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--classes", type=int, default=80)
    parser.add_argument("--detections", type=int, default=100, help="per image")
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    gt, detections = synthetic_coco(args.images, args.classes, args.detections)
    evaluator, match = evaluated(gt, detections)
    with Clock() as typing:
        matching = type_errors(evaluator)
    with Clock() as building:
        scenarios = build_scenarios(matching)
    weights = bootstrap_weights(matching.num_images, args.replicates, np.random.default_rng(0))
    with Clock() as replicates:
        values = scenario_metrics(scenarios, weights)
    with Clock() as compare:
        replicate_metrics(matched_from(evaluator), weights)

    def seconds(clock: Clock) -> dict:
        return {"wall": round(clock.wall, 1), "cpu": round(clock.cpu, 1)}

    result = {"images": args.images, "classes": args.classes, "detections": len(detections),
              "replicates": args.replicates, "match_seconds": seconds(match), "typing_seconds": seconds(typing),
              "scenarios_seconds": seconds(building), "replicates_seconds": seconds(replicates),
              "compare_replicates_seconds": seconds(compare),
              "ratio_to_compare_cpu": round(replicates.cpu / max(compare.cpu, 1e-9), 1),
              "AP": float(np.nanmean(values["AP|50:95|all"])),
              "dAP": {k.split("|")[0]: round(100 * float(np.nanmean(v)), 2) for k, v in values.items()
                      if k.endswith("|50:95|all") and not k.startswith("AP")}}
    if args.json:
        print(json.dumps(result))
        return
    print(f"{len(detections):,} detections on {args.images:,} images, {args.classes} classes")
    for name in ("match", "typing", "scenarios", "replicates", "compare_replicates"):
        s = result[f"{name}_seconds"]
        print(f"{name.replace('_', ' ')}: {s['wall']} s wall, {s['cpu']} s CPU")
    print(f"error replicates / compare's replicates (CPU): {result['ratio_to_compare_cpu']}x")
    print(f"AP {100 * result['AP']:.2f}; dAP .50:.95 {result['dAP']}")


if __name__ == "__main__":
    main()

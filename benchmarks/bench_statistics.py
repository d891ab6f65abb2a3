"""Do the statistics keep their promises? Repeated draws of synthetic detections with a known true ΔAP.

Three checks, each through the real matcher and the real paired bootstrap
(`asffbench.results.simulation`):

- family-wise false-positive rate: tables of `--rows` rows against a baseline, one seed each,
  all of equal skill (true Δ = 0 on every AP column), `--draws` times; the share of tables with any
  `*` under no adjustment, Holm and max-|t| simultaneous intervals (the report's default);
- coverage: how often one row's unadjusted 95% interval covers the true ΔAP (measured on 20,000
  images), and how often a 3-row family's simultaneous intervals all cover theirs;
- power: `plan`'s predicted power (from a two-seed pilot) against the observed rejection rate of
  the paired bootstrap, one seed per variant, on `--power-images` images.

    python benchmarks/bench_statistics.py [--draws 200] [--rows 4] [--images 150] [--replicates 200]
        [--skill-gap 0.1] [--power-images 300] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

from asffbench.results.simulation import KEYS, coverage, false_positive_rates, power_check, true_delta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--images", type=int, default=150)
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--skill-gap", type=float, default=0.1)
    parser.add_argument("--power-images", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    truth = true_delta(args.skill_gap)
    out = {
        "family": args.rows * len(KEYS),
        "false_positive_rate": false_positive_rates(args.draws, args.rows, args.images, args.replicates),
        "coverage": coverage(args.draws, args.skill_gap, args.images, args.replicates, truth=truth),
        "power": power_check(args.draws, args.skill_gap, args.power_images, args.images, args.replicates, truth=truth),
        "settings": vars(args),
    }
    out["seconds"] = round(time.perf_counter() - start, 1)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{args.draws} draws, {args.images} images, {args.replicates} replicates; seconds {out['seconds']}")
    print(f"family-wise false-positive rate ({out['family']} deltas, true Δ = 0):")
    for method, rate in out["false_positive_rate"].items():
        print(f"  {method:>12}: {rate:.3f}")
    cov = out["coverage"]
    print(f"coverage, true ΔAP {cov['true_delta']:.2f}: one 95% interval {cov['single']:.3f}, "
          f"3-row simultaneous {cov['simultaneous']:.3f}")
    pw = out["power"]
    low, high = pw["predicted_range"]
    print(f"power, true ΔAP {pw['true_delta']:.2f} on {args.power_images} images, one seed per variant: predicted "
          f"{pw['predicted']:.3f} (median of 3 four-seed pilots; {low:.3f} to {high:.3f}), observed {pw['observed']:.3f}")


if __name__ == "__main__":
    main()

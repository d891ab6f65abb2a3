"""Do the statistics keep their promises? Repeated draws of synthetic detections with a known true ΔAP.

Three checks, each through the real matcher and the real paired bootstrap
(`asffbench.results.simulation`):

- family-wise false-positive rate: tables of `--rows` rows against a baseline, one seed each,
  all of equal skill (true Δ = 0 on every AP column), `--draws` times; the share of tables with any
  `*` under no adjustment, Holm and the studentized max-|t| simultaneous intervals (the default);
- coverage: how often one row's unadjusted 95% interval covers the true ΔAP (the mean over
  `--truth-sets` sets of 20,000 images), and how often a 3-row family's simultaneous intervals all
  cover theirs;
- power: `plan`'s predicted power (the mean over `--pilots` four-seed pilots) against the observed
  rejection rate, one seed per variant, on `--power-images` images, for each of `--seed-spreads`
  (training's randomness as a spread of the skill; 0: none, where the paired bootstrap's rejection
  rate is shown too; other estimators of the seed variance and the power at its upper limit beside).

    python benchmarks/bench_statistics.py [--draws 200] [--rows 4] [--images 150] [--replicates 200]
        [--skill-gap 0.1] [--power-images 300] [--pilots 20] [--truth-sets 3]
        [--seed-spreads 0,0.1] [--checks fwer,coverage,power] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

from asffbench.results.intervals.simulation import KEYS, coverage, false_positive_rates, power_check, true_delta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--images", type=int, default=150)
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--skill-gap", type=float, default=0.1)
    parser.add_argument("--power-images", type=int, default=300)
    parser.add_argument("--pilots", type=int, default=20)
    parser.add_argument("--seed-spreads", default="0,0.1", help="training's skill spread per seed, one power check each")
    parser.add_argument("--truth-sets", type=int, default=3, help="20,000-image sets averaged for the true ΔAP")
    parser.add_argument("--checks", default="fwer,coverage,power", help="which of fwer, coverage, power to run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    checks = set(args.checks.split(","))
    truth = true_delta(args.skill_gap, sets=args.truth_sets) if checks & {"coverage", "power"} else None
    out = {"family": args.rows * len(KEYS), "settings": vars(args)}
    if "fwer" in checks:
        out["false_positive_rate"] = false_positive_rates(args.draws, args.rows, args.images, args.replicates)
    if "coverage" in checks:
        out["coverage"] = coverage(args.draws, args.skill_gap, args.images, args.replicates, truth=truth)
    if "power" in checks:
        out["power"] = [power_check(args.draws, args.skill_gap, args.power_images, args.images, args.replicates,
                                    truth=truth, pilots=args.pilots, seed_spread=float(spread))
                        for spread in args.seed_spreads.split(",")]
    out["seconds"] = round(time.perf_counter() - start, 1)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{args.draws} draws, {args.images} images, {args.replicates} replicates; seconds {out['seconds']}")
    if "false_positive_rate" in out:
        print(f"family-wise false-positive rate ({out['family']} deltas, true Δ = 0):")
        for method, rate in out["false_positive_rate"].items():
            print(f"  {method:>12}: {rate:.3f}")
    if "coverage" in out:
        cov = out["coverage"]
        print(f"coverage, true ΔAP {cov['true_delta']:.2f}: one 95% interval {cov['single']:.3f}, "
              f"3-row simultaneous {cov['simultaneous']:.3f}")
    for pw in out.get("power", []):
        low, high = pw["predicted_range"]
        bootstrap = "" if pw["observed"] is None else f"paired bootstrap {pw['observed']:.3f}, "
        print(f"power, true ΔAP {pw['true_delta']:.2f} on {args.power_images} images, one seed per variant, seed spread "
              f"{pw['seed_spread']:g} (sd of ΔAP {pw['delta_sd']:.2f}): predicted {pw['predicted']:.3f} (mean of "
              f"{args.pilots} four-seed pilots; median {pw['predicted_median']:.3f}, {low:.3f} to {high:.3f}; "
              + "; ".join(f"{name} {value:.3f}" for name, value in pw["alternatives"].items())
              + f"; at the seed variance's 95% upper limit {pw['lower_bound']:.3f}, "
              f"below the true power in {pw['lower_bound_holds']:.0%}), observed: {bootstrap}"
              f"z-test on the true sd {pw['observed_known_variance']:.3f}")

if __name__ == "__main__":
    main()

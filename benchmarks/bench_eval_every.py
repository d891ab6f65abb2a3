"""What `train.eval_every` costs a smoke run: one run of the smoke sweep with and without it.

Each variant is a complete `run_experiment` (train + final evaluation + benchmark) of one fusion
at the smoke sweep's settings, in a temporary directory; the figures are the ratios of wall and
of CPU (process) time; on a shared machine the CPU ratio is the steadier one.

    python benchmarks/bench_eval_every.py [--fusion asff] [--every 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from importlib import resources
from pathlib import Path

import yaml

from asffbench.config.compose import compose_config
from asffbench.runs.run import run_experiment


def smoke_overrides() -> list[str]:
    spec = yaml.safe_load(resources.files("asffbench.sweeps").joinpath("smoke.yaml").read_text())
    return [f"{key}={value}" for key, value in spec["overrides"].items() if key != "train.eval_every"]


def timed_run(overrides: list[str], run_dir: Path) -> tuple[dict, dict]:
    wall, cpu = time.perf_counter(), time.process_time()
    record = run_experiment(compose_config(overrides + [f"run_dir={run_dir}"]))
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}, record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fusion", default="asff")
    parser.add_argument("--every", type=int, default=2, help="train.eval_every of the measured variant")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    base = smoke_overrides() + [f"fusion={args.fusion}"]
    with tempfile.TemporaryDirectory() as tmp:
        plain_s, plain = timed_run(base + ["train.eval_every=0"], Path(tmp) / "plain")
        eval_s, evaluated = timed_run(base + [f"train.eval_every={args.every}"], Path(tmp) / "eval")
        log = (Path(tmp) / "eval" / "train_log.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in log if '"eval"' in line]
    result = {"fusion": args.fusion, "eval_every": args.every, "evaluations": len(events),
              "plain_seconds": {k: round(v, 1) for k, v in plain_s.items()},
              "eval_every_seconds": {k: round(v, 1) for k, v in eval_s.items()},
              "ratio": {k: round(eval_s[k] / plain_s[k], 3) for k in plain_s},
              "eval_seconds_logged": round(sum(e["metrics"].get("eval_seconds", 0.0) for e in events), 1),
              "same_AP": plain["metrics"]["AP"] == evaluated["metrics"]["AP"]}
    if args.json:
        print(json.dumps(result))
        return
    print(f"smoke run, fusion={args.fusion}: {plain_s['cpu']:.1f} s CPU ({plain_s['wall']:.1f} s wall) "
          f"without, {eval_s['cpu']:.1f} s CPU ({eval_s['wall']:.1f} s wall) with train.eval_every="
          f"{args.every} ({len(events)} evaluations, {result['eval_seconds_logged']} s logged): ratio "
          f"{result['ratio']['cpu']} CPU, {result['ratio']['wall']} wall; final AP identical: {result['same_AP']}")


if __name__ == "__main__":
    main()

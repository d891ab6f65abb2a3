"""`asffbench plan RUN_DIRS --delta D`: the seeds x val images a study needs, from pilot runs.

The pilot's runs are grouped into variants as the report groups them (the rows of the first table
along which at least two variants have two or more completed seeds); each run's metric is scored on
the same paired bootstrap resamples of the val images (`intervals.RunSamples`, as the report), and
`power.estimate_variances` splits the noise into seed and image parts.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Sequence

from asffbench.coco_format import read_json
from asffbench.errors import UserError
from asffbench.results.reading.collect import collect
from asffbench.results.intervals.families import row_name
from asffbench.results.intervals.cell_intervals import RunSamples
from asffbench.results.intervals.power import (DEFAULT_POWER, DEFAULT_SEEDS, SEED_TEST_LEVEL, PilotRun, PlanRow,
                                               Variances, detectable_delta, estimate_variances, plan_rows)
from asffbench.results.intervals.significance import DEFAULT_REPLICATES, DEFAULT_SEED
from asffbench.results.tables.result_tables import ResultTable, build_tables


@dataclass
class Plan:
    metric: str
    delta: float
    target_power: float
    images: int
    replicates: int
    variants: dict[str, int]  # variant -> seeds in the pilot
    variances: Variances
    pilot_detectable: float  # smallest delta the pilot itself detects with target_power
    rows: list[PlanRow]

    def to_json(self) -> dict:
        return {"metric": self.metric, "delta": self.delta, "power": self.target_power, "alpha": 0.05,
                "pilot": {"images": self.images, "replicates": self.replicates, "variants": self.variants,
                          "detectable_delta": self.pilot_detectable},
                "variances": self.variances.to_dict(),
                "designs": [asdict(r) for r in self.rows]}


def pilot_table(tables: Sequence[ResultTable]) -> ResultTable:
    for table in tables:
        if sum(c.n >= 2 for c in table.cells) >= 2:
            return table
    seeds = ", ".join(f"{c.label}: {c.n}" for t in tables[:1] for c in t.cells) or "no completed runs"
    raise UserError(f"plan needs at least two seeds of at least two variants (found {seeds})")


def pilot_runs(table: ResultTable, metric: str, samples: RunSamples) -> tuple[dict[str, list[PilotRun]], int]:
    """Each variant's seeds (metric in percent) on the shared resamples, and the image count."""
    pilot: dict[str, list[PilotRun]] = {}
    image_sets = set()
    for cell in table.cells:
        if cell.n < 2:
            continue
        side = samples.side(cell)
        if isinstance(side, str):
            raise UserError(f"plan: {side}")
        runs = []
        for run, matched in side:
            sample = samples.sample(run, matched)
            if metric not in sample.point:
                raise UserError(f"--metric {metric}: {Path(run).name} has no {metric} "
                                f"(it has {', '.join(sample.point)})")
            image_sets.add(tuple(matched.image_ids))
            runs.append(PilotRun(100 * sample.point[metric], 100 * sample.replicates[metric]))
        pilot[row_name(table, cell)] = runs
    if len(image_sets) > 1:
        raise UserError("plan: the pilot's runs were evaluated on different val images")
    return pilot, len(next(iter(image_sets)))


def make_plan(run_dirs: Sequence[Path | str], delta: float, target_power: float = DEFAULT_POWER,
              metric: str = "AP", replicates: int = DEFAULT_REPLICATES, seed: int = DEFAULT_SEED,
              seeds: Sequence[int] = DEFAULT_SEEDS) -> Plan:
    if not delta > 0:
        raise UserError(f"--delta {delta}: must be above 0 (in {metric} points)")
    if not 0.05 < target_power < 1:
        raise UserError(f"--power {target_power}: must lie between 0.05 and 1")
    tables = build_tables(collect(run_dirs).frame)
    if not tables:
        raise UserError(f"plan: no completed runs under {', '.join(str(d) for d in run_dirs)}")
    pilot, images = pilot_runs(pilot_table(tables), metric, RunSamples(replicates, seed))
    variances = estimate_variances(pilot, images)
    pilot_variance = variances.delta_variance(variances.pilot_seeds, images)
    return Plan(metric=metric, delta=delta, target_power=target_power, images=images, replicates=replicates,
                variants={name: len(runs) for name, runs in pilot.items()}, variances=variances,
                pilot_detectable=detectable_delta(pilot_variance, target_power),
                rows=plan_rows(variances, delta, target_power, seeds))


def plan_lines(plan: Plan) -> list[str]:
    v, m = plan.variances, plan.metric
    variants = ", ".join(f"{name}: {n}" for name, n in plan.variants.items())
    lines = [f"Pilot: {len(plan.variants)} variants ({variants} seeds) on {plan.images} val images, "
             f"{plan.replicates} paired bootstrap replicates; {m} in percent.",
             seed_line(v, m),
             f"Image sampling std per run pair: {math.sqrt(v.image_common + v.image_seed):.2f} {m} × √(1/images) "
             f"(shared by the seeds: {math.sqrt(v.image_common):.2f}, each seed's own: {math.sqrt(v.image_seed):.2f}).",
             f"Smallest Δ{m} this pilot detects ({v.pilot_seeds:g} seeds, {plan.images} images, "
             f"{plan.target_power:.0%} power, 5% two-sided): {plan.pilot_detectable:.2f}.",
             "",
             f"To detect Δ{m} = {plan.delta:g} with {plan.target_power:.0%} power at 5% (two-sided):",
             f"{'seeds per variant':>17}  {'val images needed':>17}  {f'power on {plan.images} images':>22}"
             f"  {'at least (95%)':>14}"]
    for row in plan.rows:
        needed = "unreachable" if row.images is None else f"{row.images:,}"
        lines.append(f"{row.seeds:>17}  {needed:>17}  {row.power_at_pilot_images:>22.2f}  {row.power_at_seed_upper:>14.2f}")
    lines += ["", "at least: the power with the seed-to-seed variance at its 95% upper limit (a pilot's few seeds "
              "leave it uncertain); the images needed are for the estimate."]
    if any(row.images is None for row in plan.rows):
        lines += ["", "unreachable: the seeds' own variance alone is too large for this delta; add seeds."]
    return lines


def seed_line(v: Variances, metric: str) -> str:
    """The seed-to-seed std and whether the pilot's seeds spread beyond their own image noise."""
    if v.seed > 0:
        verdict = "the seeds spread more than their own image noise makes them"
    else:
        verdict = "taken as 0: the seeds spread no more than their own image noise makes them"
    return (f"Seed-to-seed std per run: {math.sqrt(v.seed):.3f} {metric}, {verdict} (p = {v.seed_excess_p:.3f}, "
            f"kept where p < {SEED_TEST_LEVEL:g}); its 95% upper limit: {math.sqrt(v.seed_upper):.2f} {metric}.")


def recommended_seeds(plan: Plan, images: Optional[int] = None) -> Optional[int]:
    """The fewest seeds that reach the power on `images` val images (the pilot's by default)."""
    target = images or plan.images
    for row in plan.rows:
        if row.images is not None and row.images <= target:
            return row.seeds
    return None


def seeds_from_plan_file(path: Path, val_images: Optional[int] = None) -> tuple[int, int]:
    """(seeds per variant, val images) a `plan --json` file recommends: the fewest seeds whose
    images needed fit `val_images` (default: the pilot's). UserError for a file that is not a plan
    or a plan no listed design fits."""
    data = read_json(Path(path), "plan (asffbench plan --json)")
    try:
        images = int(val_images or data["pilot"]["images"])
        designs = sorted(data["designs"], key=lambda d: int(d["seeds"]))
        fits = [int(d["seeds"]) for d in designs if d["images"] is not None and int(d["images"]) <= images]
    except (KeyError, TypeError, ValueError):
        raise UserError(f"{path}: not a plan (write one with asffbench plan RUN_DIRS --delta D --json)") from None
    if not fits:
        raise UserError(f"{path}: no design of the plan detects Δ{data.get('metric', 'AP')} = {data.get('delta')} "
                        f"on {images} val images with up to {int(designs[-1]['seeds'])} seeds; "
                        "use more val images (--val-images) or a larger delta")
    return fits[0], images

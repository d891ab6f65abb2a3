"""What a sweep should have produced but did not: failed runs, runs without a finished record."""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from asffbench.record.layout import run_name
from asffbench.record.sections import MISSING
from asffbench.results.reading.collect import Collection, sweep_folder
from asffbench.results.reading.records import error_text, run_label

# Above this many combinations the grid is not a product sweep worth checking.
MAX_GRID = 10_000


@dataclass(frozen=True)
class Gap:
    run: str  # axes or run dir name
    where: str  # run dir (relative to its sweep dir) or the sweep name
    reason: str


def relative(path: Path, root: Path) -> str:
    return os.path.relpath(path, sweep_folder(root))


def failed_runs(collection: Collection) -> list[Gap]:
    gaps = []
    for record in collection.records:
        if record.record.status == "failed":
            message = (error_text(record.record.error) if record.record.error else None) or "no error message recorded"
            gaps.append(Gap(run_label(record), relative(record.run_dir, record.sweep_dir), message))
    return gaps


def missing_runs(collection: Collection) -> list[Gap]:
    """Records still 'running' (killed or in progress), run dirs without a record, grid holes."""
    gaps = []
    for record in collection.records:
        status = record.record.status
        if status not in ("completed", "failed"):
            state = status if isinstance(status, str) else "missing"
            gaps.append(Gap(run_label(record), relative(record.run_dir, record.sweep_dir),
                            f"record status is '{state}': the run never finished"))
    for run_dir in collection.unrecorded_runs:
        root = next((d for d in collection.sweep_dirs if run_dir.is_relative_to(d)), run_dir)
        gaps.append(Gap(run_dir.name, relative(run_dir, root),
                        "run directory without a record.json (killed before its first record)"))
    gaps.extend(grid_holes(collection))
    return gaps


def grid_holes(collection: Collection) -> list[Gap]:
    """Combinations of a sweep's axis values that no record holds (Hydra sweeps are products)."""
    by_sweep: dict[str, list[dict]] = {}
    for record in collection.records:
        axes = record.record.axes
        if isinstance(axes, dict) and axes:
            sweep = record.record.sweep
            by_sweep.setdefault(str(None if sweep is MISSING else sweep), []).append(axes)
    gaps = []
    for sweep, axes_list in sorted(by_sweep.items()):
        keys = list(axes_list[0])
        if any(list(a) != keys for a in axes_list):
            continue  # not one product sweep
        values = [unique([a[k] for a in axes_list]) for k in keys]
        size = 1
        for v in values:
            size *= len(v)
        if size > MAX_GRID:
            continue
        present = {json.dumps([a[k] for k in keys], default=str) for a in axes_list}
        for combo in itertools.product(*values):
            if json.dumps(list(combo), default=str) not in present:
                gaps.append(Gap(run_name(dict(zip(keys, combo))), f"sweep {sweep}", "no record for this combination"))
    return gaps


def unique(values: Sequence) -> list:
    seen: dict[str, object] = {}
    for value in values:
        seen.setdefault(json.dumps(value, default=str, sort_keys=True), value)
    return list(seen.values())

"""The report's budget: each run's estimated device-hours beside what its record says it cost.

The estimate is `sweep NAME --estimate`'s `<sweep dir>/estimate.json`, written before launching;
the actual figure is the record's `device_seconds` (wall seconds x devices, every attempt). A
report of sweeps without an estimate has no budget section.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Optional

from asffbench.record.layout import ESTIMATE_NAME
from asffbench.results.reading.collect import Collection, sweep_folder
from asffbench.results.reading.records import device_hours, run_label
from asffbench.results.tables.text_table import TextTable, markdown


@dataclass(frozen=True)
class BudgetRow:
    run: str
    estimated: Optional[float]  # device-hours; None: not in the estimate
    actual: Optional[float]  # None: no record, or a record without device_seconds


def read_estimates(collection: Collection) -> tuple[dict[str, float], list[str]]:
    """{run: estimated device-hours} of every sweep dir's estimate.json, and the unreadable files."""
    estimates: dict[str, float] = {}
    problems = []
    for sweep_dir in collection.sweep_dirs:
        path = sweep_folder(sweep_dir) / ESTIMATE_NAME
        if not path.is_file():
            continue
        try:
            runs = json.loads(path.read_text(encoding="utf-8"))["runs"]
            estimates.update({str(run["run"]): float(run["device_hours"]) for run in runs})
        except (OSError, ValueError, KeyError, TypeError) as err:
            problems.append(f"`{path}`: unreadable ({type(err).__name__})")
    return estimates, problems


def budget_rows(collection: Collection, estimates: dict[str, float]) -> list[BudgetRow]:
    actual = {}
    for loaded in collection.records:
        hours = device_hours(loaded.record)
        actual[run_label(loaded)] = None if math.isnan(hours) else hours
    runs = list(estimates) + sorted(run for run in actual if run not in estimates)
    return [BudgetRow(run, estimates.get(run), actual.get(run)) for run in runs]


def hours(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.2f}"


def budget_markdown(collection: Collection) -> str:
    """The budget table ("" without any estimate): estimate, actual and their ratio per run."""
    estimates, problems = read_estimates(collection)
    if not estimates and not problems:
        return ""
    rows = budget_rows(collection, estimates)
    table = TextTable(["Run", "Estimated", "Actual", "Actual / estimated"], [])
    for row in rows:
        ratio = "–" if row.estimated in (None, 0) or row.actual is None else f"{row.actual / row.estimated:.2f}"
        table.rows.append([row.run, hours(row.estimated), hours(row.actual), ratio])
    both = [row for row in rows if row.estimated is not None and row.actual is not None]
    estimated, actual = sum(r.estimated for r in both), sum(r.actual for r in both)
    if both and estimated > 0:
        table.rows.append([f"**total of the {len(both)} runs with both**", f"{estimated:.2f}", f"{actual:.2f}",
                           f"{actual / estimated:.2f}"])
    lines = ["Device-hours of each run: `sweep --estimate`'s figure before the launch beside the "
             "record's (wall time x devices, every attempt).\n", markdown(table)]
    lines += [f"\n{problem}" for problem in problems]
    return "\n".join(lines) + "\n"

"""The report's speed by runtime: each fusion's FPS and latency ratio to `none` under every runtime
its benchmarks ran in (`bench.runtime`, `sweeps/runtimes.yaml`), side by side.

The ratio is the one the paper's "nearly free" claim is about; it is taken within a runtime (mean
total latency, forward and NMS, of the fusion over that of `none`), since an exported graph changes
both numbers. Records that differ in anything else that sets the speed (model, input size, batch,
device, precision, or another swept axis) are kept apart: each such setting that varies gets a
column, and a fusion's ratio is to `none` with the same settings.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import mean
from typing import Any, Callable, Optional, Sequence

from asffbench.record.run_record import RunRecord, RuntimeInfo
from asffbench.record.sections import part
from asffbench.results.reading.records import LoadedRecord, as_axis, as_number, bench, latency
from asffbench.results.tables.text_table import TextTable, aligned, markdown

BASELINE = "none"
Speed = tuple[float, float]  # (mean FPS, mean total latency in ms)

# What sets a benchmark's speed besides fusion and runtime, as each record states it.
SETTINGS: dict[str, Callable[[RunRecord], Any]] = {
    "model": lambda record: record.config_value("model.name"),
    "img_size": lambda record: bench(record).img_size,
    "batch": lambda record: bench(record).batch_size,
    "device": lambda record: bench(record).device,
    "precision": lambda record: bench(record).precision,
}
# Swept axes that are the table's own columns or one of SETTINGS, or replicates (averaged).
NOT_SETTINGS = {"fusion", "fusion.name", "bench.runtime", "seed", "model", "model.name", "img_size",
                "bench.batch_size", "device", "bench.precision"}


def settings_of(record: RunRecord) -> dict[str, Any]:
    """The record's speed settings: SETTINGS, then its other swept axes."""
    found = {name: as_axis(get(record)) for name, get in SETTINGS.items()}
    axes = record.axes if isinstance(record.axes, dict) else {}
    found.update({key: as_axis(value) for key, value in axes.items() if key not in NOT_SETTINGS})
    return found


def benchmarked(records: Sequence[LoadedRecord]) -> list[tuple[RunRecord, str, str, Speed]]:
    """(record, fusion, runtime, speed) of the completed records that name their runtime."""
    found = []
    for loaded in records:
        record: RunRecord = loaded.record
        runtime = part(bench(record).runtime, RuntimeInfo).runtime
        fusion = record.config_value("fusion.name")
        fps, total = as_number(bench(record).fps), as_number(latency(record, "total").mean)
        if record.status == "completed" and isinstance(runtime, str) and isinstance(fusion, str) \
                and fps == fps and total == total:  # NaN: no figure
            found.append((record, fusion, runtime, (fps, total)))
    return found


def varying(settings: Sequence[dict[str, Any]]) -> list[str]:
    """The settings whose value differs between records, in SETTINGS' order, then axes' order."""
    names = list(dict.fromkeys(name for found in settings for name in found))
    return [name for name in names if len({repr(found.get(name)) for found in settings}) > 1]


def runtime_speeds(records: Sequence[LoadedRecord]) -> tuple[list[str], dict[tuple, Speed]]:
    """The varying settings' names, and (fusion, runtime, their values) -> speed (replicates averaged)."""
    rows = benchmarked(records)
    settings = [settings_of(record) for record, *_ in rows]
    names = varying(settings)
    found: dict[tuple, list[Speed]] = defaultdict(list)
    for (_record, fusion, runtime, speed), values in zip(rows, settings):
        found[(fusion, runtime, tuple(values.get(name) for name in names))].append(speed)
    return names, {key: (mean(s[0] for s in v), mean(s[1] for s in v)) for key, v in found.items()}


def runtime_markdown(records: Sequence[LoadedRecord]) -> Optional[str]:
    """A row per fusion and varying settings, per runtime its FPS and latency / `none`; None
    unless two runtimes ran."""
    names, speeds = runtime_speeds(records)
    runtimes = sorted({runtime for _, runtime, _ in speeds}, key=lambda r: (r != "torch", r))
    if len(runtimes) < 2:
        return None
    rows = sorted({(fusion, values) for fusion, _, values in speeds},
                  key=lambda row: (tuple(map(sort_key, row[1])), row[0] != BASELINE, row[0]))
    header = ["Fusion", *names] + [f"FPS ({r})" for r in runtimes] + [f"latency / {BASELINE} ({r})" for r in runtimes]
    table = TextTable(header, [], align=aligned(1 + len(names), len(header) - 1 - len(names)))
    for fusion, values in rows:
        fps = [fps_text(speeds.get((fusion, r, values))) for r in runtimes]
        ratios = [ratio_text(speeds.get((fusion, r, values)), speeds.get((BASELINE, r, values))) for r in runtimes]
        table.rows.append([fusion, *map(str, values), *fps, *ratios])
    note = (f"Latency is the mean total (forward and NMS) per batch; its ratio to `{BASELINE}` is "
            "taken within each runtime and row. n/a: no completed benchmark.")
    return markdown(table) + "\n\n" + note + "\n"


def sort_key(value: Any) -> tuple:
    """Numbers in order, before text (None, a record lacking the setting, sorts as text)."""
    return (0, value, "") if isinstance(value, (int, float)) else (1, 0, str(value))


def fps_text(speed: Optional[Speed]) -> str:
    return "n/a" if speed is None else f"{speed[0]:.1f}"


def ratio_text(speed: Optional[Speed], base: Optional[Speed]) -> str:
    if speed is None or base is None or base[1] <= 0:
        return "n/a"
    return f"{speed[1] / base[1]:.2f}x"

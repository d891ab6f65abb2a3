"""The report's speed by runtime: each fusion's FPS and latency ratio to `none` under every runtime
its benchmarks ran in (`bench.runtime`, `sweeps/runtimes.yaml`), side by side.

The ratio is the one the paper's "nearly free" claim is about; it is taken within a runtime (mean
total latency, forward and NMS, of the fusion over that of `none`), since an exported graph changes
both numbers.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import mean
from typing import Optional, Sequence

from asffbench.record_types import RunRecord, RuntimeInfo, part
from asffbench.results.records import LoadedRecord, as_number, bench, latency

BASELINE = "none"


def runtime_speeds(records: Sequence[LoadedRecord]) -> dict[tuple[str, str], tuple[float, float]]:
    """(fusion, runtime) -> (mean FPS, mean total latency in ms) over the completed records that
    name their runtime (replicates averaged)."""
    found: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for loaded in records:
        record: RunRecord = loaded.record
        runtime = part(bench(record).runtime, RuntimeInfo).runtime
        fusion = record.config_value("fusion.name")
        fps, total = as_number(bench(record).fps), as_number(latency(record, "total").mean)
        if record.status == "completed" and isinstance(runtime, str) and isinstance(fusion, str) \
                and fps == fps and total == total:  # NaN: no figure
            found[(fusion, runtime)].append((fps, total))
    return {key: (mean(v[0] for v in values), mean(v[1] for v in values)) for key, values in found.items()}


def runtime_markdown(records: Sequence[LoadedRecord]) -> Optional[str]:
    """A row per fusion, per runtime its FPS and latency / `none`; None unless two runtimes ran."""
    speeds = runtime_speeds(records)
    runtimes = sorted({runtime for _, runtime in speeds}, key=lambda r: (r != "torch", r))
    if len(runtimes) < 2:
        return None
    fusions = sorted({fusion for fusion, _ in speeds}, key=lambda f: (f != BASELINE, f))
    header = ["Fusion"] + [f"FPS ({r})" for r in runtimes] + [f"latency / {BASELINE} ({r})" for r in runtimes]
    lines = ["| " + " | ".join(header) + " |", "|:--|" + "--:|" * (len(header) - 1)]
    for fusion in fusions:
        fps = [fps_text(speeds.get((fusion, r))) for r in runtimes]
        ratios = [ratio_text(speeds.get((fusion, r)), speeds.get((BASELINE, r))) for r in runtimes]
        lines.append("| " + " | ".join([fusion, *fps, *ratios]) + " |")
    note = (f"Latency is the mean total (forward and NMS) per batch; its ratio to `{BASELINE}` is "
            "taken within each runtime. n/a: no completed benchmark.")
    return "\n".join(lines) + "\n\n" + note + "\n"


def fps_text(speed: Optional[tuple[float, float]]) -> str:
    return "n/a" if speed is None else f"{speed[0]:.1f}"


def ratio_text(speed: Optional[tuple[float, float]], base: Optional[tuple[float, float]]) -> str:
    if speed is None or base is None or base[1] <= 0:
        return "n/a"
    return f"{speed[1] / base[1]:.2f}x"

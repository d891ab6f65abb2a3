"""The train log's lines as tracker metrics: one mapping for every tracker (and for `report --mlflow`).

A step line gives `train/loss`, `train/lr`, `train/images_per_s`, `train/loss_<part>` at its
global iteration; an `epoch_end` line `epoch/<field>` (nested fields joined by dots:
`epoch/peak_memory.rss_peak_mib`) and an `eval` line `eval/<metric>` at its epoch. Only numbers
are metrics (bools, text and lists are not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

ITER, EPOCH = "iter", "epoch"  # the step axes
EPOCH_END, EVAL = "epoch_end", "eval"  # train_log.jsonl's event lines (a step line has no event)
NOT_METRICS = ("epoch", "event", "time")  # fields of an epoch line that say when, not how well


@dataclass(frozen=True)
class LineMetrics:
    axis: str  # ITER or EPOCH
    step: int
    values: dict[str, float]


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def numbers(fields: Mapping[str, Any], prefix: str, nested: bool = True) -> dict[str, float]:
    """The numeric fields as `<prefix><key>` (nested mappings' keys joined by dots when `nested`)."""
    out: dict[str, float] = {}
    for key, value in fields.items():
        if is_number(value):
            out[f"{prefix}{key}"] = float(value)
        elif nested and isinstance(value, Mapping):
            out.update(numbers(value, f"{prefix}{key}."))
    return out


def line_metrics(line: Mapping[str, Any]) -> Optional[LineMetrics]:
    """The metrics of one train_log.jsonl line; None for a line of no known kind."""
    event = line.get("event")
    if event is None and is_number(line.get("iter")):
        values = {"train/loss": line.get("loss"), "train/lr": line.get("lr"),
                  "train/images_per_s": line.get("images_per_s"),
                  **{f"train/loss_{k}": v for k, v in (line.get("loss_parts") or {}).items()}}
        return LineMetrics(ITER, int(line["iter"]), {k: float(v) for k, v in values.items() if is_number(v)})
    if not is_number(line.get("epoch")):
        return None
    if event == EPOCH_END:
        fields = {k: v for k, v in line.items() if k not in NOT_METRICS}
        return LineMetrics(EPOCH, int(line["epoch"]), numbers(fields, "epoch/"))
    if event == EVAL:
        return LineMetrics(EPOCH, int(line["epoch"]), numbers(line.get("metrics") or {}, "eval/", nested=False))
    return None

"""The report's fusion weights by object size: ASFF's Figure 3 as a table and a figure.

Each adaptive run's `metrics.fusion_weights` (written by evaluation) holds, per COCO size and per
owning level, the mean weights every output level gives its three sources at the boxes' centres.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from matplotlib.figure import Figure

from asffbench.record.run_record import Metrics
from asffbench.results.reading.records import LoadedRecord, run_label
from asffbench.results.report.figures import save
from asffbench.results.tables.text_table import TextTable, markdown

SOURCE_NAMES = ("α", "β", "γ")  # the paper's names, sources in level order (stride 32, 16, 8)


def runs_with_metric(records: Sequence[LoadedRecord], key: str, part: str) -> list[tuple[str, dict]]:
    """(run label, metrics[key]) of the records whose metrics hold `key` as an object with `part`."""
    out = []
    for record in records:
        metrics = record.record.metrics
        value = getattr(metrics, key) if isinstance(metrics, Metrics) else None
        if isinstance(value, dict) and isinstance(value.get(part), (dict, list)):
            out.append((run_label(record), value))
    return out


def runs_with_weights(records: Sequence[LoadedRecord]) -> list[tuple[str, dict]]:
    return runs_with_metric(records, "fusion_weights", "by_size")


def weight_text(values: Optional[Sequence[float]]) -> list[str]:
    return ["n/a"] * len(SOURCE_NAMES) if not values else [f"{v:.2f}" for v in values]


def fusion_weights_markdown(records: Sequence[LoadedRecord]) -> Optional[str]:
    """One table per adaptive run: a row per (group, output level), the mean α, β, γ; None
    when no run measured fusion weights."""
    runs = runs_with_weights(records)
    if not runs:
        return None
    out = []
    for name, weights in runs:
        sources = weights.get("sources", [32, 16, 8])
        headers = ["Boxes", "n", "Output level"]
        headers += [f"{s} (from stride {stride})" for s, stride in zip(SOURCE_NAMES, sources)]
        table = TextTable(headers, [], align=["left", "right", "left"] + ["right"] * len(sources))
        for part, label in (("by_size", "{}"), ("by_owner", "owned by stride {}")):
            for group, cell in weights.get(part, {}).items():
                for stride, values in cell.get("weights", {}).items():
                    table.rows.append([label.format(group), str(cell.get("boxes", 0)), f"stride {stride}",
                                       *weight_text(values)])
        out.append(f"### {name}\n\n{markdown(table)}\n")
    out.append("Mean fusion weights at the centres of the val boxes (non-crowd, as used for training "
               "targets); size by box area in original pixels (COCO: small < 32², large > 96²); "
               "owner: the level of the box's best prior. Each row's weights sum to 1.\n")
    return "\n".join(out)


def plot_fusion_weights(records: Sequence[LoadedRecord], path: Path) -> Optional[Path]:
    """Per adaptive run and output level, stacked bars by object size: where each level draws from."""
    runs = runs_with_weights(records)
    if not runs:
        return None
    levels = max(len(w.get("sources", [])) for _, w in runs) or 3
    figure = Figure(figsize=(3.2 * levels, 2.6 * len(runs)))
    for row, (name, weights) in enumerate(runs):
        sizes = list(weights["by_size"])
        for col, stride in enumerate(weights.get("sources", [32, 16, 8])):
            ax = figure.add_subplot(len(runs), levels, row * levels + col + 1)
            bottom = [0.0] * len(sizes)
            for s, source in enumerate(weights.get("sources", [32, 16, 8])):
                heights = [(weights["by_size"][size]["weights"].get(str(stride)) or [0.0] * 3)[s] for size in sizes]
                ax.bar(sizes, heights, bottom=bottom, label=f"{SOURCE_NAMES[s]}: stride {source}")
                bottom = [b + h for b, h in zip(bottom, heights)]
            ax.set_ylim(0, 1)
            ax.set_title(f"{name}\noutput stride {stride}", fontsize=8)
            if col == 0:
                ax.set_ylabel("mean weight")
    figure.axes[0].legend(fontsize=6, loc="lower left")
    return save(figure, path)

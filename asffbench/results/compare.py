"""`asffbench compare A B`: paired bootstrap of two runs (or two cells of seeds) on one val set.

The command's module over the library: its inputs are read by `reading.run_inputs`, matched by
`intervals.matching` and compared by `intervals.significance.bootstrap_compare`. Both sides must
cover the same images. VOC runs (metrics.json says `metric: voc`, or `--metric voc`) are also
matched the VOC way, and their mAP and mAP07 are resampled with the same image weights as the
COCO metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from asffbench.results.intervals.families import METHOD_WORDS, adjust_deltas
from asffbench.results.intervals.matching import match_input
from asffbench.results.intervals.multiplicity import check_adjustment
from asffbench.results.intervals.significance import DEFAULT_REPLICATES, DEFAULT_SEED, MetricDelta, bootstrap_compare
from asffbench.results.reading.run_inputs import resolve_input


@dataclass
class Comparison:
    a: list[str]
    b: list[str]
    images: int
    replicates: int
    seed: int
    metrics: dict[str, MetricDelta]

    def to_json(self) -> dict:
        def number(value: float) -> Optional[float]:
            return None if value is None or not math.isfinite(value) else float(value)

        metrics = {}
        for name, m in self.metrics.items():
            entry = {"a": number(m.a), "b": number(m.b), "delta": number(m.delta),
                     "ci95": [number(v) for v in m.ci95], "p": number(m.p),
                     "significant": m.significant}
            if m.adjusted is not None and m.adjusted.method != "none":
                entry["adjusted"] = {"method": m.adjusted.method, "family": m.adjusted.family,
                                     "ci95": [number(v) for v in m.adjusted.ci95], "p": number(m.adjusted.p)}
                entry["significant_unadjusted"] = m.significant_unadjusted
            if len(self.a) > 1 or len(self.b) > 1:
                entry["seed_std"] = {"a": number(m.a_seed_std), "b": number(m.b_seed_std)}
            metrics[name] = entry
        return {"a": self.a if len(self.a) > 1 else self.a[0],
                "b": self.b if len(self.b) > 1 else self.b[0],
                "images": self.images, "bootstrap": self.replicates, "seed": self.seed,
                "metrics": metrics}


def compare_inputs(a: str, b: str, gt: Optional[Path] = None, replicates: int = DEFAULT_REPLICATES,
                   seed: int = DEFAULT_SEED, metric: str = "auto", adjustment: str = "none") -> Comparison:
    check_adjustment(adjustment)
    runs_a, runs_b = resolve_input(a, gt, metric), resolve_input(b, gt, metric)
    matched_a = [match_input(r) for r in runs_a]
    matched_b = [match_input(r) for r in runs_b]
    metrics = bootstrap_compare(matched_a, matched_b, replicates, seed)
    adjust_deltas(metrics, adjustment)
    return Comparison(a=[r.name for r in runs_a], b=[r.name for r in runs_b],
                      images=matched_a[0].num_images, replicates=replicates, seed=seed, metrics=metrics)


def comparison_lines(result: Comparison) -> list[str]:
    """A plain-text table: metric, A, B, Δ, interval, p (AP and mAP in percent)."""
    seeds = len(result.a) > 1 or len(result.b) > 1
    header = f"{'metric':<6} {'A':>6} {'B':>6} {'Δ (B-A)':>8} {'95% interval':>17} {'p':>6}"
    lines = [f"A: {', '.join(result.a)}", f"B: {', '.join(result.b)}",
             f"{result.images} images, {result.replicates} paired bootstrap replicates (seed {result.seed})"
             + (", seeds resampled too" if seeds else ""), "",
             header + ("   seed std A / B" if seeds else "")]
    for name, m in result.metrics.items():
        mark = " *" if m.significant else "  "
        line = (f"{name:<6} {100 * m.a:>6.2f} {100 * m.b:>6.2f} {100 * m.delta:>+8.2f} "
                f"[{100 * m.ci95[0]:+6.2f}, {100 * m.ci95[1]:+6.2f}] {m.p:>6.3f}{mark}")
        if seeds:
            line += f" {100 * m.a_seed_std:.2f} / {100 * m.b_seed_std:.2f}"
        lines.append(line.replace("nan", "n/a"))
    lines += ["", adjustment_legend(result.metrics)]
    return lines


def adjustment_legend(metrics: dict[str, MetricDelta]) -> str:
    """What `*` means in `compare`'s and `analyze`'s tables (AP and mAP in percent)."""
    adjusted = next((m.adjusted for m in metrics.values() if m.adjusted is not None), None)
    if adjusted is None or adjusted.method == "none":
        return "*: the 95% interval of Δ excludes 0, each metric taken alone (AP and mAP in percent)."
    lines = [f"*: significant with the {adjusted.family} metrics' deltas taken together ({METHOD_WORDS[adjusted.method]}); "
             "the interval shown is each one's own. Adjusted:"]
    lines += [f"  {name:<6} [{100 * m.adjusted.ci95[0]:+6.2f}, {100 * m.adjusted.ci95[1]:+6.2f}] p {m.adjusted.p:.3f}"
              for name, m in metrics.items() if m.adjusted is not None]
    return "\n".join(lines)

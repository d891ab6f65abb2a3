"""A report table's deltas as one family: seed widening, the adjustment, and the sentences about them.

- Seeds: a row with one seed has an interval over the val images only, which leaves training's
  randomness out. Where the table's other rows have several seeds, their pooled seed variance
  s² (per run, pooled over the rows: Σ(n_i − 1)s_i² / Σ(n_i − 1)) is added to every replicate delta
  of a comparison with a one-seed side, as a normal draw of variance s² per one-seed side; the
  interval, its p-value and the adjustment all see the widened replicates.
- Adjustment: every Δ of the table with replicates (rows x AP columns) is one family
  (`multiplicity.adjust`); `*` then means significant after adjustment.
- The sentence under the table names the significant deltas, against which row, and the family's
  size, and says so when none is.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from asffbench.results.intervals.multiplicity import DEFAULT_ADJUSTMENT, adjust
from asffbench.results.intervals.significance import MetricDelta, percentile_interval, two_sided_p
from asffbench.results.tables.result_tables import Cell, ResultTable

METHOD_WORDS = {
    "simultaneous": "simultaneous 95% intervals (max-|t| over the family's bootstrap replicates)",
    "holm": "Holm-adjusted bootstrap p-values at 5%",
    "none": "no adjustment: each 95% interval alone",
}


def members(table: ResultTable) -> list[tuple[Cell, str, MetricDelta]]:
    """The family: every (row, column) Δ of the table that has bootstrap replicates."""
    return [(cell, key, m) for cell in table.cells for key, m in cell.intervals.items() if m.replicates is not None]


def pooled_seed_std(table: ResultTable, key: str) -> tuple[float, int]:
    """The pooled seed standard deviation of `key` over the table's rows with two or more seeds
    (the table's units), and how many rows it pools; NaN and 0 without any."""
    rows = [c.stats[key] for c in table.cells if key in c.stats and c.stats[key].has_spread]
    dof = sum(s.n - 1 for s in rows)
    if not dof:
        return math.nan, 0
    return math.sqrt(sum((s.n - 1) * s.std ** 2 for s in rows) / dof), len(rows)


def one_seed_sides(cell: Cell) -> int:
    return int(cell.n == 1) + int(cell.base is not None and cell.base.n == 1)


def widen_with_seeds(table: ResultTable, seed: int = 0) -> None:
    """Add the pooled seed variance to the replicates of every comparison with a one-seed side."""
    rng = np.random.default_rng(seed)
    for cell, key, m in members(table):
        sides = one_seed_sides(cell)
        std, _ = pooled_seed_std(table, key)
        if not sides or not math.isfinite(std) or std <= 0:
            continue
        m.replicates = m.replicates + rng.normal(0.0, std * math.sqrt(sides), m.replicates.shape)
        m.ci95, m.p, m.seed_widening = percentile_interval(m.replicates), two_sided_p(m.replicates), std


def adjust_table(table: ResultTable, method: str = DEFAULT_ADJUSTMENT) -> None:
    """Each Δ's decision within the table's family (`MetricDelta.adjusted`)."""
    family = members(table)
    if not family:
        return
    size = min(len(m.replicates) for _, _, m in family)
    replicates = np.column_stack([m.replicates[:size] for _, _, m in family])
    decided = adjust([m.delta for _, _, m in family], replicates, [m.ci95 for _, _, m in family],
                     [m.p for _, _, m in family], method, [m.studentized for _, _, m in family])
    for (_, _, m), decision in zip(family, decided):
        m.adjusted = decision


def row_name(table: ResultTable, cell: Cell) -> str:
    context = ", ".join(f"{a.name} {a.label(v)}" for a, v in zip(table.context_axes, cell.context))
    return f"{cell.label} ({context})" if context else cell.label


def headers(table: ResultTable) -> dict[str, str]:
    return {q.key: q.header for q in table.quantities}


def family_sentence(table: ResultTable) -> str:
    """The sentence under a table with intervals: which deltas are significant (after adjustment),
    against which row, and how many comparisons the family holds; empty without intervals."""
    family = [(c, k, m) for c, k, m in members(table) if m.adjusted is not None]
    if not family:
        return ""
    method = family[0][2].adjusted.method
    size = family[0][2].adjusted.family
    how = METHOD_WORDS[method]
    names = headers(table)
    hits = [f"Δ{names.get(key, key)} of {row_name(table, cell)} against {row_name(table, cell.base)} "
            f"({m.delta:+.1f}, interval [{m.adjusted.ci95[0]:+.1f}, {m.adjusted.ci95[1]:+.1f}])"
            for cell, key, m in family if m.significant]
    alone = sum(m.significant_unadjusted for _, _, m in family)
    if not hits:
        extra = f"; {alone} would be, each taken alone" if method != "none" and alone else ""
        return (f"**No difference in this table is significant with its family of {size} comparisons "
                f"taken together ({how}){extra}.**{holm_resolution(table, method, size)}\n\n")
    return (f"**Significant with its family of {size} comparisons taken together ({how}): "
            f"{len(hits)} of {size}: " + "; ".join(hits) + ".**\n\n")


def holm_resolution(table: ResultTable, method: str, size: int) -> str:
    """Holm's smallest threshold is 0.05/m; a bootstrap p-value is never below 2/(R+1)."""
    if method != "holm" or not table.bootstrap or 2 * size / (table.bootstrap + 1) <= 0.05:
        return ""
    needed = math.ceil(2 * size / 0.05)
    return (f" With {table.bootstrap} replicates no bootstrap p-value can reach Holm's smallest threshold "
            f"0.05/{size}: use --bootstrap {needed} or more, or the simultaneous intervals.")


def seed_notes(table: ResultTable) -> list[str]:
    """What a `*` covers where a row has one seed, and the widening where the table could apply it."""
    family = members(table)
    single = sorted({row_name(table, c) for c, _, _ in family if c.n == 1}
                    | {row_name(table, c.base) for c, _, _ in family if c.base is not None and c.base.n == 1})
    if not single:
        return []
    widened = sorted({(k, m.seed_widening) for _, k, m in family if m.seed_widening > 0})
    note = (f"One seed in {', '.join(single)}: an interval over the val images alone covers this val sample, "
            "not training's randomness, so a * there says these two trained models differ on this val set, "
            "not that the setting is better; another seed could undo it.")
    if widened:
        names = headers(table)
        stds = ", ".join(f"{names.get(k, k)} {s:.2f}" for k, s in widened)
        note += (f" Here those intervals are widened by the seed spread of this table's multi-seed rows "
                 f"(pooled seed std: {stds}), which takes training's randomness in.")
    return [note]


def adjust_deltas(deltas: Mapping[str, MetricDelta], method: str) -> None:
    """`compare`'s and `analyze`'s family: all their metric deltas of one B - A, adjusted together."""
    family = [m for m in deltas.values() if m.replicates is not None]
    if not family:
        return
    replicates = np.column_stack([m.replicates for m in family])
    decided = adjust([m.delta for m in family], replicates, [m.ci95 for m in family], [m.p for m in family], method,
                     [m.studentized for m in family])
    for m, decision in zip(family, decided):
        m.adjusted = decision


def prepare_families(tables: Sequence[ResultTable], method: str = DEFAULT_ADJUSTMENT, seed: int = 0) -> None:
    """Seed widening, then the adjustment, for every table (after `cell_intervals.add_intervals`);
    each table keeps the sentence and notes that say what came of it, for the renderer."""
    for table in tables:
        widen_with_seeds(table, seed)
        adjust_table(table, method)
        table.family_sentence = family_sentence(table)
        table.seed_notes = seed_notes(table)

"""`report`: the tables, figures, methods and failures of some sweeps as a markdown report.

The report is assembled in a temporary directory beside its destination and only then moved into
place, so an interrupted report never leaves a half-written directory where a reader looks.
An empty or partly failed sweep still gets a report that says so plainly in its first lines.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence

from asffbench.atomic import write_dir_atomic
from asffbench.errors import UserError
from asffbench.results import plots
from asffbench.results.budget import budget_markdown
from asffbench.results.collect import Collection, collect, sweep_folder, write_frame
from asffbench.results.edge_weights import edge_weights_markdown
from asffbench.results.error_plots import plot_error_bars
from asffbench.results.error_report import ErrorSection, analyse_tables, error_markdown
from asffbench.results.fusion_weights import fusion_weights_markdown, plot_fusion_weights
from asffbench.results.gaps import Gap, failed_runs, missing_runs
from asffbench.results.families import prepare_families
from asffbench.results.intervals import add_intervals
from asffbench.results.multiplicity import DEFAULT_ADJUSTMENT, check_adjustment
from asffbench.results.methods import methods_markdown
from asffbench.results.records import as_text
from asffbench.results.reference import load_paper_reference
from asffbench.results.render import EXTENSIONS, FORMATS, render, to_markdown
from asffbench.results.runtimes import runtime_markdown
from asffbench.results.significance import DEFAULT_REPLICATES, DEFAULT_SEED
from asffbench.results.tables import ResultTable, build_tables
from asffbench.results.training_deltas import plot_curves, training_curves, training_markdown

REPORT_NAME = "report.md"
FORMAT_NAMES = {"md": "in markdown, as above", "csv": "as CSV numbers (means, stds, deltas)",
                "latex": "as a LaTeX table"}


@dataclass
class ReportSummary:
    out_dir: Path
    statement: str  # one plain sentence on the state of the sweep
    tables: list[ResultTable] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    failed: list[Gap] = field(default_factory=list)
    missing: list[Gap] = field(default_factory=list)
    problems: int = 0
    errors: list[ErrorSection] = field(default_factory=list)  # the error analysis, a section per table
    error_figures: dict[str, str] = field(default_factory=dict)  # table name -> figure path in the report
    training: dict = field(default_factory=dict)  # table name -> its rows' Δ curves over training
    training_figures: dict[str, str] = field(default_factory=dict)  # table name -> figure path in the report

    @property
    def report(self) -> Path:
        return self.out_dir / REPORT_NAME


def default_out_dir(sweep_dirs: Sequence[Path]) -> Path:
    return sweep_folder(sweep_dirs[0]) / "report"


def sweep_statement(collection: Collection, failed: list[Gap], missing: list[Gap]) -> str:
    where = ", ".join(str(d) for d in collection.sweep_dirs)
    counts = Counter(str(as_text(r.record.status)) for r in collection.records)
    unreadable = len([p for p in collection.problems if not p.loaded])
    if not collection.records:
        extra = f" ({unreadable} unreadable)" if unreadable else ""
        return f"Empty sweep: no run records found under {where}{extra}; nothing to tabulate."
    completed = counts.get("completed", 0)
    parts = [f"{completed} of {len(collection.records)} runs completed"]
    if failed:
        parts.append(f"{len(failed)} failed")
    if missing:
        parts.append(f"{len(missing)} missing or unfinished")
    if unreadable:
        parts.append(f"{unreadable} unreadable records")
    if completed == 0:
        prefix = "No run completed"
    elif failed or missing or unreadable:
        prefix = "Partly failed sweep"
    else:
        prefix = "All runs completed"
    return f"{prefix}: {', '.join(parts)}."


def escape_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def gap_table(gaps: list[Gap], reason_header: str) -> str:
    lines = [f"| Run | Where | {reason_header} |", "|:--|:--|:--|"]
    lines += [f"| {escape_cell(g.run)} | {escape_cell(g.where)} | {escape_cell(g.reason)} |" for g in gaps]
    return "\n".join(lines) + "\n"


def write_figures(tables: list[ResultTable], collection: Collection, out: Path) -> list[Path]:
    folder = out / "figures"
    folder.mkdir()
    written = []
    for table in tables:
        name = table.name.replace(".", "_")
        written.append(plots.plot_ap_versus(table, "fps", "FPS", folder / f"{name}_ap_vs_fps.png"))
        written.append(plots.plot_ap_versus(table, "gflops", "GFLOPs",
                                            folder / f"{name}_ap_vs_gflops.png"))
        written.append(plots.plot_ap_by_scale(table, folder / f"{name}_ap_by_scale.png"))
    written.append(plots.plot_training_curves(collection.records, folder / "training_curves.png"))
    written.append(plots.plot_ap_over_training(collection.records, folder / "ap_over_training.png"))
    written.append(plot_fusion_weights(completed(collection), folder / "fusion_weights.png"))
    return [p for p in written if p is not None]


def write_error_figures(sections: list[ErrorSection], out: Path) -> dict[str, str]:
    folder = out / "figures"
    folder.mkdir(exist_ok=True)
    written = {}
    for section in sections:
        path = plot_error_bars(section, folder / f"errors_{section.table.name.replace('.', '_')}.png")
        if path is not None:
            written[section.table.name] = f"figures/{path.name}"
    return written


def write_training_figures(summary: ReportSummary, out: Path) -> dict[str, str]:
    folder = out / "figures"
    folder.mkdir(exist_ok=True)
    titles = {t.name: t.title for t in summary.tables}
    written = {}
    for name, curves in summary.training.items():
        path = plot_curves(curves, titles.get(name, name), folder / f"delta_over_training_{name.replace('.', '_')}.png")
        written[name] = f"figures/{path.name}"
    return written


def completed(collection: Collection) -> list:
    return [r for r in collection.records if r.record.status == "completed"]


def report_markdown(summary: ReportSummary, collection: Collection, table_format: str) -> str:
    names = sorted({r.record.sweep for r in collection.records if isinstance(r.record.sweep, str)})
    title = ", ".join(names) if names else ", ".join(d.name for d in collection.sweep_dirs)
    out = [f"# asffbench report: {title}\n", f"**{summary.statement}**\n",
           "Sweep directories: " + ", ".join(f"`{d}`" for d in collection.sweep_dirs) + "\n"]
    out.append("## Results\n")
    if summary.tables:
        out += [to_markdown(t) for t in summary.tables]
    else:
        out.append("No completed or failed runs: there is nothing to tabulate.\n")
    out.append("## Figures\n")
    if summary.figures:
        out += [f"![{p.stem.replace('_', ' ')}](figures/{p.name})\n" for p in summary.figures]
    else:
        out.append("No completed run has metrics or a training log to plot.\n")
    if summary.training:
        titles = {t.name: t.title for t in summary.tables}
        out += ["## Δ over training\n", training_markdown(summary.training, titles, summary.training_figures)]
    if summary.errors:
        out += ["## Error analysis\n", error_markdown(summary.errors, summary.error_figures)]
    weights = fusion_weights_markdown(completed(collection))
    if weights:
        out += ["## Fusion weights by object size\n", weights]
    speeds = runtime_markdown(completed(collection))
    if speeds:
        out += ["## Speed by runtime\n", speeds]
    edges = edge_weights_markdown(completed(collection))
    if edges:
        out += ["## BiFPN edge weights\n", edges]
    out += ["## Methods\n", methods_markdown(collection.records)]
    budget = budget_markdown(collection)
    if budget:
        out += ["## Budget\n", budget]
    out.append("## Failed and missing runs\n")
    if not (summary.failed or summary.missing or collection.problems):
        out.append("None: every run has a completed record.\n")
    if summary.failed:
        out += [f"### Failed ({len(summary.failed)})\n", gap_table(summary.failed, "Error")]
    if summary.missing:
        out += [f"### Missing or unfinished ({len(summary.missing)})\n",
                gap_table(summary.missing, "Why")]
    if collection.problems:
        out.append(f"### Record problems ({len(collection.problems)})\n")
        out += [f"- `{p.path}`: {escape_cell(p.reason)}\n" for p in collection.problems]
    files = ["## Files\n", "- `records.csv` (and `records.parquet` when pyarrow is installed): "
             "one row per run."]
    if summary.tables:
        files.append(f"- `tables/`: every table {FORMAT_NAMES[table_format]}.")
    out.append("\n".join(files) + "\n")
    return "\n".join(out)


def fill_report(tmp: Path, summary: ReportSummary, collection: Collection, table_format: str) -> None:
    """Write the report's files into `tmp` (which becomes `summary.out_dir`)."""
    if not collection.frame.empty:
        write_frame(collection.frame, tmp / "records.csv")
    if summary.tables:
        (tmp / "tables").mkdir()
        for table in summary.tables:
            path = tmp / "tables" / f"{table.name}.{EXTENSIONS[table_format]}"
            path.write_text(render(table, table_format), encoding="utf-8")
    figures = write_figures(summary.tables, collection, tmp) if collection.records else []
    summary.figures = [summary.out_dir / "figures" / p.name for p in figures]
    summary.error_figures = write_error_figures(summary.errors, tmp) if summary.errors else {}
    summary.training_figures = write_training_figures(summary, tmp)
    (tmp / REPORT_NAME).write_text(report_markdown(summary, collection, table_format), encoding="utf-8")


def write_report(
    sweep_dirs: Sequence[Path | str],
    out_dir: Optional[Path | str] = None,
    table_format: str = "md",
    reference_path: Optional[Path] = None,
    bootstrap: int = DEFAULT_REPLICATES,
    bootstrap_seed: int = DEFAULT_SEED,
    error_analysis: bool = True,
    baselines: Optional[Mapping[str, str]] = None,
    adjustment: str = DEFAULT_ADJUSTMENT,
) -> ReportSummary:
    """The report of `sweep_dirs`; `bootstrap` replicates give every AP delta its interval (0: none);
    `error_analysis` adds TIDE's error types per row (a COCOeval matching of every run);
    `baselines` ({axis: value}) picks the rows the deltas and intervals are taken against;
    `adjustment` (`multiplicity.ADJUSTMENTS`) decides `*` within each table's family of deltas."""
    if table_format not in FORMATS:
        raise UserError(f"--format {table_format}: unknown format; choose from {', '.join(FORMATS)}")
    collection = collect(sweep_dirs)
    out = Path(out_dir) if out_dir is not None else default_out_dir(collection.sweep_dirs)
    reference = load_paper_reference(reference_path)
    tables = build_tables(collection.frame, reference, baselines)
    if bootstrap > 0:
        add_intervals(tables, bootstrap, bootstrap_seed)
        prepare_families(tables, check_adjustment(adjustment), bootstrap_seed)
    curves = training_curves(tables, bootstrap, bootstrap_seed) if bootstrap > 0 else {}
    failed, missing = failed_runs(collection), missing_runs(collection)
    summary = ReportSummary(out_dir=out, statement=sweep_statement(collection, failed, missing),
                            tables=tables, failed=failed, missing=missing,
                            problems=len(collection.problems),
                            errors=analyse_tables(tables, bootstrap, bootstrap_seed) if error_analysis else [],
                            training=curves)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a directory (choose another --out)")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # a parent of --out is a file
        raise UserError(f"{out}: cannot create the report directory ({err.strerror or err})") from None

    # Assembled beside `out` and moved into place whole; an old report goes only after the move.
    write_dir_atomic(out, lambda tmp: fill_report(tmp, summary, collection, table_format), replace=True)
    return summary

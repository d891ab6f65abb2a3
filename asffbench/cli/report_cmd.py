"""`asffbench collect` and `asffbench report`: run records -> a table of runs -> a paper-style report."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

SWEEP_DIRS_HELP = "Sweep directories (searched recursively for record.json) or record.json files."


class TableFormat(str, Enum):
    md = "md"
    csv = "csv"
    latex = "latex"


def warn(message: str) -> None:
    sys.stderr.write(f"asffbench: warning: {message}\n")


def parse_baselines(items: list[str]) -> dict[str, str]:
    """`--baseline AXIS=VALUE` options as {axis: value}; UserError for one without `=`."""
    from asffbench.errors import UserError

    baselines = {}
    for item in items:
        axis, sep, value = item.partition("=")
        if not (sep and axis.strip() and value.strip()):
            raise UserError(f"--baseline {item}: expected AXIS=VALUE, e.g. fusion=asff")
        baselines[axis.strip()] = value.strip()
    return baselines


def console():
    from rich.console import Console

    # Piped output gets a wide console so tables are not cropped to 80 columns.
    return Console(width=None if sys.stdout.isatty() else 250, soft_wrap=False)


def register(app: typer.Typer) -> None:
    @app.command("collect")
    def collect_command(
        sweep_dirs: list[Path] = typer.Argument(..., help=SWEEP_DIRS_HELP, show_default=False),
        out: Optional[Path] = typer.Option(
            None, "--out", "-o",
            help="CSV file to write (default: <first sweep dir>/records.csv); a .parquet file "
            "with the same name is written beside it when pyarrow is installed.",
        ),
    ) -> None:
        """Gather every run record into one table: a row per run (CSV, and Parquet)."""
        from collections import Counter

        from asffbench.results.collect import collect, sweep_folder, write_frame

        collection = collect(sweep_dirs)
        for problem in collection.problems:
            warn(f"{problem.path}: {problem.reason}")
        where = ", ".join(str(d) for d in collection.sweep_dirs)
        if not collection.records:
            typer.echo(f"no run records found under {where}; nothing written")
            return
        target = out or sweep_folder(collection.sweep_dirs[0]) / "records.csv"
        written = write_frame(collection.frame, target)
        counts = Counter(collection.frame["status"].astype(str))
        states = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        typer.echo(f"{len(collection.records)} records ({states}) -> "
                   + ", ".join(str(p) for p in written))

    @app.command("report")
    def report_command(
        sweep_dirs: list[Path] = typer.Argument(..., help=SWEEP_DIRS_HELP, show_default=False),
        out: Optional[Path] = typer.Option(
            None, "--out", "-o", help="Report directory (default: <first sweep dir>/report); "
            "replaced only once the new report is complete.",
        ),
        table_format: TableFormat = typer.Option(
            TableFormat.md, "--format", "-f", help="Format of the files under tables/."
        ),
        reference: Optional[Path] = typer.Option(
            None, "--reference", help="Paper figures YAML (default: the shipped paper_reference.yaml)."
        ),
        bootstrap: int = typer.Option(
            1000, "--bootstrap", "-n", min=0, help="Paired bootstrap replicates behind each Δ's 95% "
            "interval (0: no intervals)."
        ),
        errors: bool = typer.Option(
            True, "--errors/--no-errors", help="The error analysis section (TIDE's error types per row; "
            "it matches every run with COCOeval once more)."
        ),
        baseline: list[str] = typer.Option(
            [], "--baseline", "-b", metavar="AXIS=VALUE", show_default=False,
            help="The row deltas and intervals are taken against, e.g. fusion=asff (default: the "
            "axis's own baseline, fusion=none). Repeat for several axes.",
        ),
        adjust: str = typer.Option(
            "simultaneous", "--adjust", help="How `*` is decided within each table's family of deltas: "
            "simultaneous (max-|t| intervals), holm (Holm-adjusted p-values) or none (each interval alone).",
        ),
        mlflow_uri: Optional[str] = typer.Option(
            None, "--mlflow", metavar="URI", help="Also push the finished runs into this MLflow tracking "
            "store, one MLflow run per record; runs already there are skipped (asffbench[track]; "
            "docs/trackers.md).",
        ),
    ) -> None:
        """Write report.md: tables, figures, methods, and the failed and missing runs."""
        from asffbench.results.render import rich_table
        from asffbench.results.report import write_report

        summary = write_report(sweep_dirs, out, table_format.value, reference, bootstrap, error_analysis=errors,
                               baselines=parse_baselines(baseline), adjustment=adjust)
        terminal = console()
        for table in summary.tables:
            terminal.print(rich_table(table))
        for gap in summary.failed:
            terminal.print(f"failed: {gap.run} ({gap.where}): {gap.reason}", markup=False)
        for gap in summary.missing:
            terminal.print(f"missing: {gap.run} ({gap.where}): {gap.reason}", markup=False)
        terminal.print(summary.statement, markup=False)
        terminal.print(f"report written to {summary.report}", markup=False)
        if mlflow_uri:
            from asffbench.results.records import find_record_files
            from asffbench.trackers.mlflow_push import push_records

            records = [path for folder in sweep_dirs for path in find_record_files(Path(folder))]
            terminal.print(push_records(records, mlflow_uri).statement(), markup=False)

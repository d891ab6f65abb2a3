"""`asffbench analyze RUN [RUN_B]`: where the AP goes (TIDE's error types), per size and class, and its change."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from asffbench.cli.compare_cmd import INPUT_HELP


def register(app: typer.Typer) -> None:
    @app.command("analyze")
    def analyze_command(
        run: str = typer.Argument(..., help="The run to analyse (side A). " + INPUT_HELP, show_default=False),
        run_b: Optional[str] = typer.Argument(None, help="Side B: show B - A with 95% intervals. " + INPUT_HELP,
                                              show_default=False),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
        bootstrap: int = typer.Option(1000, "--bootstrap", "-n", help="Paired bootstrap replicates (with RUN_B)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the resampling."),
        gt: Optional[Path] = typer.Option(
            None, "--gt", help="COCO annotation file (needed for results files; overrides run dirs')."
        ),
        metric: str = typer.Option(
            "auto", "--metric", help="auto (VOC runs at IoU .50 only), coco, or voc."
        ),
        adjust: str = typer.Option(
            "none", "--adjust", help="With RUN_B: `*` for each number alone (none), or with all the "
            "analysis' deltas taken together: holm (Holm-adjusted p-values) or simultaneous (max-|t| intervals).",
        ),
    ) -> None:
        """Where the AP goes: TIDE's error types by size, and AP per class.

        AP lost to classification, localisation, both, duplicate, background and missed errors
        (TIDE's dAP), all false positives / negatives, at IoU .50 and .50:.95, by size; AP per class.

        With RUN_B, every number's change B - A on the same paired bootstrap resamples as `compare`.
        """
        from rich.console import Console
        from rich.table import Table

        from asffbench.results.compare import adjustment_legend
        from asffbench.results.error_tables import FOOTNOTE, analyse_inputs, analysis_header, class_table, error_tables

        result = analyse_inputs(run, run_b, gt, bootstrap, seed, metric, adjust)
        if as_json:
            typer.echo(json.dumps(result.to_json(), indent=2))
            return
        terminal = Console(width=None if sys.stdout.isatty() else 250, soft_wrap=False)
        for line in analysis_header(result):
            terminal.print(line, markup=False)
        for text_table in error_tables(result) + [class_table(result)]:
            table = Table(title=text_table.title, title_justify="left")
            for i, header in enumerate(text_table.headers):
                table.add_column(header, justify="left" if i == 0 else "right", no_wrap=True)
            for row in text_table.rows:
                table.add_row(*row)
            terminal.print(table)
        terminal.print(FOOTNOTE, markup=False)
        if result.deltas and adjust != "none":
            terminal.print(adjustment_legend(result.deltas).split("\n")[0], markup=False)

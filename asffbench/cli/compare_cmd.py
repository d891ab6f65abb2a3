"""`asffbench compare A B`: is B's AP really different from A's? Paired bootstrap over val images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

INPUT_HELP = ("A run directory, a COCO results file (with --gt), or a quoted glob of run directories "
              "(the seeds of one sweep cell).")


def register(app: typer.Typer) -> None:
    @app.command("compare")
    def compare_command(
        a: str = typer.Argument(..., help="Side A (the reference). " + INPUT_HELP, show_default=False),
        b: str = typer.Argument(..., help="Side B. " + INPUT_HELP, show_default=False),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
        bootstrap: int = typer.Option(1000, "--bootstrap", "-n", help="Bootstrap replicates."),
        seed: int = typer.Option(0, "--seed", help="Seed of the resampling."),
        gt: Optional[Path] = typer.Option(
            None, "--gt", help="COCO annotation file (needed for results files; overrides run dirs')."
        ),
        metric: str = typer.Option(
            "auto", "--metric", help="auto (VOC mAP too for runs evaluated with VOC mAP), coco, or voc."
        ),
        adjust: str = typer.Option(
            "none", "--adjust", help="`*` for each metric alone (none), or with the metrics' deltas "
            "taken together: holm (Holm-adjusted p-values) or simultaneous (max-|t| intervals).",
        ),
    ) -> None:
        """Is B's AP really different from A's? B - A with its 95% interval and p-value.

        AP, AP50, AP75, APs, APm, APl (and VOC mAP, mAP07) of A and B. Both sides are scored on the same bootstrap resamples of the val images; with several seeds
        on a side, seeds are resampled too (two-level bootstrap).
        """
        from asffbench.results.compare import compare_inputs, comparison_lines

        result = compare_inputs(a, b, gt, bootstrap, seed, metric, adjust)
        if as_json:
            typer.echo(json.dumps(result.to_json(), indent=2))
        else:
            typer.echo("\n".join(comparison_lines(result)))

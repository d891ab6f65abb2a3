"""`asffbench plan RUN_DIRS --delta D`: how many seeds and val images detect D, from pilot runs."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan_command(
        run_dirs: list[Path] = typer.Argument(..., help="Sweep or run directories of the pilot: at least two "
                                              "seeds of at least two variants.", show_default=False),
        delta: float = typer.Option(..., "--delta", help="The difference to detect, in metric points (AP in percent)."),
        power: float = typer.Option(0.8, "--power", help="The probability of detecting it."),
        metric: str = typer.Option("AP", "--metric", help="AP, AP50, AP75, APs, APm, APl (mAP, mAP07 for VOC runs)."),
        bootstrap: int = typer.Option(1000, "--bootstrap", "-n", min=2, help="Paired bootstrap replicates."),
        seed: int = typer.Option(0, "--seed", help="Seed of the resampling."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Seeds and val images needed to detect --delta, from pilot runs.

        The seeds x val images combinations that detect --delta with --power at 5% (two-sided), and
        the smallest delta the pilot itself detects. See docs/statistics.md for the model."""
        from asffbench.results.plan import make_plan, plan_lines

        plan = make_plan(run_dirs, delta, power, metric, bootstrap, seed)
        typer.echo(json.dumps(plan.to_json(), indent=2) if as_json else "\n".join(plan_lines(plan)))

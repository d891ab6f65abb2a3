"""`asffbench train [OVERRIDES] [--eval]`: train one model into a run directory.

Runs as one process, or as DDP under `torchrun --nproc_per_node=N -m asffbench.cli.app train`
or several SLURM tasks (`srun`); the launch itself is `asffbench.runs.train_only`.
"""

from __future__ import annotations

from typing import Optional

import typer

from asffbench.cli.common import OverridesArg, overrides_list, print_json


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_command(
        overrides: Optional[list[str]] = OverridesArg,
        then_eval: bool = typer.Option(False, "--eval", help="Evaluate the trained model afterwards (rank 0)."),
        as_json: bool = typer.Option(False, "--json", help="Print the outcome as one JSON object."),
    ) -> None:
        """Train one model into a run directory, with a checkpoint every epoch.

        The checkpoint is RUN_DIR/checkpoints/last.pt; train.resume=true continues from it.
        """
        from asffbench.config.compose import compose_config

        cfg = compose_config(overrides_list(overrides))  # a config error before torch loads
        from asffbench.runs.train_only import train_only

        outcome = train_only(cfg, then_eval=then_eval)
        if outcome is None:  # a DDP helper rank: rank 0 reports
            return
        if as_json:
            print_json(outcome)
            return
        typer.echo(f"trained {outcome['epochs_done']} epochs in {outcome['train_seconds']:.1f} s: {outcome['checkpoint']}")
        if "metrics" in outcome:
            typer.echo(metrics_line(outcome["metrics"]))


def metrics_line(metrics: dict) -> str:
    def fmt(value):
        return "n/a" if value is None else f"{100 * value:.1f}"

    if metrics.get("annotated") is False:
        return f"no AP (a test split): {metrics['server_zip']} is for the evaluation server"
    names = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100")
    return "  ".join(f"{name} {fmt(metrics.get(name))}" for name in names)

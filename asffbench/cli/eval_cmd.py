"""`asffbench eval [OVERRIDES] [--json]`: COCO bbox metrics of a trained checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from asffbench.cli.common import OverridesArg, overrides_list, print_json


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_command(
        overrides: Optional[list[str]] = OverridesArg,
        as_json: bool = typer.Option(False, "--json", help="Print the metrics as one JSON object."),
    ) -> None:
        """Evaluate run_dir=DIR (its checkpoints/last.pt), eval.checkpoint=FILE or model.weights=FILE
        (an asffbench checkpoint or reference-implementation weights) on the val split."""
        from asffbench.config.compose import compose_config
        from asffbench.engine.evaluate import evaluate

        cfg = compose_config(overrides_list(overrides))
        metrics = evaluate(cfg, eval_run_dir(cfg))
        if as_json:
            print_json(metrics)
        else:
            print_metrics(metrics)


def eval_run_dir(cfg) -> Path:
    """Where detections.json and metrics.json go: run_dir, else the checkpoint's (or weights') run
    directory or folder."""
    from asffbench.errors import UserError

    if cfg.run_dir:
        return Path(cfg.run_dir)
    weights = cfg.eval.checkpoint or cfg.model.get("weights")
    if weights:
        checkpoint = Path(weights)
        folder = checkpoint.parent
        return folder.parent if folder.name == "checkpoints" else folder
    raise UserError("eval: nothing to evaluate; set run_dir=DIR (a train run), eval.checkpoint=FILE or "
                    "model.weights=FILE")


def print_metrics(metrics: dict) -> None:
    from asffbench.engine.coco_eval import METRIC_NAMES

    for name in METRIC_NAMES:
        value = metrics.get(name)
        typer.echo(f"{name:>6}  {'n/a (no ground truth)' if value is None else f'{value:.4f}'}")
    per_class = metrics.get("per_class") or {}
    if per_class:
        typer.echo("per-class AP:")
        for name, value in per_class.items():
            typer.echo(f"  {name:<20} {'n/a' if value is None else f'{value:.4f}'}")
    typer.echo(f"{metrics['num_detections']} detections on {metrics['num_images']} images ({metrics['backend']})")

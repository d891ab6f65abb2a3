"""`asffbench eval [OVERRIDES] [--json]`: COCO bbox metrics of a trained checkpoint."""

from __future__ import annotations

from typing import Optional

import typer

from asffbench.cli.common import RunAndOverridesArg, print_json, run_and_overrides


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_command(
        items: Optional[list[str]] = RunAndOverridesArg,
        as_json: bool = typer.Option(False, "--json", help="Print the metrics as one JSON object."),
    ) -> None:
        """Evaluate a run (its last.pt, its own config) or eval.checkpoint=FILE on the val split.

        The run is RUN_DIR or run_dir=DIR; data=... and key.path=value overrides apply to its
        config (another model is refused: its model, fusion, tricks and recipe are fixed).
        """
        from asffbench.model_source import eval_config

        cfg = eval_config(run_and_overrides(items))  # a config error before torch loads
        from asffbench.runs.evaluate import eval_run_dir, evaluate

        metrics = evaluate(cfg, eval_run_dir(cfg))
        if as_json:
            print_json(metrics)
        else:
            print_metrics(metrics)


def print_metrics(metrics: dict) -> None:
    from asffbench.engine.coco_eval import METRIC_NAMES

    from asffbench.record_schema import VOC_METRIC

    if metrics.get("annotated") is False:
        print_unscored(metrics)
        return
    if metrics.get("metric") == VOC_METRIC:
        print_voc_metrics(metrics)
        typer.echo("COCO metrics on the same detections:")
    for name in METRIC_NAMES:
        value = metrics.get(name)
        typer.echo(f"{name:>6}  {'n/a (no ground truth)' if value is None else f'{value:.4f}'}")
    per_class = metrics.get("per_class") or {}
    if per_class:
        typer.echo("per-class AP:")
        for name, value in per_class.items():
            typer.echo(f"  {name:<20} {'n/a' if value is None else f'{value:.4f}'}")
    typer.echo(f"{metrics['num_detections']} detections on {metrics['num_images']} images ({metrics['backend']})")


def print_voc_metrics(metrics: dict) -> None:
    for name in ("mAP", "mAP07"):
        value = metrics.get(name)
        shown = "n/a (no ground truth)" if value is None else f"{value:.4f}"
        typer.echo(f"{name:>6}  {shown}  {metrics['conventions'][name]}")
    typer.echo("per-class VOC AP (area / 11-point):")
    for name, ap in (metrics.get("per_class_voc") or {}).items():
        texts = ["n/a" if ap[k] is None else f"{ap[k]:.4f}" for k in ("AP", "AP07")]
        typer.echo(f"  {name:<20} {texts[0]} / {texts[1]}")


def print_unscored(metrics: dict) -> None:
    """A test split's evaluation: where its detections are, and that AP is the server's to give."""
    typer.echo(f"no AP computed: {metrics['no_ap_reason']}")
    typer.echo(f"{metrics['num_detections']} detections on {metrics['num_images']} images for the evaluation server:")
    typer.echo(f"  {metrics['server_results']}")
    typer.echo(f"  {metrics['server_zip']} (the upload)")

"""`asffbench run [OVERRIDES]`: one controlled run (train + eval + bench) and its record."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from asffbench.cli.common import OverridesArg, overrides_list, print_json
from asffbench.record_schema import RECORD_NAME
from asffbench.record_types import InferBench, Metrics, RunError, RunRecord, or_none, part


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_command(
        overrides: Optional[list[str]] = OverridesArg,
        as_json: bool = typer.Option(False, "--json", help="Print the record as one JSON object."),
        force: bool = typer.Option(False, "--force", help="Redo a completed run of this experiment in "
                                   "run_dir (its files are kept in run_dir/.replaced-<time>/)."),
    ) -> None:
        """Train, evaluate and benchmark one experiment into its run directory and record.json.

        The run directory is run_dir=DIR (default runs/<time>-<fusion>-<hash>); train.epochs=0
        skips training. A completed run of the same experiment there is skipped (--force redoes
        it), an interrupted one resumed; another experiment's run is refused. Exits 1 when the
        run failed (the record says where and why).
        """
        from asffbench.config.compose import compose_config

        cfg = compose_config(overrides_list(overrides))  # a config error before torch loads
        from asffbench.runs.single_run import run_single

        outcome = run_single(cfg, force=force)
        record = outcome.record
        if outcome.plan.action == "skip":
            sys.stderr.write(f"asffbench: skipped: {outcome.plan.reason} (--force redoes it)\n")
        elif outcome.set_aside is not None:
            sys.stderr.write(f"asffbench: the earlier run's files are kept in {outcome.set_aside}\n")
        elif outcome.plan.action == "resume":
            sys.stderr.write(f"asffbench: resuming: {outcome.plan.reason}\n")
        if as_json:
            print_json(record.to_dict())
        else:
            print_summary(record)
        if record.status != "completed":
            raise typer.Exit(1)


def print_summary(record: RunRecord) -> None:
    run_dir = record.config_value("run_dir")
    if record.status == "completed":
        metrics, bench = part(record.metrics, Metrics), part(record.bench, InferBench)
        fps = number_or_none(bench.fps)
        voc = f"  mAP {metrics.mAP:.4f}" if number_or_none(metrics.mAP) is not None else ""
        typer.echo(
            f"completed: {run_dir}/{RECORD_NAME}{voc}  AP {ap_text(metrics)}"
            f"  FPS {fps if fps is None else f'{fps:.1f}'}  hash {record.experiment_hash}"
        )
        return
    error = part(record.error, RunError)
    sys.stderr.write(
        f"asffbench: run failed in {or_none(error.where)}: {or_none(error.type)}: {or_none(error.message)}"
        f" (record: {run_dir}/{RECORD_NAME})\n"
    )


def ap_text(metrics: Metrics) -> str:
    ap = number_or_none(metrics.AP)
    if ap is not None:
        return f"{ap:.4f}"
    if not metrics.scored:
        return f"n/a (a test split: {metrics.server_zip} is for the evaluation server)"
    return "None"


def number_or_none(value: object) -> Optional[float]:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

"""`asffbench train [OVERRIDES] [--eval]`: train one model into a run directory.

Runs as one process, or as DDP under `torchrun --nproc_per_node=N -m asffbench.cli.app train`
or several SLURM tasks (`srun`); every rank must see the same run_dir, so rank 0 picks it.
"""

from __future__ import annotations

from pathlib import Path
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
        """Train (checkpoint every epoch to RUN_DIR/checkpoints/last.pt; train.resume=true continues)."""
        from asffbench.config.compose import compose_config
        from asffbench.device import resolve_device
        from asffbench.engine.distributed import cleanup, init_distributed
        from asffbench.engine.train import train

        cfg = compose_config(overrides_list(overrides))
        env = init_distributed(resolve_device(cfg.device))
        try:
            run_dir = shared_run_dir(cfg, env.enabled)
            result = train(cfg, run_dir)
            outcome = {
                "run_dir": str(run_dir),
                "checkpoint": str(result.checkpoint),
                "epochs_done": result.epochs_done,
                "world_size": env.world_size,
                "train_seconds": round(result.train_seconds, 3),
                "final_loss": result.final_loss,
            }
            if then_eval and env.is_main:
                from asffbench.engine.evaluate import evaluate

                outcome["metrics"] = evaluate(cfg, run_dir, model=result.model)
            if env.is_main:
                if as_json:
                    print_json(outcome)
                else:
                    typer.echo(
                        f"trained {result.epochs_done} epochs in {result.train_seconds:.1f} s: {result.checkpoint}"
                    )
                    if "metrics" in outcome:
                        typer.echo(metrics_line(outcome["metrics"]))
        finally:
            cleanup()


def shared_run_dir(cfg, distributed: bool) -> Path:
    """cfg.run_dir, or a fresh directory under runs/ chosen by rank 0 and shared with all ranks."""
    if cfg.run_dir:
        return Path(cfg.run_dir)
    from asffbench.runs.run import fresh_run_dir

    if not distributed:
        return fresh_run_dir(cfg)
    import torch.distributed as dist

    chosen = [str(fresh_run_dir(cfg)) if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(chosen, src=0)
    return Path(chosen[0])


def metrics_line(metrics: dict) -> str:
    def fmt(value):
        return "n/a" if value is None else f"{100 * value:.1f}"

    names = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100")
    return "  ".join(f"{name} {fmt(metrics.get(name))}" for name in names)

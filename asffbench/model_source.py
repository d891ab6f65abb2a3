"""Which config and weights a command that runs a trained model uses (predict, viz).

A run's model is rebuilt from the run's own `config.yaml` (plus `key=value` overrides that do
not change the model); weights outside a run go with the config composed from the overrides.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from omegaconf import DictConfig

from asffbench.config.compose import RUN_CONFIG, compose_config, load_run_config
from asffbench.engine.checkpoint import last_checkpoint, run_dir_of
from asffbench.engine.evaluate import checkpoint_to_evaluate
from asffbench.errors import UserError


@dataclass
class ModelSource:
    cfg: DictConfig
    weights: Path
    run_dir: Optional[Path]  # the run the model comes from, when it comes from one


def resolve_source(overrides: Sequence[str], target: Optional[Path] = None) -> ModelSource:
    """The model that `target` names (a run directory, or a weights file in a run or loose:
    viz's argument), else the one the options name: `run_dir`, `eval.checkpoint` (its run's
    config when it lies in a run) or `model.weights` (predict)."""
    if target is None:
        return source_of_options(overrides)
    if not target.exists():
        raise UserError(f"{target}: no such run directory or checkpoint")
    if target.is_dir():
        checkpoint = last_checkpoint(target)
        cfg = run_config(target, overrides, option="")
        if not checkpoint.is_file():
            raise UserError(f"{checkpoint}: checkpoint not found")
        return ModelSource(cfg, checkpoint, target)
    run = run_dir_of(target)
    if run is not None and (run / RUN_CONFIG).is_file():
        return ModelSource(run_config(run, overrides, option=""), target, run)
    return ModelSource(compose_config(list(overrides)), target, None)


def source_of_options(overrides: Sequence[str]) -> ModelSource:
    cfg = compose_config(list(overrides))
    run = Path(cfg.run_dir) if cfg.run_dir else None
    if run is None and cfg.eval.checkpoint:
        run = run_dir_of(Path(cfg.eval.checkpoint))
    if run is None and not cfg.model.get("weights"):
        raise UserError("predict: no model to run; set model.weights=FILE, run_dir=DIR (a train run) "
                        "or eval.checkpoint=FILE")
    if run is not None:
        cfg = run_config(run, overrides, option="run_dir=")
    return ModelSource(cfg, checkpoint_to_evaluate(cfg, run or Path(".")), run)


def run_config(run: Path, overrides: Sequence[str], option: str) -> DictConfig:
    """The run's config.yaml with the overrides; `option` prefixes the error naming the run."""
    config = run / RUN_CONFIG
    if not config.is_file():
        raise UserError(f"{option}{run}: not a run directory (no {RUN_CONFIG})")
    return load_run_config(config, overrides)

"""Which config and weights a command that runs a trained model uses (predict, viz, eval).

A run's model is rebuilt from the run's own `config.yaml` (plus `data=...` and `key=value`
overrides, which do not change the model); weights outside a run go with the config composed from the overrides.
Which weights file is used is `weights.resolve.resolve_weights`' answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from omegaconf import DictConfig, OmegaConf, open_dict

from asffbench.config.compose import RUN_CONFIG, compose_config, load_run_config
from asffbench.errors import UserError
from asffbench.weights.resolve import EVAL, VIZ, WeightsSource, resolve_weights, run_dir_of

NO_MODEL = "predict: no model to run; set model.weights=FILE, run_dir=DIR (a train run) or eval.checkpoint=FILE"


@dataclass
class ModelSource:
    cfg: DictConfig
    weights: WeightsSource
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
        run, option = target, "run_dir"
        cfg = run_config(run, overrides, prefix="")
    else:
        run, option = run_dir_of(target), "eval.checkpoint"
        if run is not None and (run / RUN_CONFIG).is_file():
            cfg = run_config(run, overrides, prefix="")
        else:
            run, cfg = None, compose_config(list(overrides))
    named = cfg.copy()
    with open_dict(named):  # the target names the weights, whatever the run's config said
        named.eval.checkpoint = None
        named.run_dir = None
        OmegaConf.update(named, option, str(target))
    weights = resolve_weights(named, VIZ)
    assert weights is not None  # the target was just set
    return ModelSource(cfg, weights, run)


def source_of_options(overrides: Sequence[str]) -> ModelSource:
    cfg = compose_config(list(overrides))
    run = Path(cfg.run_dir) if cfg.run_dir else None
    if run is None and cfg.eval.checkpoint:
        run = run_dir_of(Path(cfg.eval.checkpoint))
    if run is None and not cfg.model.get("weights"):
        raise UserError(NO_MODEL)
    if run is not None:
        cfg = own_config(run, overrides)
    weights = resolve_weights(cfg, EVAL)
    if weights is None:
        raise UserError(NO_MODEL)
    return ModelSource(cfg, weights, run)


def eval_config(overrides: Sequence[str]) -> DictConfig:
    """`eval`'s config. `eval run_dir=R` evaluates R as it was configured: R's config.yaml with
    the overrides (`data=...` and `key.path=value`; `compose.load_run_config`), less its starting
    weights. A run_dir without a config.yaml is composed from the overrides alone, as for a loose
    file."""
    cfg = compose_config(list(overrides))
    config = Path(cfg.run_dir) / RUN_CONFIG if cfg.run_dir else None
    if config is None or not config.is_file():
        return cfg
    return own_config(Path(cfg.run_dir), overrides)


def own_config(run: Path, overrides: Sequence[str]) -> DictConfig:
    """What `predict`/`eval run_dir=R` run: R's config.yaml with the overrides, less its starting weights."""
    return without_starting_weights(run_config(run, overrides, prefix="run_dir="), overrides)


def without_starting_weights(cfg: DictConfig, overrides: Sequence[str]) -> DictConfig:
    """A run's own `model.weights` say where its training started, not what it learned: its
    checkpoint wins unless `model.weights` is given again on the command line."""
    if any(o.split("=", 1)[0].strip().lstrip("+") == "model.weights" for o in overrides):
        return cfg
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.model.weights = None
    return cfg


def run_config(run: Path, overrides: Sequence[str], prefix: str) -> DictConfig:
    """The run's config.yaml with the overrides; `prefix` leads the error naming the run."""
    config = run / RUN_CONFIG
    if not config.is_file():
        raise UserError(f"{prefix}{run}: not a run directory (no {RUN_CONFIG})")
    return load_run_config(config, overrides)

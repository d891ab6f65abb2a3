"""The choices of a run that depend on the machine or on several options, resolved once.

`device=auto` is looked up (`device.resolve_device`), `model.deform_conv=auto` resolved for that
device's kind, and the weights the run starts from picked (`weights.resolve.resolve_weights`:
`train`'s precedence when the run trains, `run`'s when it does not). `run_experiment` resolves
them at its top and hands this object to training, evaluation and the benchmark, so no step
derives a choice again (tests/runs/test_choices.py counts the calls).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
from omegaconf import DictConfig, open_dict

from asffbench.config.schema import choice_str
from asffbench.device import resolve_device
from asffbench.models.layers import resolve_deform_conv
from asffbench.weights.resolve import RUN, TRAIN, WeightsSource, resolve_weights


@dataclass(frozen=True)
class RunChoices:
    device: torch.device  # where the run computes (a DDP rank refines it to its own GPU)
    deform_conv: str  # guided anchoring's deformable conv, `auto` resolved for the device kind
    weights: Optional[WeightsSource]  # what the model starts from; None: as initialised


def resolve_choices(cfg: Any, command: Optional[str] = None) -> RunChoices:
    """The run's choices under `cfg`; `command` picks the weights' precedence (default: `train`
    when the run trains, else `run`). UserError for `device=cuda` without CUDA."""
    device = resolve_device(cfg.device)
    if command is None:
        command = TRAIN if int(cfg.train.epochs) > 0 else RUN
    return RunChoices(
        device=device,
        deform_conv=resolve_deform_conv(choice_str(cfg.model.deform_conv), device.type),
        weights=resolve_weights(cfg, command),
    )


def with_resolved_deform_conv(cfg: DictConfig, choices: RunChoices) -> DictConfig:
    """A copy of `cfg` naming the deformable conv the run resolved (what its config.yaml records,
    and what building the model then reads without looking the device up again)."""
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.model.deform_conv = choices.deform_conv
    return cfg

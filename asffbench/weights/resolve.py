"""Which weights a command uses, and which option named them: `resolve_weights(cfg, command)`.

Pure (reads no file, imports no torch): the answer is a `WeightsSource` (the file, the option
that named it, the format to read it as) that the loader reads and every message quotes
("eval.checkpoint=best.pt: no such file"). Each command looks at the options in its own order,
`PRECEDENCE`; the first one set wins:

- train (a fresh start; a resumed run continues from its own checkpoint instead):
  `train.checkpoint`, `model.weights`, `model.pretrained` (the backbone only);
- eval and predict: `eval.checkpoint`, `model.weights`, `run_dir` (its checkpoints/last.pt);
- viz: its target, given as `eval.checkpoint` (a file) or `run_dir` (a run);
- bench, and a run that trains nothing: `eval.checkpoint`, `train.checkpoint`, `model.weights`,
  `model.pretrained`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from asffbench.config.schema import choice_str

CHECKPOINT_DIR = "checkpoints"
LAST = "last.pt"
# `model.pretrained` fills the backbone only; the other options name whole-model weights.
BACKBONE = "backbone"
TRAIN, EVAL, VIZ, BENCH, RUN = "train", "eval", "viz", "bench", "run"
PRECEDENCE: dict[str, tuple[str, ...]] = {
    TRAIN: ("train.checkpoint", "model.weights", "model.pretrained"),
    EVAL: ("eval.checkpoint", "model.weights", "run_dir"),
    VIZ: ("eval.checkpoint", "run_dir"),
    BENCH: ("eval.checkpoint", "train.checkpoint", "model.weights", "model.pretrained"),
    RUN: ("eval.checkpoint", "train.checkpoint", "model.weights", "model.pretrained"),
}


@dataclass(frozen=True)
class WeightsSource:
    """A weights file, the option that named it, and how to read it."""

    path: Path
    option: str  # one of PRECEDENCE's options
    format: str  # model.weights_format (auto | asffbench | reference), or BACKBONE

    @property
    def whole_model(self) -> bool:
        """True for detector weights (learned: bench times them on val images), False for an
        ImageNet backbone."""
        return self.format != BACKBONE

    @property
    def where(self) -> str:
        """How messages name it: `option=path`; a run's checkpoint by its path and its run."""
        if self.option == "run_dir":
            return f"{self.path} (the checkpoint of run_dir={self.path.parent.parent})"
        return f"{self.option}={self.path}"

    def __str__(self) -> str:
        return f"weights from {self.where}"


def last_checkpoint(run_dir: Path) -> Path:
    """Where a run keeps its training state: `<run_dir>/checkpoints/last.pt`."""
    return Path(run_dir) / CHECKPOINT_DIR / LAST


def run_dir_of(checkpoint: Path) -> Optional[Path]:
    """The run directory a checkpoint belongs to (`<run>/checkpoints/x.pt`), else None."""
    folder = Path(checkpoint).parent
    return folder.parent if folder.name == CHECKPOINT_DIR else None


def option_value(cfg: Any, option: str) -> Optional[str]:
    section, _, key = option.rpartition(".")
    node = cfg[section] if section else cfg
    value = node.get(key)
    return str(value) if value else None


def resolve_weights(cfg: Any, command: str) -> Optional[WeightsSource]:
    """The weights `command` uses under `cfg` (the first option of its PRECEDENCE that is set),
    or None: a freshly initialised model. Raises KeyError for an unknown command."""
    for option in PRECEDENCE[command]:
        value = option_value(cfg, option)
        if value is None:
            continue
        if option == "run_dir":
            return WeightsSource(last_checkpoint(Path(value)), option, choice_str(cfg.model.weights_format))
        if option == "model.pretrained":
            return WeightsSource(Path(value), option, BACKBONE)
        return WeightsSource(Path(value), option, choice_str(cfg.model.weights_format))
    return None

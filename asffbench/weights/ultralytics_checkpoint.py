"""ultralytics' checkpoints as tensors and facts: `read_ultralytics_checkpoint(path, where)`.

Two kinds of file hold YOLOv8 weights in ultralytics' layout (`model.0.conv.weight` ...
`model.22.dfl.conv.weight`): a release or training checkpoint (`yolov8n.pt`, `best.pt`: a pickled
`DetectionModel` in half precision, read by `ultralytics_pickle` without running any of it) and a
bare state dict in that layout. Either gives an `UltralyticsCheckpoint`: the tensors named as
ultralytics' `state_dict()` names them, floating ones as float32, and what the file says of the
model (class count, scale, its yaml, class names, epoch, whether the EMA weights were used), so a
caller can refuse a file for another scale or class count in one line (`check_builds`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from torch import Tensor

from asffbench.errors import UserError
from asffbench.weights.read import read_torch_file, state_dict_of
from asffbench.weights.ultralytics_pickle import InertModule, names_ultralytics, read_ultralytics_pickle

# Every tensor of ultralytics' layout sits under the model's `nn.Sequential` of numbered layers.
LAYOUT_KEY = re.compile(r"model\.\d+\.")
# The detection head's class branch: level 0's last conv has one output channel per class.
CLASS_CONV_KEY = re.compile(r"model\.(\d+)\.cv3\.0\.2\.weight")
MODEL_CLASS = "DetectionModel"


@dataclass(frozen=True)
class UltralyticsCheckpoint:
    """A file's tensors in ultralytics' layout and what it says of the model it holds.

    `scale`, `yaml`, `names` and `epoch` are None for a bare state dict (it does not say them);
    `num_classes` is read from the head's class branch, so every file has it."""

    state_dict: dict[str, Tensor]
    num_classes: int
    scale: Optional[str] = None
    yaml: Optional[dict] = None
    names: Optional[tuple[str, ...]] = None
    epoch: Optional[int] = None
    ema_used: bool = False
    released: bool = False  # a pickled model (release or training checkpoint), not a bare state dict
    version: Optional[str] = field(default=None, compare=False)  # the ultralytics that wrote it

    def facts(self) -> str:
        """"scale s with 80 classes" (or "80 classes" where the file does not say its scale)."""
        classes = f"{self.num_classes} classes"
        return f"scale {self.scale} with {classes}" if self.scale else classes

    def check_builds(self, scale: Optional[str], num_classes: int, where: str) -> None:
        """UserError in one line when the file is for another scale or class count than configured."""
        scale_differs = self.scale is not None and scale is not None and self.scale != scale
        if scale_differs or self.num_classes != num_classes:
            built = f"scale {scale} with {num_classes} classes" if scale else f"{num_classes} classes"
            raise UserError(f"{where} holds {self.facts()}; the config builds {built}")


def is_ultralytics_layout(state: Mapping[str, Any]) -> bool:
    """Whether every tensor name is ultralytics' (`model.<layer>.`...)."""
    return bool(state) and all(LAYOUT_KEY.match(key) for key in state)


def classes_in(state: Mapping[str, Tensor], where: str) -> int:
    """The class count of the head: the output channels of its class branch's last conv."""
    heads = sorted((int(m[1]), key) for key in state if (m := CLASS_CONV_KEY.fullmatch(key)))
    if not heads:
        raise UserError(f"{where}: no detection head in ultralytics' layout (no model.N.cv3.0.2.weight)")
    return int(state[heads[-1][1]].shape[0])


def as_float32(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Floating tensors as float32 (releases are half precision); counters kept as they are."""
    return {key: (value.detach().float() if value.is_floating_point() else value.detach())
            for key, value in state.items()}


def module_tensors(module: InertModule, where: str, prefix: str = "") -> dict[str, Tensor]:
    """The tensors `state_dict()` gives for the pickled module: its parameters, then its persistent
    buffers, then each child's under `name.`, in pickled order (as nn.Module orders them)."""
    if not isinstance(module, InertModule) or not isinstance(module.state, dict):
        raise UserError(f"{where}: the pickled model's {prefix.rstrip('.') or 'root'} is not a module")
    found: dict[str, Tensor] = {}
    transient = module.field("_non_persistent_buffers_set") or set()
    buffers = {name: b for name, b in members(module, "_buffers", where, prefix).items() if name not in transient}
    for name, tensor in {**members(module, "_parameters", where, prefix), **buffers}.items():
        if tensor is None:
            continue
        if not isinstance(tensor, Tensor):
            raise UserError(f"{where}: the pickled model's {prefix}{name} is not a tensor")
        found[prefix + name] = tensor
    for name, child in members(module, "_modules", where, prefix).items():
        if child is not None:
            found.update(module_tensors(child, where, f"{prefix}{name}."))
    return found


def members(module: InertModule, field_name: str, where: str, prefix: str) -> Mapping[str, Any]:
    """A pickled module's `_parameters`, `_buffers` or `_modules` (a mapping of names)."""
    value = module.field(field_name, {})
    if not isinstance(value, Mapping) or not all(isinstance(name, str) for name in value):
        raise UserError(f"{where}: the pickled model's {prefix.rstrip('.') or 'root'} has no {field_name} mapping")
    return value


def pickled_model(checkpoint: Any, where: str) -> tuple[InertModule, bool]:
    """The model a checkpoint holds and whether it is the EMA: "ema" when set, else "model" (as
    ultralytics loads them; its released files hold "model", "ema" None)."""
    if not isinstance(checkpoint, Mapping):
        raise UserError(f"{where}: not an ultralytics checkpoint (a dict with 'model' or 'ema')")
    ema_used = checkpoint.get("ema") is not None
    model = checkpoint["ema"] if ema_used else checkpoint.get("model")
    if not isinstance(model, InertModule):
        raise UserError(f"{where}: holds no pickled ultralytics model ('model' and 'ema' are empty)")
    if model.qualified_name.rpartition(".")[2] != MODEL_CLASS:
        raise UserError(f"{where}: holds a {model.qualified_name}, not an ultralytics {MODEL_CLASS}")
    return model, ema_used


def class_names(names: Any) -> Optional[tuple[str, ...]]:
    """A model's class names in index order (ultralytics keeps a dict {index: name}, once a list)."""
    if isinstance(names, Mapping):
        return tuple(str(names[key]) for key in sorted(names))
    if isinstance(names, (list, tuple)):
        return tuple(str(name) for name in names)
    return None


def from_release(checkpoint: Any, where: str) -> UltralyticsCheckpoint:
    """The tensors and facts of an unpickled release or training checkpoint."""
    model, ema_used = pickled_model(checkpoint, where)
    state = as_float32(module_tensors(model, where))
    model_yaml = model.field("yaml")
    model_yaml = model_yaml if isinstance(model_yaml, dict) else None
    epoch = checkpoint.get("epoch")
    return UltralyticsCheckpoint(
        state_dict=state,
        num_classes=classes_in(state, where),
        scale=(model_yaml or {}).get("scale"),
        yaml=model_yaml,
        names=class_names(model.field("names")),
        epoch=epoch if isinstance(epoch, int) else None,
        ema_used=ema_used,
        released=True,
        version=checkpoint.get("version") if isinstance(checkpoint.get("version"), str) else None,
    )


def from_state_dict(state: Mapping[str, Tensor], where: str) -> UltralyticsCheckpoint:
    """A bare state dict in ultralytics' layout: its tensors and its class count."""
    if not is_ultralytics_layout(state):
        first = next((key for key in state if not LAYOUT_KEY.match(key)), "?")
        raise UserError(f"{where}: not in ultralytics' layout (tensor {first} is not under model.N.)")
    state = as_float32(state)
    return UltralyticsCheckpoint(state_dict=state, num_classes=classes_in(state, where))


def read_ultralytics_checkpoint(path: Path, where: str, pickled: Optional[bool] = None) -> UltralyticsCheckpoint:
    """An ultralytics release or training checkpoint, or a state dict in its layout, from `path`.

    `pickled`: whether the file pickles ultralytics' classes (None: find out from its globals)."""
    path = Path(path)
    if pickled is None:
        pickled = names_ultralytics(path)
    if pickled:
        return from_release(read_ultralytics_pickle(path, where), where)
    return from_state_dict(state_dict_of(read_torch_file(path, where), where), where)

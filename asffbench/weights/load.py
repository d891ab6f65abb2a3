"""Full-model weights from a file: an asffbench checkpoint or a reference-implementation state dict.

`load_weights(model, path, weights_format)` reads the file with `torch.load(weights_only=True)`,
tells the two formats apart by their tensor names (`auto`), renames reference tensors with
`reference_names(model)`, checks that every tensor fits before copying any, and loads them. A
file that does not fit stops with one line naming the file and the first tensor at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from asffbench.config.schema import choice_str
from asffbench.engine.checkpoint import model_state_from
from asffbench.errors import UserError
from asffbench.weights.reference_layout import NoReferenceLayout, reference_names

FORMATS = ("auto", "asffbench", "reference")
# Top-level names of the reference implementation's modules (Darknet-53 + neck, ASFF levels).
REFERENCE_ROOTS = ("module_list.", "level_")
DATA_PARALLEL_PREFIX = "module."
# BatchNorm step counters: bookkeeping that some files lack; they never change an output.
OPTIONAL_SUFFIX = "num_batches_tracked"


@dataclass
class LoadedWeights:
    path: Path
    format: str  # "asffbench" or "reference"
    tensors: int


def shape_text(tensor: Tensor) -> str:
    return "x".join(map(str, tensor.shape)) if tensor.dim() else "scalar"


def read_weights_file(path: Path, where: str) -> Any:
    if not path.is_file():
        raise UserError(f"{where}: no such file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for a truncated or foreign file
        reason = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise UserError(f"{where}: not a readable weights file (truncated, or not written by "
                        f"torch.save with tensors only: {reason})") from None


def is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and bool(obj) and all(
        isinstance(key, str) and isinstance(value, Tensor) for key, value in obj.items()
    )


def tensors_of(obj: Any, where: str) -> Mapping[str, Tensor]:
    """The weights inside a loaded object: a bare state dict, or an asffbench checkpoint's model
    (its EMA weights when it has them, as evaluation uses)."""
    if isinstance(obj, Mapping) and not is_state_dict(obj) and ("model" in obj or "ema" in obj):
        try:
            obj = model_state_from(dict(obj), Path(where))
        except UserError:
            obj = None
    if not is_state_dict(obj):
        raise UserError(f"{where}: not a state dict (names -> tensors) nor an asffbench checkpoint")
    keys = list(obj)
    if all(key.startswith(DATA_PARALLEL_PREFIX) for key in keys):  # saved from a DataParallel wrapper
        obj = {key[len(DATA_PARALLEL_PREFIX):]: value for key, value in obj.items()}
    return obj


def detect_format(state: Mapping[str, Tensor]) -> str:
    return "reference" if any(key.startswith(REFERENCE_ROOTS) for key in state) else "asffbench"


def check_fits(model: nn.Module, state: Mapping[str, Tensor], file_names: Mapping[str, str],
               where: str, unknown: Sequence[str] = ()) -> None:
    """Every tensor of the model present with its shape, nothing extra; else UserError naming the
    first misfit by its name in the file (`file_names`: our key -> the file's key; `unknown`: the
    file's names that map to no tensor of the model)."""
    expected = model.state_dict()
    for key, target in expected.items():
        name = file_names.get(key, key)
        if key not in state:
            if key.endswith(OPTIONAL_SUFFIX):
                continue
            raise UserError(f"{where}: no tensor {name} (the model's {key}, shape {shape_text(target)}): "
                            "weights of another model (fusion, tricks, width, depth)?")
        found = state[key]
        if found.shape != target.shape:
            raise UserError(f"{where}: tensor {name} has shape {shape_text(found)}, the configured model "
                            f"expects {shape_text(target)} (another fusion, model.num_classes, width?)")
    extra = [*unknown, *(key for key in state if key not in expected)]
    if extra:
        raise UserError(f"{where}: tensor {extra[0]} is not in the configured model "
                        f"({len(extra)} such tensors): weights of another model (fusion, tricks, width, depth)?")


def from_reference(model: nn.Module, state: Mapping[str, Tensor], where: str) -> tuple[dict, dict, list]:
    """Reference names -> ours: (renamed tensors, our key -> reference key, unknown names)."""
    try:
        names = reference_names(model)
    except NoReferenceLayout as err:
        raise UserError(f"{where}: the configured model cannot take reference weights: {err}") from None
    ours_of = {ref: ours for ours, ref in names.items()}
    renamed = {ours_of[key]: value for key, value in state.items() if key in ours_of}
    return renamed, names, [key for key in state if key not in ours_of]


def load_weights(
    model: nn.Module,
    path: Union[str, Path],
    weights_format: str = "auto",
    option: Optional[str] = "model.weights",
) -> LoadedWeights:
    """Load full-model weights from `path` into `model` (in place); UserError when they do not fit.

    `option` names the setting the path came from in messages (None: the path alone).
    """
    path = Path(path)
    weights_format = choice_str(weights_format)
    if weights_format not in FORMATS:
        raise UserError(f"model.weights_format={weights_format}: choose from {', '.join(FORMATS)}")
    where = f"{option}={path}" if option else str(path)
    state = tensors_of(read_weights_file(path, where), where)
    found_format = detect_format(state) if weights_format == "auto" else weights_format
    file_names: Mapping[str, str] = {}
    unknown: list[str] = []
    if found_format == "reference":
        state, file_names, unknown = from_reference(model, state, where)
    check_fits(model, state, file_names, f"{where} ({found_format} format)", unknown)
    model.load_state_dict(state, strict=False)  # strict but for the optional BN counters checked above
    return LoadedWeights(path=path, format=found_format, tensors=len(state))

"""Loading weights into a model: a whole model from either format, or the configured source.

`load_weights(model, path, weights_format)` reads the file (`read.read_torch_file`), tells an
asffbench checkpoint from a reference-implementation state dict or one in ultralytics' YOLOv8
layout by the tensor names (`auto`), renames their tensors with `reference_names(model)` /
`ultralytics_names(model)` (a file for another class count or scale of the family refused in one
line naming it: `ultralytics_layout.file_mismatch`), checks that every tensor fits before
copying any (`read.check_fits`), and loads them. `load_source(model, source)` loads what
`resolve.resolve_weights` named (a backbone for `model.pretrained`); `build_with_weights(cfg,
source)` is the configured model with them: building and loading are two steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Union

from torch import Tensor, nn

from asffbench.build import build_model
from asffbench.config.schema import choice_str
from asffbench.errors import UserError
from asffbench.models import YOLOv3
from asffbench.weights.pretrained import load_pretrained_backbone
from asffbench.weights.read import LoadedWeights, check_fits, read_torch_file, state_dict_of
from asffbench.weights.reference_layout import NoReferenceLayout, reference_names
from asffbench.weights.resolve import WeightsSource
from asffbench.weights.ultralytics_layout import (
    NoUltralyticsLayout,
    file_mismatch,
    is_ultralytics_state,
    ultralytics_names,
)

FORMATS = ("auto", "asffbench", "reference", "ultralytics")
# Top-level names of the reference implementation's modules (Darknet-53 + neck, ASFF levels).
REFERENCE_ROOTS = ("module_list.", "level_")


def detect_format(state: Mapping[str, Tensor]) -> str:
    if any(key.startswith(REFERENCE_ROOTS) for key in state):
        return "reference"
    return "ultralytics" if is_ultralytics_state(state) else "asffbench"


def from_reference(model: nn.Module, state: Mapping[str, Tensor], where: str) -> tuple[dict, dict, list]:
    """Reference names -> ours: (renamed tensors, our key -> reference key, unknown names)."""
    try:
        names = reference_names(model)
    except NoReferenceLayout as err:
        raise UserError(f"{where}: the configured model cannot take reference weights: {err}") from None
    ours_of = {ref: ours for ours, ref in names.items()}
    renamed = {ours_of[key]: value for key, value in state.items() if key in ours_of}
    return renamed, names, [key for key in state if key not in ours_of]


def from_ultralytics(model: nn.Module, state: Mapping[str, Tensor], where: str) -> tuple[dict, dict, list]:
    """Ultralytics names -> ours: (renamed tensors, our key -> its key, unknown names)."""
    try:
        names = ultralytics_names(model)
    except NoUltralyticsLayout as err:
        raise UserError(f"{where}: the configured model cannot take ultralytics weights: {err}") from None
    mismatch = file_mismatch(model, state, names)
    if mismatch:
        raise UserError(f"{where}: {mismatch}")
    ours_of = {theirs: ours for ours, theirs in names.items()}
    renamed = {ours_of[key]: value for key, value in state.items() if key in ours_of}
    return renamed, names, [key for key in state if key not in ours_of]


RENAMERS = {"reference": from_reference, "ultralytics": from_ultralytics}


def load_weights(
    model: nn.Module,
    path: Union[str, Path],
    weights_format: Any = "auto",
    option: Optional[str] = "model.weights",
    where: Optional[str] = None,
) -> LoadedWeights:
    """Load full-model weights from `path` into `model` (in place); UserError when they do not fit.

    `where` names the file in messages (default: `option=path`, or the path alone without option).
    """
    path = Path(path)
    weights_format = choice_str(weights_format)
    if weights_format not in FORMATS:
        raise UserError(f"model.weights_format={weights_format}: choose from {', '.join(FORMATS)}")
    where = where or (f"{option}={path}" if option else str(path))
    state = state_dict_of(read_torch_file(path, where), where)
    found_format = detect_format(state) if weights_format == "auto" else weights_format
    file_names: Mapping[str, str] = {}
    unknown: list[str] = []
    if found_format in RENAMERS:
        state, file_names, unknown = RENAMERS[found_format](model, state, where)
    check_fits(model, state, f"{where} ({found_format} format)", file_names, unknown)
    model.load_state_dict(state, strict=False)  # strict but for the optional BN counters checked above
    return LoadedWeights(path=path, format=found_format, tensors=len(state))


def load_source(model: YOLOv3, source: WeightsSource) -> LoadedWeights:
    """Load what `resolve_weights` named: the backbone for `model.pretrained`, else the whole model."""
    if not source.whole_model:
        return load_pretrained_backbone(model.backbone, source.path, source.option)
    if source.option == "run_dir" and not source.path.is_file():
        raise UserError(f"{source.path}: checkpoint not found (train with run_dir={source.path.parent.parent} "
                        "first, or set eval.checkpoint)")
    return load_weights(model, source.path, source.format, where=source.where)


def build_with_weights(cfg: Any, source: Optional[WeightsSource]) -> YOLOv3:
    """The configured model with the weights of `source` (None: as initialised)."""
    model = build_model(cfg)
    if source is not None:
        load_source(model, source)
    return model

"""Loading weights into a model: a whole model from either format, or the configured source.

`load_weights(model, path, weights_format)` reads the file (`formats.read_weights_file`), tells an
asffbench checkpoint from a reference-implementation state dict and from ultralytics' files (a
release or a state dict in its layout) by the tensor names (`auto`), renames reference tensors
with `reference_names(model)` and ultralytics' with `ultralytics_names(model)` (a model without
that layout refuses them; a file for another class count or scale is refused in one line naming
it), checks that every tensor fits before
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
from asffbench.weights.formats import REFERENCE, ULTRALYTICS_KINDS, WeightsFile, read_weights_file
from asffbench.weights.read import LoadedWeights, check_fits
from asffbench.weights.reference_layout import NoReferenceLayout, reference_names
from asffbench.weights.resolve import WeightsSource
from asffbench.weights.ultralytics_layout import NoUltralyticsLayout, file_mismatch, ultralytics_names

FORMATS = ("auto", "asffbench", "reference", "ultralytics")


def from_reference(model: nn.Module, state: Mapping[str, Tensor], where: str) -> tuple[dict, dict, list]:
    """Reference names -> ours: (renamed tensors, our key -> reference key, unknown names)."""
    try:
        names = reference_names(model)
    except NoReferenceLayout as err:
        raise UserError(f"{where}: the configured model cannot take reference weights: {err}") from None
    ours_of = {ref: ours for ours, ref in names.items()}
    renamed = {ours_of[key]: value for key, value in state.items() if key in ours_of}
    return renamed, names, [key for key in state if key not in ours_of]


def from_ultralytics(model: nn.Module, weights_file: WeightsFile, where: str) -> tuple[dict, dict, list]:
    """Ultralytics names -> ours, as `from_reference`; UserError when the model has no such layout
    or the file is for another class count or scale (`UltralyticsCheckpoint.check_builds`, then
    the stem width and first C2f depth: `ultralytics_layout.file_mismatch`)."""
    try:
        names = ultralytics_names(model)
    except NoUltralyticsLayout as err:
        raise UserError(f"{where}: holds an {weights_file.describe()}; the configured model does not take "
                        f"ultralytics' layout: {err}") from None
    weights_file.ultralytics.check_builds(None, int(model.num_classes), where)
    mismatch = file_mismatch(model, weights_file.state, names)
    if mismatch:
        raise UserError(f"{where} holds an {weights_file.describe()}: {mismatch}")
    ours_of = {theirs: ours for ours, theirs in names.items()}
    state = weights_file.state
    renamed = {ours_of[key]: value for key, value in state.items() if key in ours_of}
    return renamed, names, [key for key in state if key not in ours_of]


def file_format(weights_file: WeightsFile, weights_format: str, where: str) -> str:
    """The kind of file to read it as: what it is (`auto`) or what `model.weights_format` says;
    `ultralytics` only for a file of one of ultralytics' kinds."""
    if weights_format == "auto":
        return weights_file.kind
    if weights_format == "ultralytics":
        if weights_file.kind not in ULTRALYTICS_KINDS:
            raise UserError(f"{where}: model.weights_format=ultralytics, but the file is an {weights_file.kind} "
                            "file (no model.N. tensor names)")
        return weights_file.kind
    return weights_format


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
    weights_file = read_weights_file(path, where)
    state = weights_file.state
    found_format = file_format(weights_file, weights_format, where)
    file_names: Mapping[str, str] = {}
    unknown: list[str] = []
    if found_format in ULTRALYTICS_KINDS:
        state, file_names, unknown = from_ultralytics(model, weights_file, where)
    elif found_format == REFERENCE:
        state, file_names, unknown = from_reference(model, state, where)
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

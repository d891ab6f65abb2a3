"""Load ImageNet weights into a backbone (`model.pretrained`), from darknet's binary format
(Darknet-53) or a state dict (asffbench's backbone names, a whole model's under `backbone.`, the
reference implementation's `module_list.N` names, as in its mix-up pretrained
`darknet53_feature_mx.pth`, or torchvision's MobileNetV2 ImageNet file, whose `features.N` are
the backbone's own names and whose classifier is dropped).

Darknet binary (`darknet53.conv.74` layout): int32 major, minor, revision; `seen` as int64 when
major * 10 + minor >= 2, else int32; then for each conv unit in network order: BN bias, BN weight,
BN running mean, BN running var, conv weight, all little-endian float32. Files may stop after any
whole conv unit (the `.conv.74` cut holds the 52 backbone convs); the backbone is left untouched
unless the whole file fits. State dicts are read and checked by `weights.read`, as whole models are.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Mapping, Optional, Union

import numpy as np
import torch
from torch import Tensor, nn

from asffbench.errors import UserError
from asffbench.models.layers import ConvBNAct
from asffbench.weights.read import LoadedWeights, check_fits, read_torch_file, state_dict_of
from asffbench.weights.reference_layout import backbone_reference_names

ZIP_MAGIC = b"PK\x03\x04"  # torch.save's default (zip) format
PICKLE_PROTOCOL_BYTE = 0x80  # torch.save's legacy format starts with a pickle protocol opcode
# Order of the tensors of one conv unit in a darknet file.
DARKNET_TENSORS = ("bn.bias", "bn.weight", "bn.running_mean", "bn.running_var", "conv.weight")
# The reference implementation's ImageNet Darknet-53 (`module_list.0` .. `module_list.10`).
REFERENCE_BACKBONE_ROOT = "module_list."
BACKBONE_PREFIX = "backbone."  # a whole detector's state dict
# A torchvision ImageNet classifier's head (MobileNetV2's `classifier.1`): not part of a detector.
CLASSIFIER_PREFIX = "classifier."


def load_pretrained_backbone(backbone: nn.Module, path: Union[str, Path],
                             option: Optional[str] = "model.pretrained") -> LoadedWeights:
    """Load weights from `path` into `backbone`, detecting the file's format from its content.

    `option` names the setting the path came from in messages (None: the path alone)."""
    path = Path(path)
    where = f"{option}={path}" if option else str(path)
    if not path.is_file():
        raise UserError(f"{where}: no such file")
    try:
        with path.open("rb") as handle:
            start = handle.read(4)
    except OSError as err:  # e.g. no read permission
        raise UserError(f"{where}: cannot read ({err.strerror or err})") from None
    if start == ZIP_MAGIC or (start and start[0] == PICKLE_PROTOCOL_BYTE):
        return load_state_dict_weights(backbone, path, where)
    return load_darknet_weights(backbone, path)


def conv_units(backbone: nn.Module) -> list[tuple[str, ConvBNAct]]:
    """The backbone's conv units in network order (registration order = forward order)."""
    return [(name, module) for name, module in backbone.named_modules() if isinstance(module, ConvBNAct)]


def _darknet_values(path: Path) -> np.ndarray:
    data = path.read_bytes()
    if len(data) < 12:
        raise UserError(f"{path}: too short for a darknet weights header ({len(data)} bytes)")
    major, minor, _revision = struct.unpack_from("<3i", data, 0)
    if not (0 <= major < 1000 and 0 <= minor < 1000):
        raise UserError(f"{path}: not a darknet weights file nor a torch state dict (header {major}.{minor})")
    offset = 12 + (8 if major * 10 + minor >= 2 else 4)
    body = data[offset:]
    if len(data) < offset or len(body) % 4:
        raise UserError(f"{path}: truncated darknet weights file (not a whole number of float32 values)")
    return np.frombuffer(body, dtype="<f4")


def load_darknet_weights(backbone: nn.Module, path: Union[str, Path]) -> LoadedWeights:
    """Load a darknet binary file; every value must land in a backbone tensor."""
    path = Path(path)
    values = _darknet_values(path)
    if len(values) == 0:
        raise UserError(f"{path}: darknet weights file holds no weights after its header")
    staged: list[tuple[Tensor, np.ndarray]] = []
    position, units = 0, 0
    for unit_name, unit in conv_units(backbone):
        if position == len(values):
            break
        for tensor_name in DARKNET_TENSORS:
            is_buffer = tensor_name.startswith("bn.running")
            target = unit.get_buffer(tensor_name) if is_buffer else unit.get_parameter(tensor_name)
            needed, left = target.numel(), len(values) - position
            if needed > left:
                raise UserError(
                    f"{path}: file ends inside backbone.{unit_name}.{tensor_name} "
                    f"(needs {needed} values, {left} left): not Darknet-53 weights for this model's width"
                )
            staged.append((target, values[position : position + needed].reshape(tuple(target.shape))))
            position += needed
        units += 1
    if position < len(values):
        raise UserError(
            f"{path}: {len(values) - position} values left after the backbone's {units} conv units: "
            f"not Darknet-53 backbone weights for this model's width"
        )
    with torch.no_grad():
        for target, array in staged:
            target.copy_(torch.from_numpy(array.copy()))
    return LoadedWeights(path=path, format="darknet", tensors=len(staged), conv_units=units)


def _from_reference_backbone(backbone: nn.Module, state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Reference names -> the backbone's; the rest of a whole reference model is not ours."""
    ours_of = {ref: ours for ours, ref in backbone_reference_names(backbone).items()}
    return {ours_of[key]: value for key, value in state.items() if key in ours_of}


def load_state_dict_weights(backbone: nn.Module, path: Union[str, Path], where: Optional[str] = None) -> LoadedWeights:
    """Load a torch state dict whose keys are the backbone's, or a model's under `backbone.`."""
    path = Path(path)
    where = where or str(path)
    state = state_dict_of(read_torch_file(path, where), where)
    if any(key.startswith(REFERENCE_BACKBONE_ROOT) for key in state):
        state = _from_reference_backbone(backbone, state)
    elif any(key.startswith(BACKBONE_PREFIX) for key in state):
        # A whole detector's weights: keep the backbone's part, the other parts are not ours.
        state = {key[len(BACKBONE_PREFIX):]: value for key, value in state.items() if key.startswith(BACKBONE_PREFIX)}
    else:
        state = {key: value for key, value in state.items() if not key.startswith(CLASSIFIER_PREFIX)}
    check_fits(backbone, state, f"{where} (backbone)")
    backbone.load_state_dict(state, strict=False)  # strict but for the optional BN counters checked above
    units = sum(1 for name, _ in conv_units(backbone) if f"{name}.conv.weight" in state)
    return LoadedWeights(path=path, format="state_dict", tensors=len(state), conv_units=units)

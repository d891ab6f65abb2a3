"""Load ImageNet Darknet-53 weights into a backbone, from darknet's binary format or a state dict
(asffbench's backbone names, a whole model's under `backbone.`, or the reference implementation's
`module_list.0-10` names, as in its mix-up pretrained `darknet53_feature_mx.pth`).

Darknet binary (`darknet53.conv.74` layout): int32 major, minor, revision; `seen` as int64 when
major * 10 + minor >= 2, else int32; then for each conv unit in network order: BN bias, BN weight,
BN running mean, BN running var, conv weight, all little-endian float32. Files may stop after any
whole conv unit (the `.conv.74` cut holds the 52 backbone convs); the backbone is left untouched
unless the whole file fits.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Union

import numpy as np
import torch
from torch import Tensor, nn

from asffbench.errors import UserError
from asffbench.models.layers import ConvBNAct

ZIP_MAGIC = b"PK\x03\x04"  # torch.save's default (zip) format
PICKLE_PROTOCOL_BYTE = 0x80  # torch.save's legacy format starts with a pickle protocol opcode
# Order of the tensors of one conv unit in a darknet file.
DARKNET_TENSORS = ("bn.bias", "bn.weight", "bn.running_mean", "bn.running_var", "conv.weight")
CHECKPOINT_WRAPPERS = ("state_dict", "model")
# The reference implementation's ImageNet Darknet-53 (`module_list.0` .. `module_list.10`).
REFERENCE_BACKBONE_ROOT = "module_list."


@dataclass
class LoadedWeights:
    format: str  # "darknet" or "state_dict"
    tensors: int  # tensors copied into the backbone
    conv_units: int  # conv units fully loaded


def load_pretrained_backbone(backbone: nn.Module, path: Union[str, Path]) -> LoadedWeights:
    """Load weights from `path` into `backbone`, detecting the file's format from its content."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model.pretrained: no such file: {path}")
    try:
        with path.open("rb") as handle:
            start = handle.read(4)
    except OSError as err:  # e.g. no read permission
        raise UserError(f"model.pretrained: cannot read {path} ({err.strerror or err})") from None
    if start == ZIP_MAGIC or (start and start[0] == PICKLE_PROTOCOL_BYTE):
        return load_state_dict_weights(backbone, path)
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
    return LoadedWeights(format="darknet", tensors=len(staged), conv_units=units)


def _unwrap_state_dict(obj: object, path: Path) -> Mapping[str, Tensor]:
    if isinstance(obj, Mapping) and not any(isinstance(v, Tensor) for v in obj.values()):
        for key in CHECKPOINT_WRAPPERS:
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    is_state_dict = isinstance(obj, Mapping) and all(
        isinstance(key, str) and isinstance(value, Tensor) for key, value in obj.items()
    )
    if not is_state_dict:
        raise UserError(f"{path}: not a state dict (a mapping of names to tensors)")
    return obj


def _from_reference_backbone(backbone: nn.Module, state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Reference names -> the backbone's; the rest of a whole reference model is not ours."""
    from asffbench.weights.reference_layout import backbone_reference_names

    ours_of = {ref: ours for ours, ref in backbone_reference_names(backbone).items()}
    return {ours_of[key]: value for key, value in state.items() if key in ours_of}


def load_state_dict_weights(backbone: nn.Module, path: Union[str, Path]) -> LoadedWeights:
    """Load a torch state dict whose keys are the backbone's, or a model's under `backbone.`."""
    path = Path(path)
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for unreadable or unsafe files
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{path}: cannot load as a torch state dict ({message})") from None
    state = _unwrap_state_dict(loaded, path)
    if any(key.startswith(REFERENCE_BACKBONE_ROOT) for key in state):
        state = _from_reference_backbone(backbone, state)
    elif any(key.startswith("backbone.") for key in state):
        # A whole detector's weights: keep the backbone's part, the other parts are not ours.
        prefix = "backbone."
        state = {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}
    expected = backbone.state_dict()
    for key, value in state.items():
        if key not in expected:
            raise UserError(f"{path}: unknown backbone tensor {key!r}")
        if value.shape != expected[key].shape:
            raise UserError(
                f"{path}: backbone tensor {key!r} has shape {tuple(value.shape)}, "
                f"the model expects {tuple(expected[key].shape)}"
            )
    # BN step counters are bookkeeping that older files lack; every real tensor must be there.
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    if missing:
        raise UserError(f"{path}: backbone tensor {missing[0]!r} is missing ({len(missing)} missing in all)")
    backbone.load_state_dict(state, strict=False)
    units = sum(1 for name, _ in conv_units(backbone) if f"{name}.conv.weight" in state)
    return LoadedWeights(format="state_dict", tensors=len(state), conv_units=units)

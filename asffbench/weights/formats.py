"""What a weights file is, told from what it pickles and from its tensor names.

`read_weights_file(path, where)` reads any whole-model weights file once and says which of
`KINDS` it is: an ultralytics release (or training checkpoint: a pickled `DetectionModel`, read by
the restricted reader), a state dict in ultralytics' layout (`model.N....`), a state dict of the
reference implementation (`module_list.N...`, `level_N...`) or asffbench's own (a checkpoint or a
state dict of its modules). `layout_of(state)` is the one tensor-name test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from torch import Tensor

from asffbench.weights.read import read_torch_file, state_dict_of
from asffbench.weights.ultralytics_checkpoint import (
    UltralyticsCheckpoint,
    from_release,
    from_state_dict,
    is_ultralytics_layout,
)
from asffbench.weights.ultralytics_pickle import names_ultralytics, read_ultralytics_pickle

ULTRALYTICS_RELEASE = "ultralytics release"
ULTRALYTICS_STATE_DICT = "ultralytics-layout state dict"
ASFFBENCH = "asffbench"
REFERENCE = "reference"
KINDS = (ULTRALYTICS_RELEASE, ULTRALYTICS_STATE_DICT, ASFFBENCH, REFERENCE)
ULTRALYTICS_KINDS = (ULTRALYTICS_RELEASE, ULTRALYTICS_STATE_DICT)
# Top-level names of the reference implementation's modules (Darknet-53 + neck, ASFF levels).
REFERENCE_ROOTS = ("module_list.", "level_")


@dataclass(frozen=True)
class WeightsFile:
    """A file's tensors under its own names, its kind, and for ultralytics' kinds what it says of
    its model (class count, scale, ...)."""

    kind: str
    state: Mapping[str, Tensor]
    ultralytics: Optional[UltralyticsCheckpoint] = None

    def describe(self) -> str:
        """"ultralytics release: scale s with 80 classes", "reference", ..."""
        return f"{self.kind}: {self.ultralytics.facts()}" if self.ultralytics else self.kind


def layout_of(state: Mapping[str, Tensor]) -> str:
    """Whose names a state dict's tensors carry: `REFERENCE`, `ULTRALYTICS_STATE_DICT` or `ASFFBENCH`."""
    if any(key.startswith(REFERENCE_ROOTS) for key in state):
        return REFERENCE
    return ULTRALYTICS_STATE_DICT if is_ultralytics_layout(state) else ASFFBENCH


def read_weights_file(path: Path, where: str) -> WeightsFile:
    """Read a whole-model weights file of any kind (UserError in one line naming `where` when it
    cannot be read or pickles anything outside its format)."""
    path = Path(path)
    if names_ultralytics(path):
        checkpoint = from_release(read_ultralytics_pickle(path, where), where)
        return WeightsFile(ULTRALYTICS_RELEASE, checkpoint.state_dict, checkpoint)
    state = state_dict_of(read_torch_file(path, where), where)
    kind = layout_of(state)
    if kind == ULTRALYTICS_STATE_DICT:
        checkpoint = from_state_dict(state, where)
        return WeightsFile(kind, checkpoint.state_dict, checkpoint)
    return WeightsFile(kind, state)

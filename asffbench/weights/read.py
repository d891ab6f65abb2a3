"""The one reader of weight and checkpoint files, and the one fit check.

`read_torch_file(path, where)` is the only `torch.load` of asffbench (`weights_only=True`: a file
can hold tensors, numbers, strings and containers, never code). `state_dict_of(obj, where)` finds
the weights inside what it read: a bare state dict, an asffbench checkpoint (its EMA weights when
it has them, as evaluation uses) or a `{"state_dict": ...}` wrapper. `check_fits` says whether
those tensors fit a module, one line naming the first misfit. `where` is how messages name the
file: `option=path` (`WeightsSource.where`) or the path alone.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from asffbench.errors import UserError

DATA_PARALLEL_PREFIX = "module."  # saved from a DataParallel wrapper, or an EMA's AveragedModel
# BatchNorm step counters: bookkeeping that some files lack; they never change an output.
OPTIONAL_SUFFIX = "num_batches_tracked"
# Other projects' training checkpoints keep the weights under this key.
WRAPPER_KEY = "state_dict"


@dataclass(frozen=True)
class LoadedWeights:
    """What a load put into a model: the file, its format and how many tensors it copied."""

    path: Path
    format: str  # "asffbench" | "reference" (whole model); "darknet" | "state_dict" (a backbone)
    tensors: int
    conv_units: Optional[int] = None  # backbone loads: conv units loaded


def read_torch_file(path: Path, where: str, map_location: Any = "cpu",
                    safe_globals: Sequence[tuple[type, str]] = ()) -> Any:
    """`torch.load(path, weights_only=True)`; UserError naming `where` when the file is missing
    or cannot be read that way (truncated, not torch's, or holding pickled code).

    `safe_globals`: (class, "module.Name") pairs that the file's pickle may name besides torch's
    own, each built as that class (only `ultralytics_pickle`'s inert holders are ever passed);
    given any, they are the only ones admitted during the load (`only_safe_globals`)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{where}: no such file")
    try:
        with only_safe_globals(safe_globals) if safe_globals else nullcontext():
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for a truncated or foreign file
        reason = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise UserError(f"{where}: not a readable weights file (truncated, or not written by "
                        f"torch.save with tensors only: {reason})") from None


@contextmanager
def only_safe_globals(safe_globals: Sequence[tuple[type, str]]) -> Iterator[None]:
    """torch's process-wide list of globals admitted beside its own is exactly `safe_globals` inside
    (whatever else registered some is set aside, so a name always means the class given here),
    restored on exit. Process-wide: the CLI reads one file at a time."""
    registered = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    try:
        torch.serialization.add_safe_globals(list(safe_globals))
        yield
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(registered)


def is_state_dict(obj: Any) -> bool:
    """The one test of "is this a state dict": a non-empty mapping of names to tensors."""
    return isinstance(obj, Mapping) and bool(obj) and all(
        isinstance(key, str) and isinstance(value, Tensor) for key, value in obj.items()
    )


def model_state_from(state: Mapping, where: Any, prefer_ema: bool = True) -> Mapping[str, Tensor]:
    """An asffbench checkpoint's weights: the EMA weights when it has them, else the model's."""
    if prefer_ema and state.get("ema") is not None:
        return ema_module_state(state["ema"])
    if "model" in state:
        return state["model"]
    if is_state_dict(state):
        return state
    raise UserError(f"{where}: checkpoint has no 'model' weights")


def ema_module_state(ema_state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The wrapped module's weights out of an `AveragedModel` state dict."""
    return {k[len(DATA_PARALLEL_PREFIX):]: v for k, v in ema_state.items() if k.startswith(DATA_PARALLEL_PREFIX)}


def state_dict_of(obj: Any, where: str) -> Mapping[str, Tensor]:
    """The tensors inside what `read_torch_file` returned; UserError when there are none."""
    if isinstance(obj, Mapping) and not is_state_dict(obj):
        if "model" in obj or "ema" in obj:
            try:
                obj = model_state_from(obj, where)
            except UserError:
                obj = None
        elif isinstance(obj.get(WRAPPER_KEY), Mapping):
            obj = obj[WRAPPER_KEY]
    if not is_state_dict(obj):
        raise UserError(f"{where}: not a state dict (names -> tensors) nor an asffbench checkpoint")
    if all(key.startswith(DATA_PARALLEL_PREFIX) for key in obj):
        obj = {key[len(DATA_PARALLEL_PREFIX):]: value for key, value in obj.items()}
    return obj


def shape_text(tensor: Tensor) -> str:
    return "x".join(map(str, tensor.shape)) if tensor.dim() else "scalar"


def check_fits(module: nn.Module, state: Mapping[str, Tensor], where: str,
               file_names: Optional[Mapping[str, str]] = None, unknown: Sequence[str] = ()) -> None:
    """Every tensor of `module` present with its shape, nothing extra; else UserError naming the
    first misfit by its name in the file (`file_names`: our key -> the file's key; `unknown`: the
    file's names that map to no tensor of the module)."""
    file_names = file_names or {}
    expected = module.state_dict()
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

"""Reading ultralytics' pickled checkpoints without ultralytics and without running pickled code.

A released `yolov8n.pt` is `torch.save` of a dict whose "model" (or "ema") is a pickled
ultralytics `DetectionModel`: classes of ultralytics and of `torch.nn`, each rebuilt by pickle
from its `__dict__`. We read it through `read.read_torch_file` (the one `torch.load`, still with
`weights_only=True`: torch's restricted unpickler keeps its own checks) with each class the file
names standing for an `InertObject` subclass: pickle creates it and hands it its state (the
module's `__dict__`: `_modules`, `_parameters`, `_buffers`, its attributes), and nothing of the
class it stands for ever runs. Which classes may be named is decided here, from the file's list
of globals, before anything is unpickled: any other one (os.system, builtins.eval, a class of
another library or a newer ultralytics block) is refused in one line naming it and the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch

from asffbench.errors import UserError
from asffbench.weights.read import only_safe_globals, read_torch_file

# The classes a YOLOv8 detection checkpoint pickles, by their last name. ultralytics has moved
# them between modules (`ultralytics.nn.modules.Conv` in its first releases, `...modules.conv.Conv`
# now), so the module only has to be under one of these packages.
MODEL_CLASSES = {
    "ultralytics.nn.tasks": ("DetectionModel",),
    "ultralytics.nn.modules": ("Conv", "Concat", "C2f", "Bottleneck", "SPPF", "Detect", "DFL"),
    "torch.nn.modules": ("Conv2d", "BatchNorm2d", "SiLU", "Sequential", "ModuleList", "MaxPool2d",
                         "Upsample", "Identity"),
}
# Plain records some releases carry beside the model (training arguments, metrics, file paths):
# admitted as inert records too, never used for the weights.
RECORD_GLOBALS = frozenset({
    "ultralytics.utils.IterableSimpleNamespace",
    "ultralytics.yolo.utils.IterableSimpleNamespace",  # its path in the first 8.0 releases
    "numpy.dtype",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "pathlib.PosixPath",
    "pathlib.WindowsPath",
})


class InertObject:
    """What pickle builds for an admitted class: the arguments and state it was given, no behaviour.

    `qualified_name` is the class it stands for (set on each subclass). Pickle calls `__new__` (a
    module, `copyreg.__newobj__`), or the class itself with the reduce arguments (a record), then
    `__setstate__` with the object's `__dict__`; all three only store what they get.
    """

    qualified_name = "?"

    def __new__(cls, *args: Any) -> "InertObject":
        obj = super().__new__(cls)
        obj.args = args
        obj.state = None
        return obj

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<inert {self.qualified_name}>"


class InertModule(InertObject):
    """An `nn.Module` of the file: `state` is its `__dict__` (`_modules`, `_parameters`, ...)."""

    def field(self, name: str, default: Any = None) -> Any:
        return self.state.get(name, default) if isinstance(self.state, dict) else default


def admitted_kind(qualified_name: str) -> Optional[type]:
    """`InertModule` for a module class the format allows, `InertObject` for a record, None otherwise."""
    if qualified_name in RECORD_GLOBALS:
        return InertObject
    module, _, name = qualified_name.rpartition(".")
    for package, names in MODEL_CLASSES.items():
        if name in names and (module == package or module.startswith(package + ".")):
            return InertModule
    return None


def inert_class(qualified_name: str, base: type) -> type:
    """A new holder class standing for `qualified_name` (named after it, for messages and repr)."""
    return type(qualified_name.rpartition(".")[2], (base,), {"qualified_name": qualified_name})


def globals_beyond_torch(path: Path) -> list[str]:
    """The globals the file's pickle names beyond torch's own tensor machinery, read statically
    (none set aside as admitted because something else in the process registered it)."""
    with only_safe_globals(()):
        return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(path))


def globals_named(path: Path, where: str) -> list[str]:
    """`globals_beyond_torch`, UserError naming `where` when the file is not a torch zip checkpoint."""
    try:
        return globals_beyond_torch(path)
    except Exception as err:  # noqa: BLE001 - not a zip written by torch.save, truncated, TorchScript
        reason = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise UserError(f"{where}: not a checkpoint written by torch.save ({reason})") from None


def names_ultralytics(path: Path) -> bool:
    """Whether the file pickles ultralytics objects (a release or a training checkpoint of it)."""
    try:
        return any(name.startswith("ultralytics.") for name in globals_beyond_torch(path))
    except Exception:  # noqa: BLE001 - not a zip checkpoint: not an ultralytics file either
        return False


def holders_for(names: list[str], where: str) -> list[tuple[type, str]]:
    """One inert holder per global; UserError naming the first global the format does not admit."""
    refused = [name for name in names if admitted_kind(name) is None]
    if refused:
        others = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise UserError(f"{where}: refused: the file names {refused[0]}{others}, which an ultralytics "
                        "YOLOv8 detection checkpoint does not hold; nothing of it was run")
    return [(inert_class(name, admitted_kind(name)), name) for name in names]


def read_ultralytics_pickle(path: Path, where: str) -> Any:
    """The file's object (a dict for a checkpoint), each admitted class an inert holder."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{where}: no such file")
    return read_torch_file(path, where, safe_globals=holders_for(globals_named(path, where), where))

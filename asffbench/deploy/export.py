"""`export_onnx`: a detector as an ONNX file (dynamic batch, stated opset), checked against eager.

The TorchScript-based exporter (`dynamo=False`) is used: on the tiny model it exported in about a
tenth of the time of the `torch.export` path with the same operators, and it names an operator it
cannot export (torchvision's `deform_conv2d` has no ONNX form; `model.deform_conv=sampled`
computes the same function from exportable operators).
"""

from __future__ import annotations

import io
import os
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence

import torch
from torch import Tensor, nn

from asffbench.deploy.graph import ExportGraph, output_names, reg_max_of
from asffbench.deploy.optional import require
from asffbench.errors import UserError
from asffbench.models.input_norm import InputNorm

OPSET = 19
INPUT_NAME = "images"
STRIDES_KEY = "asffbench.strides"  # ONNX metadata: each level's stride, for the post-processing
REG_MAX_KEY = "asffbench.reg_max"  # ONNX metadata: anchor-free bins per box side (0: anchor-based)
# ONNX metadata: the input the graph expects, RGB / 255 then (x - mean) / std per channel.
INPUT_MEAN_KEY, INPUT_STD_KEY = "asffbench.input_mean", "asffbench.input_std"


@dataclass(frozen=True)
class Exported:
    """An exported graph: the ONNX bytes and what they were made from."""

    onnx_bytes: bytes
    graph: str
    opset: int
    img_size: int
    outputs: list[str]
    strides: list[int]
    seconds: float

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.onnx_bytes)


def export_onnx(model: nn.Module, img_size: int, graph: str = "raw", opset: int = OPSET,
                dynamic_batch: bool = True, input_norm: Optional[InputNorm] = None,
                **nms: float | int | bool) -> Exported:
    """Trace `model` (eval mode) at (1, 3, img_size, img_size) into ONNX; the batch axis stays
    dynamic unless `dynamic_batch` is off. `nms`: `ExportGraph`'s NMS settings (graph `nms`).
    `input_norm` (the family's `BackboneInfo.input_norm`), when given, is stated in the metadata.
    A model that cannot export raises UserError naming the operator."""
    onnx = require("onnx", "export")
    model = model.eval()
    wrapper = ExportGraph(model, graph, **nms).eval()
    sample = torch.zeros(1, 3, img_size, img_size, device=next(model.parameters()).device)
    with torch.no_grad():
        levels = model(sample).levels
    strides, reg_max = [level.stride for level in levels], reg_max_of(levels)
    names = output_names(graph, len(strides), anchor_free=reg_max > 0)
    buffer = io.BytesIO()
    started = time.perf_counter()
    # On failure the exporter prints the whole graph to stdout; the error names the operator.
    with export_errors(), warnings.catch_warnings(), torch.no_grad(), quiet_stdout():
        # The legacy exporter warns that it is legacy, and tracing warns about shape arithmetic.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper, (sample,), buffer, opset_version=opset, dynamo=False, input_names=[INPUT_NAME],
            output_names=names, dynamic_axes=dynamic_axes(names, graph) if dynamic_batch else None,
        )
    seconds = time.perf_counter() - started
    proto = onnx.load_from_string(buffer.getvalue())
    props = {STRIDES_KEY: ",".join(map(str, strides)), REG_MAX_KEY: str(reg_max), "asffbench.graph": graph}
    if input_norm is not None:
        props.update({INPUT_MEAN_KEY: ",".join(map(str, input_norm.mean)),
                      INPUT_STD_KEY: ",".join(map(str, input_norm.std))})
    onnx.helper.set_model_props(proto, props)
    return Exported(proto.SerializeToString(), graph, opset, img_size, names, strides, seconds)


def dynamic_axes(names: Sequence[str], graph: str) -> dict[str, dict[int, str]]:
    axes = {INPUT_NAME: {0: "batch"}}
    # The nms graph's rows run over the whole batch: their count varies, not a batch axis.
    axes.update({name: {0: "batch" if graph != "nms" else "detections"} for name in names})
    return axes


@contextmanager
def quiet_stdout() -> Iterator[None]:
    """Standard output silenced at the descriptor (the exporter's C++ side prints there)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


class export_errors:
    """Around the export: an operator the exporter cannot write becomes one line naming it."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, err, _tb) -> bool:
        if err is None or not isinstance(err, torch.onnx.errors.OnnxExporterError):
            return False
        first = next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
        hint = ("; guided anchoring's deformable conv exports with model.deform_conv=sampled"
                if "deform_conv2d" in first else "")
        raise UserError(f"export: {first.split('. ')[0]}{hint}") from None


def fixed_input(batch: int, img_size: int, seed: int = 0) -> Tensor:
    """The input of the eager-versus-ONNX-Runtime check: random normal images, fixed seed."""
    return torch.randn(batch, 3, img_size, img_size, generator=torch.Generator().manual_seed(seed))


def nearest_rows(rows: Tensor, others: Tensor, chunk: int = 1024) -> tuple[Tensor, Tensor]:
    """For each detection row, the index of the nearest row of `others` and the distance to it
    (largest absolute difference over the columns). Detection rows compare as sets: equal scores
    (an untrained head has many) leave their order to float noise. Chunked: thousands of rows."""
    if others.numel() == 0:
        return torch.full((len(rows),), float("inf")), torch.zeros(len(rows), dtype=torch.long)
    parts = [torch.cdist(part, others, p=float("inf")).min(dim=1) for part in rows.float().split(chunk)]
    return torch.cat([d for d, _ in parts]), torch.cat([i for _, i in parts])


def row_set_distance(rows: Tensor, others: Tensor) -> float:
    """Largest distance from a row of either set to its nearest row of the other."""
    if rows.numel() == 0 and others.numel() == 0:
        return 0.0
    return max(nearest_rows(rows, others.float())[0].max().item(), nearest_rows(others, rows.float())[0].max().item())


@dataclass(frozen=True)
class Difference:
    """Largest absolute difference between ONNX Runtime's and eager PyTorch's outputs, and that
    difference relative to the largest eager value (per output, the worst output reported)."""

    max_abs: float
    max_rel: float
    output: str
    note: str = ""


def compare_with_eager(model: nn.Module, exported: Exported, session, images: Tensor,
                       **nms: float | int | bool) -> Difference:
    """Run `images` through eager `model` (the same graph form) and through `session`."""
    with torch.no_grad():
        eager = ExportGraph(model.eval(), exported.graph, **nms)(images)
    outputs = session.run(None, {INPUT_NAME: images.cpu().numpy()})
    if exported.graph == "nms":
        return detections_difference(eager[0].float().cpu(), torch.from_numpy(outputs[0]), exported.outputs[0])
    worst = Difference(0.0, 0.0, exported.outputs[0])
    for name, ours, theirs in zip(exported.outputs, eager, outputs):
        theirs = torch.from_numpy(theirs)
        if ours.shape != theirs.shape:
            return Difference(float("nan"), float("nan"), name,
                              f"shapes differ: eager {tuple(ours.shape)}, ONNX Runtime {tuple(theirs.shape)}")
        if ours.numel() == 0:
            continue
        diff = (ours.float().cpu() - theirs.float()).abs().max().item()
        scale = ours.float().abs().max().item()
        if diff > worst.max_abs:
            worst = Difference(diff, diff / scale if scale > 0 else diff, name)
    return worst


def detections_difference(eager: Tensor, theirs: Tensor, name: str) -> Difference:
    """The `nms` graph's rows against eager's, as sets of rows (see `nearest_rows`)."""
    if eager.shape != theirs.shape:
        return Difference(float("nan"), float("nan"), name,
                          f"detections differ: eager {len(eager)}, ONNX Runtime {len(theirs)}")
    diff = row_set_distance(eager, theirs)
    scale = eager.abs().max().item() if eager.numel() else 0.0
    return Difference(diff, diff / scale if scale > 0 else diff, name)

"""FLOPs by counter: fvcore's count beside thop's and a count from the exported ONNX graph.

The counters disagree because they count different things, each in MACs (one multiply-add = 1):
- fvcore traces aten operators: convolutions, matmuls, `upsample`, batch norm, but no activations,
  additions, softmax or sampling (listed as skipped by fvcore itself);
- thop hooks `nn.Module`s: conv, batch norm, activations and upsampling modules count, while
  functional calls (torch.*, F.*: the ASFF softmax and weighted sum, grid sampling, the sampled
  deformable conv's matmul) are invisible to it;
- the ONNX count takes the graph after export (batch 1), where batch norm is folded into the
  convolutions: Conv, ConvTranspose, MatMul and Gemm MACs only, every other node type skipped.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from math import prod

import numpy as np
import torch
from torch import nn

from asffbench.bench.flops import TensorOutputs, count_flops
from asffbench.deploy.optional import require

MAC_OPS = ("Conv", "ConvTranspose", "MatMul", "Gemm")


@dataclass(frozen=True)
class CounterCount:
    counter: str
    gmacs: float
    unit: str  # what the counter's own total is in
    skipped: list[str]  # operators (or module types) it does not count
    img_size: int

    def as_dict(self) -> dict:
        return {"counter": self.counter, "gmacs": self.gmacs, "gflops": 2 * self.gmacs, "unit": self.unit,
                "skipped": self.skipped, "input": f"1x3x{self.img_size}x{self.img_size}"}


def fvcore_count(model: nn.Module, img_size: int) -> CounterCount:
    flops = count_flops(model, img_size)
    return CounterCount("fvcore", flops.gmacs, "MACs (fvcore calls them flops)", flops.uncounted_ops, img_size)


def thop_count(model: nn.Module, img_size: int) -> CounterCount:
    """thop's MACs; the skipped list names the leaf module types thop has no rule for."""
    thop = require("thop", "FLOPs by counter")
    from thop.profile import register_hooks  # heavy optional dependency, like thop itself

    images = torch.zeros(1, 3, img_size, img_size, device=next(model.parameters()).device)
    model.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        macs, _params = thop.profile(TensorOutputs(model), inputs=(images,), verbose=False)
    # thop.profile leaves counting buffers on the modules; remove them so state_dict stays clean.
    for module in model.modules():
        for name in ("total_ops", "total_params"):
            module._buffers.pop(name, None)
    # thop finds a module's rule through its class's MRO; a leaf with none counts zero.
    skipped = sorted({type(m).__name__ for m in model.modules() if not list(m.children())
                      and not any(cls in register_hooks for cls in type(m).__mro__)})
    skipped.append("functional calls (torch.*, F.*)")
    return CounterCount("thop", float(macs) / 1e9, "MACs", skipped, img_size)


def onnx_count(onnx_bytes: bytes, img_size: int) -> CounterCount:
    """MACs of the Conv / ConvTranspose / MatMul / Gemm nodes of an exported graph at batch 1.

    Shapes come from running the graph once on zeros with every operand exposed as an output:
    static shape inference cannot follow the reshapes the sampled deformable conv computes.
    """
    onnx = require("onnx", "FLOPs by counter")
    proto = onnx.load_from_string(onnx_bytes)
    shapes = operand_shapes(proto, img_size)
    macs, skipped = 0, Counter()
    for node in proto.graph.node:
        if node.op_type in MAC_OPS:
            macs += node_macs(node, shapes)
        elif node.op_type not in ("Constant", "Identity"):
            skipped[node.op_type] += 1
    return CounterCount("onnx graph", macs / 1e9, "MACs", sorted(skipped), img_size)


def operand_shapes(proto, img_size: int) -> dict[str, list[int]]:
    """Shapes of the MAC nodes' operands: initializers as stored, the others from one run."""
    onnx = require("onnx", "FLOPs by counter")
    ort = require("onnxruntime", "FLOPs by counter")
    shapes = {init.name: list(init.dims) for init in proto.graph.initializer}
    wanted = list(dict.fromkeys(name for node in proto.graph.node if node.op_type in MAC_OPS
                                for name in (*node.input[:2], node.output[0]) if name not in shapes))
    existing = {out.name for out in proto.graph.output}
    proto.graph.output.extend(onnx.ValueInfoProto(name=name) for name in wanted if name not in existing)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    zeros = np.zeros((1, 3, img_size, img_size), dtype=np.float32)
    values = session.run(wanted, {session.get_inputs()[0].name: zeros})
    shapes.update({name: list(value.shape) for name, value in zip(wanted, values)})
    return shapes


def node_macs(node, shapes: dict[str, list[int]]) -> int:
    """One MAC per output element per reduced input element."""
    out = shapes[node.output[0]]
    if node.op_type == "Conv":  # weight (out_c, in_c / groups, kh, kw): per output element
        return prod(out) * prod(shapes[node.input[1]][1:])
    if node.op_type == "ConvTranspose":  # weight (in_c, out_c / groups, kh, kw): per input element
        return prod(shapes[node.input[0]]) * prod(shapes[node.input[1]][1:])
    left = shapes[node.input[0]]
    transposed = any(a.name == "transA" and a.i for a in node.attribute)
    return prod(out) * (left[-2] if transposed else left[-1])


def count_by_counter(model: nn.Module, img_size: int, onnx_bytes: bytes) -> list[CounterCount]:
    """The model's MACs by fvcore, thop and the ONNX graph (exported at batch 1, `img_size`)."""
    return [fvcore_count(model, img_size), thop_count(model, img_size), onnx_count(onnx_bytes, img_size)]

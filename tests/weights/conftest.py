"""Helpers for the weight-import tests: the reference layout fixture and tiny models."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from asffbench.build import build_model
from asffbench.config.compose import compose_config
from asffbench.weights.reference_layout import reference_names

FIXTURE = Path(__file__).parent.parent / "fixtures" / "reference-checkpoints.md"
# The fixture's section names for asffbench's fusions (Darknet-53), and MobileNetV2's.
SECTIONS = {"none": "baseline", "asff": "asff", "asff_star": "asff_star"}
MOBILE_SECTIONS = {"none": "mobilenetv2", "asff": "mobilenetv2_asff"}
TINY = ["model=tiny", "model.num_classes=3", "device=cpu", "img_size=64"]


def parse_reference_layout(path: Path = FIXTURE) -> dict[str, dict]:
    """{section: {"tensors": [(name, shape, dtype)], "count": n, "params": p}} from the markdown."""
    sections: dict[str, dict] = {}
    current = None
    for line in path.read_text().splitlines():
        header = re.match(r"### (\w+)(?: \(\w+\))?: (\d+) tensors, (\d+) parameters", line)
        if header:
            current = {"tensors": [], "count": int(header[2]), "params": int(header[3])}
            sections[header[1]] = current
        elif line.startswith("#"):  # another heading: prose until the next listing
            current = None
        elif current is not None and line.strip():
            name, shape, dtype = line.split()
            dims = () if shape == "scalar" else tuple(int(d) for d in shape.split("x"))
            current["tensors"].append((name, dims, dtype))
    return sections


def randomized(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every parameter and BN statistic drawn at random, so that no tensor can hide a mix-up."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                values = torch.rand(tensor.shape, generator=generator) * 0.2
                tensor.copy_(values + 0.5 if name.endswith("running_var") else values - 0.1)
    return model.eval()


def as_state(model: torch.nn.Module) -> dict:
    """The model's tensors under the reference implementation's names."""
    names = reference_names(model)
    return {names[key]: value for key, value in model.state_dict().items()}


def as_reference(model: torch.nn.Module, path: Path) -> Path:
    """Write the model's weights as a reference-implementation state dict."""
    torch.save(as_state(model), path)
    return path


def tiny_cfg(*overrides: str):
    return compose_config([*TINY, *overrides])


@pytest.fixture
def tiny_model():
    def build(*overrides: str, seed: int = 0):
        torch.manual_seed(seed)
        return randomized(build_model(tiny_cfg(*overrides)), seed)

    return build


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convs: threads only add contention on a shared machine
    yield
    torch.set_num_threads(threads)

"""The reference implementation's checkpoint layout: names and shapes, and a round trip through it.

The fixture is a verbatim copy of the layout listing (every tensor of the released baseline,
ASFF and ASFF* checkpoints, 80 classes); asffbench's mapping must produce exactly those names,
shapes and dtypes from full-size models, and weights written under those names must load back
into a model that then computes exactly what the source model computed.
"""

from __future__ import annotations

import pytest
import torch

from asffbench.build import build_yolov3
from asffbench.weights.load import build_with_weights
from asffbench.weights.reference_layout import reference_names
from asffbench.weights.resolve import BENCH, resolve_weights

from .conftest import MOBILE_SECTIONS, SECTIONS, parse_reference_layout, randomized, tiny_cfg

LAYOUT = parse_reference_layout()


def dtype_name(tensor: torch.Tensor) -> str:
    return str(tensor.dtype).removeprefix("torch.")


def test_fixture_is_the_full_listing():
    assert set(LAYOUT) == {*SECTIONS.values(), *MOBILE_SECTIONS.values()}
    for section in LAYOUT.values():
        assert len(section["tensors"]) == section["count"]
        params = sum(torch.Size(shape).numel() for name, shape, _ in section["tensors"]
                     if not name.endswith(("running_mean", "running_var", "num_batches_tracked")))
        assert params == section["params"]


@pytest.mark.parametrize("fusion, deform_conv", [(f, "torchvision") for f in sorted(SECTIONS)] + [("asff_star", "sampled")])
def test_mapping_gives_exactly_the_reference_names_shapes_and_dtypes(fusion, deform_conv):
    with torch.device("meta"):  # full size, 80 classes, guided anchoring: the released models
        model = build_yolov3(fusion=fusion, deform_conv=deform_conv)
    names = reference_names(model)
    ours = sorted((names[key], tuple(t.shape), dtype_name(t)) for key, t in model.state_dict().items())
    assert ours == sorted(LAYOUT[SECTIONS[fusion]]["tensors"])
    assert len(set(names.values())) == len(names)  # one to one
    assert sum(p.numel() for p in model.parameters()) == LAYOUT[SECTIONS[fusion]]["params"]


def write_reference_file(source: torch.nn.Module, listing, path):
    """The source model's tensors under the listed reference names, shapes checked on the way."""
    ours_of = {ref: ours for ours, ref in reference_names(source).items()}
    state = source.state_dict()
    written = {}
    for name, shape, _dtype in listing:
        tensor = state[ours_of[name]]
        assert tuple(tensor.shape) == shape, name
        written[name] = tensor.clone()
    torch.save(written, path)
    return path


def outputs(model, images):
    with torch.no_grad():
        return [t for level in model(images).levels for t in (level.pred, level.anchors)]


@pytest.mark.slow
@pytest.mark.parametrize("fusion", sorted(SECTIONS))
def test_full_size_round_trip_through_the_listed_layout(fusion, tmp_path):
    torch.set_num_threads(2)
    source = randomized(build_yolov3(fusion=fusion), seed=1)
    path = write_reference_file(source, LAYOUT[SECTIONS[fusion]]["tensors"], tmp_path / "ref.pth")
    cfg = tiny_cfg("model=darknet53", f"fusion={fusion}", "model.num_classes=80",
                   "model.deform_conv=torchvision", f"model.weights={path}")
    loaded = build_with_weights(cfg, resolve_weights(cfg, BENCH)).eval()
    images = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    for got, expected in zip(outputs(loaded, images), outputs(source, images)):
        assert torch.equal(got, expected)


@pytest.mark.parametrize("fusion", sorted(SECTIONS))
def test_tiny_round_trip_gives_identical_outputs(fusion, tiny_model, tmp_path):
    source = tiny_model(f"fusion={fusion}", seed=1)
    names = reference_names(source)
    listing = [(names[key], tuple(t.shape), dtype_name(t)) for key, t in source.state_dict().items()]
    path = write_reference_file(source, listing, tmp_path / "ref.pth")
    cfg = tiny_cfg(f"fusion={fusion}", f"model.weights={path}")
    loaded = build_with_weights(cfg, resolve_weights(cfg, BENCH)).eval()
    images = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    for got, expected in zip(outputs(loaded, images), outputs(source, images)):
        assert torch.equal(got, expected)

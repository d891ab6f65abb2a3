import struct

import numpy as np
import pytest
import torch

from asffbench.errors import UserError
from asffbench.build import build_yolov3
from asffbench.models import Darknet53
from asffbench.weights.pretrained import conv_units, load_pretrained_backbone

DARKNET_ORDER = ("bn.bias", "bn.weight", "bn.running_mean", "bn.running_var", "conv.weight")


def tiny_backbone(width=0.25):
    torch.manual_seed(0)
    return Darknet53(width=width, depth=0.125)  # 16 conv units


def darknet_values(backbone, units=None):
    """Distinct float32 values per conv unit, in darknet order: {(unit, tensor): array}."""
    values, start = {}, 0.0
    for name, unit in conv_units(backbone)[:units]:
        for tensor in DARKNET_ORDER:
            shape = tuple((unit.get_parameter if "running" not in tensor else unit.get_buffer)(tensor).shape)
            size = int(np.prod(shape))
            values[(name, tensor)] = (start + np.arange(size, dtype=np.float32) / 1000).reshape(shape)
            start += 1.0
    return values


def write_darknet(path, values, major=0, minor=2, extra=()):
    header = struct.pack("<3i", major, minor, 0)
    header += struct.pack("<q", 123456) if major * 10 + minor >= 2 else struct.pack("<i", 1234)
    body = np.concatenate([a.ravel() for a in values.values()] + [np.asarray(extra, dtype=np.float32)])
    path.write_bytes(header + body.astype("<f4").tobytes())
    return path


@pytest.mark.parametrize("major, minor", [(0, 2), (0, 1), (1, 0)])
def test_darknet_values_land_in_the_right_tensors(tmp_path, major, minor):
    backbone = tiny_backbone()
    values = darknet_values(backbone)
    loaded = load_pretrained_backbone(backbone, write_darknet(tmp_path / "d53.weights", values, major, minor))
    assert (loaded.format, loaded.conv_units, loaded.tensors) == ("darknet", 16, 80)
    units = dict(conv_units(backbone))
    for (name, tensor), expected in values.items():
        target = units[name].get_parameter(tensor) if "running" not in tensor else units[name].get_buffer(tensor)
        np.testing.assert_array_equal(target.detach().numpy(), expected, err_msg=f"{name}.{tensor}")
    assert units["stem"].bn.bias[0].item() == 0.0 and units["stem"].conv.weight.flatten()[1].item() == pytest.approx(4.001)


def test_a_file_with_fewer_convs_loads_only_those(tmp_path):
    backbone = tiny_backbone()
    untouched = conv_units(backbone)[3][1].conv.weight.detach().clone()
    loaded = load_pretrained_backbone(backbone, write_darknet(tmp_path / "d.conv.3", darknet_values(backbone, 3)))
    assert loaded.conv_units == 3
    assert torch.equal(conv_units(backbone)[3][1].conv.weight, untouched)
    assert conv_units(backbone)[2][1].bn.running_var[0].item() == pytest.approx(13.0)  # 5 tensors a unit


def test_truncated_file_names_the_tensor_and_loads_nothing(tmp_path):
    backbone = tiny_backbone()
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    values = darknet_values(backbone, 2)
    values[("stages.0.down", "bn.running_var")] = values[("stages.0.down", "bn.running_var")][:3]
    del values[("stages.0.down", "conv.weight")]
    path = write_darknet(tmp_path / "cut.weights", values)
    with pytest.raises(UserError) as info:
        load_pretrained_backbone(backbone, path)
    assert str(info.value).startswith(f"{path}: file ends inside backbone.stages.0.down.bn.running_var")
    assert "needs 16 values, 3 left" in str(info.value)
    assert all(torch.equal(before[k], v) for k, v in backbone.state_dict().items())


def test_extra_values_and_wrong_width_are_mismatches(tmp_path):
    backbone = tiny_backbone()
    path = write_darknet(tmp_path / "long.weights", darknet_values(backbone), extra=[1.0, 2.0])
    with pytest.raises(UserError, match="2 values left after the backbone's 16 conv units"):
        load_pretrained_backbone(backbone, path)
    path = write_darknet(tmp_path / "narrow.weights", darknet_values(backbone))
    with pytest.raises(UserError, match="narrow.weights: file ends inside backbone"):
        load_pretrained_backbone(tiny_backbone(width=0.5), path)


def test_garbage_is_not_mistaken_for_weights(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"hello, these are not weights at all")
    with pytest.raises(UserError, match="notes.txt: not a darknet weights file"):
        load_pretrained_backbone(tiny_backbone(), path)
    short = tmp_path / "short.weights"
    short.write_bytes(b"\0\0\0")
    with pytest.raises(UserError, match="too short"):
        load_pretrained_backbone(tiny_backbone(), short)
    empty = write_darknet(tmp_path / "empty.weights", {})
    with pytest.raises(UserError, match="empty.weights: darknet weights file holds no weights"):
        load_pretrained_backbone(tiny_backbone(), empty)


def filled_backbone_state():
    source = tiny_backbone()
    with torch.no_grad():
        for index, tensor in enumerate(source.state_dict().values()):
            if tensor.is_floating_point():
                tensor.fill_(index + 0.5)
    return source.state_dict()


@pytest.mark.parametrize("layout", ["backbone", "detector", "wrapped"])
def test_state_dicts_load_with_or_without_the_backbone_prefix(tmp_path, layout):
    state = filled_backbone_state()
    if layout == "backbone":
        saved = state
    else:
        detector = build_yolov3(fusion="none", width=0.25, depth=0.125).state_dict()
        detector.update({f"backbone.{k}": v for k, v in state.items()})
        saved = detector if layout == "detector" else {"state_dict": detector, "epoch": 3}
    torch.save(saved, tmp_path / "w.pt")
    backbone = tiny_backbone()
    loaded = load_pretrained_backbone(backbone, tmp_path / "w.pt")
    assert loaded.format == "state_dict" and loaded.conv_units == 16
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_state_dict_mismatches_name_the_tensor(tmp_path):
    state = filled_backbone_state()
    bad_shape = dict(state, **{"stages.1.down.conv.weight": torch.zeros(3, 3)})
    torch.save(bad_shape, tmp_path / "shape.pt")
    with pytest.raises(UserError, match=r"shape.pt \(backbone\): tensor stages.1.down.conv.weight has shape 3x3, the configured model expects 32x16x3x3"):
        load_pretrained_backbone(tiny_backbone(), tmp_path / "shape.pt")
    torch.save(dict(state, **{"stages.9.conv.weight": torch.zeros(1)}), tmp_path / "unknown.pt")
    with pytest.raises(UserError, match=r"unknown.pt \(backbone\): tensor stages.9.conv.weight is not in the configured model"):
        load_pretrained_backbone(tiny_backbone(), tmp_path / "unknown.pt")
    missing = {k: v for k, v in state.items() if k != "stem.bn.running_mean"}
    torch.save(missing, tmp_path / "missing.pt")
    with pytest.raises(UserError, match=r"missing.pt \(backbone\): no tensor stem.bn.running_mean"):
        load_pretrained_backbone(tiny_backbone(), tmp_path / "missing.pt")


def test_files_that_are_not_state_dicts(tmp_path):
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    with pytest.raises(UserError, match="list.pt: not a state dict"):
        load_pretrained_backbone(tiny_backbone(), tmp_path / "list.pt")
    torch.save({"model": torch.nn.Linear(2, 2)}, tmp_path / "module.pt")  # pickled module: unsafe
    with pytest.raises(UserError, match="module.pt: not a readable weights file"):
        load_pretrained_backbone(tiny_backbone(), tmp_path / "module.pt")


def test_an_unreadable_file_is_a_user_error(tmp_path, monkeypatch):
    path = write_darknet(tmp_path / "locked.weights", darknet_values(tiny_backbone()))

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(type(path), "open", refuse)
    with pytest.raises(UserError, match="model.pretrained=.*locked.weights: cannot read .Permission denied."):
        load_pretrained_backbone(tiny_backbone(), path)

"""`model.weights=FILE`: formats told apart, every command's model gets them, misfits are one line."""

from __future__ import annotations

import pytest
import torch

from asffbench.build import build_model
from asffbench.engine.checkpoint import save_checkpoint
from asffbench.errors import UserError
from asffbench.weights.load import build_with_weights, load_weights
from asffbench.weights.pretrained import load_pretrained_backbone
from asffbench.weights.reference_layout import backbone_reference_names
from asffbench.weights.resolve import TRAIN, resolve_weights

from .conftest import TINY, as_reference, as_state, randomized, tiny_cfg


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_asffbench_checkpoint_bare_state_dict_and_reference_are_detected(tiny_model, tmp_path):
    source = tiny_model("fusion=asff_star", seed=1)
    ema = randomized(build_model(tiny_cfg("fusion=asff_star")), seed=2)
    files = {
        "checkpoint": save_checkpoint({"model": source.state_dict(), "epoch": 3}, tmp_path / "last.pt"),
        "bare": tmp_path / "bare.pt",
        "reference": as_reference(source, tmp_path / "ref.pth"),
        "ema": save_checkpoint({"model": ema.state_dict(), "ema": {"n_averaged": torch.tensor(5), **{
            f"module.{k}": v for k, v in source.state_dict().items()}}}, tmp_path / "ema.pt"),
    }
    torch.save(source.state_dict(), files["bare"])
    expected_format = {"checkpoint": "asffbench", "bare": "asffbench", "reference": "reference", "ema": "asffbench"}
    for kind, path in files.items():
        target = tiny_model("fusion=asff_star", seed=9)
        loaded = load_weights(target, path)
        assert loaded.format == expected_format[kind]
        assert same_weights(target, source), kind  # the EMA weights win, as evaluation uses them


def test_data_parallel_prefix_and_missing_bn_counters_are_accepted(tiny_model, tmp_path):
    source = tiny_model("fusion=none", seed=1)
    state = {f"module.{n}": v for n, v in as_state(source).items() if not n.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "dp.pth")
    target = tiny_model("fusion=none", seed=5)
    assert load_weights(target, tmp_path / "dp.pth").format == "reference"
    assert all(torch.equal(a, b) for (k, a), b in zip(target.state_dict().items(), source.state_dict().values())
               if not k.endswith("num_batches_tracked"))


def test_train_starts_from_model_weights(tiny_model, tmp_path):
    from asffbench.runs.training import train

    source = tiny_model("fusion=asff", "model.num_classes=6", seed=1)  # the synthetic set's 6 classes
    path = as_reference(source, tmp_path / "ref.pth")
    cfg = tiny_cfg("fusion=asff", "model.num_classes=6", f"model.weights={path}", "data.workers=0", "train.epochs=0", f"run_dir={tmp_path / 'run'}")
    assert same_weights(build_with_weights(cfg, resolve_weights(cfg, TRAIN)).eval(), source)
    result = train(cfg, tmp_path / "run")  # zero epochs: the initialisation is what gets saved
    assert same_weights(result.model.eval(), source)


def test_pretrained_takes_the_reference_backbone_file(tiny_model, tmp_path):
    source = tiny_model("fusion=asff", seed=1)
    names = backbone_reference_names(source.backbone)
    # The reference's ImageNet file: module_list.0-10 only; extra neck entries are ignored.
    state = {names[k]: v for k, v in source.backbone.state_dict().items()}
    state["module_list.11.module_list.0.0.conv.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "darknet53_feature_mx.pth")
    target = tiny_model("fusion=none", seed=4)
    loaded = load_pretrained_backbone(target.backbone, tmp_path / "darknet53_feature_mx.pth")
    assert loaded.format == "state_dict" and loaded.conv_units == 16
    assert same_weights(target.backbone, source.backbone)


def write(tmp_path, name, obj):
    torch.save(obj, tmp_path / name)
    return tmp_path / name


MISFITS = {
    # case: (model overrides, how to make the file, message fragments)
    "another fusion": ("fusion=none", lambda m, p: as_reference(m("fusion=asff"), p),
                       ["(reference format): tensor module_list.20.conv.weight has shape 64x192x1x1",
                        "expects 64x128x1x1"]),
    "another class count": ("model.num_classes=5", lambda m, p: as_reference(m(), p),
                            ["tensor level_0_header.conv.weight has shape 32x256x1x1, the configured model "
                             "expects 40x256x1x1"]),
    "asffbench file of another fusion": ("fusion=asff", lambda m, p: write(p.parent, p.name, m("fusion=sum").state_dict()),
                                         ["(asffbench format): no tensor fusion.levels.0.weight_convs.0.conv.weight"]),
    "forced format": ("model.weights_format=reference",
                      lambda m, p: write(p.parent, p.name, m().state_dict()),
                      ["(reference format): no tensor module_list.0.conv.weight (the model's backbone.stem.conv.weight"]),
    "extra tensors": ("fusion=asff", lambda m, p: write(p.parent, p.name, {**m().state_dict(), "extra.w": torch.ones(2)}),
                      ["tensor extra.w is not in the configured model (1 such tensors)"]),
    "no reference layout": ("fusion=sum", lambda m, p: as_reference(m(), p),
                            ["cannot take reference weights: the reference implementation has no SumFusion"]),
    **{f"no reference checkpoint for {fusion}": (
        f"fusion={fusion}", lambda m, p: as_reference(m("fusion=asff"), p),
        [f"cannot take reference weights: the reference implementation has no {module}, so no reference "
         "checkpoint exists for it"]) for fusion, module in (("pan", "PANFusion"), ("bifpn", "BiFPN"),
                                                              ("asff_pan", "ASFFOnPAN"))},
    "truncated": ("fusion=asff", lambda m, p: p.write_bytes(as_reference(m(), p).read_bytes()[:5000]) and p,
                  ["not a readable weights file (truncated"]),
    "not a state dict": ("fusion=asff", lambda m, p: write(p.parent, p.name, [1, 2, 3]),
                         ["not a state dict (names -> tensors) nor an asffbench checkpoint"]),
    "a dict of numbers": ("fusion=asff", lambda m, p: write(p.parent, p.name, {"epoch": 3}),
                          ["not a state dict"]),
    "text file": ("fusion=asff", lambda m, p: p.write_text("hello") and p, ["not a readable weights file"]),
    "missing file": ("fusion=asff", lambda m, p: p, ["no such file"]),
}


@pytest.mark.parametrize("case", sorted(MISFITS))
def test_every_misfit_is_one_line_naming_file_and_tensor(case, tiny_model, tmp_path, cli, one_line_error):
    overrides, make, needles = MISFITS[case]
    path = tmp_path / "weights.pth"

    def source(*extra):
        return tiny_model(*(extra or ("fusion=asff",)), seed=1)

    make(source, path)
    code, _out, err = cli("bench", *TINY, overrides, f"model.weights={path}", "bench.iters=1", "bench.warmup=0",
                          "bench.repeats=1")
    one_line_error(code, err, f"model.weights={path}", *needles)


def test_misfit_leaves_the_model_untouched(tiny_model, tmp_path):
    path = as_reference(tiny_model("fusion=asff", "model.num_classes=5", seed=1), tmp_path / "r.pth")
    target = tiny_model("fusion=asff", seed=3)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(UserError):
        load_weights(target, path)
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())


def test_eval_takes_reference_weights_without_a_run(tiny_model, tmp_path, cli):
    import json

    path = as_reference(tiny_model("fusion=asff_star", "model.num_classes=6", seed=1), tmp_path / "ref.pth")
    code, out, err = cli("eval", *TINY, "fusion=asff_star", "model.num_classes=6", "data.workers=0",
                         "eval.batch_size=20", f"model.weights={path}", "--json")
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics["checkpoint"] == str(path) and metrics["num_images"] == 40
    assert (tmp_path / "metrics.json").is_file()  # beside the weights, as for eval.checkpoint=FILE


@pytest.mark.slow
def test_viz_takes_a_reference_weights_file(tiny_model, tmp_path):
    import numpy as np
    from PIL import Image

    from asffbench.viz import visualize

    path = as_reference(tiny_model("fusion=asff", seed=1), tmp_path / "ref.pth")
    Image.fromarray(np.zeros((40, 60, 3), dtype=np.uint8)).save(tmp_path / "x.png")
    written = visualize(path, [tmp_path / "x.png"], tmp_path / "out", [*TINY, "fusion=asff"])
    assert written == [tmp_path / "out" / "fusion_weights_x.png"]

"""Every neck of the zoo trains: on a batch of the synthetic set, a few SGD steps of the real loss
lower it, and evaluation exports the fusion-weight statistics the neck has (BiFPN's edge weights,
ASFF on PAN's maps by object size)."""

from __future__ import annotations

import json

import pytest
import torch

from asffbench.build import build_model
from asffbench.config.compose import compose_config
from asffbench.data.loaders import build_train_loader
from asffbench.runs.evaluate import evaluate
from asffbench.engine.train_builders import build_criterion
from asffbench.settings import loss_settings, train_data_settings

TINY = ["model=tiny", "model.num_classes=6", "tricks=none", "data=synth", "data.synth.images=12",
        "data.synth.image_size=160", "data.workers=0", "device=cpu", "img_size=64", "train.batch_size=4",
        "eval.batch_size=8"]
NECKS = {
    "pan": ["fusion=pan"],
    "pan_sum": ["fusion=pan", "fusion.pan_merge=sum"],
    "bifpn": ["fusion=bifpn"],
    "bifpn_softmax_2_layers": ["fusion=bifpn", "fusion.bifpn_weighting=softmax", "fusion.bifpn_layers=2"],
    "asff_pan": ["fusion=asff_pan"],
}


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_cfg(tmp_path, overrides):
    return compose_config([*TINY, *overrides, f"data.cache_dir={tmp_path.parent / 'synth-cache'}"])


@pytest.mark.slow  # about 2 s a neck on an idle core
@pytest.mark.parametrize("neck", sorted(NECKS))
def test_neck_lowers_the_loss_on_the_synthetic_set(neck, tmp_path):
    cfg = tiny_cfg(tmp_path, NECKS[neck])
    torch.manual_seed(0)
    model = build_model(cfg).train()
    criterion = build_criterion(loss_settings(cfg))
    images, targets, _ = next(iter(build_train_loader(train_data_settings(cfg))))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.005, momentum=0.9)
    losses = []
    for _ in range(6):
        loss, _parts = criterion(model(images).levels, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0], losses  # calibration: 0.79 to 0.85 of the first


@pytest.mark.parametrize("neck, exported", [("pan", set()), ("bifpn", {"edge_weights"}),
                                            ("asff_pan", {"fusion_weights"})])
def test_evaluation_exports_the_necks_fusion_weights(neck, exported, tmp_path):
    cfg = tiny_cfg(tmp_path, NECKS[neck])
    torch.manual_seed(0)
    metrics = evaluate(cfg, tmp_path, model=build_model(cfg))
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert {"edge_weights", "fusion_weights"} & set(written) == exported
    if "edge_weights" in exported:
        (layer,) = written["edge_weights"]["layers"]
        assert written["edge_weights"]["weighting"] == "fast"
        assert set(layer) == {"td16", "out8", "out16", "out32"}
        assert all(sum(edges.values()) == pytest.approx(1, abs=1e-4) for edges in layer.values())
    if "fusion_weights" in exported:
        assert written["fusion_weights"]["sources"] == [32, 16, 8]
        assert written["fusion_weights"] == metrics["fusion_weights"]

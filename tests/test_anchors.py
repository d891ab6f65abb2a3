"""`model.anchors=darknet|asff_release|[[w, h] x 9]`: named sets reach the head and the loss."""

import pytest
from omegaconf import OmegaConf

from asffbench.anchors import ANCHOR_SETS
from asffbench.build import anchors_from_config, build_model
from asffbench.config.compose import compose_config
from asffbench.engine.train_builders import build_criterion
from asffbench.errors import UserError
from asffbench.settings import loss_settings

RELEASE = [[10, 13], [16, 30], [33, 23], [30, 61], [62, 45], [42, 119], [116, 90], [156, 198], [121, 240]]


def head_priors(model):
    """The nine fixed priors the head decodes with, small to large (level 2 holds the smallest)."""
    return [p for level in reversed(model.head.levels) for p in level.base_sizes[:3].tolist()]


def test_default_is_darknet_and_asff_release_is_the_released_models_set():
    assert compose_config([]).model.anchors == "darknet"
    assert ANCHOR_SETS["asff_release"] == RELEASE
    assert ANCHOR_SETS["darknet"][5] == [59, 119] and ANCHOR_SETS["darknet"][8] == [373, 326]


@pytest.mark.parametrize("value, expected", [
    ("darknet", ANCHOR_SETS["darknet"]),
    ("asff_release", RELEASE),
    ("[[1,2],[3,4],[5,6],[7,8],[9,10],[11,12],[13,14],[15,16],[17,18]]", [[i, i + 1] for i in range(1, 18, 2)]),
])
def test_anchor_choice_reaches_head_and_loss(value, expected):
    cfg = compose_config(["model=tiny", "model.num_classes=3", f"model.anchors={value}"])
    assert anchors_from_config(cfg) == [[float(w), float(h)] for w, h in expected]
    assert head_priors(build_model(cfg)) == [[float(w), float(h)] for w, h in expected]
    loss_priors = build_criterion(loss_settings(cfg)).level_priors.reshape(-1, 2).tolist()
    assert sorted(map(tuple, loss_priors)) == sorted((float(w), float(h)) for w, h in expected)


@pytest.mark.parametrize("value, needle", [
    ("nope", "model.anchors=nope: expected a named set (asff_mobile, asff_release, darknet) or 9 positive [w, h] pairs"),
    ("[[10,13]]", "model.anchors=[[10, 13]]: expected a named set"),
    ("[[10,13,1],[1,1],[1,1],[1,1],[1,1],[1,1],[1,1],[1,1],[1,1]]", "model.anchors=[[10, 13, 1]"),
])
def test_bad_anchors_are_one_line_errors_at_composition(value, needle):
    with pytest.raises(UserError) as info:
        compose_config(["model=tiny", f"model.anchors={value}"])
    assert needle in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(UserError, match="unknown anchor set 'nope'"):  # a config built without the checks
        anchors_from_config(OmegaConf.create({"model": {"anchors": "nope"}}))

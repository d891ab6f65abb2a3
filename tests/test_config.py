"""Config composition: every option of every group composes; bad overrides fail at composition."""

from __future__ import annotations

import importlib.resources

import pytest

from asffbench.config.compose import compose_config
from asffbench.errors import UserError


def group_options() -> list[tuple[str, str]]:
    conf = importlib.resources.files("asffbench.conf")
    pairs = []
    for group in conf.iterdir():
        if group.is_dir() and group.name not in ("hydra", "__pycache__"):
            pairs += [(group.name, f.name[:-5]) for f in group.iterdir() if f.name.endswith(".yaml")]
    return sorted(pairs)


def test_every_group_has_options():
    groups = {g for g, _ in group_options()}
    assert {"fusion", "model", "tricks", "data"} <= groups


# Groups whose value is a list of options (`logger=[mlflow,wandb]`): each option turns its part on.
LIST_GROUPS = ("logger",)


@pytest.mark.parametrize("group,option", group_options())
def test_every_option_composes(group, option):
    extra = ["data.root=somewhere"] if (group, option) == ("data", "coco") else []
    cfg = compose_config([f"{group}={option}", *extra])
    if group in LIST_GROUPS:
        assert [name for name, part in cfg[group].items() if part.enabled] == [option]
    else:
        assert cfg[group].name == option


def test_logger_is_a_list_of_trackers_tensorboard_by_default():
    def enabled(*overrides: str) -> list[str]:
        return [name for name, part in compose_config(list(overrides)).logger.items() if part.enabled]

    assert enabled() == ["tensorboard"]  # today's behaviour
    assert enabled("logger=[]") == []
    assert enabled("logger=[mlflow,wandb]") == ["mlflow", "wandb"]
    assert enabled("logger=[wandb,tensorboard,mlflow]") == ["tensorboard", "mlflow", "wandb"]
    cfg = compose_config(["logger=[mlflow]", "logger.mlflow.uri=http://127.0.0.1:5000"])
    assert cfg.logger.mlflow.uri == "http://127.0.0.1:5000" and cfg.logger.wandb.mode == "offline"


def test_an_unknown_tracker_names_the_choices():
    with pytest.raises(UserError) as err:
        compose_config(["logger=[mlflow,comet]"])
    assert str(err.value) == "logger=comet: unknown option for 'logger'; choose from mlflow, tensorboard, wandb"


def test_defaults_are_the_paper_model():
    cfg = compose_config([])
    assert cfg.model.name == "darknet53" and cfg.model.width == 1.0 and cfg.model.depth == 1.0
    assert cfg.model.num_classes == 80 and cfg.img_size == 608
    assert cfg.tricks.guided_anchoring is True
    assert cfg.fusion.name == "asff" and cfg.fusion.compress_c == 16


def test_asff_star_preset():
    cfg = compose_config(["fusion=asff_star"])
    assert (cfg.fusion.compress_c, cfg.fusion.rfb, cfg.fusion.dropblock) == (8, True, True)


def test_neck_options_and_their_settings_reach_the_model():
    from asffbench.build import model_kwargs_from_config

    cfg = compose_config(["fusion=bifpn", "fusion.bifpn_layers=2", "fusion.bifpn_weighting=softmax",
                          "fusion.bifpn_channels=64", "fusion.pan_merge=sum"])
    kwargs = model_kwargs_from_config(cfg)
    assert (kwargs["fusion"], kwargs["bifpn_layers"], kwargs["bifpn_weighting"], kwargs["bifpn_channels"],
            kwargs["pan_merge"]) == ("bifpn", 2, "softmax", 64, "sum")
    assert (kwargs["bifpn_conv"], kwargs["bifpn_input"]) == ("separable", "backbone")  # EfficientDet's
    pan = compose_config(["fusion=pan"]).fusion
    assert (pan.pan_merge, pan.pan_block) == ("concat", "yolov4")
    asff_pan = model_kwargs_from_config(compose_config(["fusion=asff_pan", "fusion.pan_block=light"]))
    # YOLOX-PAI's: 2-channel weight branches, its ASFF block, a CSP PAN (the preset's; light asked)
    assert (asff_pan["compress_c"], asff_pan["asff_block"], asff_pan["pan_block"]) == (2, "yolox_pai", "light")


def test_public_axes_override():
    cfg = compose_config([
        "fusion=sum", "fusion.compress_c=8", "fusion.upsample=bilinear", "model.width=0.5",
        "model.depth=0.33", "model.num_classes=3", "tricks.mixup=false", "img_size=416",
        "device=cpu", "bench.warmup=2", "bench.iters=3", "bench.repeats=2", "bench.batch_size=4",
        "bench.precision=bf16", "bench.fuse=true",
    ])
    assert cfg.fusion.upsample == "bilinear" and cfg.model.num_classes == 3
    assert cfg.tricks.mixup is False and cfg.bench.precision == "bf16" and cfg.bench.fuse is True


@pytest.mark.parametrize("trick", [
    "guided_anchoring", "iou_loss", "label_smoothing", "mixup", "cosine_lr", "sync_bn", "multiscale",
])
def test_every_trick_toggles(trick):
    assert compose_config([f"tricks.{trick}=false"]).tricks[trick] is False
    assert compose_config(["tricks=none", f"tricks.{trick}=true"]).tricks[trick] is True


@pytest.mark.parametrize("overrides,needles", [
    (["fusion=asf"], ["fusion=asf", "asff_star", "concat", "none", "sum"]),
    (["model=huge"], ["model=huge", "darknet53", "tiny"]),
    (["fusion.compres_c=8"], ["fusion.compres_c"]),
    (["fusion.upsample=bicubic"], ["fusion.upsample=bicubic", "nearest", "bilinear"]),
    (["fusion=pan", "fusion.pan_merge=add"], ["fusion.pan_merge=add", "concat", "sum"]),
    (["fusion=bifpn", "fusion.bifpn_weighting=mean"], ["fusion.bifpn_weighting=mean", "fast", "softmax", "sum"]),
    (["device=tpu"], ["device=tpu", "cuda"]),
    (["img_size=big"], ["img_size"]),
    (["tricks.mixup=maybe"], ["tricks.mixup"]),
    (["tricks.dropout=true"], ["tricks.dropout"]),
    (["bench.precision=fp8"], ["bench.precision=fp8", "bf16"]),
    (["model.width=wide"], ["model.width"]),
    (["nonsense"], ["nonsense"]),
])
def test_bad_overrides_fail_at_composition(overrides, needles):
    with pytest.raises(UserError) as info:
        compose_config(overrides)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message


def test_cli_config_prints_resolved_config(cli):
    code, out, err = cli("config", "model=tiny", "fusion=asff_star", "--json")
    assert code == 0, err
    import json

    cfg = json.loads(out)
    assert cfg["model"]["width"] == 0.25 and cfg["fusion"]["name"] == "asff_star"
    assert cfg["fusion"]["upsample"] == "nearest"


def test_cli_options_before_or_after_overrides(cli):
    first = cli("config", "--json", "img_size=320")
    second = cli("config", "img_size=320", "--json")
    assert first[0] == second[0] == 0 and first[1] == second[1]


@pytest.mark.parametrize("args,needles", [
    (["config", "fusion=asf"], ["fusion=asf", "asff"]),
    (["config", "fusion.upsample=cubic"], ["fusion.upsample"]),
    (["config", "--nope"], ["--nope"]),
    (["nope"], ["nope"]),
    (["train", "train.epochs=-1"], ["train.epochs=-1", "must be 0 or more"]),
])
def test_cli_errors_are_one_line(cli, one_line_error, args, needles):
    code, _, err = cli(*args)
    one_line_error(code, err, *needles)


@pytest.mark.parametrize("override, message", [
    ("img_size=100", "img_size=100: must be a positive multiple of 32"),
    ("img_size=0", "img_size=0: must be a positive multiple of 32"),
    ("model.width=0", "model.width=0.0: must be positive"),
    ("model.depth=-1", "model.depth=-1.0: must be positive"),
    ("model.num_classes=0", "model.num_classes=0: must be at least 1"),
    ("model.anchors=[[10,13]]", "model.anchors=[[10, 13]]: expected a named set (asff_mobile, asff_release, darknet) or 9 positive [w, h] pairs (small to large)"),
    ("model.anchors=nope", "model.anchors=nope: expected a named set (asff_mobile, asff_release, darknet) or 9 positive [w, h] pairs (small to large)"),
    ("fusion.compress_c=0", "fusion.compress_c=0: must be at least 1"),
    ("fusion.dropblock_keep_prob=1.5", "fusion.dropblock_keep_prob=1.5: must be in (0, 1]"),
    ("fusion.bifpn_layers=0", "fusion.bifpn_layers=0: must be at least 1"),
    ("fusion.bifpn_channels=-8", "fusion.bifpn_channels=-8: must be 0 (the neck's stride-16 width) or more"),
    ("train.batch_size=0", "train.batch_size=0: must be at least 1"),
    ("train.max_iters_per_epoch=-1", "train.max_iters_per_epoch=-1: must be 0 or more"),
    ("train.epochs=-1", "train.epochs=-1: must be 0 or more"),
    ("train.warmup_epochs=-0.5", "train.warmup_epochs=-0.5: must be 0 or more"),
    ("train.mixup_off_epochs=-1", "train.mixup_off_epochs=-1: must be 0 or more"),
    ("train.multiscale_fixed_epochs=-2", "train.multiscale_fixed_epochs=-2: must be 0 or more"),
    ("train.eval_every=-1", "train.eval_every=-1: must be 0 or more"),
    ("train.log_every=-3", "train.log_every=-3: must be 0 or more"),
    ("eval.batch_size=0", "eval.batch_size=0: must be at least 1"),
    ("data.workers=-1", "data.workers=-1: must be 0 or more"),
    ("recipe.mosaic_buffer=-1", "recipe.mosaic_buffer=-1: must be 0 (no buffer) or a number of batches"),
    ("recipe.mosaic_buffer=1.5", "recipe.mosaic_buffer: Value '1.5' of type 'float' could not be converted to Integer"),
    ("bench.iters=0", "bench.iters=0: must be at least 1"),
    ("bench.repeats=0", "bench.repeats=0: must be at least 1"),
    ("bench.batch_size=0", "bench.batch_size=0: must be a positive integer or max"),
    ("bench.warmup=-1", "bench.warmup=-1: must be 0 or more"),
    ("logger.mlflow.uri=' '", "logger.mlflow.uri=' ': give a tracking URI (file:DIR, sqlite:///FILE, "
     "http://HOST:PORT) or null for the sweep's file store"),
    ("logger.mlflow.experiment=''", "logger.mlflow.experiment='': give a name, or null for the sweep's name"),
    ("logger.wandb.project=a/b", "logger.wandb.project='a/b': a W&B project name, without any of / \\ # ? % :"),
])
def test_values_are_checked_at_composition_with_the_key_in_the_message(override, message):
    with pytest.raises(UserError) as info:
        compose_config([override])
    assert str(info.value) == message


def test_a_new_value_rule_is_one_entry():
    from asffbench.config.validate import RULES, Rule, at_least, validate_config

    cfg = compose_config(["train.max_iters_per_epoch=null", "bench.warmup=0"])  # edges pass
    rules = (*RULES, Rule("train.log_every", at_least(5), "{key}={value}: must be at least 5"))
    with pytest.raises(UserError, match=r"^train.log_every=1: must be at least 5$"):
        validate_config(compose_config(["train.log_every=1"]), rules)
    assert validate_config(cfg, rules) is cfg

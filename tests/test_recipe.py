"""`recipe=asffbench|reference`: composition, one switch at a time, the experiment hash, the
builders it reaches, docs/recipes.md's table, and both recipes training the tiny model."""

from __future__ import annotations

import importlib.resources
import json
import math
from pathlib import Path

import pytest
import yaml

from asffbench.build import anchors_from_config
from asffbench.config.compose import compose_config, to_plain
from asffbench.config.schema import ASFF_RELEASE_ANCHORS, COCO_ANCHORS, RecipeConfig
from asffbench.runs.experiment import experiment_hash

RECIPES = ("asffbench", "reference")
RECIPES_DOC = Path(__file__).resolve().parents[1] / "docs" / "recipes.md"


def recipe_file(name: str) -> dict:
    text = importlib.resources.files("asffbench.conf").joinpath(f"recipe/{name}.yaml").read_text()
    assert text.startswith("# @package _global_")
    return yaml.safe_load(text)


def dotted_keys(node: dict, prefix: str = "") -> dict:
    keys = {}
    for key, value in node.items():
        if isinstance(value, dict):
            keys.update(dotted_keys(value, f"{prefix}{key}."))
        else:
            keys[f"{prefix}{key}"] = value
    return keys


# Keys the ultralytics recipe (conf/recipe/ultralytics.yaml) added: its schedule, SGD form, EMA
# count, augmentation settings and the train/eval values it owns. The two YOLOv3 recipes agree on
# them (asffbench's per-iteration schedule, plain SGD, EMA from a copy, schema defaults).
SHARED_BY_YOLOV3_RECIPES = {
    "recipe.lr_decay": "per_iteration", "recipe.warmup_bias_lr": 0.1, "recipe.warmup_momentum": 0.8,
    "recipe.nominal_batch": None, "recipe.nesterov": False, "recipe.ema_start": "copy",
    "recipe.mosaic_prob": 1.0, "recipe.close_mosaic": 10, "recipe.affine_translate": 0.1,
    "recipe.affine_scale": 0.5, "recipe.hsv_gains": [0.015, 0.7, 0.4], "recipe.flip_prob": 0.5,
    "recipe.mosaic_buffer": 0,
    "train.lr": 0.001, "train.min_lr": 1e-5, "train.momentum": 0.9, "train.weight_decay": 0.0005,
    "train.ema": False, "train.ema_decay": 0.9998, "train.grad_clip": None, "train.channels_last": False,
    "eval.nms_iou": 0.65,
    "eval.pre_nms_topk": 10000, "eval.nms_class_offset": 0.0, "eval.predict_score_thresh": 0.3,
    "eval.predict_multi_label": None,
}
ALL_RECIPES = (*RECIPES, "ultralytics")


def differences() -> dict[str, tuple]:
    """key -> (asffbench value, reference value), for every key the two recipes set differently."""
    ours, theirs = (dotted_keys(recipe_file(name)) for name in RECIPES)
    return {key: (ours[key], theirs[key]) for key in ours
            if key != "recipe.name" and key not in SHARED_BY_YOLOV3_RECIPES}


def test_every_recipe_sets_the_same_keys_and_the_yolov3_ones_differ_in_every_other():
    files = {name: dotted_keys(recipe_file(name)) for name in ALL_RECIPES}
    ours, theirs = files["asffbench"], files["reference"]
    assert ours.keys() == theirs.keys() == files["ultralytics"].keys()
    assert all(ours[key] != theirs[key] for key in ours if key not in SHARED_BY_YOLOV3_RECIPES)
    assert all(ours[key] == theirs[key] == value for key, value in SHARED_BY_YOLOV3_RECIPES.items())
    defaults = to_plain(compose_config([]))
    for key in SHARED_BY_YOLOV3_RECIPES:  # the values the schema had before the recipes set them
        section, _, name = key.partition(".")
        assert defaults[section][name] == ours[key], key
    fields = set(RecipeConfig.__dataclass_fields__)
    assert {key.split(".", 1)[1] for key in ours if key.startswith("recipe.")} == fields


def test_the_default_is_the_asffbench_recipe():
    default = to_plain(compose_config([]))
    explicit = to_plain(compose_config(["recipe=asffbench"]))
    assert default == explicit
    assert default["recipe"]["name"] == "asffbench" and default["model"]["anchors"] == "darknet"
    assert anchors_from_config(compose_config([])) == [[float(w), float(h)] for w, h in COCO_ANCHORS]


def test_reference_recipe_values():
    cfg = compose_config(["recipe=reference", "model=tiny", "data=synth"])  # after the groups it sets into
    assert cfg.model.anchors == "asff_release"
    assert anchors_from_config(cfg) == [[float(w), float(h)] for w, h in ASFF_RELEASE_ANCHORS]
    assert cfg.recipe.train_resize == "stretch" and cfg.recipe.test_resize == "stretch"
    assert cfg.recipe.test_interp == "opencv_linear"
    assert cfg.recipe.multi_label is False and cfg.recipe.warmup_form == "power4"
    assert (cfg.train.warmup_epochs, cfg.data.min_box_size) == (5, 6)
    assert (cfg.eval.score_thresh, cfg.eval.max_det, cfg.train.eval_score_thresh) == (0.001, 0, 0.01)
    assert (cfg.recipe.score_inclusive, cfg.recipe.clip_boxes) == (True, False)
    assert (cfg.recipe.augment, cfg.recipe.crowd_targets, cfg.recipe.box_convention) == ("reference", True, "inclusive")
    assert (cfg.recipe.init, cfg.recipe.lr_scaling, cfg.recipe.dropblock) == ("reference", "none", "reference")


def test_reference_recipe_reaches_init_dropblock_lr_and_data():
    """Every new key at the reference's value, composed with the groups it sets into, reaches
    what it changes: the model's initialisation and DropBlock, the optimiser's LR, the loader."""
    import torch

    from asffbench.build import build_model
    from asffbench.data.loaders import build_train_loader
    from asffbench.settings import train_data_settings
    from asffbench.engine.distributed import DistEnv
    from asffbench.engine.train_builders import build_trainer
    from asffbench.settings import trainer_settings

    overrides = ["model=tiny", "model.num_classes=6", "fusion=asff_star", "data.workers=0", "img_size=64",
                 "data.synth.images=16", "train.batch_size=2", "train.lr=0.001", "tricks.multiscale=false"]
    for recipe, lr in (("reference", 0.001), ("asffbench", 0.001 * 2 / 64)):
        cfg = compose_config([f"recipe={recipe}", *overrides])
        torch.manual_seed(0)
        model = build_model(cfg)
        biases = [m.bias for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.bias is not None]
        assert all((b == 0).all() for b in biases) == (recipe == "reference")
        assert {slot.form for slot in model.neck.dropblocks} == {"reference" if recipe == "reference" else "torchvision"}
        trainer = build_trainer(trainer_settings(cfg), model, torch.device("cpu"), DistEnv(), iters_per_epoch=4)
        assert trainer.scheduler.base_lrs[0] == pytest.approx(lr)
        dataset = build_train_loader(train_data_settings(cfg)).dataset
        assert (dataset.reference_augment is not None, dataset.crowd_targets, dataset.box_shrink) == (
            (True, True, 1.0) if recipe == "reference" else (False, False, 0.0))


@pytest.fixture(scope="module")
def reference():
    return compose_config(["recipe=reference"])


# Keys that change something only on some data, with the data they are flipped on.
DATA_OF_KEY = {"data.keep_difficult": ["data=voc_synth"]}  # COCO has no difficult objects


@pytest.mark.parametrize("key", sorted(differences()))
def test_one_switch_flipped_back_after_recipe_reference(key, reference):
    ours, _ = differences()[key]
    data = DATA_OF_KEY.get(key, [])
    flipped = compose_config(["recipe=reference", *data, f"{key}={json.dumps(ours)}"])
    if data:
        reference = compose_config(["recipe=reference", *data])
    plain, expected = to_plain(flipped), to_plain(reference)
    section, _, name = key.rpartition(".")
    assert plain[section][name] == ours
    # Only that key moved, and the experiment hash sees it.
    plain[section][name] = expected[section][name]
    assert plain == expected
    assert experiment_hash(flipped, "cpu") != experiment_hash(reference, "cpu")


def test_builders_follow_the_reference_recipe():
    from asffbench.build import build_model
    from asffbench.settings import eval_settings, postprocess_settings
    from asffbench.engine.train_builders import build_criterion
    from asffbench.settings import loss_settings

    cfg = compose_config(["recipe=reference", "model=tiny", "model.num_classes=80"])
    loss = build_criterion(loss_settings(cfg))
    assert (loss.iou_loss_form, loss.shape_loss_form, loss.mixup_weighting) == (
        "iou_squared", "iou_squared", "positive_objectness")
    assert loss.box_terms_train_shape is True and loss.label_smoothing_max is None
    assert loss.shared_prediction == "last_box"
    assert postprocess_settings(cfg).kwargs() == {"score_thresh": 0.001, "nms_iou": 0.65, "max_det": 0,
                                                  "multi_label": False, "score_inclusive": True,
                                                  "pre_nms_topk": 10000, "class_offset": 0.0}
    assert postprocess_settings(cfg).clip_boxes is False
    assert eval_settings(cfg).postprocess.score_thresh == 0.001  # evaluation: its eval.py
    assert eval_settings(cfg, during_training=True).postprocess.score_thresh == 0.01  # its in-training cfg
    model = build_model(cfg)
    priors = sorted(tuple(map(float, p)) for p in model.head.levels[0].base_sizes[:3].tolist())
    assert priors == [(116.0, 90.0), (121.0, 240.0), (156.0, 198.0)]  # the released stride-32 anchors


def test_recipes_doc_table_names_every_switch():
    text = RECIPES_DOC.read_text(encoding="utf-8")
    table = text[text.index("| difference |"):]
    for key in differences():
        assert f"`{key}`" in table, key


@pytest.mark.slow
@pytest.mark.parametrize("recipe", RECIPES)
def test_both_recipes_train_the_tiny_model(recipe, tmp_path):
    from asffbench.runs.training import train

    cfg = compose_config([
        f"recipe={recipe}", "model=tiny", "model.num_classes=6", "fusion=asff_star", "img_size=96",
        "device=cpu", "tricks.multiscale=false", "data.workers=0", "data.synth.images=16",
        "train.batch_size=4", "train.epochs=2", "train.max_iters_per_epoch=2",
        # mixup in the first epoch only, under either recipe's arithmetic (recipe.mixup_off_form)
        f"train.mixup_off_epochs={1 if recipe == 'asffbench' else 3}",
        "train.warmup_epochs=0.5", "recipe.lr_flat_epochs=0.5", "recipe.lr_final_epochs=0.5",
        # the same step per image: the reference's train.lr is not scaled by the batch (lr_scaling)
        f"train.lr={0.02 if recipe == 'asffbench' else 0.02 * 4 / 64}", "train.log_every=1", f"run_dir={tmp_path}",
    ])
    result = train(cfg, tmp_path)
    assert result.epochs_done == 2 and math.isfinite(result.final_loss)


@pytest.mark.parametrize("override", [
    "recipe.lr_flat_epochs=-1", "recipe.lr_final_epochs=-2", "recipe.label_smoothing_max=-0.1",
    "recipe.mixup_prob=1.5", "recipe.expand_max=0.5", "eval.max_det=-1",
])
def test_bad_recipe_numbers_fail_at_composition(override):
    from asffbench.errors import UserError

    with pytest.raises(UserError, match=override.replace(".", r"\.")):
        compose_config([override])


@pytest.mark.parametrize("args,needles", [
    (["config", "recipe=refrence"], ["recipe=refrence", "asffbench", "reference"]),
    (["config", "recipe=reference", "recipe.iou_loss_form=diou"], ["recipe.iou_loss_form=diou", "giou", "iou_squared"]),
    (["config", "recipe.test_resize=crop"], ["recipe.test_resize=crop", "letterbox", "stretch"]),
])
def test_bad_recipe_overrides_are_one_line_errors(cli, one_line_error, args, needles):
    code, _, err = cli(*args)
    one_line_error(code, err, *needles)


def test_the_recipe_sweep_leaves_every_recipe_key_to_the_recipe():
    from asffbench.runs.sweep_spec import iter_run_overrides, load_sweep

    spec = load_sweep("recipe")
    assert spec.axes["recipe"] == list(RECIPES) and not set(spec.overrides) & set(differences())
    for combo, overrides in iter_run_overrides(spec, []):
        plain = to_plain(compose_config(overrides))
        for key, value in dotted_keys(recipe_file(combo["recipe"])).items():
            section, _, name = key.rpartition(".")
            if isinstance(value, str) and value.startswith("${"):  # an interpolation: its target's value
                target_section, _, target = value[2:-1].rpartition(".")
                value = plain[target_section][target]
            assert plain[section][name] == value, (combo, key)


def test_the_ultralytics_recipe_reaches_the_trainer_and_the_loader():
    from asffbench.settings import trainer_settings, train_data_settings

    cfg = compose_config(["recipe=ultralytics", "device=cpu", "tricks=none", "train.epochs=30"])
    trainer = trainer_settings(cfg)
    assert trainer.schedule.lr_decay == "per_epoch" and trainer.schedule.warmup_epochs == 3
    assert (trainer.schedule.warmup_bias_lr, trainer.schedule.warmup_momentum) == (0.1, 0.8)
    assert trainer.optimizer.nominal_batch == 64 and trainer.optimizer.nesterov
    assert (trainer.optimizer.lr, trainer.optimizer.min_lr, trainer.optimizer.momentum) == (0.01, 1e-4, 0.937)
    assert trainer.optimizer.lr_scaling == "none" and not trainer.optimizer.decay_norm_and_bias
    assert trainer.ema and trainer.ema_decay == 0.9999 and trainer.ema_start == "ramp" and trainer.grad_clip == 10.0
    data = train_data_settings(cfg)
    assert data.augment.augment == "ultralytics" and data.sampling.mosaic_epochs == 20
    assert data.augment.ultralytics.hsv_gains == (0.015, 0.7, 0.4) and data.augment.ultralytics.mosaic_prob == 1.0
    assert data.augment.mosaic_buffer == 8  # its mosaic draws from the last 8 batches' images
    assert data.data.test_interp == "opencv_linear"  # its val and predict resize: cv2.INTER_LINEAR
    assert postprocess_of(cfg) == (0.7, 300, True)


def postprocess_of(cfg) -> tuple:
    from asffbench.settings import postprocess_settings

    post = postprocess_settings(cfg)
    return post.nms_iou, post.max_det, post.multi_label


@pytest.mark.parametrize("key,value", [("recipe.nominal_batch", 48), ("recipe.affine_scale", 0.3),
                                       ("recipe.close_mosaic", 5), ("recipe.nesterov", False),
                                       ("recipe.mosaic_buffer", 2)])
def test_ultralytics_keys_are_hashed_only_where_they_matter(key, value):
    base = ["recipe=ultralytics", "device=cpu", "tricks=none"]
    assert experiment_hash(compose_config([*base, f"{key}={value}"]), "cpu") != \
        experiment_hash(compose_config(base), "cpu")
    if key != "recipe.nesterov":  # under asffbench's recipe these keys change nothing
        assert experiment_hash(compose_config([f"{key}={value}"]), "cpu") == experiment_hash(compose_config([]), "cpu")


def hash_of(overrides: list[str], drop: str = "") -> str:
    """The experiment hash; `drop`: a recipe key left out, as in a record made before it existed."""
    plain = to_plain(compose_config(["device=cpu", *overrides]))
    plain["recipe"].pop(drop, None)
    return experiment_hash(plain, "cpu")


def test_the_mosaic_buffer_moves_the_hash_only_where_it_is_on():
    """recipe=ultralytics runs hash anew (its buffer is on); a run without the buffer, or under
    another augmentation, hashes as a record made before the key."""
    ultralytics = ["recipe=ultralytics", "tricks=none"]
    unbuffered = hash_of([*ultralytics, "recipe.mosaic_buffer=0"])
    assert hash_of(ultralytics) != unbuffered
    assert unbuffered == hash_of([*ultralytics, "recipe.mosaic_buffer=0"], drop="mosaic_buffer")
    for recipe in ("asffbench", "reference"):
        before = hash_of([f"recipe={recipe}"], drop="mosaic_buffer")
        assert hash_of([f"recipe={recipe}"]) == hash_of([f"recipe={recipe}", "recipe.mosaic_buffer=8"]) == before

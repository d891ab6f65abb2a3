"""What each config key accepts beyond its type: one table of rules, checked at composition.

The schema (schema.py) fixes every key's type and the enums' choices; the rules below say which
values of that type are valid. `compose_config` runs them, so a bad value fails before anything
loads or trains, with a one-line message naming the key. A new check is one line in RULES.

Checked elsewhere, on purpose: `fusion.name` and `model.backbone` against their registries
(build.py: the registries import torch, composition must not); checks that need the machine (fp16 needs CUDA, bench) or
the data (num_classes against the annotations, data/loaders.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from omegaconf import DictConfig, OmegaConf

from asffbench.anchors import ANCHOR_SETS, resolve_anchors
from asffbench.corruptions import (CORRUPTION_CHOICES, NAMED_SETS, SEVERITY_CHOICES, valid_corruption,
                                   valid_severity)
from asffbench.errors import UserError

STRIDE = 32  # the coarsest output stride: input sizes are multiples of it


@dataclass(frozen=True)
class Rule:
    key: str  # dotted config key
    valid: Callable[[Any], bool]  # gets the key's value (a plain Python value)
    message: str  # what is required; "{key}" and "{value}" are filled in

    def check(self, cfg: DictConfig) -> None:
        value = OmegaConf.select(cfg, self.key)
        if value is None:
            return  # unset optional keys have no value to check
        plain = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
        if not self.valid(plain):
            raise UserError(self.message.format(key=self.key, value=plain))


def at_least(bound: float) -> Callable[[Any], bool]:
    return lambda value: value >= bound


def positive(value: float) -> bool:
    return value > 0


def input_size(value: int) -> bool:
    return value > 0 and value % STRIDE == 0


def anchor_choice(value: Any) -> bool:
    """A named set (asffbench.anchors) or 9 positive [w, h] pairs."""
    try:
        resolve_anchors(value)
    except ValueError:
        return False
    return True


def batch_or_max(value: Any) -> bool:
    return value == "max" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)


def not_blank(value: Any) -> bool:
    return bool(str(value).strip())


WANDB_PROJECT_FORBIDDEN = "/\\#?%:"  # W&B refuses these in a project name


def wandb_project(value: Any) -> bool:
    return not_blank(value) and not any(c in str(value) for c in WANDB_PROJECT_FORBIDDEN)


def compile_mode(value: Any) -> bool:
    return str(value).lower() in ("false", "default", "reduce-overhead")


MUST_BE_POSITIVE = "{key}={value}: must be positive"
AT_LEAST_ONE = "{key}={value}: must be at least 1"
NOT_NEGATIVE = "{key}={value}: must be 0 or more"

RULES: tuple[Rule, ...] = (
    Rule("img_size", input_size, "{key}={value}: must be a positive multiple of %d" % STRIDE),
    Rule("model.width", positive, MUST_BE_POSITIVE),
    Rule("model.depth", positive, MUST_BE_POSITIVE),
    Rule("model.num_classes", at_least(1), AT_LEAST_ONE),
    Rule("model.anchors", anchor_choice, "{key}=%s: expected a named set (%s) or 9 positive [w, h] pairs "
         "(small to large)" % ("{value}", ", ".join(sorted(ANCHOR_SETS)))),
    Rule("model.release_anchors", lambda v: v in ANCHOR_SETS,
         "{key}={value}: not a named anchor set (%s)" % ", ".join(sorted(ANCHOR_SETS))),
    Rule("fusion.compress_c", at_least(1), AT_LEAST_ONE),
    Rule("fusion.bifpn_layers", at_least(1), AT_LEAST_ONE),
    Rule("fusion.bifpn_channels", at_least(0), "{key}={value}: must be 0 (the neck's stride-16 width) or more"),
    Rule("fusion.dropblock_keep_prob", lambda p: 0.0 < p <= 1.0, "{key}={value}: must be in (0, 1]"),
    Rule("train.batch_size", at_least(1), AT_LEAST_ONE),
    Rule("train.max_iters_per_epoch", at_least(0), NOT_NEGATIVE),
    # Counts of epochs and iterations: a negative one would "complete" a run that never trained.
    Rule("train.epochs", at_least(0), NOT_NEGATIVE),
    Rule("train.warmup_epochs", at_least(0), NOT_NEGATIVE),
    Rule("train.mixup_off_epochs", at_least(0), NOT_NEGATIVE),
    Rule("train.multiscale_fixed_epochs", at_least(0), NOT_NEGATIVE),
    Rule("train.eval_every", at_least(0), NOT_NEGATIVE),
    Rule("train.log_every", at_least(0), NOT_NEGATIVE),
    Rule("eval.batch_size", at_least(1), AT_LEAST_ONE),
    Rule("data.workers", at_least(0), NOT_NEGATIVE),
    Rule("bench.iters", at_least(1), AT_LEAST_ONE),
    Rule("bench.repeats", at_least(1), AT_LEAST_ONE),
    Rule("bench.batch_size", batch_or_max, "{key}={value}: must be a positive integer or max"),
    Rule("bench.compile", compile_mode, "{key}={value}: choose from false, default, reduce-overhead"),
    Rule("bench.warmup", at_least(0), NOT_NEGATIVE),
    Rule("eval.max_det", at_least(0), "{key}={value}: must be 0 (no cap) or more"),
    Rule("eval.corruption", valid_corruption, "{key}={value}: unknown corruption; choose from %s" % CORRUPTION_CHOICES),
    Rule("eval.severity", valid_severity, "{key}={value}: must be an integer in %s" % SEVERITY_CHOICES),
    Rule("robust.corruptions", lambda names: bool(names) and all(valid_corruption(n) or n in NAMED_SETS for n in names),
         "{key}={value}: choose benchmark, all or names from %s" % CORRUPTION_CHOICES),
    Rule("robust.severities", lambda values: bool(values) and all(valid_severity(v) for v in values),
         "{key}={value}: severities are integers in %s" % SEVERITY_CHOICES),
    Rule("eval.pre_nms_topk", at_least(1), AT_LEAST_ONE),
    Rule("eval.nms_class_offset", at_least(0), "{key}={value}: must be 0 (exact class-wise NMS) or more"),
    Rule("eval.predict_score_thresh", lambda p: 0.0 <= p <= 1.0, "{key}={value}: must be between 0 and 1"),
    Rule("loss.box_gain", at_least(0), NOT_NEGATIVE),
    Rule("loss.cls_gain", at_least(0), NOT_NEGATIVE),
    Rule("loss.dfl_gain", at_least(0), NOT_NEGATIVE),
    Rule("loss.assigner_topk", at_least(1), AT_LEAST_ONE),
    Rule("loss.assigner_alpha", at_least(0), NOT_NEGATIVE),
    Rule("loss.assigner_beta", at_least(0), NOT_NEGATIVE),
    Rule("recipe.label_smoothing_max", at_least(0), NOT_NEGATIVE),
    Rule("recipe.lr_flat_epochs", at_least(0), NOT_NEGATIVE),
    Rule("recipe.lr_final_epochs", at_least(0), NOT_NEGATIVE),
    Rule("recipe.warmup_bias_lr", at_least(0), NOT_NEGATIVE),
    Rule("recipe.mosaic_prob", lambda p: 0.0 <= p <= 1.0, "{key}={value}: must be between 0 and 1"),
    Rule("recipe.close_mosaic", at_least(0), NOT_NEGATIVE),
    Rule("recipe.mosaic_buffer", at_least(0), "{key}={value}: must be 0 (no buffer) or a number of batches"),
    Rule("recipe.affine_translate", lambda t: 0.0 <= t <= 0.5, "{key}={value}: must be between 0 and 0.5"),
    Rule("recipe.affine_scale", lambda s: 0.0 <= s < 1.0, "{key}={value}: must be in [0, 1)"),
    Rule("recipe.hsv_gains", lambda g: len(g) == 3 and all(0.0 <= x <= 1.0 for x in g),
         "{key}={value}: must be three gains (hue, saturation, value) between 0 and 1"),
    Rule("recipe.flip_prob", lambda p: 0.0 <= p <= 1.0, "{key}={value}: must be between 0 and 1"),
    Rule("recipe.warmup_momentum", lambda m: 0.0 <= m < 1.0, "{key}={value}: must be in [0, 1)"),
    Rule("recipe.nominal_batch", at_least(1), "{key}={value}: must be at least 1 (or null: one batch per step)"),
    Rule("recipe.expand_max", at_least(1), "{key}={value}: must be at least 1 (1: no zoom-out)"),
    Rule("recipe.mixup_prob", lambda p: 0.0 <= p <= 1.0, "{key}={value}: must be between 0 and 1"),
    Rule("logger.mlflow.uri", not_blank, "{key}='{value}': give a tracking URI (file:DIR, sqlite:///FILE, "
         "http://HOST:PORT) or null for the sweep's file store"),
    Rule("logger.mlflow.experiment", not_blank, "{key}='{value}': give a name, or null for the sweep's name"),
    Rule("logger.wandb.project", wandb_project, "{key}='{value}': a W&B project name, without any of / \\ # ? % :"),
)


def validate_config(cfg: DictConfig, rules: Sequence[Rule] = RULES) -> DictConfig:
    """Raise UserError for the first rule `cfg` breaks; returns `cfg` unchanged."""
    for rule in rules:
        rule.check(cfg)
    return cfg

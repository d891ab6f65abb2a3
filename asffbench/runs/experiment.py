"""A run's record as the run makes it: the experiment hash, a new record with the environment's
facts, the device time, and who writes it.

The record itself (its schema, its atomic writing and its reader) is `asffbench.record`. Records
are written by rank 0 only (`write_record_on_rank0`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from omegaconf import DictConfig, OmegaConf

from asffbench.config.compose import to_plain
from asffbench.config.schema import LEGACY_VALUES, ExperimentConfig
from asffbench.device import device_kind_of
from asffbench.engine.distributed import process_rank, process_world_size
from asffbench.environment import hardware_info, software_versions
from asffbench.models.backbone import backbone_info
from asffbench.models.fusion import fusion_info
from asffbench.record.layout import SCHEMA_VERSION
from asffbench.record.run_record import Hardware, RunRecord, Versions
from asffbench.record.storage import write_record
from asffbench.settings import loss_kind

# What defines an experiment: every config section and key below, minus the exclusions. A key
# added to the schema later is part of the hash unless it is excluded here, on purpose.
HASHED_SECTIONS = ("fusion", "model", "tricks", "recipe", "data", "train", "eval", "loss", "bench", "img_size",
                   "seed")
# Where things are written, how a run is launched or resumed, how often it logs or evaluates and
# how many loader workers it uses do not change what is measured.
EXCLUDED_KEYS = (
    "data.workers",
    "data.cache_dir",
    "train.resume",
    "train.log_every",
    "model.weights_format",
    "model.release_anchors",  # changes a run only through model.anchors, which is hashed  # how a weights file is read, not which weights: auto finds the same
    # Both implementations compute the same function (tests/models/test_deform_conv.py).
    "model.deform_conv",
    "train.eval_every",  # evaluations during training leave the weights (and random state) alone
    # What predict and viz keep; runs never read them.
    "eval.predict_score_thresh",
    "eval.predict_multi_label",
)
# Keys that change a run only when another setting makes them matter, each with the test of that
# setting. When the test fails the key is hashed as its schema default, whatever its value (an
# upsample sweep over the `none` baseline, which has no resize stage, is one experiment, not two).
# Hashing the default rather than dropping the key keeps the hash of every run whose keys were
# at their defaults, so existing records still make their runs skip. What a fusion uses, its
# registry entry says.
CONDITIONAL_KEYS: dict[str, Callable[[dict], bool]] = {
    "fusion.upsample": lambda c: fusion_uses(c, "uses_upsample"),
    "fusion.compress_c": lambda c: fusion_uses(c, "uses_compress_c"),
    "fusion.pan_merge": lambda c: fusion_uses(c, "uses_pan_merge"),
    **{f"fusion.bifpn_{key}": (lambda c: fusion_uses(c, "uses_bifpn"))
       for key in ("layers", "weighting", "channels")},
    "fusion.dropblock_keep_prob": lambda c: bool(c["fusion"].get("dropblock", True)),
    "model.depth": lambda c: backbone_uses_depth(c),
    "model.scale": lambda c: bool(backbone_info(str(c["model"].get("backbone", "darknet53"))).uses_scale),
    "train.ema_decay": lambda c: bool(c["train"].get("ema", True)),
    "train.mixup_off_epochs": lambda c: bool(c["tricks"].get("mixup", True)),
    **{f"train.multiscale_{key}": (lambda c: bool(c["tricks"].get("multiscale", True)))
       for key in ("every", "min", "max", "fixed_epochs")},
    "eval.runtime": lambda c: c["eval"].get("runtime", "torch") != "torch",
    "recipe.test_interp": lambda c: c["recipe"].get("test_interp", "torchvision") != "torchvision",
    # A corrupted evaluation (`asffbench robust`'s cells); the severity only with a corruption.
    **{f"eval.{key}": (lambda c: c["eval"].get("corruption") is not None) for key in ("corruption", "severity")},
    # The ultralytics recipe's schedule keys (engine/epoch_schedule.py), EMA start and SGD form.
    "recipe.lr_decay": lambda c: c["recipe"].get("lr_decay", "per_iteration") != "per_iteration",
    **{f"recipe.{key}": (lambda c: c["recipe"].get("lr_decay", "per_iteration") == "per_epoch")
       for key in ("warmup_bias_lr", "warmup_momentum", "nominal_batch")},
    "recipe.nesterov": lambda c: bool(c["recipe"].get("nesterov", False)),
    # The same function up to rounding, but not the same floats: hashed only when on.
    "train.channels_last": lambda c: bool(c["train"].get("channels_last", False)),
    **{f"recipe.{key}": (lambda c: c["recipe"].get("augment", "asffbench") == "ultralytics")
       for key in ("mosaic_prob", "close_mosaic", "affine_translate", "affine_scale", "hsv_gains", "flip_prob")},
    "recipe.mosaic_buffer": lambda c: c["recipe"].get("augment", "asffbench") == "ultralytics"
    and c["recipe"].get("mosaic_buffer", 0) != 0,
    "recipe.ema_start": lambda c: bool(c["train"].get("ema", True)) and c["recipe"].get("ema_start", "copy") != "copy",
    # The reference recipe's last four differences (issue 32): hashed only where they change
    # something, so every run recorded before them (which behaved as their first value) keeps its hash.
    "recipe.affine_fill": lambda c: c["recipe"].get("augment", "asffbench") == "reference"
    and c["recipe"].get("affine_fill", "truncated") != "truncated",
    "recipe.box_clamp": lambda c: bool(c["recipe"].get("box_clamp", False)),
    "recipe.mixup_off_form": lambda c: bool(c["tricks"].get("mixup", True))
    and c["recipe"].get("mixup_off_form", "exact") != "exact",
    "data.keep_difficult": lambda c: bool(c["data"].get("keep_difficult", False)) and is_voc(c),
    # Each neck as published (docs/necks.md): a key is hashed only where the network reads it and
    # its value is not what the neck was before the key (`LEGACY_VALUES`). A record made before
    # the key has none, so it keeps its hash, the hash of the legacy value (the network it
    # built), and the published defaults hash anew. added_act changes the network only on a
    # backbone whose activation is not LeakyReLU (MobileNetV2), where the family lets it choose.
    "fusion.added_act": lambda c: not_legacy(c, "fusion.added_act") and fusion_uses(c, "uses_added_act")
    and backbone_info(backbone_of(c)).added_act_choice and backbone_info(backbone_of(c)).act != "leaky",
    # The conv-form PAN's block, read where it concatenates (the YOLOv8 family's PAN is its own).
    "fusion.pan_block": lambda c: not_legacy(c, "fusion.pan_block") and fusion_uses(c, "uses_pan_block")
    and backbone_info(backbone_of(c)).bottom_up == "conv" and c["fusion"].get("pan_merge", "concat") == "concat",
    **{f"fusion.bifpn_{key}": (lambda c, key=key: not_legacy(c, f"fusion.bifpn_{key}") and fusion_uses(c, "uses_bifpn"))
       for key in ("conv", "input")},
    "fusion.asff_block": lambda c: not_legacy(c, "fusion.asff_block") and fusion_uses(c, "uses_asff_block"),
    # Ultralytics' NMS forms (docs/anchor-free.md): hashed where they leave asffbench's defaults.
    "eval.pre_nms_topk": lambda c: c["eval"].get("pre_nms_topk", 10000) != 10000,
    "eval.nms_class_offset": lambda c: c["eval"].get("nms_class_offset", 0.0) != 0.0,
    # ONNX Runtime's session keys, read by bench.runtime and eval.runtime alike.
    **{f"bench.ort_{key}": (lambda c: uses_onnxruntime(c)) for key in ("provider", "optimization", "threads")},
}
# Conditional keys added after runs had been recorded: where unused they are left out of the
# hash altogether, so every run recorded before they existed keeps its hash.
ADDED_CONDITIONAL_KEYS = ("model.scale", "fusion.pan_merge", "fusion.bifpn_layers", "fusion.bifpn_weighting",
                          "fusion.bifpn_channels", "eval.runtime", "recipe.test_interp", "recipe.lr_decay",
                          "recipe.warmup_bias_lr", "recipe.warmup_momentum", "recipe.nominal_batch",
                          "recipe.nesterov", "recipe.ema_start", "recipe.mosaic_prob", "recipe.close_mosaic",
                          "recipe.affine_translate", "recipe.affine_scale", "recipe.hsv_gains", "recipe.flip_prob",
                          "recipe.mosaic_buffer",
                          "recipe.affine_fill", "recipe.box_clamp", "recipe.mixup_off_form", "data.keep_difficult",
                          "fusion.added_act", "fusion.pan_block", "fusion.bifpn_conv", "fusion.bifpn_input", "fusion.asff_block",
                          "eval.corruption", "eval.severity", "eval.pre_nms_topk", "eval.nms_class_offset",
                          "train.channels_last")
# Sections that change a run only when its model uses them, with that test; elsewhere they are left
# out of the hash (so runs recorded before the section existed keep their hash).
CONDITIONAL_SECTIONS: dict[str, Callable[[dict], bool]] = {
    "loss": lambda c: loss_kind(str(c["model"].get("backbone", "darknet53"))) == "anchor_free",
}
# The device is hashed as its resolved kind ("cpu" or "cuda"), not as written ("auto"): the kind
# changes the recipe (AMP and fp16 benchmarking only exist on CUDA) and makes FPS a different
# measurement, so a CPU run must never stand in for a GPU run when a sweep decides what to skip.
# The GPU model does not change the recipe; it is recorded under `hardware`, not hashed.


def experiment_hash(cfg: DictConfig | Mapping[str, Any], device_kind: Optional[str] = None) -> str:
    """sha256 (16 hex chars) of the experiment-defining part of the config.

    `device_kind` defaults to the config's device with `auto` resolved on this machine.
    """
    plain = to_plain(cfg) if isinstance(cfg, DictConfig) else json.loads(json.dumps(cfg, default=str))
    subset = {key: plain.get(key) for key in HASHED_SECTIONS}
    for section, matters in CONDITIONAL_SECTIONS.items():
        if not key_matters(plain, matters):
            subset.pop(section, None)
    for dotted in EXCLUDED_KEYS:
        section, _, key = dotted.partition(".")
        if isinstance(subset.get(section), dict):
            subset[section].pop(key, None)
    for dotted, matters in CONDITIONAL_KEYS.items():
        section, _, key = dotted.partition(".")
        if isinstance(subset.get(section), dict) and key in subset[section] and not key_matters(plain, matters):
            if dotted in ADDED_CONDITIONAL_KEYS:
                del subset[section][key]
            else:
                subset[section][key] = schema_defaults()[section][key]
    if isinstance(subset.get("bench"), dict) and subset["bench"].get("batch_size") is None \
            and subset["bench"].get("mode") != "train":
        subset["bench"]["batch_size"] = 1  # unset means 1 for inference: hashed as before it could be unset
    if device_kind is None:
        device_kind = device_kind_of(plain.get("device", "auto"))
    subset["device"] = device_kind
    text = json.dumps(subset, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def not_legacy(plain: dict, dotted: str) -> bool:
    """Whether the key holds other than its legacy value (`LEGACY_VALUES`); absent reads legacy."""
    section, _, key = dotted.partition(".")
    return str(plain[section].get(key, LEGACY_VALUES[dotted])) != LEGACY_VALUES[dotted]


def is_voc(plain: dict) -> bool:
    """VOC data (the only format with `difficult` objects)."""
    return str(plain["data"].get("name", "")).startswith("voc")


def uses_onnxruntime(plain: dict) -> bool:
    return any(plain[section].get("runtime", "torch") != "torch" for section in ("bench", "eval"))


@lru_cache(maxsize=1)
def schema_defaults() -> dict:
    return to_plain(OmegaConf.structured(ExperimentConfig))


def key_matters(plain: dict, matters: Callable[[dict], bool]) -> bool:
    """The key's test on a plain config; a config too old or odd to tell keeps the key hashed."""
    try:
        return matters(plain)
    except (KeyError, TypeError, AttributeError):
        return True


def fusion_uses(plain: dict, part: str) -> bool:
    """Whether the configured fusion uses a part (`FusionInfo` field); unknown fusions do."""
    return bool(getattr(fusion_info(str(plain["fusion"]["name"])), part))  # KeyError when unknown


def backbone_of(plain: dict) -> str:
    return str(plain["model"].get("backbone", "darknet53"))


def backbone_uses_depth(plain: dict) -> bool:
    """Whether the configured backbone has a depth multiplier (`BackboneInfo.uses_depth`)."""
    return bool(backbone_info(str(plain["model"].get("backbone", "darknet53"))).uses_depth)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def device_seconds(record: RunRecord, attempt_seconds: float) -> float:
    """What the run has cost in device time: wall seconds x devices of every attempt's training
    (as far as its last checkpoint kept it) plus this attempt's time outside training."""
    trained, this_training = record.train_seconds or 0.0, record.train_seconds_attempt or 0.0
    return (record.devices or 1) * (trained + max(attempt_seconds - this_training, 0.0))


def write_record_on_rank0(path: Path, record: RunRecord | Mapping[str, Any]) -> bool:
    """Write the record (atomically, `record.storage.write_record`) on rank 0; other ranks write
    nothing. Returns whether this process wrote it."""
    if process_rank() != 0:
        return False
    write_record(path, record)
    return True


def new_record(cfg: DictConfig, exp_hash: str, axes: Mapping[str, Any]) -> RunRecord:
    """A `running` record for a run that starts now."""
    return RunRecord(
        schema_version=SCHEMA_VERSION,
        status="running",
        experiment_hash=exp_hash,
        sweep=cfg.sweep.name,
        axes=dict(axes),
        family=backbone_info(str(cfg.model.backbone)).family,
        config=to_plain(cfg),
        metrics=None,
        bench=None,
        train_seconds=None,
        train_seconds_attempt=None,
        devices=process_world_size(),
        device_seconds=None,
        hardware=Hardware.from_dict(hardware_info()),
        versions=Versions.from_dict(software_versions()),
        started=now_iso(),
        finished=None,
        error=None,
    )

"""The report's methods block: what was measured, how, on what, with which software.

Every line is read from the records themselves. A setting that differs between records is shown
with all its values ("varies: ..."), one that no record holds as ``missing``.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Sequence

from asffbench.data.sources import COCO_LAYOUT, DATASETS, VOC_LAYOUT
from asffbench.record_schema import FLOPS_CONVENTION, VOC_METRIC
from asffbench.results.records import MISSING, LoadedRecord, dig



def text_of(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={text_of(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(text_of(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def distinct(records: Sequence[LoadedRecord], get: Callable[[dict], Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    for record in records:
        value = get(record.data)
        if value is MISSING:
            continue
        seen.setdefault(json.dumps(value, sort_keys=True, default=str), value)
    return list(seen.values())


def describe(records: Sequence[LoadedRecord], get: Callable[[dict], Any]) -> str:
    values = distinct(records, get)
    if not values:
        return "missing"
    if len(values) == 1:
        return text_of(values[0])
    return "varies: " + "; ".join(text_of(v) for v in values)


def at(path: str) -> Callable[[dict], Any]:
    return lambda data: dig(data, path)


def pick(path: str, keys: Sequence[str]) -> Callable[[dict], Any]:
    """The listed keys of the mapping at `path` (absent keys left out)."""

    def get(data: dict) -> Any:
        node = dig(data, path)
        if not isinstance(node, dict):
            return MISSING
        return {k: node[k] for k in keys if k in node}

    return get


def dataset(data: dict) -> Any:
    cfg = dig(data, "config.data")
    if not isinstance(cfg, dict):
        return MISSING
    name = cfg.get("name", "missing")
    kind = DATASETS.get(name) if name in DATASETS else None
    val = cfg.get("val") or {}
    if kind is not None and kind.synthetic and kind.source.layout == COCO_LAYOUT:
        synth = cfg.get("synth") or {}
        return (f"synthetic tiny COCO ({synth.get('images', '?')} images, "
                f"val fraction {synth.get('val_fraction', '?')}, seed {synth.get('seed', '?')}); "
                "evaluated on its val split")
    if kind is not None and kind.source.layout == VOC_LAYOUT:
        train = cfg.get("train") or {}
        where = "the synthetic tiny COCO as a VOCdevkit" if kind.synthetic else f"root {cfg.get('root')}"
        classes = cfg.get("classes") or ("the synthetic shapes" if kind.synthetic
                                         else f"the {len(kind.source.default_classes)} VOC classes")
        return (f"{name} ({where}); trained on {voc_sets(train.get('sets'), 'VOC2007+2012 trainval')}, "
                f"evaluated on {voc_sets(val.get('sets'), 'VOC2007 test')}; classes: {classes}")
    return f"{name} (root {cfg.get('root')}); evaluated on {val.get('ann') or 'the default val split'}"


def voc_sets(sets: Any, default: str) -> str:
    if not sets:
        return default
    return " + ".join(f"{folder} {split}" for folder, split in sets)


def evaluation(data: dict) -> Any:
    coco = "COCO bbox AP (pycocotools summarize, maxDets 100)"
    if dig(data, "metrics.metric") == VOC_METRIC:
        return ("VOC mAP@0.5 with difficult objects ignored, as area under the PR curve (VOC2010+, "
                f"mAP) and 11-point (VOC2007, mAP@07); beside it {coco} on the same detections, "
                "difficult objects as crowd regions")
    return coco


def schedule(data: dict) -> Any:
    cosine = dig(data, "config.tricks.cosine_lr")
    if cosine is MISSING:
        return MISSING
    return "cosine" if cosine else f"step at {text_of(dig(data, 'config.train.step_milestones'))} of the epochs"


def hardware(data: dict) -> Any:
    hw = dig(data, "hardware")
    if not isinstance(hw, dict):
        return MISSING
    gpu = f"{hw.get('gpu_count')} x {hw.get('gpu')}" if hw.get("gpu") else "no GPU"
    return f"{gpu}; CPU {hw.get('cpu')} ({hw.get('cpu_count')} cores); host {hw.get('host')}"


def uncounted_ops(records: Sequence[LoadedRecord]) -> str:
    lists = [dig(r.data, "bench.uncounted_ops") for r in records]
    ops = sorted({op for ops in lists if isinstance(ops, list) for op in ops if isinstance(op, str)})
    return ", ".join(ops) if ops else "none recorded"


def training_time(records: Sequence[LoadedRecord]) -> str:
    seconds = [float(v) for r in records
               if isinstance(v := dig(r.data, "train_seconds"), (int, float)) and not isinstance(v, bool)]
    if not seconds:
        return "missing"
    return f"{sum(seconds) / 3600:.2f} h in total over {len(seconds)} runs (longest {max(seconds):.0f} s)"


TRAIN_KEYS = ("epochs", "batch_size", "lr", "min_lr", "momentum", "weight_decay", "warmup_epochs",
              "ema", "amp", "max_iters_per_epoch")
EVAL_KEYS = ("score_thresh", "nms_iou", "max_det", "backend")
BENCH_KEYS = ("device", "device_name", "precision", "fused", "deform_conv", "batch_size", "img_size")


def training_recipe(data: dict) -> Any:
    """The training keys, plus the multi-scale range when multi-scale training is on."""
    recipe = pick("config.train", TRAIN_KEYS)(data)
    if recipe is MISSING or dig(data, "config.tricks.multiscale") is not True:
        return recipe
    train = dig(data, "config.train")
    low, high = train.get("multiscale_min", "?"), train.get("multiscale_max", "?")
    return {**recipe, "multiscale": f"{low}-{high} px"}


def methods_lines(records: Sequence[LoadedRecord]) -> list[tuple[str, str]]:
    """(heading, text) pairs of the methods block."""
    return [
        ("Dataset and split", describe(records, dataset)),
        ("Input size", describe(records, at("config.img_size"))),
        ("Model", describe(records, pick("config.model", ("name", "width", "depth", "num_classes",
                                                            "pretrained")))),
        ("Fusion", describe(records, pick("config.fusion", ("name", "compress_c", "upsample",
                                                             "rfb", "dropblock")))),
        ("Training recipe", describe(records, training_recipe)
         + f"; SGD, LR schedule: {describe(records, schedule)}"),
        ("Tricks", describe(records, at("config.tricks"))),
        ("Recipe switches", describe(records, at("config.recipe"))),
        ("Training time", training_time(records)),
        ("Evaluation", describe(records, evaluation) + "; " + describe(records, pick("config.eval", EVAL_KEYS))),
        ("FPS protocol", describe(records, at("bench.protocol"))),
        ("Speed measured on", describe(records, pick("bench", BENCH_KEYS))),
        ("FLOPs convention", FLOPS_CONVENTION),
        ("Operators fvcore did not count", uncounted_ops(records)),
        ("Hardware", describe(records, hardware)),
        ("Software", describe(records, pick("versions", ("python", "torch", "torchvision", "cuda",
                                                          "asffbench")))),
        ("Git commit", describe(records, at("versions.git_commit"))),
    ]


def methods_markdown(records: Sequence[LoadedRecord]) -> str:
    if not records:
        return "No records, so nothing to describe.\n"
    return "".join(f"- **{heading}**: {text}\n" for heading, text in methods_lines(records))

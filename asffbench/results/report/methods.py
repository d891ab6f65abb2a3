"""The report's methods block: what was measured, how, on what, with which software.

Every line is read from the records themselves. A setting that differs between records is shown
with all its values ("varies: ..."), one that no record holds as ``missing``.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Sequence

from asffbench.data.sources import COCO_LAYOUT, DATASETS, VOC_LAYOUT
from asffbench.record.layout import FLOPS_CONVENTION, VOC_METRIC
from asffbench.record.run_record import Hardware, Metrics, RunRecord, Versions
from asffbench.record.sections import MISSING, Section, or_none, part
from asffbench.results.reading.records import LoadedRecord, bench, bench_run



def text_of(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={text_of(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(text_of(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def distinct(records: Sequence[LoadedRecord], get: Callable[[RunRecord], Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    for record in records:
        value = get(record.record)
        if value is MISSING:
            continue
        if isinstance(value, Section):
            value = value.to_dict()
        seen.setdefault(json.dumps(value, sort_keys=True, default=str), value)
    return list(seen.values())


def describe(records: Sequence[LoadedRecord], get: Callable[[RunRecord], Any]) -> str:
    values = distinct(records, get)
    if not values:
        return "missing"
    if len(values) == 1:
        return text_of(values[0])
    return "varies: " + "; ".join(text_of(v) for v in values)


def at(key: str) -> Callable[[RunRecord], Any]:
    """A config key of the record."""
    return lambda record: record.config_value(key)


def pick(key: str, keys: Sequence[str]) -> Callable[[RunRecord], Any]:
    """The listed keys of the config mapping at `key` (absent keys left out)."""

    def get(record: RunRecord) -> Any:
        node = record.config_value(key)
        if not isinstance(node, dict):
            return MISSING
        return {k: node[k] for k in keys if k in node}

    return get


def present(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not MISSING}


def speed_setup(record: RunRecord) -> Any:
    """What the speed was measured on and with (either bench mode)."""
    if not isinstance(record.bench, Section):
        return MISSING
    run = bench_run(record)
    return present({"device": run.device, "device_name": run.device_name, "precision": run.precision,
                    "fused": bench(record).fused, "deform_conv": run.deform_conv,
                    "batch_size": run.batch_size, "img_size": run.img_size})


def fps_protocol(record: RunRecord) -> Any:
    return bench_run(record).protocol


def software(record: RunRecord) -> Any:
    if not isinstance(record.versions, Versions):
        return MISSING
    v = record.versions
    return present({"python": v.python, "torch": v.torch, "torchvision": v.torchvision, "cuda": v.cuda,
                    "asffbench": v.asffbench})


def git_commit(record: RunRecord) -> Any:
    return part(record.versions, Versions).git_commit


def dataset(record: RunRecord) -> Any:
    cfg = record.config_value("data")
    if not isinstance(cfg, dict):
        return MISSING
    name = cfg.get("name", "missing")
    kind = DATASETS.get(name) if name in DATASETS else None
    val = cfg.get("val") or {}
    if kind is not None and kind.synthetic and kind.source.layout == COCO_LAYOUT:
        synth = cfg.get("synth") or {}
        return (f"synthetic tiny COCO ({synth.get('images', '?')} images, "
                f"val fraction {synth.get('val_fraction', '?')}, seed {synth.get('seed', '?')}); "
                f"evaluated on {val.get('ann') or 'its val split'}")
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


def evaluation(record: RunRecord) -> Any:
    coco = "COCO bbox AP (pycocotools summarize, maxDets 100)"
    if not part(record.metrics, Metrics).scored:
        return ("no AP computed: a split without annotations (a test split), its detections written "
                "for the COCO evaluation server")
    if part(record.metrics, Metrics).metric == VOC_METRIC:
        return ("VOC mAP@0.5 with difficult objects ignored, as area under the PR curve (VOC2010+, "
                f"mAP) and 11-point (VOC2007, mAP@07); beside it {coco} on the same detections, "
                "difficult objects as crowd regions")
    return coco


def schedule(record: RunRecord) -> Any:
    cosine = record.config_value("tricks.cosine_lr")
    if cosine is MISSING:
        return MISSING
    return "cosine" if cosine else f"step at {text_of(record.config_value('train.step_milestones'))} of the epochs"


def hardware(record: RunRecord) -> Any:
    hw = record.hardware
    if not isinstance(hw, Hardware):
        return MISSING
    gpu = f"{or_none(hw.gpu_count)} x {hw.gpu}" if hw.gpu else "no GPU"
    return f"{gpu}; CPU {or_none(hw.cpu)} ({or_none(hw.cpu_count)} cores); host {or_none(hw.host)}"



def uncounted_ops(records: Sequence[LoadedRecord]) -> str:
    lists = [bench(r.record).uncounted_ops for r in records]
    ops = sorted({op for ops in lists if isinstance(ops, list) for op in ops if isinstance(op, str)})
    return ", ".join(ops) if ops else "none recorded"


def training_time(records: Sequence[LoadedRecord]) -> str:
    seconds = [float(v) for r in records
               if isinstance(v := r.record.train_seconds, (int, float)) and not isinstance(v, bool)]
    if not seconds:
        return "missing"
    return f"{sum(seconds) / 3600:.2f} h in total over {len(seconds)} runs (longest {max(seconds):.0f} s)"


TRAIN_KEYS = ("epochs", "batch_size", "lr", "min_lr", "momentum", "weight_decay", "warmup_epochs",
              "ema", "amp", "max_iters_per_epoch")
EVAL_KEYS = ("score_thresh", "nms_iou", "max_det", "backend")


def training_recipe(record: RunRecord) -> Any:
    """The training keys, plus the multi-scale range when multi-scale training is on."""
    recipe = pick("train", TRAIN_KEYS)(record)
    if recipe is MISSING or record.config_value("tricks.multiscale") is not True:
        return recipe
    train = record.config_value("train")
    low, high = train.get("multiscale_min", "?"), train.get("multiscale_max", "?")
    return {**recipe, "multiscale": f"{low}-{high} px"}


def methods_lines(records: Sequence[LoadedRecord]) -> list[tuple[str, str]]:
    """(heading, text) pairs of the methods block."""
    return [
        ("Dataset and split", describe(records, dataset)),
        ("Input size", describe(records, at("img_size"))),
        ("Model", describe(records, pick("model", ("name", "backbone", "width", "depth", "num_classes",
                                                            "pretrained")))),
        ("Fusion", describe(records, pick("fusion", ("name", "compress_c", "upsample",
                                                             "rfb", "dropblock")))),
        ("Training recipe", describe(records, training_recipe)
         + f"; SGD, LR schedule: {describe(records, schedule)}"),
        ("Tricks", describe(records, at("tricks"))),
        ("Recipe switches", describe(records, at("recipe"))),
        ("Training time", training_time(records)),
        ("Evaluation", describe(records, evaluation) + "; " + describe(records, pick("eval", EVAL_KEYS))),
        ("FPS protocol", describe(records, fps_protocol)),
        ("Speed measured on", describe(records, speed_setup)),
        ("FLOPs convention", FLOPS_CONVENTION),
        ("Operators fvcore did not count", uncounted_ops(records)),
        ("Hardware", describe(records, hardware)),
        ("Software", describe(records, software)),
        ("Git commit", describe(records, git_commit)),
    ]


def methods_markdown(records: Sequence[LoadedRecord]) -> str:
    if not records:
        return "No records, so nothing to describe.\n"
    return "".join(f"- **{heading}**: {text}\n" for heading, text in methods_lines(records))

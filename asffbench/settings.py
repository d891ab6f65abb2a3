"""The layer that reads the config (detectron2's `from_config`, without the decorator).

A composed config goes in; frozen settings objects and constructor arguments come out, for
everything below: the data loaders, post-processing, evaluation, the benchmark, the loss, the optimiser and the
LR schedule (the model's constructor arguments come from `asffbench.build`). Code in `engine/`,
`bench/`, `data/` and `trackers/` take these objects, never the config; the orchestrators (`runs/`, the CLI and the
entry points `evaluate`/`benchmark`) call this layer once and pass them down. Values are checked
at composition (config/validate.py); what needs the machine is checked where it runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Optional

from omegaconf import ListConfig

from asffbench.build import anchors_from_config, resolved_deform_conv
from asffbench.config.schema import choice_str
from asffbench.corruptions import Corruption, expand_names, grid
from asffbench.data.loaders import AugmentSettings, DataSettings, SamplingSettings, TrainDataSettings
from asffbench.data.sources import DATASETS, DataSource, SplitFiles
from asffbench.data.synth import SynthParams
from asffbench.data.ultralytics_augment import UltralyticsAugment
from asffbench.errors import UserError
from asffbench.models.backbone.registry import BACKBONES, backbone_info
from asffbench.models.head.registry import head_info
from asffbench.trackers.options import MlflowOptions, TrackerSettings, WandbOptions

# bench.batch_size=max: the batch the search starts from (halved on CUDA out-of-memory).
MAX_BATCH_START = 256


@dataclass(frozen=True)
class PostprocessSettings:
    """The keyword arguments of `engine.postprocess.postprocess`: evaluation, the benchmark's
    timed NMS, predict and viz use the same ones (predict and viz with their own threshold)."""

    score_thresh: float = 0.001
    nms_iou: float = 0.65
    max_det: int = 100  # 0: no cap
    multi_label: bool = True
    score_inclusive: bool = False  # keep scores equal to the threshold (>=)
    clip_boxes: bool = True  # clip the boxes mapped back to the original image (`infer`)
    pre_nms_topk: int = 10000  # best candidates per image that enter NMS
    class_offset: float = 0.0  # 0: exact class-wise NMS; > 0: ultralytics' class shift (px)

    def kwargs(self) -> dict[str, Any]:
        """The keywords of `postprocess` (clipping happens after it, in original pixels)."""
        return {key: value for key, value in asdict(self).items() if key != "clip_boxes"}


@dataclass(frozen=True)
class RuntimeSettings:
    """What runs the forward pass: eager PyTorch, or ONNX Runtime on the exported graph with its
    execution provider, graph optimisation level and intra-op threads (0: its default)."""

    runtime: str = "torch"
    provider: str = "cpu"
    optimization: str = "all"
    threads: int = 0
    option: str = "bench.runtime"  # the key an error names
    fp16: bool = False  # TensorRT's fp16 kernels (bench.precision=fp16 with provider tensorrt)

    @property
    def onnx(self) -> bool:
        return self.runtime == "onnxruntime"


@dataclass(frozen=True)
class EvalSettings:
    """What evaluation does."""

    backend: str  # eval.backend
    metric: str  # eval.metric, `auto` resolved for the dataset
    postprocess: PostprocessSettings
    device: str  # the `device` choice (auto | cpu | cuda)
    fusion: str  # fusion.name: an adaptive fusion's weights are also measured at the val boxes
    anchors: tuple[tuple[float, float], ...]
    every: int = 0  # train.eval_every (0: only the final evaluation)
    precision: str = "fp32"  # eval.precision: fp16 runs the whole model in half (CUDA only)
    epochs: int = 0  # train.epochs: the last epoch is left to the final evaluation
    runtime: RuntimeSettings = RuntimeSettings(option="eval.runtime")  # eval.runtime
    # A test split's results file is detections_[testset]_[alg]_results.json (the evaluation
    # server's name); alg is `<model>-<fusion>-<img_size>`.
    alg: str = "asffbench"


@dataclass(frozen=True)
class BenchSettings:
    """The `bench.*` keys and what else one benchmark states or uses."""

    mode: str
    input: str
    batch_size: int  # the batch to start from (MAX_BATCH_START for `max`)
    batch_size_from: str  # the key that gave it: bench.batch_size, train.batch_size or default
    find_max: bool
    precision: str
    img_size: int
    fuse: bool
    channels_last: bool
    compile: str
    cudnn_benchmark: bool
    warmup: int
    iters: int
    repeats: int
    nms: bool = True  # time NMS and count its candidates
    postprocess: PostprocessSettings = PostprocessSettings()
    device: str = "auto"
    seed: int = 0
    fusion: str = ""
    model: str = ""
    deform_conv: Optional[str] = None  # model.deform_conv resolved; None without guided anchoring
    runtime: RuntimeSettings = RuntimeSettings()


@dataclass(frozen=True)
class OptimizerSettings:
    """SGD of `engine.optim.build_optimizer`; the learning rates are per 64 images (scaled by
    the total batch when the trainer is built, as `lr_scaling` says)."""

    lr: float
    min_lr: float
    momentum: float
    weight_decay: float
    decay_norm_and_bias: bool
    lr_scaling: str  # recipe.lr_scaling: linear in the total batch, or none
    nesterov: bool = False
    nominal_batch: Optional[int] = None  # recipe.nominal_batch: accumulate towards it (per_epoch decay)


@dataclass(frozen=True)
class ScheduleSettings:
    """The LR schedule of `engine.schedule.build_scheduler`, less what the run decides (the
    iterations per epoch and the scaled learning rates)."""

    epochs: int
    warmup_epochs: float
    cosine: bool
    step_milestones: tuple[float, ...]
    warmup_form: str
    flat_epochs: float
    final_epochs: float
    lr_decay: str = "per_iteration"  # recipe.lr_decay
    warmup_bias_lr: float = 0.1  # per_epoch only
    warmup_momentum: float = 0.8  # per_epoch only


@dataclass(frozen=True)
class AnchorFreeLossSettings:
    """The keyword arguments of `engine.anchor_free_loss.AnchorFreeLoss` beside the class count
    (`loss.*`; YOLOv8's values by default)."""

    box_gain: float = 7.5
    cls_gain: float = 0.5
    dfl_gain: float = 1.5
    topk: int = 10
    alpha: float = 0.5
    beta: float = 6.0

    def kwargs(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LossSettings:
    """Which criterion trains the model (`kind`: `yolov3`, engine.loss.YOLOLoss, whose keyword
    arguments `kwargs()` gives; `anchor_free`, engine.anchor_free_loss.AnchorFreeLoss with
    `num_classes` and `anchor_free`), from the model's head (`loss_kind`)."""

    num_classes: int
    anchors: tuple[tuple[float, float], ...]
    iou_loss: bool
    label_smoothing: bool
    guided_anchoring: bool
    iou_loss_form: str
    shape_loss_form: str
    box_terms_train_shape: bool
    mixup_weighting: str
    label_smoothing_max: Optional[float]
    shared_prediction: str
    kind: str = "yolov3"
    anchor_free: AnchorFreeLossSettings = AnchorFreeLossSettings()

    def kwargs(self) -> dict[str, Any]:
        """`YOLOLoss`'s keyword arguments."""
        plain = {key: value for key, value in asdict(self).items() if key not in ("kind", "anchor_free")}
        return {**plain, "anchors": [list(pair) for pair in self.anchors]}


@dataclass(frozen=True)
class TrainerSettings:
    """What `engine.train_builders.build_trainer` puts around a model."""

    optimizer: OptimizerSettings
    schedule: ScheduleSettings
    loss: LossSettings
    batch_size: int  # per process; the learning rates scale with it times the processes
    amp: bool  # fp16 on CUDA
    grad_clip: Optional[float]
    ema: bool
    ema_decay: float
    sync_bn: bool  # on CUDA only
    ema_start: str = "copy"  # recipe.ema_start
    channels_last: bool = False  # train.channels_last: the model and its batches


@dataclass(frozen=True)
class BenchRun:
    """Everything one benchmark reads: its protocol, the data its inputs come from (val images
    for inference, augmented train batches for `bench.mode=train`) and the trainer it times."""

    bench: BenchSettings
    data: TrainDataSettings
    trainer: TrainerSettings


def postprocess_settings(cfg: Any) -> PostprocessSettings:
    return PostprocessSettings(
        score_thresh=float(cfg.eval.score_thresh), nms_iou=float(cfg.eval.nms_iou),
        max_det=int(cfg.eval.max_det), multi_label=bool(cfg.recipe.multi_label),
        score_inclusive=bool(cfg.recipe.score_inclusive), clip_boxes=bool(cfg.recipe.clip_boxes),
        pre_nms_topk=int(cfg.eval.pre_nms_topk), class_offset=float(cfg.eval.nms_class_offset),
    )


def predict_settings(cfg: Any, score_thresh: Optional[float] = None) -> PostprocessSettings:
    """`predict`'s and `viz`'s post-processing: evaluation's, at `score_thresh` (their
    --score-thresh) or eval.predict_score_thresh, multi-label per eval.predict_multi_label (null:
    as evaluation)."""
    multi_label = cfg.eval.predict_multi_label
    base = postprocess_settings(cfg)
    return replace(base, score_thresh=float(cfg.eval.predict_score_thresh if score_thresh is None else score_thresh),
                   multi_label=base.multi_label if multi_label is None else bool(multi_label))


def eval_metric(cfg: Any) -> str:
    """`eval.metric`, with `auto` resolved: the dataset's default metric (`sources.DATASETS`)."""
    metric = choice_str(cfg.eval.metric)
    return DATASETS.get(str(cfg.data.name)).default_metric if metric == "auto" else metric


def eval_settings(cfg: Any, during_training: bool = False) -> EvalSettings:
    """Evaluation's settings; `during_training`: those of the evaluations every `train.eval_every`
    epochs, whose score threshold is `train.eval_score_thresh` when set."""
    postprocess = postprocess_settings(cfg)
    in_training_thresh = cfg.train.get("eval_score_thresh")
    if during_training and in_training_thresh is not None:
        postprocess = replace(postprocess, score_thresh=float(in_training_thresh))
    return EvalSettings(
        backend=choice_str(cfg.eval.backend), metric=eval_metric(cfg), postprocess=postprocess,
        device=choice_str(cfg.device), fusion=str(cfg.fusion.name),
        anchors=tuple(tuple(pair) for pair in anchors_from_config(cfg)),
        every=int(cfg.train.get("eval_every", 0) or 0), epochs=int(cfg.train.epochs),
        precision=choice_str(cfg.eval.get("precision", "fp32")),
        runtime=runtime_settings(cfg, choice_str(cfg.eval.get("runtime", "torch")), "eval.runtime"),
        alg=f"{cfg.model.name}-{cfg.fusion.name}-{int(cfg.img_size)}",
    )


def runtime_settings(cfg: Any, runtime: str, option: str, fp16: bool = False) -> RuntimeSettings:
    """`bench.runtime` or `eval.runtime` (`option`) with the ONNX Runtime session keys (`bench.ort_*`)."""
    bench = cfg.bench
    return RuntimeSettings(runtime=runtime, provider=choice_str(bench.ort_provider),
                           optimization=choice_str(bench.ort_optimization), threads=int(bench.ort_threads),
                           option=f"{option}={runtime}", fp16=fp16)


def bench_settings(cfg: Any) -> BenchSettings:
    """The `bench.*` keys (their values are checked at composition, config/validate.py); what the
    machine must offer for them is checked by the benchmark (`bench.runner.check_machine`)."""
    bench = cfg.bench
    mode = choice_str(bench.mode)
    batch_size, batch_size_from = bench_batch_size(cfg, mode)
    return BenchSettings(
        mode=mode, input=choice_str(bench.input), batch_size=batch_size, batch_size_from=batch_size_from,
        find_max=str(bench.batch_size) == "max", precision=choice_str(bench.precision), img_size=int(cfg.img_size),
        fuse=bool(bench.fuse), channels_last=bool(bench.channels_last), compile=str(bench.compile).lower(),
        cudnn_benchmark=bool(bench.cudnn_benchmark), warmup=int(bench.warmup),
        iters=int(bench.iters), repeats=int(bench.repeats), nms=bool(bench.nms),
        postprocess=postprocess_settings(cfg), device=choice_str(cfg.device), seed=int(cfg.seed),
        fusion=str(cfg.fusion.name), model=str(cfg.model.name),
        deform_conv=resolved_deform_conv(cfg) if bool(cfg.tricks.guided_anchoring) else None,
        runtime=runtime_settings(cfg, choice_str(bench.runtime), "bench.runtime",
                                 fp16=choice_str(bench.precision) == "fp16"),
    )


def bench_batch_size(cfg: Any, mode: str) -> tuple[int, str]:
    """The batch and the key it comes from: `bench.batch_size` when given; else the training
    batch (`train.batch_size`) for `bench.mode=train`, 1 for inference."""
    given = cfg.bench.batch_size
    if given is not None:
        return (MAX_BATCH_START if str(given) == "max" else int(given)), "bench.batch_size"
    if mode == "train":
        return int(cfg.train.batch_size), "train.batch_size"
    return 1, "default"


def loss_settings(cfg: Any) -> LossSettings:
    recipe = cfg.recipe
    return LossSettings(
        num_classes=int(cfg.model.num_classes),
        anchors=tuple(tuple(float(v) for v in pair) for pair in anchors_from_config(cfg)),
        iou_loss=bool(cfg.tricks.iou_loss),
        label_smoothing=bool(cfg.tricks.label_smoothing),
        guided_anchoring=bool(cfg.tricks.guided_anchoring),
        iou_loss_form=choice_str(recipe.iou_loss_form),
        shape_loss_form=choice_str(recipe.shape_loss_form),
        box_terms_train_shape=bool(recipe.box_terms_train_shape),
        mixup_weighting=choice_str(recipe.mixup_weighting),
        label_smoothing_max=None if recipe.label_smoothing_max is None else float(recipe.label_smoothing_max),
        shared_prediction=choice_str(recipe.shared_prediction),
        kind=loss_kind(str(cfg.model.backbone)),
        anchor_free=anchor_free_loss_settings(cfg),
    )


def loss_kind(backbone: str) -> str:
    """`anchor_free` where the family built on `backbone` has an anchor-free head (its
    `HeadInfo`), else `yolov3`; an unknown backbone is refused where the model is built."""
    if backbone not in BACKBONES:
        return "yolov3"
    head = backbone_info(backbone).head
    return "anchor_free" if head and head_info(head).anchor_free else "yolov3"


def anchor_free_loss_settings(cfg: Any) -> AnchorFreeLossSettings:
    loss = cfg.loss
    return AnchorFreeLossSettings(
        box_gain=float(loss.box_gain), cls_gain=float(loss.cls_gain), dfl_gain=float(loss.dfl_gain),
        topk=int(loss.assigner_topk), alpha=float(loss.assigner_alpha), beta=float(loss.assigner_beta),
    )


def loss_arguments(cfg: Any) -> dict[str, Any]:
    """The keyword arguments of `engine.loss.YOLOLoss`."""
    return loss_settings(cfg).kwargs()


def optimizer_settings(cfg: Any) -> OptimizerSettings:
    train = cfg.train
    return OptimizerSettings(
        lr=float(train.lr), min_lr=float(train.min_lr), momentum=float(train.momentum),
        weight_decay=float(train.weight_decay), decay_norm_and_bias=bool(cfg.recipe.decay_norm_and_bias),
        lr_scaling=choice_str(cfg.recipe.lr_scaling), nesterov=bool(cfg.recipe.nesterov),
        nominal_batch=None if cfg.recipe.nominal_batch is None else int(cfg.recipe.nominal_batch),
    )


def schedule_settings(cfg: Any) -> ScheduleSettings:
    train = cfg.train
    return ScheduleSettings(
        epochs=int(train.epochs), warmup_epochs=float(train.warmup_epochs), cosine=bool(cfg.tricks.cosine_lr),
        step_milestones=tuple(float(m) for m in train.step_milestones), warmup_form=choice_str(cfg.recipe.warmup_form),
        flat_epochs=float(cfg.recipe.lr_flat_epochs), final_epochs=float(cfg.recipe.lr_final_epochs),
        lr_decay=choice_str(cfg.recipe.lr_decay), warmup_bias_lr=float(cfg.recipe.warmup_bias_lr),
        warmup_momentum=float(cfg.recipe.warmup_momentum),
    )


def trainer_settings(cfg: Any) -> TrainerSettings:
    train = cfg.train
    return TrainerSettings(
        optimizer=optimizer_settings(cfg), schedule=schedule_settings(cfg), loss=loss_settings(cfg),
        batch_size=int(train.batch_size), amp=bool(train.amp),
        grad_clip=None if train.grad_clip is None else float(train.grad_clip),
        ema=bool(train.ema), ema_decay=float(train.ema_decay), sync_bn=bool(cfg.tricks.sync_bn),
        ema_start=choice_str(cfg.recipe.ema_start), channels_last=bool(train.channels_last),
    )


def bench_run(cfg: Any) -> BenchRun:
    return BenchRun(bench=bench_settings(cfg), data=train_data_settings(cfg), trainer=trainer_settings(cfg))


def tracker_settings(cfg: Any) -> TrackerSettings:
    """`logger.*`: which trackers a run feeds (`logger=[tensorboard,mlflow,wandb]`) and how."""
    logger = cfg.get("logger")
    if logger is None:  # a config from before the logger section
        return TrackerSettings()
    mlflow, wandb = logger.mlflow, logger.wandb
    return TrackerSettings(
        tensorboard=bool(logger.tensorboard.enabled),
        mlflow=MlflowOptions(uri=mlflow.get("uri"), experiment=mlflow.get("experiment")) if mlflow.enabled else None,
        wandb=WandbOptions(mode=choice_str(wandb.mode), project=str(wandb.project), entity=wandb.get("entity"))
        if wandb.enabled else None,
    )


def frozen(value: Any) -> Any:
    """A config list (nested) as tuples, so that the settings holding it stay hashable."""
    if isinstance(value, (list, tuple, ListConfig)):
        return tuple(frozen(item) for item in value)
    return value


def split_files(split: Any) -> SplitFiles:
    return SplitFiles(ann=split.get("ann"), images=split.get("images"), sets=frozen(split.get("sets")))


def data_source(cfg: Any) -> DataSource:
    """The `data.*` keys that say which dataset and where its files are."""
    data, synth = cfg.data, cfg.data.synth
    classes = data.get("classes")
    return DataSource(
        name=str(data.name), root=data.get("root"), cache_dir=data.get("cache_dir"),
        classes=None if classes is None else tuple(str(c) for c in classes),
        synth=SynthParams(images=int(synth.images), val_fraction=float(synth.val_fraction),
                          seed=int(synth.seed), image_size=int(synth.image_size)),
        train=split_files(data.train), val=split_files(data.val),
    )


def data_settings(cfg: Any) -> DataSettings:
    return DataSettings(
        source=data_source(cfg), num_classes=int(cfg.model.num_classes), img_size=int(cfg.img_size),
        min_box_size=float(cfg.data.min_box_size), seed=int(cfg.seed), workers=int(cfg.data.workers),
        device=choice_str(cfg.get("device", "auto")), test_resize=choice_str(cfg.recipe.test_resize),
        test_interp=choice_str(cfg.recipe.test_interp), val_batch_size=int(cfg.eval.batch_size),
        corruption=eval_corruption(cfg), input_norm=backbone_info(str(cfg.model.backbone)).input_norm,
    )


@dataclass(frozen=True)
class RobustSettings:
    """The robustness stage after a run's evaluation (`robust.*`): on or off, and its cells."""

    enabled: bool
    cells: tuple[Corruption, ...]


def robust_settings(cfg: Any) -> RobustSettings:
    robust = cfg.get("robust") or {}
    names = expand_names([str(n) for n in robust.get("corruptions", ["benchmark"])])
    severities = sorted({int(v) for v in robust.get("severities", [1, 2, 3, 4, 5])})
    return RobustSettings(enabled=bool(robust.get("enabled", False)), cells=tuple(grid(names, severities)))


def eval_corruption(cfg: Any) -> Optional[Corruption]:
    """`eval.corruption` at `eval.severity` (checked at composition), None for clean images."""
    name = cfg.eval.get("corruption")
    return None if name is None else Corruption(str(name), int(cfg.eval.get("severity", 3)))


def augment_settings(cfg: Any) -> AugmentSettings:
    recipe = cfg.recipe
    return AugmentSettings(
        resize=choice_str(recipe.train_resize), mixup_prob=float(recipe.mixup_prob),
        expand_max=float(recipe.expand_max), augment=choice_str(recipe.augment),
        crowd_targets=bool(recipe.crowd_targets), box_convention=choice_str(recipe.box_convention),
        box_clamp=checked_box_clamp(recipe), keep_difficult=bool(cfg.data.keep_difficult),
        affine_fill=choice_str(recipe.affine_fill), mosaic_buffer=int(recipe.mosaic_buffer),
        ultralytics=UltralyticsAugment(
            mosaic_prob=float(recipe.mosaic_prob), translate=float(recipe.affine_translate),
            scale=float(recipe.affine_scale), hsv_gains=tuple(float(g) for g in recipe.hsv_gains),
            flip_prob=float(recipe.flip_prob),
        ),
    )


def checked_box_clamp(recipe: Any) -> bool:
    """recipe.box_clamp, which is defined under the reference's inclusive box convention only."""
    if recipe.box_clamp and choice_str(recipe.box_convention) != "inclusive":
        raise UserError("recipe.box_clamp=true: the reference's clamps read boxes as x2 = x + w - 1; "
                        "set recipe.box_convention=inclusive too (or box_clamp=false)")
    return bool(recipe.box_clamp)


def sampling_settings(cfg: Any) -> SamplingSettings:
    train = cfg.train
    max_batches = train.max_iters_per_epoch
    mosaic = choice_str(cfg.recipe.augment) == "ultralytics"
    return SamplingSettings(
        batch_size=int(train.batch_size), epochs=int(train.epochs), multiscale=bool(cfg.tricks.multiscale),
        multiscale_every=int(train.multiscale_every), multiscale_min=int(train.multiscale_min),
        multiscale_max=int(train.multiscale_max), multiscale_fixed_epochs=int(train.multiscale_fixed_epochs),
        mixup=bool(cfg.tricks.mixup), mixup_off_epochs=int(train.mixup_off_epochs),
        mixup_off_form=choice_str(cfg.recipe.mixup_off_form),
        max_batches=None if max_batches is None else int(max_batches),
        mosaic=mosaic, close_mosaic=int(cfg.recipe.close_mosaic),
    )


def train_data_settings(cfg: Any) -> TrainDataSettings:
    return TrainDataSettings(data=data_settings(cfg), augment=augment_settings(cfg), sampling=sampling_settings(cfg))

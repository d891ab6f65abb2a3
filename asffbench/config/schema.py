"""Structured configs: the schema every composed config is checked against.

Registered in Hydra's ConfigStore so that a misspelt key or a value of the wrong type fails at
composition time, before anything runs. The YAML files under ``conf/`` only choose values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional

from hydra.core.config_store import ConfigStore

from asffbench.anchors import ANCHOR_SETS, DEFAULT_ANCHORS


def choice_str(value: Any) -> str:
    """A config choice as plain text: a str enum's value (`Upsample.nearest` -> "nearest"), or
    the value itself as a string (a choice given or read back as text)."""
    return str(getattr(value, "value", value))


class Upsample(str, Enum):
    nearest = "nearest"
    bilinear = "bilinear"


class PanMerge(str, Enum):
    concat = "concat"  # concatenation + a merge block (fusion.pan_block; YOLOv4/YOLOv5 necks)
    sum = "sum"  # element-wise sum + a 3x3 conv unit (the original PANet)


class BifpnWeighting(str, Enum):
    fast = "fast"  # fast normalised fusion: ReLU(w) / (sum of ReLU(w) + 1e-4)
    softmax = "softmax"  # softmax over a node's input edges
    sum = "sum"  # no weights: the plain sum


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class DeformConv(str, Enum):
    """Deformable-conv implementation of guided anchoring; `auto` picks the faster per device."""

    auto = "auto"
    torchvision = "torchvision"
    sampled = "sampled"


class Precision(str, Enum):
    fp32 = "fp32"
    fp16 = "fp16"
    bf16 = "bf16"


class WeightsFormat(str, Enum):
    auto = "auto"  # told apart by the tensor names
    asffbench = "asffbench"  # an asffbench checkpoint (checkpoints/last.pt) or its bare state dict
    reference = "reference"  # a state dict of the paper's reference implementation
    ultralytics = "ultralytics"  # a state dict in ultralytics' YOLOv8 layout (`model.<i>.` names)


class BenchMode(str, Enum):
    infer = "infer"  # forward + post-processing of eval-mode batches
    train = "train"  # a full training step: forward, loss, backward, optimizer (and AMP scaler)


class Runtime(str, Enum):
    torch = "torch"  # eager PyTorch
    onnxruntime = "onnxruntime"  # the model exported to ONNX (opset 19) in ONNX Runtime (asffbench[deploy])


class OrtProvider(str, Enum):
    cpu = "cpu"  # CPUExecutionProvider
    cuda = "cuda"  # CUDAExecutionProvider (onnxruntime-gpu)
    tensorrt = "tensorrt"  # TensorrtExecutionProvider (onnxruntime-gpu with TensorRT)


class OrtOptimization(str, Enum):
    disable = "disable"
    basic = "basic"
    extended = "extended"
    all = "all"


class BenchInput(str, Enum):
    auto = "auto"  # val images when the model carries trained weights, random images otherwise
    val = "val"  # images of the configured val split, letterboxed as in evaluation
    random = "random"  # random normal images (fixed seed)


class WandbMode(str, Enum):
    offline = "offline"  # files under the run dir only; `wandb sync` uploads them later
    online = "online"  # streamed to the W&B server (needs a login and the network)
    disabled = "disabled"  # wandb's own no-op mode


class EvalMetric(str, Enum):
    auto = "auto"  # voc for VOC-format data (data=voc|voc_synth), coco otherwise
    coco = "coco"
    voc = "voc"  # VOC mAP@0.5 (07 11-point and area) plus COCO AP on the same detections


class EvalPrecision(str, Enum):
    fp32 = "fp32"
    fp16 = "fp16"  # the whole model and its inputs in half (the reference's `eval.py --half`); CUDA


class EvalBackend(str, Enum):
    pycocotools = "pycocotools"
    faster_coco_eval = "faster_coco_eval"


class IoULossForm(str, Enum):
    giou = "giou"  # generalised IoU loss
    iou_squared = "iou_squared"  # 1 - IoU^2 (the ASFF reference)


class ShapeLossForm(str, Enum):
    l1_log = "l1_log"  # L1 on the log shape
    iou_squared = "iou_squared"  # 1 - IoU_wh^2 of the slot's prior against the box (the reference)


class MixupWeighting(str, Enum):
    all_terms = "all_terms"  # every term of a mixed box is scaled by its image's blend weight
    positive_objectness = "positive_objectness"  # only its positive objectness term (the reference)


class SharedPrediction(str, Enum):
    every_box = "every_box"  # each box assigned to a prediction trains it (their terms add up)
    last_box = "last_box"  # the box listed last trains it, the earlier ones none (the reference)


class WarmupForm(str, Enum):
    linear = "linear"
    power4 = "power4"  # lr x (iter / warm-up iters)^4 (the reference's burn-in)


class ResizeMode(str, Enum):
    letterbox = "letterbox"  # keep the aspect ratio, pad to the square
    stretch = "stretch"  # resize each axis to the square (the reference)


class TestInterp(str, Enum):
    torchvision = "torchvision"  # PIL decode, torchvision's bilinear resize with antialiasing
    opencv_linear = "opencv_linear"  # OpenCV decode, cv2.INTER_LINEAR, no antialiasing (the reference)


class Augment(str, Enum):
    asffbench = "asffbench"  # torchvision transforms.v2: photometric, zoom-out, IoU crop, flip
    reference = "reference"  # the reference's OpenCV pipeline, step for step (data/reference_augment/)
    ultralytics = "ultralytics"  # ultralytics' mosaic, affine, HSV, flip (data/ultralytics_augment/)


class BoxConvention(str, Enum):
    continuous = "continuous"  # COCO [x, y, w, h] -> x2 = x + w
    inclusive = "inclusive"  # x2 = x + w - 1 (the reference reads boxes 1 px smaller)


class Init(str, Enum):
    torch = "torch"  # each layer's PyTorch default
    reference = "reference"  # kaiming normal (fan-in, a = 0.1) on every conv, conv biases zero


class LrDecay(str, Enum):
    per_iteration = "per_iteration"  # asffbench's and the reference's: a factor every iteration (engine/schedule.py)
    per_epoch = "per_epoch"  # ultralytics': lr0 x f(epoch), warm-up per iteration (engine/epoch_schedule.py)


class AddedAct(str, Enum):
    backbone = "backbone"  # the backbone's activation (BackboneInfo.act)
    leaky = "leaky"  # LeakyReLU whatever the backbone


class PanBlock(str, Enum):
    yolov4 = "yolov4"  # five conv units per merge (YOLOv4)
    csp = "csp"  # YOLOv5's C3 block (YOLOX's CSP layer)
    light = "light"  # three conv units (before the key)


class BifpnConv(str, Enum):
    separable = "separable"  # EfficientDet: activation on the fused sum, depthwise-separable conv, BN
    full = "full"  # a 3x3 conv unit (conv, BN, activation) on the sum (before the key)


class BifpnInput(str, Enum):
    backbone = "backbone"  # EfficientDet: the backbone's taps, separate unactivated 1x1 projections
    fpn = "fpn"  # the family's top-down neck, one activated 1x1 per level (before the key)


class AsffBlock(str, Enum):
    original = "original"  # the paper's weight branches (conv logits with bias)
    yolox_pai = "yolox_pai"  # YOLOX-PAI's (EasyCV): BN + activation on the logits, 2-channel branches


class AffineFill(str, Enum):
    truncated = "truncated"  # the mean x 255 truncated (103, 116, 123), as expand's canvas
    rounded = "rounded"  # (104, 116, 124): the float mean, rounded by cv2.warpPerspective (the reference)


class MixupOffForm(str, Enum):
    exact = "exact"  # mixup on for epoch < epochs - train.mixup_off_epochs
    reference = "reference"  # on while epoch <= epochs - train.mixup_off_epochs + 1 (the reference's test)


class EmaStart(str, Enum):
    copy = "copy"  # the first update copies the model; the k-th blends with the ramped decay of k - 1
    ramp = "ramp"  # ultralytics' ModelEMA: the k-th update, the first too, blends with that of k


class LrScaling(str, Enum):
    linear = "linear"  # train.lr is for a total batch of 64, scaled linearly to the run's batch
    none = "none"  # train.lr is used as given, whatever the batch (the reference)


class DropBlockForm(str, Enum):
    torchvision = "torchvision"  # torchvision's drop_block2d: gamma per input, seeds where a block fits
    reference = "reference"  # gamma once at the first input after a schedule change, seeds anywhere


# The named anchor sets (asffbench.anchors), under the names the code that imports them uses.
COCO_ANCHORS: list[list[int]] = ANCHOR_SETS[DEFAULT_ANCHORS]
ASFF_RELEASE_ANCHORS: list[list[int]] = ANCHOR_SETS["asff_release"]  # what `recipe=reference` selects


# What a record made before a key existed built: its config has no such key, and it reads as
# this value (compose.read_run_config; the experiment hash leaves a key at this value out).
LEGACY_VALUES: dict[str, str] = {
    "fusion.added_act": "leaky",
    "fusion.pan_block": "light",
    "fusion.bifpn_conv": "full",
    "fusion.bifpn_input": "fpn",
    "fusion.asff_block": "original",
}


@dataclass
class FusionConfig:
    """How the three pyramid levels are fused (`fusion=none|sum|concat|asff|asff_star|pan|bifpn|asff_pan|afpn`)."""

    name: str = "asff"
    compress_c: int = 16
    upsample: Upsample = Upsample.nearest
    pan_merge: PanMerge = PanMerge.concat  # PAN's bottom-up merge (pan, asff_pan)
    bifpn_layers: int = 1  # BiFPN repeats
    bifpn_weighting: BifpnWeighting = BifpnWeighting.fast  # how a BiFPN node weights its inputs
    bifpn_channels: int = 0  # BiFPN's common width; 0: the neck's stride-16 width (256 x model.width)
    # The activation of asffbench's added parts (pan, bifpn, asff_pan, afpn) on the YOLOv3 family:
    # the backbone's (ReLU6 on MobileNetV2) or LeakyReLU whatever the backbone (before this key).
    added_act: AddedAct = AddedAct.backbone
    # Each neck as published (docs/necks.md); the other values are the variants, the last of
    # each what the neck was before the key (`LEGACY_VALUES`). The presets set the published
    # block per fusion: pan YOLOv4's, asff_pan YOLOX-PAI's (csp, yolox_pai).
    pan_block: PanBlock = PanBlock.yolov4  # PAN's merge block after a concat (pan, asff_pan; YOLOv3 family)
    bifpn_conv: BifpnConv = BifpnConv.separable  # BiFPN's node conv
    bifpn_input: BifpnInput = BifpnInput.backbone  # what BiFPN takes: the backbone's taps or the top-down neck
    asff_block: AsffBlock = AsffBlock.original  # ASFF's weight branches (asff, asff_star, asff_pan)
    rfb: bool = False  # RFB block before the head's feature adaption (ASFF*)
    dropblock: bool = False  # DropBlock in the three neck slots, scheduled by epoch (ASFF*)
    dropblock_keep_prob: float = 0.9


@dataclass
class ModelConfig:
    """A detector on a backbone (`BACKBONES`: darknet53, mobilenetv2 for YOLOv3; csp_darknet_v8
    for the YOLOv8 family); width/depth multipliers give the CPU-sized variants."""

    name: str = "darknet53"
    backbone: str = "darknet53"
    # The YOLOv8 family's named scale (n, s, m, l, x: depth, width, channel cap of yolov8.yaml;
    # model=yolov8 sets n); width and depth left null take the scale's. YOLOv3 has no scales.
    scale: Optional[str] = None
    width: Optional[float] = 1.0
    depth: Optional[float] = 1.0
    num_classes: int = 80
    # A named set (asffbench.anchors: darknet, asff_release) or 9 [w, h] pairs, small to large.
    anchors: Any = DEFAULT_ANCHORS
    # The set the reference's released models of this backbone were trained with (what
    # `recipe=reference` puts in `anchors`).
    release_anchors: str = "asff_release"
    # ImageNet backbone weights: for Darknet-53 a darknet binary (darknet53.conv.74 layout), a torch
    # state dict, or the reference implementation's backbone file (`module_list.0-10` names); for
    # MobileNetV2 torchvision's ImageNet state dict or the reference's (`module_list.0-18`).
    pretrained: Optional[str] = None
    # Full-model weights, loaded by every command that builds a model (train: as initialisation).
    weights: Optional[str] = None
    weights_format: WeightsFormat = WeightsFormat.auto
    # Same function and weights either way (not hashed); records hold the resolved choice.
    deform_conv: DeformConv = DeformConv.auto


@dataclass
class TricksConfig:
    """Bag-of-tricks toggles; the defaults are the paper's strong baseline."""

    name: str = "paper"  # the preset the toggles started from (`tricks=paper|none|...`)
    guided_anchoring: bool = True
    iou_loss: bool = True
    label_smoothing: bool = True
    mixup: bool = True
    cosine_lr: bool = True
    sync_bn: bool = True
    multiscale: bool = True


@dataclass
class BenchConfig:
    """The speed protocol of `asffbench bench` (stated in every record)."""

    warmup: int = 10
    iters: int = 50
    repeats: int = 3
    precision: Precision = Precision.fp32
    fuse: bool = False  # fold BatchNorm into the preceding conv before timing
    nms: bool = True  # time NMS (separately from the forward pass) and include it in FPS
    mode: BenchMode = BenchMode.infer
    input: BenchInput = BenchInput.auto
    # A positive int, or "max": the largest batch that fits (halved on CUDA out-of-memory);
    # unset: 1 for mode=infer, train.batch_size for mode=train.
    batch_size: Any = None
    channels_last: bool = False  # model and inputs in channels-last memory format
    # torch.compile mode: false | default | reduce-overhead (Any: `false` stays a bool, so the
    # default and an explicit bench.compile=false hash alike).
    compile: Any = False
    cudnn_benchmark: bool = False  # torch.backends.cudnn.benchmark while timing (CUDA)
    runtime: Runtime = Runtime.torch  # what runs the forward pass (NMS stays eager PyTorch)
    ort_provider: OrtProvider = OrtProvider.cpu  # runtime=onnxruntime: the execution provider
    ort_optimization: OrtOptimization = OrtOptimization.all  # its graph optimisation level
    ort_threads: int = 0  # its intra-op threads; 0: ONNX Runtime's default (one per core)


@dataclass
class SplitConfig:
    ann: Optional[str] = None
    images: Optional[str] = None
    # data=voc: the VOCdevkit sets of this split, [[year or folder, split], ...]; None: defaults
    sets: Optional[list[Any]] = None


@dataclass
class SynthConfig:
    images: int = 160  # train + val images generated
    val_fraction: float = 0.25
    seed: int = 0
    image_size: int = 320


@dataclass
class DataConfig:
    """A COCO-format dataset. `synth` generates the tiny synthetic COCO on first use."""

    name: str = "synth"
    root: Optional[str] = None
    train: SplitConfig = field(default_factory=SplitConfig)
    val: SplitConfig = field(default_factory=SplitConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    cache_dir: Optional[str] = None  # where `synth` is generated; default: ~/.cache/asffbench
    classes: Optional[list[str]] = None  # data=voc: class names in label order; None: the 20 VOC
    workers: int = 2
    min_box_size: float = 2.0  # boxes smaller than this (pixels, after augmentation) are dropped
    keep_difficult: bool = False  # VOC `difficult` objects become training targets (the reference)


@dataclass
class TrainConfig:
    epochs: int = 300
    batch_size: int = 16  # per process
    lr: float = 1e-3  # for the whole batch of all processes at 64 images
    min_lr: float = 1e-5
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: float = 4.0
    step_milestones: list[float] = field(default_factory=lambda: [0.8, 0.9])  # fractions of epochs
    ema: bool = False
    ema_decay: float = 0.9998
    grad_clip: Optional[float] = None
    amp: bool = True  # only on CUDA
    # Model and training batches in channels-last memory format: faster convolutions on CPU
    # (oneDNN) and on CUDA tensor cores; the same function up to float rounding.
    channels_last: bool = False
    mixup_off_epochs: int = 30  # mixup off for the last N epochs
    multiscale_every: int = 10  # iterations between size changes
    multiscale_min: int = 320
    multiscale_max: int = 608
    multiscale_fixed_epochs: int = 10  # fixed size for the last N epochs
    resume: bool = False
    checkpoint: Optional[str] = None  # start from these weights (skips training when epochs=0)
    log_every: int = 10
    eval_every: int = 0  # evaluate on val every N epochs (train_log "eval" lines); 0: only at the end
    # Score threshold of those evaluations during training; null: eval.score_thresh (the final
    # evaluation always uses eval.score_thresh).
    eval_score_thresh: Optional[float] = None
    max_iters_per_epoch: Optional[int] = None  # cap for smoke runs


@dataclass
class EvalConfig:
    batch_size: int = 8
    score_thresh: float = 0.001
    nms_iou: float = 0.65
    max_det: int = 100  # detections per image; 0: no cap
    backend: EvalBackend = EvalBackend.pycocotools
    metric: EvalMetric = EvalMetric.auto
    precision: EvalPrecision = EvalPrecision.fp32
    # What runs the forward pass: onnxruntime evaluates the exported graph (bench.ort_* session keys)
    runtime: Runtime = Runtime.torch
    checkpoint: Optional[str] = None  # default: <run_dir>/checkpoints/last.pt
    enabled: bool = True  # false: `run` and the sweeps skip evaluation (timing-only runs)
    # An image corruption applied before the test-time resize (asffbench.corruptions: COCO-C's 15
    # benchmark names and 4 held-out ones; the extra `robust`); null: clean images. The evaluation
    # then writes into <run_dir>/robust/<name>-<severity>/, leaving the clean one alone.
    corruption: Optional[str] = None
    severity: int = 3  # 1-5, read only with a corruption
    # NMS as ultralytics runs it (docs/anchor-free.md): its max_nms (30000) and its class shift
    # max_wh (7680 px); asffbench's defaults: 10000 candidates, exact class-wise NMS (0).
    pre_nms_topk: int = 10000  # best candidates per image that enter NMS
    nms_class_offset: float = 0.0
    # `predict` and `viz` (their --score-thresh wins): the score threshold, and multi-label or
    # each box's best class (null: recipe.multi_label). Ultralytics' predict: 0.25, false.
    predict_score_thresh: float = 0.3
    predict_multi_label: Optional[bool] = None


@dataclass
class LossConfig:
    """The anchor-free family's loss (engine/anchor_free_loss.py; YOLOv8's values): the gains of
    its three terms and the task-aligned assigner's topk, alpha and beta. The YOLOv3 family's loss
    reads tricks.* and recipe.* instead, so these change only anchor-free runs (and their hash)."""

    box_gain: float = 7.5
    cls_gain: float = 0.5
    dfl_gain: float = 1.5
    assigner_topk: int = 10
    assigner_alpha: float = 0.5
    assigner_beta: float = 6.0


@dataclass
class RecipeConfig:
    """The switches that differ between asffbench's recipe and the reference implementation's
    (`recipe=asffbench|reference`); the defaults are asffbench's. A recipe option also sets keys
    that live in their own sections (model.anchors, train.warmup_epochs, train.eval_score_thresh,
    data.min_box_size, eval.max_det). Both evaluate at eval.score_thresh (0.001, the reference's
    eval.py); the reference's evaluations during training used 0.01 (train.eval_score_thresh). docs/recipes.md says why each default differs."""

    name: str = "asffbench"
    # Loss.
    iou_loss_form: IoULossForm = IoULossForm.giou
    shape_loss_form: ShapeLossForm = ShapeLossForm.l1_log
    box_terms_train_shape: bool = False  # the box terms' gradient reaches the guided-anchoring shapes
    mixup_weighting: MixupWeighting = MixupWeighting.all_terms
    label_smoothing_max: Optional[float] = 0.1  # smoothing = min(1/C, this); null: 1/C
    shared_prediction: SharedPrediction = SharedPrediction.every_box  # two boxes on one prediction
    # Optimisation.
    decay_norm_and_bias: bool = False  # weight decay on BatchNorm weights and biases too
    warmup_form: WarmupForm = WarmupForm.linear
    # Phases of the cosine schedule (tricks.cosine_lr), in epochs; cut short when they do not fit.
    lr_flat_epochs: float = 0.0  # constant LR between the warm-up and the cosine
    lr_final_epochs: float = 0.0  # constant train.min_lr for the last N epochs (the cosine ends before)
    lr_scaling: LrScaling = LrScaling.linear  # what train.lr is stated for (docs/recipes.md)
    lr_decay: LrDecay = LrDecay.per_iteration  # per_epoch: ultralytics' schedule (tricks.cosine_lr: its cosine)
    # Read by lr_decay=per_epoch only: the warm-up's start of the biases' LR and of the momentum,
    # and the nominal batch (gradients accumulate over round(nominal / batch) batches, weight
    # decay scaled to match; null: one batch per step).
    warmup_bias_lr: float = 0.1
    warmup_momentum: float = 0.8
    nominal_batch: Optional[int] = None
    nesterov: bool = False  # SGD's Nesterov momentum
    ema_start: EmaStart = EmaStart.copy  # how train.ema's ramp counts its updates
    # Model.
    init: Init = Init.torch
    dropblock: DropBlockForm = DropBlockForm.torchvision  # ASFF*'s DropBlock (fusion.dropblock)
    # Augmentation.
    expand_max: float = 2.0  # zoom-out (expand) up to this factor
    train_resize: ResizeMode = ResizeMode.letterbox
    mixup_prob: float = 0.5  # share of samples blended while mixup is on
    augment: Augment = Augment.asffbench  # the training augmentation pipeline
    crowd_targets: bool = False  # COCO crowd boxes (iscrowd=1) become training targets too
    box_convention: BoxConvention = BoxConvention.continuous  # how training boxes are read
    # The reference's reading of a box (inclusive convention): x1 = max(0, x), x2 = min(W - 1,
    # x1 + max(0, w - 1)) (y alike), boxes of area <= 0 dropped.
    box_clamp: bool = False
    affine_fill: AffineFill = AffineFill.truncated  # augment=reference: the affine warp's border grey
    mixup_off_form: MixupOffForm = MixupOffForm.exact  # how train.mixup_off_epochs counts
    # Read by augment=ultralytics only: mosaic probability and its last epochs off, the affine's
    # translation (fraction of the input) and scale gain range (1 +- scale), the HSV gains and
    # the horizontal flip probability.
    mosaic_prob: float = 1.0
    close_mosaic: int = 10
    affine_translate: float = 0.1
    affine_scale: float = 0.5
    hsv_gains: list[float] = field(default_factory=lambda: [0.015, 0.7, 0.4])
    flip_prob: float = 0.5
    # augment=ultralytics: each loader process keeps the last min(mosaic_buffer x batch, 1000,
    # dataset) images it loaded, decoded and resized, and the mosaic draws its three others from
    # them (ultralytics' buffer, emptied here at every epoch start); 0: drawn from the whole dataset.
    mosaic_buffer: int = 0
    # Test time (evaluation, benchmark on val images, predict, viz).
    test_resize: ResizeMode = ResizeMode.letterbox
    test_interp: TestInterp = TestInterp.torchvision  # the test-time decoder and resize kernel
    multi_label: bool = True  # every (box, class) pair above the threshold; false: best class per box
    score_inclusive: bool = False  # keep a score equal to the threshold (the reference's >=)
    clip_boxes: bool = True  # clip detections to the image (the reference does not)


@dataclass
class SweepInfo:
    """Filled by `asffbench sweep`; recorded, never part of the experiment hash."""

    name: Optional[str] = None
    axes: list[str] = field(default_factory=list)
    force: bool = False
    isolate: bool = False  # the sweep file's `isolate`: each run in a fresh process


@dataclass
class TensorBoardLoggerConfig:
    enabled: bool = False  # `logger=[tensorboard]` (the default): <run_dir>/tensorboard


@dataclass
class MlflowLoggerConfig:
    enabled: bool = False  # `logger=[mlflow]`; needs asffbench[track]
    uri: Optional[str] = None  # tracking URI; null: the file store <run dir's parent>/mlruns
    experiment: Optional[str] = None  # null: the sweep's name (the run dir's parent), asffbench for a loose run


@dataclass
class WandbLoggerConfig:
    enabled: bool = False  # `logger=[wandb]`; needs asffbench[track]
    mode: WandbMode = WandbMode.offline
    project: str = "asffbench"
    entity: Optional[str] = None  # null: the logged-in user's default entity


@dataclass
class LoggerConfig:
    """The experiment trackers fed with the train log's events (`logger=[tensorboard,mlflow,wandb]`,
    `logger=[]`: none); each option of the group turns its tracker on. Never hashed."""

    tensorboard: TensorBoardLoggerConfig = field(default_factory=TensorBoardLoggerConfig)
    mlflow: MlflowLoggerConfig = field(default_factory=MlflowLoggerConfig)
    wandb: WandbLoggerConfig = field(default_factory=WandbLoggerConfig)


@dataclass
class RobustConfig:
    """The robustness stage of `run` and the sweeps (`asffbench sweep NAME --robust`, or these keys
    in a sweep file): after a run's evaluation, its evaluation under every corruption x severity
    (`asffbench robust`). An extra measurement, never part of the experiment hash."""

    enabled: bool = False
    corruptions: list[str] = field(default_factory=lambda: ["benchmark"])  # names, or benchmark / all
    severities: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])


@dataclass
class ExperimentConfig:
    fusion: FusionConfig = field(default_factory=FusionConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    tricks: TricksConfig = field(default_factory=TricksConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    recipe: RecipeConfig = field(default_factory=RecipeConfig)
    bench: BenchConfig = field(default_factory=BenchConfig)
    sweep: SweepInfo = field(default_factory=SweepInfo)
    robust: RobustConfig = field(default_factory=RobustConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    img_size: int = 608
    device: Device = Device.auto
    seed: int = 0
    run_dir: Optional[str] = None  # default: a fresh directory under runs/


def register_configs() -> None:
    """Register the schema in Hydra's ConfigStore (idempotent)."""
    cs = ConfigStore.instance()
    cs.store(name="experiment_schema", node=ExperimentConfig)
    cs.store(group="fusion", name="fusion_schema", node=FusionConfig)
    cs.store(group="model", name="model_schema", node=ModelConfig)
    cs.store(group="tricks", name="tricks_schema", node=TricksConfig)
    cs.store(group="data", name="data_schema", node=DataConfig)


"""Detector models: plain nn.Modules with explicit arguments (no config, no file I/O)."""

from asffbench.models.backbone import (
    BACKBONES,
    BackboneInfo,
    CSPDarknetV8,
    Darknet53,
    MobileNetV2Backbone,
    backbone_info,
)
from asffbench.models.detector import YOLOv3
from asffbench.models.fusion import FUSIONS, FusionInfo, fusion_info
from asffbench.models.head import HEADS, AnchorFreeHead, HeadInfo, YOLOHead, head_info
from asffbench.models.init import INITS, initialise, set_batchnorm
from asffbench.models.neck import NECKS, TapsAsLevels, YOLOv3Neck, YOLOv8TopDown
from asffbench.models.outputs import AnchorFreeLevel, DetectorOutput, LevelOutput
from asffbench.models.registry import Registry, UnknownNameError
from asffbench.models.scaling import YOLOV8_SCALES, ModelScale
from asffbench.models.yolov8 import YOLOv8

__all__ = [
    "AnchorFreeHead",
    "AnchorFreeLevel",
    "BACKBONES",
    "CSPDarknetV8",
    "HEADS",
    "HeadInfo",
    "ModelScale",
    "NECKS",
    "TapsAsLevels",
    "YOLOV8_SCALES",
    "YOLOv8",
    "YOLOv8TopDown",
    "head_info",
    "set_batchnorm",
    "BackboneInfo",
    "MobileNetV2Backbone",
    "backbone_info",
    "Darknet53",
    "DetectorOutput",
    "FUSIONS",
    "FusionInfo",
    "INITS",
    "LevelOutput",
    "Registry",
    "UnknownNameError",
    "YOLOHead",
    "YOLOv3",
    "YOLOv3Neck",
    "fusion_info",
    "initialise",
]

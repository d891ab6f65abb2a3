"""Detector models: plain nn.Modules with explicit arguments (no config, no file I/O)."""

from asffbench.models.backbone import BACKBONES, BackboneInfo, Darknet53, MobileNetV2Backbone, backbone_info
from asffbench.models.detector import YOLOv3
from asffbench.models.fusion import FUSIONS, FusionInfo, fusion_info
from asffbench.models.head import YOLOHead
from asffbench.models.init import INITS, initialise
from asffbench.models.neck import YOLOv3Neck
from asffbench.models.outputs import DetectorOutput, LevelOutput
from asffbench.models.registry import Registry, UnknownNameError

__all__ = [
    "BACKBONES",
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

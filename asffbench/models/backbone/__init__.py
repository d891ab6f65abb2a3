from asffbench.models.backbone.darknet import Darknet53
from asffbench.models.backbone.mobilenetv2 import MobileNetV2Backbone
from asffbench.models.backbone.registry import BACKBONES, BackboneInfo, backbone_info

__all__ = ["BACKBONES", "BackboneInfo", "Darknet53", "MobileNetV2Backbone", "backbone_info"]

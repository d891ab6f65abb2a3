from asffbench.models.backbone.csp_darknet_v8 import CSPDarknetV8
from asffbench.models.backbone.darknet import Darknet53
from asffbench.models.backbone.mobilenetv2 import MobileNetV2Backbone
from asffbench.models.backbone.registry import BACKBONES, BackboneInfo, backbone_info

__all__ = ["BACKBONES", "BackboneInfo", "CSPDarknetV8", "Darknet53", "MobileNetV2Backbone", "backbone_info"]

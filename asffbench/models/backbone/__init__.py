from asffbench.models.backbone.darknet import Darknet53

__all__ = ["Darknet53"]

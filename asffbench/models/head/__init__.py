from asffbench.models.head.guided_anchoring import FeatureAdaption, GuidedAnchorLevelHead
from asffbench.models.head.registry import HEADS, HeadInfo, head_info
from asffbench.models.head.yolo_head import YOLOHead, YOLOLevelHead

__all__ = ["FeatureAdaption", "GuidedAnchorLevelHead", "HEADS", "HeadInfo", "YOLOHead", "YOLOLevelHead", "head_info"]

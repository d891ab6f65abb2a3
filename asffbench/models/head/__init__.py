from asffbench.models.head.anchor_free import AnchorFreeHead
from asffbench.models.head.guided_anchoring import FeatureAdaption, GuidedAnchorLevelHead
from asffbench.models.head.registry import HEADS, HeadInfo, head_info
from asffbench.models.head.yolo_head import YOLOHead, YOLOLevelHead

__all__ = ["AnchorFreeHead", "FeatureAdaption", "GuidedAnchorLevelHead", "HEADS", "HeadInfo", "YOLOHead",
           "YOLOLevelHead", "head_info"]

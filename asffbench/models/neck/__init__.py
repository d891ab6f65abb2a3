from asffbench.models.neck.registry import NECKS
from asffbench.models.neck.yolov3_neck import YOLOv3Neck
from asffbench.models.neck.yolov8_top_down import TapsAsLevels, YOLOv8TopDown

__all__ = ["NECKS", "TapsAsLevels", "YOLOv3Neck", "YOLOv8TopDown"]

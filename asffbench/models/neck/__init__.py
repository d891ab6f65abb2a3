from asffbench.models.neck.yolov3_neck import YOLOv3Neck

__all__ = ["YOLOv3Neck"]

"""YOLOv3 assembled from its four parts (torchvision style: the parts are passed in)."""

from __future__ import annotations

from torch import Tensor, nn

from asffbench.models.outputs import DetectorOutput


class YOLOv3(nn.Module):
    """backbone -> neck -> fusion -> head.

    - backbone(images) -> taps at strides 8, 16, 32;
    - neck(taps) -> level features ordered stride 32, 16, 8;
    - fusion(levels, return_weights) -> (features for the heads, per-level weights or None);
    - head(features) -> list of LevelOutput, stride 32, 16, 8.
    The same forward serves training and evaluation; `return_fusion_weights` only adds the
    softmax weights of an adaptive fusion to the output.
    """

    def __init__(self, backbone: nn.Module, neck: nn.Module, fusion: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.neck = neck
        self.fusion = fusion
        self.head = head
        self.epoch = 0

    @property
    def strides(self) -> tuple[int, ...]:
        return tuple(self.head.strides)

    @property
    def num_classes(self) -> int:
        return int(self.head.num_classes)

    def set_epoch(self, epoch: int) -> None:
        """Drive epoch schedules (ASFF*'s DropBlock); a no-op for parts without one."""
        self.epoch = epoch
        for part in (self.backbone, self.neck, self.fusion, self.head):
            set_part_epoch = getattr(part, "set_epoch", None)
            if set_part_epoch is not None:
                set_part_epoch(epoch)

    def forward(self, images: Tensor, return_fusion_weights: bool = False) -> DetectorOutput:
        levels = self.neck(self.backbone(images))
        features, weights = self.fusion(levels, return_weights=return_fusion_weights)
        return DetectorOutput(levels=self.head(features), fusion_weights=weights)

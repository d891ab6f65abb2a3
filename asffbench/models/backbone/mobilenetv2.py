"""MobileNetV2 (torchvision's), the backbone of the reference's YOLOv3-MobileNetV2 models."""

from __future__ import annotations

from torch import Tensor, nn
from torchvision.models import mobilenet_v2

from asffbench.models.backbone.taps import tapped_outputs

# Indices in `features` whose outputs are the stride 8, 16 and 32 taps (32, 96, 1280 channels
# at width 1): the last inverted residual of each resolution, and the final 1x1 conv.
TAP_INDICES = (6, 13, 18)


class MobileNetV2Backbone(nn.Module):
    """torchvision's MobileNetV2 `features` (stem, 17 inverted residuals, 1x1 to 1280, ReLU6);
    returns the stride 8, 16 and 32 taps (in that order).

    `width` is torchvision's `width_mult` (channels rounded to multiples of 8; the last conv
    keeps 1280 below width 1). The state-dict keys are torchvision's (`features.N...`), so its
    ImageNet file loads as it is, and `features.N` is the reference's `module_list.N`.
    """

    strides = (8, 16, 32)

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        if width <= 0:
            raise ValueError(f"width multiplier must be positive, got {width}")
        self.features = mobilenet_v2(weights=None, width_mult=width).features
        self.out_channels: tuple[int, ...] = tuple(self._width_of(self.features[i]) for i in TAP_INDICES)

    @staticmethod
    def _width_of(block: nn.Module) -> int:
        return [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)][-1].num_features

    def forward(self, images: Tensor) -> list[Tensor]:
        return tapped_outputs(self.features, images, TAP_INDICES)

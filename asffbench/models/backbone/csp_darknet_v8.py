"""YOLOv8's backbone: a CSP-Darknet of C2f stages ending in SPPF (SiLU conv units).

`layers` holds the ten modules in forward order (stem conv, then per stage a stride-2 conv and
a C2f, SPPF last), so layer i is module `model.i` of the ultralytics layout. The taps are the
outputs of layers 4 (stride 8), 6 (stride 16) and 9 (stride 32).
"""

from __future__ import annotations

from torch import Tensor, nn

from asffbench.models.layers import C2f, ConvBNAct, SPPF
from asffbench.models.backbone.taps import tapped_outputs
from asffbench.models.scaling import ModelScale

# (width at scale 1, C2f repeats at depth 1) of the four stages; the stem is 64 wide.
STEM_WIDTH = 64
STAGES = ((128, 3), (256, 6), (512, 6), (1024, 3))
TAP_LAYERS = (4, 6, 9)  # stride 8, 16, 32


class CSPDarknetV8(nn.Module):
    def __init__(self, scale: ModelScale, act: str = "silu") -> None:
        super().__init__()
        width = scale.channels(STEM_WIDTH)
        layers: list[nn.Module] = [ConvBNAct(3, width, 3, stride=2, act=act)]
        for stage_width, repeats in STAGES:
            channels = scale.channels(stage_width)
            layers.append(ConvBNAct(width, channels, 3, stride=2, act=act))
            layers.append(C2f(channels, channels, scale.repeats(repeats), shortcut=True, act=act))
            width = channels
        layers.append(SPPF(width, width, 5, act=act))
        self.layers = nn.ModuleList(layers)
        widths = [scale.channels(c) for c, _ in STAGES[1:]]
        self.out_channels: tuple[int, ...] = tuple(widths)  # stride 8, 16, 32

    def forward(self, images: Tensor) -> list[Tensor]:
        return tapped_outputs(self.layers, images, TAP_LAYERS)

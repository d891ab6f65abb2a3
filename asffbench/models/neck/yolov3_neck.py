"""The YOLOv3 neck (strong baseline): SPP on stride 32, top-down path to 16 and 8, DropBlock slots."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asffbench.models.layers import (
    SCHEDULE_EPOCHS,
    SPP,
    ConvBNAct,
    ResidualBlock,
    ScheduledDropBlock2d,
    dropblock_sizes_for_epoch,
    scale_channels,
)


def _upsample_to(x: Tensor, reference: Tensor) -> Tensor:
    # Sizing by the reference (not scale_factor=2) keeps odd input sizes working.
    return F.interpolate(x, size=reference.shape[-2:], mode="nearest")


# The DropBlock slots by name, in the order of the schedule's block sizes (stride 32, 16, 8).
DROPBLOCK_SLOTS = ("stride32", "stride16", "stride8")


class YOLOv3Neck(nn.Module):
    """Takes the backbone taps (stride 8, 16, 32), returns level features ordered stride 32, 16, 8.

    Level widths are 512 / 256 / 256 (x width); 512 / 256 / 128 without `stride8_expand` (the
    reference's MobileNetV2 neck, whose stride-8 path ends at its 1x1 conv). `act` is the conv
    units' activation (`ACTIVATIONS`: LeakyReLU for Darknet-53, ReLU6 for MobileNetV2). Each path has one DropBlock slot after its 3x3
    conv; with `dropblock=True` the slots follow `set_epoch` (ASFF*), otherwise they are identity.
    The slots sit inside the paths' `nn.Sequential`s (so the state-dict keys are the reference
    layout's) and are also held by name in `dropblock_slots`, a plain dict: DropBlock has no
    tensors, so the second reference adds nothing to the state dict.
    `dropblock_epochs` is the length of the run the DropBlock schedule is spread over;
    `dropblock_form` the drop itself (`DROPBLOCK_FORMS`: torchvision's or the reference's).
    """

    def __init__(
        self,
        in_channels: tuple[int, int, int],
        width: float = 1.0,
        dropblock: bool = False,
        dropblock_keep_prob: float = 0.9,
        dropblock_epochs: int = SCHEDULE_EPOCHS,
        dropblock_form: str = "torchvision",
        act: str = "leaky",
        stride8_expand: bool = True,
    ) -> None:
        super().__init__()
        c8, c16, c32 = in_channels
        w1024, w512, w256, w128 = (scale_channels(c, width) for c in (1024, 512, 256, 128))
        if not 0.0 < dropblock_keep_prob <= 1.0:
            raise ValueError(f"dropblock_keep_prob must be in (0, 1], got {dropblock_keep_prob}")
        self.dropblock_keep_prob = dropblock_keep_prob
        self.dropblock_epochs = dropblock_epochs

        slots = {name: ScheduledDropBlock2d(dropblock_form) if dropblock else nn.Identity() for name in DROPBLOCK_SLOTS}
        self.dropblock_slots: dict[str, nn.Module] = slots

        # Stride 32: a conv pair without shortcut (1x1 to 512, 3x3 to 1024: for Darknet-53 its
        # residual pair, for MobileNetV2 a `ressepblock` from 1280), SPP, then
        # 1x1 / 3x3 / [DropBlock] / 1x1.
        self.path32 = nn.Sequential(
            ResidualBlock(c32, shortcut=False, hidden=w1024 // 2, out_channels=w1024, act=act),
            ConvBNAct(w1024, w512, 1, act=act),
            SPP(),
            ConvBNAct(4 * w512, w512, 1, act=act),
            ConvBNAct(w512, w1024, 3, act=act),
            slots["stride32"],
            ConvBNAct(w1024, w512, 1, act=act),
        )
        # Stride 16: reduce and upsample level 0, concat with the tap, 1x1 / 3x3 / [DropBlock] / ...
        self.lateral16 = ConvBNAct(w512, w256, 1, act=act)
        self.path16 = nn.Sequential(
            ConvBNAct(w256 + c16, w256, 1, act=act),
            ConvBNAct(w256, w512, 3, act=act),
            slots["stride16"],
            ResidualBlock(w512, shortcut=False, act=act),
            ConvBNAct(w512, w256, 1, act=act),
        )
        # Stride 8: the same pattern; Darknet-53's ends in a 3x3 conv to 256.
        self.lateral8 = ConvBNAct(w256, w128, 1, act=act)
        path8 = [
            ConvBNAct(w128 + c8, w128, 1, act=act),
            ConvBNAct(w128, w256, 3, act=act),
            slots["stride8"],
            ResidualBlock(w256, shortcut=False, act=act),
            ConvBNAct(w256, w128, 1, act=act),
        ]
        if stride8_expand:
            path8.append(ConvBNAct(w128, w256, 3, act=act))
        self.path8 = nn.Sequential(*path8)
        self.out_channels: tuple[int, int, int] = (w512, w256, w256 if stride8_expand else w128)

    @property
    def dropblocks(self) -> list[nn.Module]:
        """The three DropBlock slots, stride 32, 16, 8 (identity when DropBlock is off)."""
        return [self.dropblock_slots[name] for name in DROPBLOCK_SLOTS]

    def set_epoch(self, epoch: int) -> None:
        """Apply ASFF*'s DropBlock schedule for `epoch`; a no-op without DropBlock."""
        sizes = dropblock_sizes_for_epoch(epoch, self.dropblock_epochs)
        drop_prob = 0.0 if sizes is None else 1.0 - self.dropblock_keep_prob
        for name, size in zip(DROPBLOCK_SLOTS, sizes or (1,) * len(DROPBLOCK_SLOTS)):
            block = self.dropblock_slots[name]
            if isinstance(block, ScheduledDropBlock2d):
                block.set_block(size, drop_prob)

    def forward(self, taps: list[Tensor]) -> list[Tensor]:
        tap8, tap16, tap32 = taps
        level0 = self.path32(tap32)
        level1 = self.path16(torch.cat([_upsample_to(self.lateral16(level0), tap16), tap16], 1))
        level2 = self.path8(torch.cat([_upsample_to(self.lateral8(level1), tap8), tap8], 1))
        return [level0, level1, level2]

"""Building blocks shared by the backbone, neck, fusion and head."""

from asffbench.models.layers.conv import ConvBNAct, scale_channels
from asffbench.models.layers.dropblock import SCHEDULE_EPOCHS, ScheduledDropBlock2d, dropblock_sizes_for_epoch
from asffbench.models.layers.residual import ResidualBlock
from asffbench.models.layers.rfb import RFB
from asffbench.models.layers.spp import SPP

__all__ = [
    "ConvBNAct",
    "RFB",
    "SCHEDULE_EPOCHS",
    "ResidualBlock",
    "SPP",
    "ScheduledDropBlock2d",
    "dropblock_sizes_for_epoch",
    "scale_channels",
]

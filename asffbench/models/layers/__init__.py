"""Building blocks shared by the backbone, neck, fusion and head."""

from asffbench.models.layers.c2f import C2f, Bottleneck
from asffbench.models.layers.conv import ACTIVATIONS, ConvBNAct, scale_channels
from asffbench.models.layers.csp import C3
from asffbench.models.layers.deform_conv import DEFORM_CONVS, SampledDeformConv2d, resolve_deform_conv
from asffbench.models.layers.dropblock import (
    DROPBLOCK_FORMS,
    SCHEDULE_EPOCHS,
    ScheduledDropBlock2d,
    dropblock_sizes_for_epoch,
)
from asffbench.models.layers.residual import ResidualBlock
from asffbench.models.layers.rfb import RFB
from asffbench.models.layers.separable import SeparableConvBN
from asffbench.models.layers.spp import SPP
from asffbench.models.layers.sppf import SPPF

__all__ = [
    "ACTIVATIONS",
    "Bottleneck",
    "C2f",
    "C3",
    "ConvBNAct",
    "DEFORM_CONVS",
    "DROPBLOCK_FORMS",
    "RFB",
    "SCHEDULE_EPOCHS",
    "ResidualBlock",
    "SPP",
    "SeparableConvBN",
    "SPPF",
    "SampledDeformConv2d",
    "ScheduledDropBlock2d",
    "dropblock_sizes_for_epoch",
    "resolve_deform_conv",
    "scale_channels",
]

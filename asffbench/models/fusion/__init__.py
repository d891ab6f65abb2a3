"""Cross-level fusions; importing this package registers all of them in FUSIONS."""

# Importing the fusion modules (below) registers them in FUSIONS.
from asffbench.models.fusion.afpn import AFPN
from asffbench.models.fusion.asff import ASFF
from asffbench.models.fusion.asff_pan import ASFFOnPAN
from asffbench.models.fusion.base import MultiLevelFusion
from asffbench.models.fusion.bifpn import BiFPN
from asffbench.models.fusion.concat import ConcatFusion
from asffbench.models.fusion.fpn import FPNFusion
from asffbench.models.fusion.pan import PANFusion
from asffbench.models.fusion.registry import FUSIONS, FusionInfo, FusionOptions, fusion_info
from asffbench.models.fusion.sum import SumFusion

__all__ = [
    "AFPN",
    "ASFF",
    "ASFFOnPAN",
    "BiFPN",
    "ConcatFusion",
    "FPNFusion",
    "FUSIONS",
    "FusionInfo",
    "FusionOptions",
    "MultiLevelFusion",
    "PANFusion",
    "SumFusion",
    "fusion_info",
]

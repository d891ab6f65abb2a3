"""Cross-level fusions; importing this package registers all of them in FUSIONS."""

# Importing the fusion modules (below) registers them in FUSIONS.
from asffbench.models.fusion.asff import ASFF
from asffbench.models.fusion.base import MultiLevelFusion
from asffbench.models.fusion.concat import ConcatFusion
from asffbench.models.fusion.fpn import FPNFusion
from asffbench.models.fusion.registry import FUSIONS
from asffbench.models.fusion.sum import SumFusion

# Fusions that are the paper's enhanced variant: the builder switches on RFB and DropBlock.
ENHANCED_FUSIONS = frozenset({"asff_star"})

__all__ = [
    "ASFF",
    "ConcatFusion",
    "ENHANCED_FUSIONS",
    "FPNFusion",
    "FUSIONS",
    "MultiLevelFusion",
    "SumFusion",
]

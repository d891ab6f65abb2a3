"""The YOLOv8-style anchor-free detector: YOLOv3's assembly (backbone -> neck -> fusion -> head,
parts passed in) with the family's parts; its head returns `AnchorFreeLevel`s."""

from __future__ import annotations

from asffbench.models.detector import YOLOv3


class YOLOv8(YOLOv3):
    """backbone (CSP-Darknet taps) -> neck (top-down levels, stride 32, 16, 8; or the taps
    themselves under a fusion that is a whole neck) -> fusion (`pan`: the family's PAFPN) ->
    anchor-free head. `reg_max` is the head's bins per box side."""

    @property
    def reg_max(self) -> int:
        return int(self.head.reg_max)

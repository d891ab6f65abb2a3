"""Parameter counts, total and by detector part."""

from __future__ import annotations

from torch import nn

PARTS = ("backbone", "neck", "fusion", "head")


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def params_by_part(model: nn.Module) -> dict[str, int]:
    """Parameters of each of the detector's four parts (they add up to the total)."""
    return {part: count_params(getattr(model, part)) for part in PARTS}

"""Params, FLOPs (fvcore) and speed of a detector under a stated protocol."""

from asffbench.bench.modes import benchmark

__all__ = ["benchmark"]

"""Params, FLOPs (fvcore) and speed of a detector under a stated protocol (`modes.measure`; the
config is read by `asffbench.runs.benchmark`). The package re-exports nothing."""

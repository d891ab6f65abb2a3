"""asffbench: controlled ablations and benchmarks of adaptive spatial feature fusion (ASFF)."""

__version__ = "0.1.0"

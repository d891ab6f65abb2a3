"""Retry a measurement with half the batch on CUDA out-of-memory (as timm's benchmark does)."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

import torch

T = TypeVar("T")


@dataclass
class Fitted(Generic[T]):
    value: T
    batch_size: int  # the batch that fitted
    halvings: int  # how many times the batch was halved to fit


def run_halving_on_oom(measure: Callable[[int], T], batch_size: int) -> Fitted[T]:
    """`measure(batch_size)`, halving the batch on CUDA out-of-memory until it fits.

    At batch 1 the error is raised: the model itself does not fit.
    """
    halvings = 0
    while True:
        try:
            return Fitted(measure(batch_size), batch_size, halvings)
        except torch.cuda.OutOfMemoryError:
            if batch_size == 1:
                raise
        # Outside the except block, so the traceback's frames (and their tensors) are gone.
        gc.collect()
        torch.cuda.empty_cache()
        batch_size //= 2
        halvings += 1

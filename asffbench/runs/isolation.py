"""One run in a fresh process (a sweep file's `isolate: true`).

Timing runs must not inherit each other's state: the CUDA caching allocator's pools, the
algorithms cuDNN's autotuner picked, torch.compile's caches, the CPU allocator's retained
heap. A spawned interpreter (not a fork) starts with none of them; the parent waits for it.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Mapping, Optional, TypeVar

from omegaconf import DictConfig

T = TypeVar("T")


def run_in_fresh_process(
    run: Callable[..., T], cfg: DictConfig, axes: Mapping[str, Any], attempt: Optional[Mapping[str, Any]]
) -> T:
    """`run(cfg, axes=axes, attempt=attempt)` in a spawned process; its return value (the record).

    A process that dies (a segfault, the OOM killer) raises BrokenProcessPool here instead of
    leaving the sweep waiting.
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        future = pool.submit(run, cfg, axes=dict(axes), attempt=dict(attempt) if attempt else None)
        return future.result()

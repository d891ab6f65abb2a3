"""Peak memory of a phase (timed inference, training steps, an epoch).

On CUDA: torch's allocator peaks (`max_memory_allocated`, `max_memory_reserved`), reset when the
phase starts. On CPU there is no allocator counter, so the figure is the growth of the process's
peak resident set over the phase: free heap memory is first handed back to the OS (glibc
`malloc_trim`, else the allocator would serve the phase from memory it kept and hide it), then
the high-water mark (VmHWM) is reset by writing 5 to /proc/self/clear_refs, which Linux allows a
process for itself. Where that is refused the lifetime peak (`getrusage` ru_maxrss) is used, and
a phase that stays below an earlier peak then shows 0.
"""

from __future__ import annotations

import ctypes
import resource
import sys
from pathlib import Path
from typing import Optional

import torch

MIB = 1024 * 1024
STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


class PeakMemory:
    """`with PeakMemory(device) as peak: ...` (or `start()`/`stop()`), then `peak.result()`."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.method = ""
        self.baseline_mib = 0.0
        self.peak: dict[str, Optional[float]] = {}

    def start(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.method = "torch.cuda.max_memory_allocated/max_memory_reserved, reset at the start"
        elif release_free_heap() and reset_rss_peak():
            self.method = "growth of the process's peak resident set (VmHWM, reset at the start)"
            self.baseline_mib = current_rss_mib()
        else:
            self.method = "growth of the process's lifetime peak resident set (ru_maxrss)"
            self.baseline_mib = peak_rss_mib()
        return self

    def stop(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = {
                "allocated_mib": torch.cuda.max_memory_allocated(self.device) / MIB,
                "reserved_mib": torch.cuda.max_memory_reserved(self.device) / MIB,
            }
        else:
            peak = peak_rss_mib()
            self.peak = {"rss_growth_mib": max(0.0, peak - self.baseline_mib), "rss_peak_mib": peak}

    def __enter__(self) -> "PeakMemory":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def result(self) -> dict:
        return {"device": self.device.type, **self.peak, "method": self.method}


def headline_mib(memory: Optional[dict]) -> Optional[float]:
    """The one figure of a PeakMemory result: CUDA allocated peak, or the CPU resident-set growth."""
    if not memory:
        return None
    return memory.get("allocated_mib", memory.get("rss_growth_mib"))


def larger_peak(a: Optional[dict], b: Optional[dict]) -> Optional[dict]:
    """Of two PeakMemory results, the one with the larger headline figure."""
    if a is None or (b is not None and (headline_mib(b) or 0.0) > (headline_mib(a) or 0.0)):
        return b
    return a


def release_free_heap() -> bool:
    """Hand memory freed by earlier work back to the OS (glibc malloc_trim), so that the phase's
    own allocations show as growth instead of reusing what the allocator kept resident."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: the growth is then a lower bound
    return True


def reset_rss_peak() -> bool:
    """Reset this process's VmHWM; False where /proc/self/clear_refs is absent or refused."""
    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def status_kib(field: str) -> Optional[float]:
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def current_rss_mib() -> float:
    kib = status_kib("VmRSS")
    return kib / 1024 if kib is not None else peak_rss_mib()


def peak_rss_mib() -> float:
    kib = status_kib("VmHWM")
    if kib is None:  # no /proc: ru_maxrss is KiB on Linux, bytes on macOS
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        kib = maxrss / 1024 if sys.platform == "darwin" else maxrss
    return kib / 1024

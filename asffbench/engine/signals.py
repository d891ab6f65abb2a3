"""Short critical sections that a preemption signal must not split.

SLURM warns a job of preemption with USR2 (submitit's handler checkpoints the launcher call,
requeues the job and exits) and stops it with TERM. Either can arrive between two statements.
Where two writes must happen together (an epoch's checkpoint and its log line), the Python
handlers are swapped for a recorder for the duration, and the signals that came are raised again
with the real handlers back in place. Python runs signal handlers in the main thread only, so
this works whichever thread the OS delivered the signal to.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator, Sequence

PREEMPTION_SIGNALS = (signal.SIGUSR2, signal.SIGTERM)


@contextmanager
def signals_deferred(signums: Sequence[int] = PREEMPTION_SIGNALS) -> Iterator[list[int]]:
    """Hold `signums` until the block ends, then deliver them in arrival order.

    Yields the list of signals received so far. Outside the main thread (where Python cannot set
    handlers) it holds nothing.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {signum: signal.getsignal(signum) for signum in signums}

    def record(signum: int, _frame: object) -> None:
        received.append(signum)

    for signum in signums:
        signal.signal(signum, record)
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        for signum in received:
            signal.raise_signal(signum)

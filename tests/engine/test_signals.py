"""`signals_deferred`: a preemption signal waits for the end of the block, then reaches its handler."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from asffbench.engine.signals import signals_deferred


class Preempted(Exception):
    pass


@pytest.fixture
def usr2_handler():
    calls = []

    def handler(signum, _frame):
        calls.append(signum)
        raise Preempted()

    previous = signal.signal(signal.SIGUSR2, handler)
    yield handler, calls
    signal.signal(signal.SIGUSR2, previous)


def test_a_signal_in_the_block_is_delivered_after_it(usr2_handler) -> None:
    handler, calls = usr2_handler
    done = []
    with pytest.raises(Preempted):
        with signals_deferred() as received:
            os.kill(os.getpid(), signal.SIGUSR2)
            done.append("first write")
            done.append("second write")
            assert received == [signal.SIGUSR2] and calls == []
    assert done == ["first write", "second write"] and calls == [signal.SIGUSR2]
    assert signal.getsignal(signal.SIGUSR2) is handler  # the real handler is back


def test_without_a_signal_nothing_is_raised_and_handlers_are_restored(usr2_handler) -> None:
    handler, calls = usr2_handler
    term = signal.getsignal(signal.SIGTERM)
    with signals_deferred() as received:
        pass
    assert received == [] and calls == []
    assert signal.getsignal(signal.SIGUSR2) is handler and signal.getsignal(signal.SIGTERM) is term


def test_an_ignored_signal_stays_ignored() -> None:
    previous = signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    try:
        with signals_deferred() as received:
            os.kill(os.getpid(), signal.SIGUSR2)
        assert received == [signal.SIGUSR2]  # raised again after the block, and ignored there
        assert signal.getsignal(signal.SIGUSR2) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGUSR2, previous)


def test_outside_the_main_thread_it_holds_nothing(usr2_handler) -> None:
    handler, _calls = usr2_handler
    seen = []

    def worker():
        with signals_deferred() as received:
            seen.append((received, signal.getsignal(signal.SIGUSR2)))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [([], handler)]

"""The tracker interface and the guard around the trackers of a run.

A `Tracker` gets the train log's lines as they are written (`log_line`), then the run's outcome
(`finish`), then `close`. `TrackerSet` is what the run holds: it forwards each call to every
tracker and catches what a tracker raises at that boundary, so a tracker failing mid-run is one
warning line, is closed and left out from then on, and the run (and its files) go on untouched.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping, Sequence

from asffbench.trackers.run_info import RunOutcome

log = logging.getLogger(__name__)


class Tracker:
    name = "tracker"

    def log_line(self, line: Mapping[str, Any]) -> None:
        """One line of train_log.jsonl, as written (a step, an epoch's end, an evaluation)."""

    def finish(self, outcome: RunOutcome) -> None:
        """The run ended: its final metrics and its files (record.json, config.yaml, figures)."""

    def close(self) -> None:
        """Release what the tracker holds; after `finish`, or instead of it when the run was cut short."""


MESSAGE_CHARS = 200  # of a tracker's error in its warning line


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    line = text.splitlines()[0] if text else type(err).__name__
    return line if len(line) <= MESSAGE_CHARS else line[: MESSAGE_CHARS - 3] + "..."


def warn(tracker: str, what: str, err: BaseException, goes_on: bool = True) -> None:
    """One line: `logger=<tracker>: <what> (<error>)[; the run goes on without it]`."""
    log.warning("logger=%s: %s (%s: %s)%s", tracker, what, type(err).__name__, first_line(err),
                "; the run goes on without it" if goes_on else "")


class TrackerSet:
    """The trackers of one run (none on the ranks > 0 of a DDP job); safe to call in any state."""

    def __init__(self, trackers: Sequence[Tracker] = ()) -> None:
        self.trackers = list(trackers)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.trackers)

    def log_line(self, line: Mapping[str, Any]) -> None:
        self.each("log_line", lambda t: t.log_line(line))

    def finish(self, outcome: RunOutcome) -> None:
        self.each("finish", lambda t: t.finish(outcome))

    def close(self) -> None:
        trackers, self.trackers = self.trackers, []
        for tracker in trackers:
            close_quietly(tracker)

    def each(self, what: str, call: Callable[[Tracker], None]) -> None:
        for tracker in list(self.trackers):
            try:
                call(tracker)
            except Exception as err:  # noqa: BLE001 - a tracker never fails the run
                warn(tracker.name, f"{what} failed", err)
                self.trackers.remove(tracker)
                close_quietly(tracker)

    def __enter__(self) -> "TrackerSet":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def close_quietly(tracker: Tracker) -> None:
    try:
        tracker.close()
    except Exception as err:  # noqa: BLE001 - closing a broken tracker says nothing more
        log.debug("logger=%s: close failed: %s", tracker.name, err)

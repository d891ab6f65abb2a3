"""One run, one owner: a lock in each run directory, held by one live process at a time.

The lock itself is an OS file lock (`fcntl.flock` on `<run_dir>/.lock`): the kernel drops it when
its process dies, so a `kill -9` leaves nothing to clean up. Beside it, `<run_dir>/lock.json` says
who holds it (host, pid, attempt, since) with a heartbeat a background thread refreshes. That file
is what `sweep --status` shows, and it is the lock where flock is missing or fails (some network
file systems): created exclusively, taken over when stale. Where flock works only per host (NFS
mounted `nolock`), a fresh heartbeat from another host still counts as held.

A holder is stale when its PID is dead on this host, its heartbeat is older than STALE_AFTER, or
it is an earlier attempt of the job that asks (a SLURM job requeued elsewhere: SLURM restarts a
job only once its previous run has ended).
Locks are re-entrant within a process (a sweep job holds its run, then `run_experiment` and
`train` ask again). Torch-free.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Optional

from asffbench.atomic import write_json_atomic
from asffbench.errors import UserError

try:
    import fcntl
except ImportError:  # not on POSIX: the holder file alone is the lock
    fcntl = None

LOCK_NAME = ".lock"
HOLDER_NAME = "lock.json"
HEARTBEAT_EVERY = 10.0  # seconds between heartbeats
STALE_AFTER = 120.0  # a heartbeat older than this is a dead holder's
# flock errors that mean "this file system has no working locks" (not "somebody holds it").
NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL, errno.EBADF}
HOST = socket.gethostname()
# Attempt ids (runs/resume.py: attempt_id) of launchers that restart a job under the same id.
RESTARTABLE = ("slurm-", "torchrun-")


@dataclass(frozen=True)
class Holder:
    """Who holds a run: written to lock.json when taken, heartbeat refreshed while held."""

    host: str
    pid: int
    attempt: str
    since: str  # ISO-8601, when it was taken
    heartbeat: float  # Unix time of the last refresh
    token: str  # unique per taking, so a take-over can tell one holder from the next

    def is_live(self, now: Optional[float] = None) -> bool:
        fresh = (now or time.time()) - self.heartbeat < STALE_AFTER
        return fresh and (self.host != HOST or pid_alive(self.pid))

    def holds_against(self, attempt: str) -> bool:
        """Live, and not an earlier attempt of the job that makes `attempt`."""
        return self.is_live() and not earlier_attempt_of_same_job(self.attempt, attempt)

    def describe(self) -> str:
        return f"{self.host} pid {self.pid} since {self.since}"


UNKNOWN = Holder(host="?", pid=0, attempt="", since="?", heartbeat=0.0, token="")


class RunLockedError(UserError):
    """The run directory is held by another live process."""

    def __init__(self, run_dir: Path, holder: Holder) -> None:
        who = holder.describe() if holder is not UNKNOWN else "another process (just starting)"
        super().__init__(f"{run_dir}: run is held by {who}; wait for it to end or use another run_dir")
        self.run_dir = run_dir
        self.holder = holder


def earlier_attempt_of_same_job(held: str, asking: str) -> bool:
    """`slurm-<job>-<restart>` (or torchrun's) ids of one job with another restart count."""
    if not held.startswith(RESTARTABLE) or held == asking:
        return False
    return held.rsplit("-", 1)[0] == asking.rsplit("-", 1)[0]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    except OSError:
        return False
    return True


def read_holder(run_dir: Path) -> Optional[Holder]:
    """The holder lock.json names (live or not), or None when absent or unreadable."""
    return holder_from_file(Path(run_dir) / HOLDER_NAME)


def holder_from_file(path: Path) -> Optional[Holder]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Holder(
            host=str(data["host"]), pid=int(data["pid"]), attempt=str(data.get("attempt", "")),
            since=str(data["since"]), heartbeat=float(data["heartbeat"]), token=str(data["token"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def live_holder(run_dir: Path) -> Optional[Holder]:
    """The holder of a run when a live process holds it (judged from lock.json alone)."""
    holder = read_holder(run_dir)
    return holder if holder is not None and holder.is_live() else None


class RunLock:
    """The lock of one run directory. `acquire()` returns None when taken, else the holder."""

    def __init__(self, run_dir: Path, attempt: str = "", use_flock: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.attempt = attempt
        self.use_flock = use_flock and fcntl is not None
        self.holder_path = self.run_dir / HOLDER_NAME
        self.me: Optional[Holder] = None
        self._fd: Optional[int] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    # --- taking and giving back ---------------------------------------------------------------
    def acquire(self) -> Optional[Holder]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.me = Holder(
            host=HOST, pid=os.getpid(), attempt=self.attempt,
            since=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            heartbeat=time.time(), token=uuid.uuid4().hex,
        )
        other = self._acquire_flock() if self.use_flock else self._acquire_file()
        if other is not None:
            self.me = None
            return other
        self._thread = threading.Thread(target=self._beat, name=f"lock-{self.run_dir.name}", daemon=True)
        self._thread.start()
        return None

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.me is not None and self._still_mine():
            self.holder_path.unlink(missing_ok=True)
        self.me = None
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    # --- the two ways of taking it -------------------------------------------------------------
    def _acquire_flock(self) -> Optional[Holder]:
        fd = os.open(self.run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return read_holder(self.run_dir) or UNKNOWN
        except OSError as err:
            os.close(fd)
            if err.errno in NO_LOCKS:
                self.use_flock = False
                return self._acquire_file()
            raise
        other = read_holder(self.run_dir)
        if other is not None and other.host != HOST and other.holds_against(self.attempt):
            # Our flock did not see theirs: locks on this mount are per host.
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            return other
        self._fd = fd
        self._write_me()
        return None

    def _acquire_file(self) -> Optional[Holder]:
        for _ in range(3):
            try:
                fd = os.open(self.holder_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                other = read_holder(self.run_dir)
                if other is None and not self._old_file():
                    return UNKNOWN  # being written right now
                if other is not None and other.holds_against(self.attempt):
                    return other
                if not self._break(other):
                    return read_holder(self.run_dir) or UNKNOWN
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(asdict(self.me)))
                handle.flush()
                os.fsync(handle.fileno())
            return None
        return read_holder(self.run_dir) or UNKNOWN

    def _old_file(self) -> bool:
        try:
            return time.time() - self.holder_path.stat().st_mtime > STALE_AFTER
        except FileNotFoundError:
            return True

    def _break(self, stale: Optional[Holder]) -> bool:
        """Take a stale holder file out of the way; False when it turned out to be a new one."""
        moved = self.holder_path.with_name(f".{HOLDER_NAME}.stale-{self.me.token}")
        try:
            os.rename(self.holder_path, moved)
        except FileNotFoundError:
            return True  # someone else removed it: try to create ours
        found = holder_from_file(moved)
        if (found and found.token) == (stale and stale.token):
            moved.unlink(missing_ok=True)
            return True
        # Another process took it over between our read and our rename: give it back.
        try:
            os.link(moved, self.holder_path)
        except OSError:
            pass
        moved.unlink(missing_ok=True)
        return False

    # --- while held ----------------------------------------------------------------------------
    def _write_me(self) -> None:
        write_json_atomic(self.holder_path, asdict(self.me), indent=None)

    def _still_mine(self) -> bool:
        current = read_holder(self.run_dir)
        return current is not None and current.token == self.me.token

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_EVERY):
            if not self.use_flock and not self._still_mine():
                return  # taken over as stale (we stalled past STALE_AFTER): leave theirs alone
            self.me = Holder(**{**asdict(self.me), "heartbeat": time.time()})
            try:
                self._write_me()
            except OSError:
                pass  # a missed beat; the next one tries again


# Locks this process holds: path -> (lock, depth), so nested holders of one run share one lock.
_HELD: dict[str, tuple[RunLock, int]] = {}
_HELD_GUARD = threading.Lock()


@contextmanager
def hold_run(run_dir: Path, attempt: str = "", use_flock: bool = True) -> Iterator[Holder]:
    """Hold `run_dir` for the block (re-entrant in this process); RunLockedError when a live
    process elsewhere holds it. Yields this process's holder record."""
    key = str(Path(run_dir).resolve())
    with _HELD_GUARD:
        if key in _HELD:
            lock, depth = _HELD[key]
            _HELD[key] = (lock, depth + 1)
        else:
            lock = RunLock(Path(run_dir), attempt=attempt, use_flock=use_flock)
            other = lock.acquire()
            if other is not None:
                raise RunLockedError(Path(run_dir), other)
            _HELD[key] = (lock, 1)
    try:
        yield lock.me
    finally:
        with _HELD_GUARD:
            lock, depth = _HELD[key]
            if depth > 1:
                _HELD[key] = (lock, depth - 1)
            else:
                del _HELD[key]
                lock.release()


def wait_until_free(run_dirs: list[Path], poll: float = 1.0) -> None:
    """Block until no live process holds any of `run_dirs` (as lock.json tells)."""
    while any(live_holder(run_dir) is not None for run_dir in run_dirs):
        time.sleep(poll)

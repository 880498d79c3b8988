"""Locks that die with their holder.

The operating system releases an open-file-description lock (Linux ``F_OFD_SETLK``) when the
last descriptor of the file closes, and a killed process closes all of its descriptors: a run
killed with ``kill -9``, by the OOM killer or by a reboot never leaves a lock behind. (Dagster's
pools and op-concurrency slots live in the instance database and are freed only by a clean end
of the run; a killed run kept its slot and every later run waited forever.)

The lock file's content says who holds it (run id, process, start time), so a run that finds
the lock taken can name the holder. Another process can also ask whether the lock is held
without taking it (``F_OFD_GETLK``), which is how a dead run is told from a live one
(:mod:`orchestration.operations.runs`).

Within one process the lock is re-entrant: ``clientele backfill`` holds the warehouse lock for
all its dates and each date's run takes it again.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import struct
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

# struct flock: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid (native
# alignment); the lock covers the whole file (start 0, length 0).
_FLOCK = "hhqqi"
_SET, _WAIT, _GET = fcntl.F_OFD_SETLK, fcntl.F_OFD_SETLKW, fcntl.F_OFD_GETLK


class LockHeld(RuntimeError):
    """The lock is held by another process; ``holder`` says by whom (None if it did not say)."""

    def __init__(self, path: Path, holder: Holder | None) -> None:
        self.path = path
        self.holder = holder
        who = holder.describe() if holder else "another process"
        super().__init__(f"{path} is held by {who}")


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as written in the lock file."""

    run_id: str
    pid: int
    since: str  # ISO time, UTC
    what: str = ""

    @classmethod
    def now(cls, run_id: str, what: str = "") -> Holder:
        since = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        return cls(run_id=run_id, pid=os.getpid(), since=since, what=what)

    def describe(self) -> str:
        doing = f" ({self.what})" if self.what else ""
        return f"run {self.run_id}{doing}, process {self.pid}, started {self.since}"


def _request(kind: int) -> bytes:
    return struct.pack(_FLOCK, kind, os.SEEK_SET, 0, 0, 0)


def is_locked(path: Path) -> bool:
    """Whether any open file description (of any process, this one included) holds ``path``.

    Asks the kernel without taking the lock, so it never gets in a holder's way."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        answer = fcntl.fcntl(fd, _GET, _request(fcntl.F_WRLCK))
    finally:
        os.close(fd)
    return struct.unpack(_FLOCK, answer)[0] != fcntl.F_UNLCK


def read_holder(path: Path) -> Holder | None:
    """The holder written in the lock file (the last one, if it is no longer held)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8") or "null")
        return Holder(**record) if isinstance(record, dict) else None
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None


class OsLock:
    """An exclusive lock on ``path``, released by the kernel when its holder dies."""

    _held: dict[Path, tuple[int, list[Holder]]] = {}  # this process's locks: fd, holders
    _guard = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path

    def acquire(self, holder: Holder, *, wait: bool) -> bool:
        """Take the lock for ``holder``; returns whether it had to wait for another process.

        Raises :class:`LockHeld` when another process holds it and ``wait`` is false. Waiting
        blocks in the kernel (no polling) until the holder releases it or dies."""
        with self._guard:
            if self.path in self._held:  # re-entrant within this process
                fd, holders = self._held[self.path]
                holders.append(holder)
                self._write(fd, holder)
                return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        waited = False
        try:
            try:
                fcntl.fcntl(fd, _SET, _request(fcntl.F_WRLCK))
            except OSError:
                if not wait:
                    raise LockHeld(self.path, read_holder(self.path)) from None
                waited = True
                fcntl.fcntl(fd, _WAIT, _request(fcntl.F_WRLCK))
        except BaseException:
            os.close(fd)
            raise
        with self._guard:
            self._held[self.path] = (fd, [holder])
        self._write(fd, holder)
        return waited

    def release(self, holder: Holder) -> None:
        """Give up ``holder``'s hold; the lock is free once every holder of this process left."""
        with self._guard:
            fd, holders = self._held[self.path]
            holders.remove(holder)
            if holders:
                self._write(fd, holders[-1])
                return
            del self._held[self.path]
        os.close(fd)  # closing the only descriptor releases the lock

    @property
    def held_here(self) -> bool:
        return self.path in self._held

    @staticmethod
    def _write(fd: int, holder: Holder) -> None:
        data = json.dumps(asdict(holder)).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)

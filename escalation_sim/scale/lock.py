"""A lock for a results directory, or for one shard's files in it: one writer at a time, stale locks recognised.

``run`` (and ``tournament``, ``sweep``) and ``merge`` hold
``<out>/.escalation-sim.lock`` while they work; shard ``I/N`` holds
``<out>/.shard-I-of-N.lock`` instead, which covers only that shard's files
(its manifest, its checkpoints, its shard file), so every shard of a run can
work in one directory at the same time while the same shard cannot run twice.

The lock file holds a JSON record of its holder (host, boot id, PID, the
PID's start time, start time of the lock, the command) and the holder keeps
an exclusive ``flock`` on it while it runs, renewing the file's modification
time every :data:`HEARTBEAT` seconds. A second process is refused with a
message naming the holder. A lock is *stale*, and is taken over with a
warning, when:

* the holder is on this host and its process has ended (PID gone, or reused by
  another process: a different start time; or the host has rebooted since):
  the kernel has released its ``flock`` too;
* the holder is on another host and its lock has not been renewed for
  :data:`LEASE` seconds (times compared on the filesystem's own clock, so the
  hosts' clocks do not matter) and the ``flock``, where the filesystem
  supports it across hosts (NFSv4, Lustre with ``flock``, GPFS, BeeGFS), is free.

So across hosts, a run that died is recognised after at most two minutes; a
run whose host lost contact with the filesystem for longer than that could be
taken over while it still runs (the files stay whole, because every file is
written atomically and every block file is verified when it is read; the
later writer's manifest wins). The lock is released, and its file removed,
when the command ends, whatever the way; SIGKILL leaves the file, which the
next run recognises as stale.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
import threading
from pathlib import Path

from ..errors import RunLocked
from ..io.files import write_error
from ..io.provenance import now_iso

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the record alone decides
    fcntl = None

LOCK_NAME = ".escalation-sim.lock"
HEARTBEAT = 30.0  # seconds between renewals of the lock file's modification time
LEASE = 120.0  # seconds without renewal after which a lock of another host is stale


def shard_lock_name(i: int, n: int) -> str:
    """The lock file of shard ``i`` of ``n``."""
    return f".shard-{i}-of-{n}.lock"


def boot_id() -> str | None:
    """This boot of this host (Linux), so a lock from before a reboot is recognised as stale."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def process_start(pid: int) -> int | None:
    """Start time of process ``pid`` in clock ticks since boot (Linux), to tell a reused PID from the holder."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def process_alive(pid: int, start: int | None) -> bool:
    """Whether process ``pid`` runs (and is the one that started at ``start``, when known)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, as another user
    except OSError:
        return False
    now = process_start(pid)
    return start is None or now is None or now == start


def describe(record: dict) -> str:
    """``pid P on HOST since T (COMMAND)``."""
    cmd = record.get("command")
    return (f"pid {record.get('pid')} on {record.get('host')} since {record.get('started')}"
            + (f" ({cmd})" if cmd else ""))


class DirLock:
    """An exclusive lock on ``directory/name``; ``what`` names what it protects in messages."""

    def __init__(self, directory: Path, name: str = LOCK_NAME, what: str | None = None):
        self.directory = Path(directory)
        self.path = self.directory / name
        self.what = what or str(self.directory)
        self._fd: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the record ---------------------------------------------------------------------------------------------
    def _record(self) -> dict:
        pid = os.getpid()
        return {"host": socket.gethostname(), "boot_id": boot_id(), "pid": pid, "pid_start": process_start(pid),
                "started": now_iso(), "command": " ".join(os.path.basename(a) if i == 0 else a
                                                          for i, a in enumerate(sys.argv))[:300]}

    @staticmethod
    def _read(fd: int) -> dict:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            raw = os.read(fd, 1 << 16)
            rec = json.loads(raw) if raw.strip() else {}
            return rec if isinstance(rec, dict) else {}
        except (OSError, ValueError):
            return {}

    def _age(self) -> float:
        """Seconds since the lock file was last renewed, on the filesystem's clock."""
        probe = self.directory / f".lock-clock-{os.getpid()}"
        try:
            with open(probe, "wb"):
                pass
            now = probe.stat().st_mtime
            probe.unlink()
            return now - self.path.stat().st_mtime
        except OSError:
            return 0.0

    def _stale(self, rec: dict, flocked: bool) -> str | None:
        """Why the holder recorded in ``rec`` no longer holds the lock, or None if it may still run."""
        if not rec or not rec.get("pid"):
            return "an empty lock file"
        same_host = rec.get("host") == socket.gethostname()
        if same_host:
            if rec.get("boot_id") and boot_id() and rec["boot_id"] != boot_id():
                return f"{describe(rec)}: the host has restarted since"
            if rec.get("pid") == os.getpid() and flocked:  # this process holds no flock on it: left over
                return f"{describe(rec)}: left by this process"
            if not process_alive(int(rec["pid"]), rec.get("pid_start")):
                return f"{describe(rec)}: that process has ended"
            return None
        age = self._age()  # (a holder's flock, where the filesystem shares it across hosts, has refused us already)
        if age > LEASE:
            return f"{describe(rec)}: not renewed for {age:.0f} s"
        return None

    # -- acquire and release ------------------------------------------------------------------------------------
    def acquire(self) -> str | None:
        """Take the lock; return a note when a stale lock was taken over. Raises RunLocked or WriteError."""
        for _ in range(10):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise write_error(self.path, exc, "cannot create the lock file") from None
            flocked = False
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    flocked = True
                except BlockingIOError:
                    rec = self._read(fd)
                    os.close(fd)
                    raise RunLocked(self._held_message(rec)) from None
                except OSError as exc:
                    if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                        os.close(fd)
                        raise write_error(self.path, exc, "cannot lock") from None
            try:
                same_file = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same_file = False
            if not same_file:  # the holder released (removed) it between our open and our flock: try again
                os.close(fd)
                continue
            rec = self._read(fd)
            note = None
            if rec:
                note = self._stale(rec, flocked)
                if note is None:
                    os.close(fd)
                    raise RunLocked(self._held_message(rec, foreign=rec.get("host") != socket.gethostname()))
            try:
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                os.write(fd, (json.dumps(self._record()) + "\n").encode())
                os.fsync(fd)
            except OSError as exc:
                os.close(fd)
                raise write_error(self.path, exc) from None
            self._fd = fd
            self._start_heartbeat()
            return f"took over a stale lock ({note})" if note else None
        raise RunLocked(f"{self.what}: the lock {self.path} keeps changing; another process is starting there")

    def _held_message(self, rec: dict, foreign: bool = False) -> str:
        who = describe(rec) if rec else "another process"
        msg = f"{self.what} is in use by another escalation-sim command ({who}); wait for it to finish or choose another --out"
        if foreign:
            msg += (f". If that process has died, its lock expires {LEASE:.0f} s after its last renewal "
                    f"(or delete {self.path})")
        return msg

    def _start_heartbeat(self) -> None:
        self._stop.clear()

        def beat() -> None:
            while not self._stop.wait(HEARTBEAT):
                with contextlib.suppress(OSError):
                    os.utime(self.path)

        self._thread = threading.Thread(target=beat, name="escalation-sim-lock", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Give the lock up and remove its file (if it is still ours)."""
        if self._fd is None:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            if os.fstat(self._fd).st_ino == os.stat(self.path).st_ino:
                self.path.unlink()
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> DirLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

"""The lock of a results directory: one writer at a time, a clear message for the second, stale locks recognised.

``run`` and ``merge`` hold ``<out>/.escalation-sim.lock``; shard ``I/N`` holds ``<out>/.shard-I-of-N.lock``, so the
shards of a run share a directory while the same shard cannot run twice.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import cli as _run
from conftest import scale_experiment, tables

from escalation_sim.errors import RunLocked
from escalation_sim.scale import lock as lockmod
from escalation_sim.scale.lock import LOCK_NAME, DirLock, shard_lock_name

#: the quick loop (-m 'not slow') leaves these out: locks: concurrent runs and killed processes (seconds each); CI runs them
pytestmark = pytest.mark.slow

HOLD = """
import sys, time
from escalation_sim.scale.lock import DirLock

lock = DirLock(sys.argv[1], sys.argv[2])
lock.acquire()
print("locked", flush=True)
time.sleep(120)
"""


def hold(directory: Path, name: str = LOCK_NAME) -> subprocess.Popen:
    """Another process holding the lock ``name`` of ``directory`` (until killed)."""
    directory.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(directory), name], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_run_into_a_locked_directory_is_refused_naming_the_holder(tmp_path):
    exp = scale_experiment(tmp_path)
    out = tmp_path / "out"
    holder = hold(out)
    try:
        res = _run("run", exp, "--out", out)
        assert res.exit_code == 2 and "Traceback" not in res.output
        assert f"error: {out} is in use by another escalation-sim command (pid {holder.pid} on {socket.gethostname()}" in res.output
        assert "wait for it to finish or choose another --out" in res.output
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]  # nothing written
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    exp = scale_experiment(tmp_path)
    out = tmp_path / "out"
    holder = hold(out)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (out / LOCK_NAME).is_file()  # SIGKILL leaves the file
    res = _run("run", exp, "--out", out, "--threads", "1")
    assert res.exit_code == 0, res.output
    assert f"took over a stale lock (pid {holder.pid} on {socket.gethostname()}" in res.output
    assert "that process has ended" in res.output
    assert not (out / LOCK_NAME).exists()  # released and removed at the end


def write_record(path: Path, **fields) -> None:
    rec = {"host": socket.gethostname(), "boot_id": lockmod.boot_id(), "pid": 1, "pid_start": None,
           "started": "2026-01-01T00:00:00+00:00", "command": "escalation-sim run x.toml", **fields}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec))


def test_stale_records_on_this_host(tmp_path):
    """A dead PID, a PID reused by another process (other start time), a lock from before a reboot: all stale."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(done.stdout)
    cases = {"dead": {"pid": dead},
             "reused": {"pid": os.getppid(), "pid_start": -1},
             "reboot": {"pid": os.getppid(), "boot_id": "another-boot"}}
    for what, fields in cases.items():
        d = tmp_path / what
        write_record(d / LOCK_NAME, **fields)
        lock = DirLock(d)
        note = lock.acquire()
        assert note and "stale" in note, (what, note)
        lock.release()
        assert not (d / LOCK_NAME).exists()


def test_a_live_process_on_this_host_keeps_its_lock_even_without_flock(tmp_path, monkeypatch):
    """Where the filesystem has no working flock, the record alone refuses: the holder's PID runs, same start time."""
    monkeypatch.setattr(lockmod, "fcntl", None)
    write_record(tmp_path / LOCK_NAME, pid=os.getppid(), pid_start=lockmod.process_start(os.getppid()))
    with pytest.raises(RunLocked, match=f"pid {os.getppid()} on {socket.gethostname()}"):
        DirLock(tmp_path).acquire()


def test_a_lock_of_another_host_expires_after_its_lease(tmp_path):
    """Another host's PID cannot be checked: its lock holds while it is renewed, and expires LEASE s after."""
    path = tmp_path / LOCK_NAME
    write_record(path, host="node-17.cluster", pid=4242)
    with pytest.raises(RunLocked, match=r"pid 4242 on node-17.cluster.*expires 120 s after its last renewal"):
        DirLock(tmp_path).acquire()
    old = time.time() - lockmod.LEASE - 60
    os.utime(path, (old, old))
    lock = DirLock(tmp_path)
    assert "not renewed for" in lock.acquire()
    lock.release()


def test_the_holder_renews_its_lock(tmp_path, monkeypatch):
    monkeypatch.setattr(lockmod, "HEARTBEAT", 0.05)
    lock = DirLock(tmp_path)
    lock.acquire()
    try:
        old = time.time() - 1000
        os.utime(lock.path, (old, old))
        time.sleep(0.3)
        assert lock.path.stat().st_mtime > old + 900
        rec = json.loads(lock.path.read_text())
        assert rec["pid"] == os.getpid() and rec["host"] == socket.gethostname() and rec["started"]
    finally:
        lock.release()


def test_shards_of_one_run_share_a_directory_but_a_shard_runs_once(tmp_path, reference):
    """Shard 0 busy (its lock held): shard 1 runs beside it; shard 0 again is refused; merge waits for no one."""
    exp, single = reference
    out = tmp_path / "shards"
    holder = hold(out, shard_lock_name(0, 2))
    try:
        assert _run("run", exp, "--out", out, "--shard", "1/2").exit_code == 0
        res = _run("run", exp, "--out", out, "--shard", "0/2")
        assert res.exit_code == 2 and f"shard 0/2 in {out} is in use" in res.output
    finally:
        holder.kill()
        holder.wait()
    assert _run("run", exp, "--out", out, "--shard", "0/2").exit_code == 0
    assert _run("merge", out).exit_code == 0
    assert tables(out) == tables(single)


def test_merge_is_refused_while_the_directory_is_locked(tmp_path, reference):
    exp, _ = reference
    out = tmp_path / "m"
    for i in range(2):
        assert _run("run", exp, "--out", out, "--shard", f"{i}/2").exit_code == 0
    holder = hold(out)
    try:
        res = _run("merge", out)
        assert res.exit_code == 2 and "is in use by another escalation-sim command" in res.output
        assert not (out / "cells.csv").exists()
    finally:
        holder.kill()
        holder.wait()


def test_no_lock_or_directory_is_left_behind(tmp_path, reference, monkeypatch):
    """After a run, after a refused run, and after a run that failed once its directory was made (no scheduler)."""
    from escalation_sim.errors import SchedulerError
    from escalation_sim.pipeline import run as run_module

    exp, single = reference
    assert not (single / LOCK_NAME).exists()
    res = _run("run", exp, "--out", single)
    assert res.exit_code == 2 and "complete run" in res.output
    assert not (single / LOCK_NAME).exists()

    def no_scheduler(settings):
        raise SchedulerError("cannot reach the Dask scheduler at tcp://nowhere:1")

    monkeypatch.setattr(run_module, "make_executor", no_scheduler)
    new = tmp_path / "a" / "b" / "c"
    res = _run("run", exp, "--out", new)
    assert res.exit_code == 2 and "cannot reach the Dask scheduler" in res.output
    assert not (tmp_path / "a").exists()


@pytest.mark.slow
def test_two_real_runs_into_one_directory(tmp_path, reference):
    """The issue's case: two processes, the same command, the same --out, at once. The second is refused at once with
    the first's PID; the first finishes alone; its tables are those of a single run."""
    exp, single = reference
    big = scale_experiment(tmp_path, seed=5, reps=120_000)
    out = tmp_path / "both"
    cmd = [sys.executable, "-m", "escalation_sim", "run", str(big), "--out", str(out), "--threads", "1", "--no-progress"]
    first = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "manifest.json").exists():
        time.sleep(0.05)
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert second.returncode == 2 and f"pid {first.pid}" in second.stderr and "Traceback" not in second.stderr
    assert first.wait(timeout=600) == 0
    ref = tmp_path / "ref"
    assert _run("run", big, "--out", ref).exit_code == 0
    assert tables(out) == tables(ref)

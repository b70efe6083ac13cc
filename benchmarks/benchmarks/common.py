"""Helpers shared by the benchmark modules (no benchmarks here).

* :func:`suite`: the configuration in force (``benchmarks/configurations.py``,
  chosen by ``ESIM_BENCH_SUITE``).
* :func:`scenario_vectors`: a shipped scenario as the commit under test ships it.
* :class:`Timer` and :func:`summary`: wall time and CPU share of a timed run, and
  the median that leaves out runs another process disturbed.
* :func:`run_child`: a fresh Python process (compile, start-up, memory).
* :func:`skip`: asv's way to skip a benchmark (``NotImplementedError`` in ``setup``).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# benchmarks/configurations.py is the single list of configurations; asv imports
# this package by name only, so its parent directory is put on the path here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import configurations as cfg  # noqa: E402
from configurations import REPO, SCENARIOS, SEED, SPEED_SCENARIO, current_suite  # noqa: E402

__all__ = ["NOISY_SHARE", "REPO", "SCENARIOS", "SEED", "SPEED_SCENARIO", "Timer", "cfg", "run_child", "scenario_path",
           "scenario_vectors", "skip", "suite", "summary"]

NOISY_SHARE = 0.9
"""A timed run whose CPU share is below this had its cores taken by another process in part."""


def suite():
    return current_suite()


def skip(why: str):
    """Raise what asv takes as "skip this benchmark" (when raised in ``setup``)."""
    raise NotImplementedError(why)


def scenario_path(name: str) -> Path:
    """The scenario file as the commit under test ships it.

    asv sets ``ASV_COMMIT`` when it benchmarks a built commit: the file is then
    read from that commit (the model and its scenario files change together).
    Otherwise (an ``existing`` environment, or a script) the working tree's file.
    """
    path = SCENARIOS[name]
    commit = os.environ.get("ASV_COMMIT")
    if not commit:
        return path
    rel = path.relative_to(REPO).as_posix()
    proc = subprocess.run(["git", "show", f"{commit}:{rel}"], cwd=REPO, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return path
    out = Path(tempfile.mkdtemp(prefix="esim-bench-")) / path.name
    out.write_text(proc.stdout)
    return out


def scenario_vectors(name: str):
    """``(p_mixes, mix_cum)`` of a shipped scenario; skips when this commit cannot load it."""
    from escalation_sim.model.validation import load_scenario

    try:
        return load_scenario(scenario_path(name)).vectors()
    except Exception as exc:  # an older commit that does not know a field of the file
        skip(f"scenario {name} does not load at this commit: {exc}")


class Timer:
    """Wall seconds and the process's CPU share (all threads) of a block of code.

    ``cpu_share = cpu / wall / threads`` is about 1 when the timed code had its
    cores to itself; well below 1 means another process took them.
    """

    def __init__(self, threads: int = 1):
        self.threads = threads

    def __enter__(self):
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0
        self.cpu_share = self.cpu / self.wall / self.threads if self.wall > 0 else math.nan


def summary(values: list[float], shares: list[float] | None = None) -> dict:
    """Median, min, max of k measurements; with CPU shares, also the median over the undisturbed runs."""
    out = {"median": statistics.median(values), "min": min(values), "max": max(values), "values": list(values)}
    if shares is not None:
        clean = [v for v, s in zip(values, shares, strict=True) if s >= NOISY_SHARE]
        out.update(cpu_share=list(shares), k_clean=len(clean),
                   median_clean=statistics.median(clean) if clean else math.nan)
    return out


def run_child(code: str, args: list[str], env: dict | None = None) -> dict:
    """Run ``python -c code args`` in a fresh process, reaped with ``os.wait4``.

    Returns the child's last stdout line (JSON) plus ``wall_s``, its CPU seconds
    ``cpu_s`` (user + sys, all threads), its own peak RSS ``child_maxrss_kib`` and
    its CPU share (``cpu_s / wall_s``).
    """
    t = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO, env=env or dict(os.environ),
                                stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        out.seek(0)
        err.seek(0)
        text, errors = out.read(), err.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"benchmark subprocess failed:\n{errors}")
    res = json.loads(text.strip().splitlines()[-1])
    cpu = usage.ru_utime + usage.ru_stime
    res.update(wall_s=wall, cpu_s=cpu, child_maxrss_kib=int(usage.ru_maxrss),
               child_cpu_share=cpu / wall if wall > 0 else math.nan)
    return res

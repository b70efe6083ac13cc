"""The compiled-kernel cache: one per version of the sources wherever they are installed, and a notice before a compile."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from escalation_sim import _cache

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import escalation_sim
from escalation_sim.engines import _kernel
from escalation_sim.engines import montecarlo as mc
mc.warm_up()
s = _kernel.run_blocks_serial.stats
print(escalation_sim.__file__)
print(s.cache_path)
print(sum(s.cache_hits.values()), sum(s.cache_misses.values()))
"""


def test_a_second_installation_of_the_same_sources_loads_the_same_cache(tmp_path):
    """The repository run as ``python -m escalation_sim`` and a copy in site-packages (here: another directory) find
    one cache: the second loads the kernels the first compiled, it does not compile them again."""
    from escalation_sim.engines import montecarlo as mc

    mc.warm_up()  # this copy's kernels are in the cache
    copy = tmp_path / "site-packages"
    shutil.copytree(REPO / "escalation_sim", copy / "escalation_sim",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(copy)}
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    where, cache_path, counts = proc.stdout.strip().splitlines()
    assert where.startswith(str(copy))  # the copy was imported, not the repository
    assert Path(cache_path) == _cache.cache_dir() / "engines"
    hits, misses = map(int, counts.split())
    assert hits >= 1 and misses == 0, "the copy compiled its kernels again"


def test_the_locator_leaves_other_numba_code_alone(tmp_path):
    assert _cache._subdir(str(REPO / "escalation_sim" / "engines" / "_kernel.py")) == "engines"
    assert _cache._subdir(str(tmp_path / "elsewhere.py")) is None


def test_a_compile_is_announced_until_it_has_happened(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    for path, seconds in _cache.COMPILE_SECONDS.items():
        notice = _cache.compile_notice(path)
        assert notice and f"(first run only, ~{seconds} s;" in notice and str(tmp_path) in notice
        _cache.mark_warm(path)
        assert _cache.compile_notice(path) is None
    assert _cache.cache_dir().parent == tmp_path


def test_the_default_run_over_the_posterior_announces_its_compile(tmp_path, monkeypatch):
    """The README's first command (``run experiments/default.toml``, a run over the posterior) says it compiles
    before it does, and records the compile only once it has happened. The run itself is replaced by a stub that
    fails, so no kernel is compiled here: the notice must come first, and a failed run must not mark the cache
    warm."""
    from click.testing import CliRunner

    from escalation_sim.analysis import calibration
    from escalation_sim.cli import main
    from escalation_sim.errors import UserError

    def stub(*args, **kwargs):
        raise UserError("stub: the run would start here")

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(calibration, "posterior_command", stub)
    res = CliRunner().invoke(main, ["run", str(REPO / "experiments" / "default.toml"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2, res.output
    notice = res.stderr.index("compiling the Monte Carlo kernels (first run only")
    assert notice < res.stderr.index("stub: the run would start here")
    assert _cache.compile_notice("crisis") is not None  # not marked warm: nothing was compiled


@pytest.mark.slow
@pytest.mark.release  # a cold compile: a minute or more on 2 cores
def test_the_first_run_says_it_compiles_and_the_second_does_not(tmp_path):
    """A cold cache (a fresh NUMBA_CACHE_DIR): the notice comes before the compile, then never again."""
    exp = tmp_path / "e.toml"
    exp.write_text(f'[experiment]\nscenario = "{REPO / "experiments" / "direct-deterrence.toml"}"\n'
                   'replications = 200\nblock_size = 100\n[grid]\n"channel.misperception" = [0.1]\n')
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "escalation_sim", "run", str(exp), "--no-progress"]
    first = subprocess.run([*cmd, "--out", str(tmp_path / "a")], env=env, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr
    assert "compiling the Monte Carlo kernels (first run only, ~" in first.stderr
    second = subprocess.run([*cmd, "--out", str(tmp_path / "b")], env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0 and "compiling" not in second.stderr

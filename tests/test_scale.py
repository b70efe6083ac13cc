"""Shards, merge and resume: the same numbers at any scale (Dask: tests/test_dask.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import DIRECT_TOML, scale_experiment, tables
from conftest import cli as _run

from escalation_sim.engines import montecarlo as mc
from escalation_sim.io.manifest import Manifest

#: the quick loop (-m 'not slow') leaves these out: shards, merge and resume write and verify many files (seconds each); CI runs them
pytestmark = pytest.mark.slow


def edit_manifest(path, **changes):
    """Change fields of a manifest as another run (or version) would have written them: re-signed, so only the
    identity checks can object (an edit that is not re-signed is a damaged manifest: tests/test_checkpoints.py)."""
    m = Manifest.load(path)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(m.get(key), dict):
            m[key] = {**m[key], **value}
        else:
            m[key] = value
    m.write()


@pytest.mark.parametrize("n_shards", [2, 3])
def test_merged_shards_are_bit_identical_to_a_single_run(tmp_path, reference, n_shards):
    exp, single = reference
    out = tmp_path / f"sharded{n_shards}"
    for i in range(n_shards):
        res = _run("run", exp, "--out", out, "--shard", f"{i}/{n_shards}")
        assert res.exit_code == 0, res.output
        assert (out / f"shard-{i}-of-{n_shards}.parquet").is_file()
        assert not (out / "cells.csv").exists()
    res = _run("merge", out)
    assert res.exit_code == 0, res.output
    assert tables(out) == tables(single)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["shards"] == n_shards and manifest["exit_status"] == "complete"


def test_shard_slurm_reads_the_array_environment(tmp_path, reference, monkeypatch):
    exp, single = reference
    out = tmp_path / "slurm"
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "2")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "1")
    for task in (1, 2):  # an array declared as --array=1-2
        monkeypatch.setenv("SLURM_ARRAY_TASK_ID", str(task))
        assert _run("run", exp, "--out", out, "--shard", "slurm").exit_code == 0
    assert {p.name for p in out.glob("shard-*.json")} == {"shard-0-of-2.json", "shard-1-of-2.json"}
    assert _run("merge", out).exit_code == 0
    assert tables(out) == tables(single)


def test_merge_names_the_missing_shard(tmp_path, reference):
    exp, _ = reference
    out = tmp_path / "partial"
    for i in (0, 2):
        assert _run("run", exp, "--out", out, "--shard", f"{i}/3").exit_code == 0
    res = _run("merge", out)
    assert res.exit_code == 2 and "missing shards 1 of 3" in res.output
    assert not (out / "cells.csv").exists()


def test_merge_refuses_shards_of_different_configs(tmp_path):
    out = tmp_path / "mixed"
    assert _run("run", scale_experiment(tmp_path, seed=1), "--out", out, "--shard", "0/2").exit_code == 0
    assert _run("run", scale_experiment(tmp_path, seed=2), "--out", out, "--shard", "1/2").exit_code == 0
    res = _run("merge", out)
    assert res.exit_code == 2 and "shard-1-of-2: seed is 2 but shard-0-of-2 has 1" in res.output
    assert not (out / "manifest.json").exists()


def test_merge_refuses_a_different_version(tmp_path, reference):
    exp, _ = reference
    out = tmp_path / "versions"
    for i in range(2):
        assert _run("run", exp, "--out", out, "--shard", f"{i}/2").exit_code == 0
    edit_manifest(out / "shard-1-of-2.json", versions={"numba": "0.0.1"})
    res = _run("merge", out)
    assert res.exit_code == 2 and "numba version 0.0.1 differs" in res.output


def test_merge_names_extra_shards(tmp_path, reference):
    exp, _ = reference
    out = tmp_path / "extra"
    for i in range(2):
        assert _run("run", exp, "--out", out, "--shard", f"{i}/2").exit_code == 0
    assert _run("run", exp, "--out", out, "--shard", "0/3").exit_code == 0
    res = _run("merge", out)
    assert res.exit_code == 2 and "extra shards" in res.output and "shard-0-of-3" in res.output


def test_merge_twice_needs_force(tmp_path, reference):
    exp, _ = reference
    out = tmp_path / "twice"
    for i in range(2):
        assert _run("run", exp, "--out", out, "--shard", f"{i}/2").exit_code == 0
    assert _run("merge", out).exit_code == 0
    before = tables(out)
    res = _run("merge", out)
    assert res.exit_code == 2 and "--force" in res.output
    assert tables(out) == before


@pytest.mark.parametrize("bad, needle", [("3/2", "--shard 3/2"), ("1/0", "--shard 1/0"), ("x", "--shard x")])
def test_bad_shard_spec(tmp_path, bad, needle):
    res = _run("run", scale_experiment(tmp_path), "--out", tmp_path / "o", "--shard", bad)
    assert res.exit_code == 2 and needle in res.output
    assert not (tmp_path / "o").exists()


def test_completed_shard_is_not_rerun_silently(tmp_path, reference):
    exp, _ = reference
    out = tmp_path / "done"
    assert _run("run", exp, "--out", out, "--shard", "0/2").exit_code == 0
    res = _run("run", exp, "--out", out, "--shard", "0/2")
    assert res.exit_code == 2 and "complete shard" in res.output


def test_resume_refuses_a_different_run(tmp_path, reference):
    exp, _ = reference
    out = tmp_path / "other"
    m = {"exit_status": "running", "config_hash": "abc", "seed": 5}
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps(m))
    res = _run("run", exp, "--out", out)
    assert res.exit_code == 2 and "holds an unfinished run with a different replications_requested" in res.output


def test_resume_refuses_a_different_block_size_by_name(tmp_path):
    exp = scale_experiment(tmp_path)
    out = tmp_path / "bs"
    assert _run("run", exp, "--out", out).exit_code == 0
    edit_manifest(out / "manifest.json", exit_status="running")
    res = _run("run", exp, "--out", out, "--block-size", "100")
    assert res.exit_code == 2 and "different block_size (250, this command: 100)" in res.output


def test_resume_refuses_another_library_version(tmp_path):
    exp = scale_experiment(tmp_path)
    out = tmp_path / "ver"
    assert _run("run", exp, "--out", out).exit_code == 0
    edit_manifest(out / "manifest.json", exit_status="interrupted", versions={"numba": "0.0.1"})
    res = _run("run", exp, "--out", out)
    assert res.exit_code == 2 and "started with numba 0.0.1" in res.output


def test_shards_do_not_write_into_a_single_run(tmp_path, reference):
    exp, single = reference
    before = tables(single)
    res = _run("run", exp, "--out", single, "--shard", "0/2")
    assert res.exit_code == 2 and "single (unsharded) run" in res.output
    assert tables(single) == before and not list(single.glob("shard-*"))


def test_an_interrupted_run_resumes_to_identical_results(tmp_path, reference, monkeypatch):
    """Ctrl-C after three checkpoints: exit 130, the manifest says so, no tables. The same command resumes from the
    checkpoints (read, not rewritten, not recomputed) and writes the tables of an uninterrupted run."""
    from escalation_sim.scale import rundir

    exp, single = reference
    out = tmp_path / "interrupted"
    saved = []
    save_chunk = rundir.RunDir.save_chunk

    def save_then_stop(self, cell, res, n_total):
        saved.append(save_chunk(self, cell, res, n_total))
        if len(saved) == 3:
            raise KeyboardInterrupt
        return saved[-1]

    monkeypatch.setattr(rundir.RunDir, "save_chunk", save_then_stop)
    res = _run("run", exp, "--out", out, "--threads", "1")
    assert res.exit_code == 130 and "interrupted; finished blocks are kept" in res.output
    assert json.loads((out / "manifest.json").read_text())["exit_status"] == "interrupted"
    assert not (out / "cells.csv").exists()
    monkeypatch.undo()
    mtimes = {p: p.stat().st_mtime_ns for p in saved}
    res = _run("run", exp, "--out", out, "--threads", "1")
    assert res.exit_code == 0, res.output
    assert "resuming: 3,000 replications (all cells) already done" in res.output  # 3 chunks of 4 blocks of 250
    assert tables(out) == tables(single)
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items())
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["exit_status"] == "complete" and len(manifest["resumed"]) == 1


@pytest.mark.slow
def test_a_killed_run_resumes_to_identical_results(tmp_path):
    """SIGKILL a real subprocess mid-run; the same command finishes it; nothing finished is recomputed."""
    exp = scale_experiment(tmp_path, reps=120_000)
    ref = tmp_path / "ref"
    assert _run("run", exp, "--out", ref).exit_code == 0
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "escalation_sim", "run", str(exp), "--out", str(out), "--no-progress", "--threads", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    blocks = out / "blocks"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(blocks.glob("*.parquet"))) < 3:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = sorted(p.name for p in blocks.glob("*.parquet"))
    assert 3 <= len(done), "the run finished or never started before the kill"
    assert json.loads((out / "manifest.json").read_text())["exit_status"] == "running"
    assert not (out / "cells.csv").exists()
    mtimes = {p.name: p.stat().st_mtime_ns for p in blocks.glob("*.parquet")}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "resuming" in res.stderr
    assert tables(out) == tables(ref)
    # checkpoints written before the kill were read, not rewritten
    assert all((blocks / name).stat().st_mtime_ns == t for name, t in mtimes.items())
    assert len(json.loads((out / "manifest.json").read_text())["resumed"]) == 1


def test_a_block_counted_twice_is_an_error_naming_its_cell():
    """Two checkpoint rows for the same block of a cell must never be added up silently."""
    import pandas as pd

    from escalation_sim.model.validation import load_scenario
    from escalation_sim.scale import blocks as io_blocks

    s = load_scenario(DIRECT_TOML)
    p_mixes, mix_cum = s.vectors()
    res = mc.run_blocks(p_mixes, mix_cum, 1, np.array([0, 1]), 8, 16, parallel=False)
    one = io_blocks.to_frame(1, res)
    assert [t.n for t in io_blocks.totals_from_frame(one, 2)] == [0, 16]
    with pytest.raises(ValueError, match=r"cell 1: block 0 counted twice"):
        io_blocks.totals_from_frame(pd.concat([one, one.iloc[:1]]), 2)


def test_a_shard_with_nothing_to_do_writes_an_empty_verified_file(tmp_path):
    """More shards than blocks per cell: shard 2 of 3 has no block (2 blocks per cell); the merge is a single run."""
    exp = scale_experiment(tmp_path, reps=500)
    single = tmp_path / "single"
    assert _run("run", exp, "--out", single).exit_code == 0
    out = tmp_path / "three"
    for i in range(3):
        res = _run("run", exp, "--out", out, "--shard", f"{i}/3")
        assert res.exit_code == 0, res.output
    assert _run("merge", out).exit_code == 0
    assert tables(out) == tables(single)

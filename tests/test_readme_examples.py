"""The README's examples ("What you can do") do what their comments say.

Every ``escalation-sim`` line of that block is run from a copy of ``experiments/`` (results land in a temporary
``results/``): in the test suite (marked slow: about 30 s) with fewer replications (``-n``), in one process; and
as written, each in a process of its own, before a release (``python -m pytest -m release``: about 6 min). Runs over an
experiment's calibrated posterior take 4 draws in the quick loop. Placeholders are filled as a reader would:
``<run-id>`` with the run the block made before,
``--shard slurm`` as the two tasks of a job array, ``tcp://HOST:8786`` with a local Dask scheduler.
``calibrate`` runs one generation of 8 particles in the quick loop; at its full size (minutes) it is left to
tests/test_calibration_model.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from escalation_sim.cli import main
from escalation_sim.model.strategies import STRATEGIES

REPO = Path(__file__).resolve().parents[1]
#: replications (and other sizes) of the quick loop, per command
QUICK = {"run": ["-n", "2000"], "tournament": ["-n", "500"], "sweep": ["-n", "1000"],
         "sensitivity": ["-n", "200", "--samples", "8"], "ally-decay": ["-n", "10"],
         "robustness": ["-n", "256", "--points", "8", "--draws", "4"],
         "calibrate": ["--population", "8", "-n", "200", "--generations", "1"]}
#: posterior draws of the quick loop, for a run over an experiment's [posterior]
QUICK_DRAWS = ["--draws", "4"]


def over_posterior(args: list[str], cwd: Path) -> bool:
    """Whether this ``run``/``tournament`` line runs over a posterior (its experiment has a [posterior] table)."""
    import tomllib

    if args[0] not in ("run", "tournament") or "--illustrative" in args or "--posterior" in args:
        return "--posterior" in args
    return "posterior" in tomllib.loads((cwd / args[1]).read_text())


def examples() -> list[str]:
    """The command lines of the README's "What you can do" block, comments removed."""
    text = (REPO / "README.md").read_text()
    block = text.split("## What you can do", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [ln.split("#", 1)[0].strip() for ln in block.splitlines() if ln.startswith("escalation-sim ")]


def test_the_readme_block_is_found():
    cmds = examples()
    assert len(cmds) >= 15
    assert {c.split()[1] for c in cmds} >= {"simulate", "strategies", "run", "tournament", "ally-decay",
                                            "sensitivity", "sweep", "merge", "robustness", "calibrate"}


def workdir(tmp_path: Path) -> Path:
    d = tmp_path / "repo"
    shutil.copytree(REPO / "experiments", d / "experiments")
    return d


def check(args: list[str], stdout: str, stderr: str, cwd: Path) -> None:
    """What each example's comment promises."""
    cmd = args[0]
    assert "Traceback" not in stderr and "error:" not in stderr, stderr
    if cmd == "simulate" and "--from" not in args:
        if "--json" in args:
            rec = json.loads(stdout)
            assert rec["outcome"] != "no_challenge", "the README's crisis never starts: pick another seed"
        else:
            assert "Outcome:" in stdout
            assert "no challenge" not in stdout.split("Outcome:", 1)[1].splitlines()[0].replace("_", " ")
    elif cmd == "simulate":
        assert (cwd / "crisis.png").read_bytes().startswith(b"\x89PNG")
    elif cmd == "strategies":
        assert all(s.name in stdout for s in STRATEGIES)
    elif cmd in ("run", "tournament", "sweep", "merge") and "--shard" not in args and "ipd" not in " ".join(args):
        rows = [ln for ln in stdout.splitlines() if re.match(r"^\s*\d+\s+\d\.\d{4} \[", ln)]
        labels = [ln.split("  ")[-1].strip() for ln in rows]
        assert rows and len(set(labels)) == len(labels), "two rows of the table look the same"
        assert all("..." not in lab for lab in labels), "a label was cut"
        if "Ranking over the posterior" in stdout:  # a run over a posterior: the ranking's robustness
            assert re.search(r"^\s+1\. \S+.*P\(least war\) [01]\.\d\d", stdout, re.M)
        elif cmd == "tournament":
            ranking = stdout.split("Tournament ranking")[1]
            assert re.search(r"^\s+1 ", ranking, re.M)
            if re.search(r"^\s+\d+\s+\d+-\d+ ", ranking, re.M):  # a rank range: some ranks are not distinguishable
                assert "Every rank is distinguishable" not in ranking
        if "selection-bias" in " ".join(args):
            assert "Selection bias against the baseline" in stdout
        if cmd == "sweep":
            out = cwd / "results" / "public-vs-private-sweep-channel.misperception"
            cells = pd.read_csv(next(out.rglob("cells.csv")))
            lines = {lab.rsplit(" | ", 1)[0] for lab in cells["label"]}
            assert len(lines) <= 8, f"{len(lines)} lines in one plot"
            assert next(out.rglob("sweep_channel_misperception.png")).is_file()
    elif cmd == "calibrate":
        assert next(cwd.glob("results/calibration-*/*/posterior.csv")).is_file()
    elif cmd == "robustness":
        assert re.search(r"box holds \d+% \[", stdout) and "posterior holds" in stdout, stdout
    elif cmd == "sensitivity":
        header = stdout.splitlines()[0]
        assert "S1 +- 95% half-width" in header and "+-" in stdout.splitlines()[1]


def fill(line: str, cwd: Path) -> list[list[str]] | None:
    """The argument lists for one README line (several for a job array), or None to leave it to other tests."""
    args = shlex.split(line)[1:]
    if "<run-id>" in line:
        made = sorted(p.parent.name for p in (cwd / "results" / "default").glob("*/cells.csv"))
        assert made, "the README replays a run it has not made"
        args = [a.replace("<run-id>", made[0]) for a in args]
    if "tcp://HOST:8786" in line:
        return None
    return [args]


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    """Every example, in order, in one process, with the sizes of :data:`QUICK`."""
    cwd = workdir(tmp_path_factory.mktemp("readme"))
    old = os.getcwd()
    os.chdir(cwd)
    done = []
    try:
        for line in examples():
            filled = fill(line, cwd)
            if filled is None:
                continue
            for args in filled:
                extra = list(QUICK.get(args[0], []))
                if over_posterior(args, cwd):
                    extra += QUICK_DRAWS
                if "--target-halfwidth" in args:
                    extra += ["--max-replications", "8192"]
                if "--shard" in args:
                    for task in ("0", "1"):
                        env = {"SLURM_ARRAY_TASK_ID": task, "SLURM_ARRAY_TASK_COUNT": "2"}
                        res = CliRunner(env=env).invoke(main, [*args, *extra])
                        done.append((args, res))
                    continue
                res = CliRunner().invoke(main, [*args, *extra])
                done.append((args, res))
    finally:
        os.chdir(old)
    return cwd, done


@pytest.mark.slow
def test_every_readme_example_runs(quick_runs):
    cwd, done = quick_runs
    assert len(done) >= 15
    for args, res in done:
        assert res.exit_code == 0, (args, res.output)
        check(args, res.stdout, res.stderr, cwd)


@pytest.mark.slow
@pytest.mark.release
def test_every_readme_example_as_written(tmp_path):
    """As a reader runs them: each line in its own process, at the sizes written (calibrate aside)."""
    distributed = pytest.importorskip("distributed")
    cwd = workdir(tmp_path)
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        for line in examples():
            filled = fill(line.replace("tcp://HOST:8786", cluster.scheduler_address), cwd)
            if filled is None or filled[0][0] == "calibrate":  # minutes: tests/test_calibration_model.py
                continue
            for args in filled:
                tasks = [("0", "2"), ("1", "2")] if "--shard" in args else [(None, None)]
                for task, count in tasks:
                    env = dict(os.environ)
                    if task is not None:
                        env.update(SLURM_ARRAY_TASK_ID=task, SLURM_ARRAY_TASK_COUNT=count)
                    proc = subprocess.run([sys.executable, "-m", "escalation_sim", *args], cwd=cwd, env=env,
                                          capture_output=True, text=True, timeout=900)
                    assert proc.returncode == 0, (args, proc.stderr)
                    check(args, proc.stdout, proc.stderr, cwd)
    finally:
        cluster.close()

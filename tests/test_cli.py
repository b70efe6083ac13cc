"""The command-line interface, through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from escalation_sim import __version__
from escalation_sim.cli import main
from escalation_sim.model.strategies import STRATEGIES

ROOT = Path(__file__).resolve().parents[1]
DIRECT = str(ROOT / "experiments" / "direct-deterrence.toml")
EXTENDED = str(ROOT / "experiments" / "extended-deterrence.toml")


def manifest_checksums_match(out: Path) -> bool:
    """The tables' SHA-256 recorded in the manifest are those of the files."""
    import hashlib

    m = json.loads((out / "manifest.json").read_text())
    return all(v == "sha256:" + hashlib.sha256((out / k).read_bytes()).hexdigest() for k, v in m["checksums"].items())


@pytest.fixture
def runner():
    return CliRunner()


def _experiment(tmp_path: Path, body: str = "") -> Path:
    p = tmp_path / "exp.toml"
    p.write_text(
        f'[experiment]\nname = "t"\nscenario = "{EXTENDED}"\nreplications = 3000\nseed = 5\nblock_size = 500\n'
        + (body or '[grid]\n"defender.strategy" = [["immediate_deterrence"], ["grit", "aid"]]\n')
    )
    return p


def test_version(runner):
    res = runner.invoke(main, ["--version"])
    assert res.exit_code == 0 and __version__ in res.output


@pytest.mark.parametrize("cmd", [[], *([c] for c in sorted(main.commands))])
def test_short_help_everywhere(runner, cmd):
    res = runner.invoke(main, [*cmd, "-h"])
    assert res.exit_code == 0 and "Usage" in res.output


def test_simulate_prints_timeline_and_outcome(runner):
    res = runner.invoke(main, ["simulate", EXTENDED, "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert "Outcome:" in res.output and "challenger.leader" in res.output


def test_simulate_json_is_the_engine_result(runner):
    from escalation_sim import load_scenario, simulate

    res = runner.invoke(main, ["simulate", DIRECT, "--seed", "4", "--json"])
    assert res.exit_code == 0
    data = json.loads(res.output)
    ref = simulate(load_scenario(DIRECT), seed=4)
    assert data["outcome"] == ref.outcome and data["end_time"] == ref.end_time
    assert len(data["trace"]) == len(ref.trace)


def test_simulate_defender_strategy_override(runner):
    res = runner.invoke(main, ["simulate", DIRECT, "-d", "grit", "-d", "self_restraint", "--json"])
    assert res.exit_code == 0
    assert json.loads(res.output)["defender_mix"] == "grit+self_restraint"


def test_strategies_lists_every_strategy(runner):
    res = runner.invoke(main, ["strategies"])
    assert res.exit_code == 0
    for s in STRATEGIES:
        assert s.name in res.output
    assert "lebow_stein_1990:" in res.output


@pytest.mark.parametrize(
    "args, needle",
    [
        (["simulate", "missing.toml"], "missing.toml: no such file"),
        (["simulate", DIRECT, "--set", "channel.misperception=1.5"], "channel.misperception"),
        (["simulate", DIRECT, "--set", "channel.delay_min=-1"], "non-negative delay"),
        (["simulate", DIRECT, "--set", "defender.strategy=['appeasement']"], "unknown strategy 'appeasement'"),
    ],
)
def test_bad_input_exit_2_without_traceback(runner, args, needle):
    res = runner.invoke(main, args)
    assert res.exit_code == 2
    assert needle in res.output
    assert "Traceback" not in res.output


def test_run_writes_tables_and_manifest(runner, tmp_path):
    exp = _experiment(tmp_path)
    out = tmp_path / "out"
    res = runner.invoke(main, ["run", str(exp), "--out", str(out), "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert "P(war)" in res.stdout and "Wilson" in res.stdout
    cells = pd.read_parquet(out / "cells.parquet")
    assert list(cells["n"]) == [3000, 3000]
    assert (cells["war_ci_low"] <= cells["p_war"]).all() and (cells["p_war"] <= cells["war_ci_high"]).all()
    outcomes = pd.read_csv(out / "outcomes.csv")
    assert set(outcomes["ci_method"]) == {"wilson"}
    # the outcomes of a cell partition its replications
    from escalation_sim.model.constants import OUTCOME_NAMES

    part = outcomes[(outcomes.motive == "all") & outcomes.measure.isin(OUTCOME_NAMES)]
    assert (part.groupby("cell")["count"].sum() == 3000).all()
    assert manifest_checksums_match(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["exit_status"] == "complete" and manifest["seed"] == 5 and manifest["block_size"] == 500
    for key in ("python", "numpy", "numba", "simpy", "pandas"):
        assert key in manifest["versions"]
    assert {"commit", "dirty"} <= set(manifest["git"]) and manifest["config_hash"]


def test_run_same_seed_same_table_any_threads(runner, tmp_path):
    exp = _experiment(tmp_path)
    for t in ("1", "2"):
        res = runner.invoke(main, ["run", str(exp), "--out", str(tmp_path / t), "--threads", t, "--json"])
        assert res.exit_code == 0, res.output
    assert (tmp_path / "1" / "cells.csv").read_bytes() == (tmp_path / "2" / "cells.csv").read_bytes()


def test_run_refuses_to_overwrite(runner, tmp_path):
    exp = _experiment(tmp_path)
    out = tmp_path / "out"
    assert runner.invoke(main, ["run", str(exp), "--out", str(out)]).exit_code == 0
    before = (out / "cells.csv").read_bytes()
    res = runner.invoke(main, ["run", str(exp), "--out", str(out), "--seed", "9"])
    assert res.exit_code == 2 and "--force" in res.output
    assert (out / "cells.csv").read_bytes() == before


def test_run_json_is_parseable(runner, tmp_path):
    res = runner.invoke(main, ["run", str(_experiment(tmp_path)), "--out", str(tmp_path / "o"), "--json", "--no-progress"])
    assert res.exit_code == 0
    rows = json.loads(res.stdout)
    assert len(rows) == 2 and {"p_war", "war_ci_low", "war_ci_high"} <= set(rows[0])


def test_sequential_stop_reaches_target(runner, tmp_path):
    out = tmp_path / "seq"
    res = runner.invoke(main, ["run", str(_experiment(tmp_path)), "--out", str(out), "--target-halfwidth", "0.01", "-n", "1000"])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    stop = manifest["stop_rule"]
    assert stop["rule"] == "sequential" and stop["reached"]
    assert stop["checks"][-1]["max_war_halfwidth"] <= 0.01
    ns = [c["replications"] for c in stop["checks"]]
    assert len(ns) >= 3 and ns[0] == 1000  # 1,000 replications are far too few for +-0.01: the schedule runs
    assert all(b == 2 * a for a, b in zip(ns, ns[1:], strict=False))  # geometric schedule
    assert all(c["max_war_halfwidth"] > 0.01 for c in stop["checks"][:-1])  # it stopped at the first check that met it
    cells = pd.read_csv(out / "cells.csv")
    assert ((cells.war_ci_high - cells.war_ci_low) / 2 <= 0.01).all()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--replications", "0"], "--replications 0"),
        (["--seed", "-1"], "-1: allowed: a whole number in [0, 9223372036854775807]"),
        (["--threads", "999"], "--threads 999"),
        (["--target-halfwidth", "0"], "--target-halfwidth"),
    ],
)
def test_run_bad_options(runner, tmp_path, args, needle):
    out = tmp_path / "bad"
    res = runner.invoke(main, ["run", str(_experiment(tmp_path)), "--out", str(out), *args])
    assert res.exit_code == 2 and needle in res.output
    assert not out.exists()


def test_run_empty_grid_is_an_error(runner, tmp_path):
    exp = _experiment(tmp_path, body="[grid]\n")
    res = runner.invoke(main, ["run", str(exp), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "no cells" in res.output
    assert not (tmp_path / "o").exists()


def test_sweep_runs_every_cell_at_every_value_and_draws_the_plot(runner, tmp_path):
    out = tmp_path / "sweep"
    res = runner.invoke(main, ["sweep", str(_experiment(tmp_path)), "--param", "channel.misperception",
                               "--values", "0:0.2:3", "-n", "1000", "--out", str(out)])
    assert res.exit_code == 0, res.output
    cells = pd.read_csv(out / "cells.csv")
    assert len(cells) == 2 * 3
    assert sorted({json.loads(o)["channel.misperception"] for o in cells["overrides"]}) == [0.0, 0.1, 0.2]
    png = (out / "figures" / "sweep_channel_misperception.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert "channel.misperception" in (out / "figures" / "sweep_channel_misperception.svg").read_text()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--param", "channel.nonsense", "--values", "0,1"], "channel.nonsense: unknown or not numeric"),
        (["--param", "challenger.strategy", "--values", "0,1"], "not numeric"),
        (["--param", "channel.misperception", "--values", "0:1.5:3"], "a probability in [0, 1]"),
        (["--param", "channel.misperception", "--values", "a,b"], "allowed: start:stop:count"),
    ],
)
def test_sweep_bad_input(runner, tmp_path, args, needle):
    res = runner.invoke(main, ["sweep", str(_experiment(tmp_path)), *args, "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and needle in res.output
    assert not (tmp_path / "o").exists()


def test_replay_from_results_is_the_same_crisis_as_in_the_run(runner, tmp_path):
    """simulate --from DIR --cell K --replication R replays replication R of cell K: its SimPy final
    state equals the compiled engine's for that cell's scenario and the run's seed."""
    from escalation_sim.engines.montecarlo import final_states
    from escalation_sim.pipeline.experiment import load_experiment

    exp_path = _experiment(tmp_path)
    out = tmp_path / "run"
    assert runner.invoke(main, ["run", str(exp_path), "--out", str(out)]).exit_code == 0
    fig = tmp_path / "crisis.png"
    res = runner.invoke(main, ["simulate", "--from", str(out), "--cell", "1", "--replication", "17", "--json", "--figure", str(fig)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    exp = load_experiment(exp_path)
    state = final_states(exp.cells[1].scenario, exp.seed, [17])[0]
    from escalation_sim.model.constants import OUTCOME_NAMES

    assert data["seed"] == exp.seed and data["outcome"] == OUTCOME_NAMES[int(state[0])]
    assert data["end_time"] == state[1]
    assert fig.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--cell", "0"], "give a SCENARIO file (e.g. experiments/extended-deterrence.toml), or --from RESULTS_DIR"),
        (["--from", "nowhere", "--cell", "0"], "no manifest.json"),
    ],
)
def test_replay_bad_input(runner, args, needle):
    res = runner.invoke(main, ["simulate", *args])
    assert res.exit_code == 2 and needle in res.output

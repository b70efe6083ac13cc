"""Reassurance over time (issue 4, item 4's figure): a one-off reassurance decays, a renewed one holds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from escalation_sim.analysis.ally_decay import hook_replications, observation_scenario
from escalation_sim.cli import main
from escalation_sim.engines.simpy_engine import simulate
from escalation_sim.model.validation import load_scenario

ROOT = Path(__file__).resolve().parents[1]
EXTENDED = str(ROOT / "experiments" / "extended-deterrence.toml")
MIX = ["immediate_deterrence", "public_statement"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ally") / "decay"
    res = CliRunner().invoke(main, ["ally-decay", EXTENDED, "--renewal", "0,30", "-n", "40", "--seed", "3",
                                    "--step", "1", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    return out, pd.DataFrame(json.loads(res.stdout))


def test_observing_more_often_changes_nothing_else():
    """The observation pass (the ally reviewing every day) is the same crisis: outcome, end, every non-ally
    message, and the confidence the scenario's own reviews record, replication by replication."""
    scen = load_scenario(EXTENDED, {"defender.strategy": [*MIX, "exercises"], "defender.renewal_interval": 30.0})
    obs = observation_scenario(scen, 1.0)
    for rep in range(15):
        a, b = simulate(scen, 7, rep), simulate(obs, 7, rep)
        assert (a.outcome, a.end_time, a.need_driven) == (b.outcome, b.end_time, b.need_driven)
        crisis_a = a.trace[~a.trace["actor"].str.startswith("ally")].reset_index(drop=True)
        crisis_b = b.trace[~b.trace["actor"].str.startswith("ally")].reset_index(drop=True)
        pd.testing.assert_frame_equal(crisis_a, crisis_b)
        ra = a.trace[(a.trace["actor"] == "ally.leader") & (a.trace["message"] == "review")]
        rb = b.trace[(b.trace["actor"] == "ally.leader") & (b.trace["message"] == "review")].set_index("time")
        assert len(ra) >= 10
        for t, v in zip(ra["time"], ra["value"], strict=True):
            assert rb.loc[t, "value"] == pytest.approx(v, abs=1e-12)


def test_one_off_reassurance_never_recovers(run):
    """After the last support has arrived nothing raises the ally's confidence without renewal: the mean is
    non-increasing from then on (an exact property of the rules: decay and fear only lower it)."""
    out, paths = run
    scen = load_scenario(EXTENDED, {"defender.strategy": MIX, "defender.renewal_interval": 0.0})
    last_support = max(
        simulate(scen, 3, rep).trace.query("actor == 'ally.leader' and event == 'support'")["time"].max()
        for rep in range(40)
    )
    one_off = paths[paths["renewal"] == 0].sort_values("time")
    assert one_off["mean"].iloc[0] == pytest.approx(scen.value("ally.initial_confidence"))  # day 0
    after = one_off[one_off["time"] >= last_support]
    assert len(after) > 300
    assert (after["mean"].diff().dropna() <= 1e-12).all()
    assert one_off["p_proliferated"].is_monotonic_increasing


def test_renewed_reassurance_holds_above_the_one_off(run):
    """At the horizon the 95% intervals of the two means are apart (40 crises each; observed gap ~0.5 against
    half-widths ~0.02), and the renewed one stays above the hedging threshold on average."""
    out, paths = run
    last = paths[paths["time"] == paths["time"].max()].set_index("renewal")
    assert last.loc[30.0, "ci_low"] > last.loc[0.0, "ci_high"]
    renewed = paths[(paths["renewal"] == 30) & (paths["time"] >= 60)]
    assert (renewed["ci_low"] > 0.4).all()  # the threshold of extended-deterrence.toml
    assert last.loc[30.0, "p_proliferated"] < last.loc[0.0, "p_proliferated"]
    assert (paths["review_check"] < 1e-9).all()


def test_outputs_written(run):
    out, paths = run
    assert (out / "figures" / "ally_confidence.png").stat().st_size > 10_000
    assert (out / "ally_confidence.csv").is_file() and (out / "ally_confidence.parquet").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["exit_status"] == "complete" and manifest["seed"] == 3 and manifest["observation_step"] == 1
    assert "confidence at day" in (out / "report.md").read_text()
    assert set(paths["n"]) == {40}


def test_experiment_hook(tmp_path):
    """analysis = "ally_decay": `run` adds the figure, the table and a report section, one line per renewal."""
    exp = tmp_path / "ally.toml"
    exp.write_text(f'[experiment]\nname = "ally"\nscenario = "{EXTENDED}"\nseed = 5\nblock_size = 30\n'
                   'analysis = "ally_decay"\n\n[grid]\n"defender.renewal_interval" = [0.0, 30.0]\n'
                   '"defender.strategy" = [["immediate_deterrence", "aid"]]\n')
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(exp), "-n", "30", "--out", str(out), "--no-progress", "--threads", "1"])
    assert res.exit_code == 0, res.output
    paths = pd.read_csv(out / "ally_confidence.csv")
    assert set(paths["cell"]) == {0, 1} and set(paths["n"]) == {20} and paths["panel"].nunique() == 1
    last = paths[paths["time"] == paths["time"].max()].set_index("renewal")
    assert last.loc[30.0, "ci_low"] > last.loc[0.0, "ci_high"]
    report = (out / "report.md").read_text()
    assert "## Reassurance over time" in report and "renewed every 30 days" in report
    assert (out / "figures" / "ally_confidence.png").stat().st_size > 10_000
    assert "figures/ally_confidence.png" in json.loads((out / "manifest.json").read_text())["files"]


def test_hook_replications():
    assert [hook_replications(n) for n in (5, 30, 600, 5_000, 20_000, 100_000)] == [5, 20, 20, 50, 200, 200]


def test_experiment_hook_needs_an_ally(tmp_path):
    exp = tmp_path / "noally.toml"
    exp.write_text(f'[experiment]\nname = "x"\nscenario = "{ROOT / "experiments" / "direct-deterrence.toml"}"\n'
                   'analysis = "ally_decay"\n\n[grid]\n"defender.renewal_interval" = [0.0, 30.0]\n')
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(exp), "-n", "10", "--out", str(out)])
    assert res.exit_code == 2 and "experiment.analysis" in res.output and "ally.present" in res.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--renewal", "0,-30"], "--renewal"),
        (["--renewal", "x"], "--renewal"),
        (["--renewal", ""], "--renewal"),
        (["--step", "0"], "--step"),
        (["-d", "tripwire", "--set-nothing"], "No such option"),
        (["-d", "grit", "-d", "tit_for_tat"], "defender.strategy"),
    ],
)
def test_bad_input(tmp_path, args, message):
    out = tmp_path / "o"
    res = CliRunner().invoke(main, ["ally-decay", EXTENDED, "-n", "5", "--out", str(out), *args])
    assert res.exit_code == 2 and message in res.output, res.output
    assert "Traceback" not in res.output
    assert not out.exists()


def test_scenario_without_ally_and_existing_results(tmp_path, run):
    res = CliRunner().invoke(main, ["ally-decay", str(ROOT / "experiments" / "direct-deterrence.toml"), "-n", "5",
                                    "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "ally.present" in res.output
    out, _ = run
    res = CliRunner().invoke(main, ["ally-decay", EXTENDED, "-n", "5", "--out", str(out)])
    assert res.exit_code == 2 and "--force" in res.output
    assert np.isfinite(pd.read_csv(out / "ally_confidence.csv")["mean"]).all()  # untouched

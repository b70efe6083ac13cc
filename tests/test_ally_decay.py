"""Reassurance over time (``analysis/ally_decay.py``, ``escalation-sim ally-decay``, ``analysis = "ally_decay"``).

In the new model the ally's confidence is a belief: the filter of the defender's hidden commitment (docs/model.md,
"The ally"). The analysis reads it from the SimPy trace at the ally's messages and predicts it in between; the
tests check that reading against the engine and the closed form, and check the claim the analysis exists for --
"reassurance is a process" -- in the form the model gives it: renewal keeps the ally's belief tied to the
defender's actual commitment, which one-off reassurance cannot do once commitment has had time to change.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from escalation_sim.analysis.ally_decay import (
    BELIEF_EVENTS,
    belief_on_grid,
    confidence_series,
    hook_replications,
    no_news_belief,
    observation_scenario,
)
from escalation_sim.cli import main
from escalation_sim.engines.simpy_engine import simulate
from escalation_sim.model.constants import ALLY, N_STREAMS, S_CONFIDENCE, S_CONFIDENCE_T, STREAM_COMMITMENT, sx
from escalation_sim.model.rng import exponential, init_streams, uniform
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


def test_the_belief_read_from_the_trace_is_the_engines():
    """At every message of the ally's leader that records its belief, the belief on the grid equals the recorded
    value; so does the belief at the end of the run (the state), predicted from the last message."""
    scen = load_scenario(EXTENDED, {"defender.strategy": [*MIX, "exercises"], "defender.renewal_interval": 30.0})
    lapse, recommit = scen.value("ally.lapse_rate"), scen.value("ally.recommit_rate")
    for rep in range(20):
        res = simulate(scen, 7, rep)
        tr = res.trace
        rows = tr[(tr["actor"] == "ally.leader") & tr["event"].isin(BELIEF_EVENTS)]
        got = belief_on_grid(scen, tr, rows["time"].to_numpy(dtype=float))
        np.testing.assert_allclose(got, rows["value"].to_numpy(), rtol=0, atol=1e-12)
        b, t = res.state[sx(ALLY, S_CONFIDENCE)], res.state[sx(ALLY, S_CONFIDENCE_T)]
        h = lapse + recommit
        b_inf = recommit / h
        later = max(t, 364.0)
        end = belief_on_grid(scen, tr, np.array([t, later]))
        assert end == pytest.approx([b, b_inf + (b - b_inf) * math.exp(-h * (later - t))], abs=1e-12)


def test_without_news_the_belief_is_the_closed_form():
    """No instruments and no challenge: every replication's belief is ``b_inf + (p0 - b_inf) exp(-h t)``."""
    scen = load_scenario(EXTENDED, {"defender.strategy": [], "crisis.opportunity_rate": 0.0})
    times, values = confidence_series(scen, 3, 10, step=5.0)
    h = scen.value("ally.lapse_rate") + scen.value("ally.recommit_rate")
    b_inf = no_news_belief(scen)
    expected = b_inf + (scen.value("ally.p_committed") - b_inf) * np.exp(-h * times)
    np.testing.assert_allclose(values, np.broadcast_to(expected, values.shape), rtol=1e-12)
    assert b_inf == pytest.approx((1 / 365) / (1 / 730 + 1 / 365))


def committed_at(seed: int, rep: int, scen, t: float) -> bool:
    """The defender's commitment at day ``t``: the two-state chain drawn here from its own stream (stream 10)."""
    keys = np.zeros(N_STREAMS, dtype=np.uint64)
    ctr = np.zeros(N_STREAMS, dtype=np.uint64)
    init_streams(seed, rep, keys, ctr)
    c = uniform(keys, ctr, STREAM_COMMITMENT) < scen.value("ally.p_committed")
    rates = {True: scen.value("ally.lapse_rate"), False: scen.value("ally.recommit_rate")}
    nxt = exponential(keys, ctr, STREAM_COMMITMENT, 1 / rates[c]) if rates[c] > 0 else math.inf
    while nxt <= t:
        c = not c
        nxt = nxt + exponential(keys, ctr, STREAM_COMMITMENT, 1 / rates[c]) if rates[c] > 0 else math.inf
    return bool(c)


@pytest.mark.parametrize("instrument", ["public_statement", "aid"])
def test_renewal_keeps_the_belief_tied_to_the_defenders_commitment(instrument):
    """Reassurance is a process: at the horizon, the gap between the ally's mean belief when the defender is in
    fact committed and when it is not is far larger with renewals every 30 days than with a one-off instrument.

    Mechanism: each renewal is sent with a probability that depends on the defender's current commitment (the
    instrument's cost weighs more for an uncommitted defender), and the ally updates by Bayes' rule on sending or
    withholding; a one-off instrument only informs about day 0, and that news loses its weight at the switching
    rate. Every interval meets the same commitment paths (their own stream). Tolerance: 99.9% normal interval of
    the difference of the two gaps (z = 3.29; the four group means are over 200 replications, about two thirds
    committed; at 400 replications the gaps are 0.01 one-off and 0.4-0.6 renewed).
    """
    n = 200
    gaps, variances = {}, {}
    for renewal in (0.0, 30.0):
        scen = load_scenario(EXTENDED, {"defender.strategy": ["immediate_deterrence", instrument],
                                        "defender.renewal_interval": renewal})
        times, values = confidence_series(scen, 3, n, step=5.0)
        z = np.array([committed_at(3, r, scen, times[-1]) for r in range(n)])
        b = values[:, -1]
        gaps[renewal] = b[z].mean() - b[~z].mean()
        variances[renewal] = b[z].var(ddof=1) / z.sum() + b[~z].var(ddof=1) / (~z).sum()
    diff = gaps[30.0] - gaps[0.0]
    assert diff - 3.29 * math.sqrt(variances[30.0] + variances[0.0]) > 0.15


def test_observing_more_often_changes_nothing_else():
    """The grid step is only where the belief is read: the crisis is the same whatever it is."""
    scen = load_scenario(EXTENDED)
    assert observation_scenario(scen, 1.0) is scen
    with pytest.raises(ValueError, match="observation step"):
        observation_scenario(scen, 0.0)
    t1, v1 = confidence_series(scen, 2, 5, step=1.0)
    t5, v5 = confidence_series(scen, 2, 5, step=5.0)
    np.testing.assert_allclose(v1[:, ::5], v5, rtol=0, atol=1e-15)


def test_outputs_written(run):
    out, paths = run
    assert set(paths["renewal"]) == {0.0, 30.0} and set(paths["n"]) == {40}
    for f in ("ally_confidence.csv", "figures/ally_confidence.png", "figures/ally_confidence.svg", "report.md",
              "manifest.json"):
        assert (out / f).is_file(), f
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "ally-decay" and manifest["review_check"] < 1e-9
    first = paths[paths["time"] == 0.0]
    assert (first["mean"] == 0.8).all()  # day 0: the ally's prior, ally.p_committed
    assert (paths["ci_low"] <= paths["mean"]).all() and (paths["mean"] <= paths["ci_high"]).all()
    assert "reassurance is a process" in (out / "report.md").read_text()


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
    assert (paths["ci_low"] <= paths["mean"]).all() and (paths["mean"] <= paths["ci_high"]).all()
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
        (["-d", "immediate_deterrence", "-d", "tit_for_tat"], "defender.strategy"),
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

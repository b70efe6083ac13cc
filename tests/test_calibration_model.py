"""The model side of the calibration (escalation_sim/analysis/calibration.py) and run --posterior.

What can fail here: the simulator's shares must be the kernel's counts divided by the right denominators
(crises, or two parties per crisis); every particle of a generation must see the same random numbers; the
calibration must recover parameters from fake targets the model itself generated; its output must not depend on
the number of threads; a bad calibration file must be refused naming the field, with nothing written.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from escalation_sim.analysis.calibration import OUTPUTS, ModelSimulator, load_calibration, posterior_cells
from escalation_sim.calibration.abc import ABCConfig
from escalation_sim.calibration.posterior import combined_share
from escalation_sim.calibration.run import calibrate
from escalation_sim.engines import montecarlo as mc
from escalation_sim.errors import ConfigError
from escalation_sim.model import measures
from escalation_sim.model.constants import NO_CHALLENGE
from escalation_sim.model.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
CAL = ROOT / "experiments" / "calibration-crisis-record.toml"


def test_shipped_calibration_file_loads():
    spec = load_calibration(CAL)
    assert len(spec.priors) >= 6  # issue 13: at least six free parameters at once
    assert spec.roles.get("icb_actor_duration") == "fit"
    assert spec.base.mixes and len(spec.base.mixes) > 1


def test_simulator_shares_are_the_kernels_counts():
    """Independent recount: final states of the same replications, classified with model/measures.py."""
    base = Scenario.build(values={"military.incident_rate": 0.05, "channel.misperception": 0.2})
    sim = ModelSimulator(base, ("channel.misperception",), 600, block_size=200, threads=1)
    out = sim(np.array([[0.2]]), 5)
    states = mc.final_states(base, 5, range(600))
    crises = [s for s in states if measures.is_crisis(s)]
    viol = np.bincount([measures.violence(s) for s in crises], minlength=4) / len(crises)
    host = np.bincount([measures.hostility(s) for s in crises], minlength=5)[1:]  # MIDs: militarized crises
    host = host / host.sum()
    actor = np.bincount([measures.actor_outcome(s, side) for s in crises for side in (0, 1)], minlength=4)
    assert np.array_equal(out["icb_violence"][0], viol)
    assert np.array_equal(out["mid_hostility"][0], host)
    assert np.array_equal(out["icb_actor_outcome"][0], actor / (2 * len(crises)))
    assert len(crises) == sum(1 for s in states if s[0] != NO_CHALLENGE)


def test_particles_share_random_numbers():
    """Common random numbers: the same parameter vector gives the same shares whatever the other particles."""
    base = Scenario.build()
    sim = ModelSimulator(base, ("channel.misperception", "intent.fear_loss"), 400, threads=1)
    a = sim(np.array([[0.1, 0.1]]), 9)
    b = sim(np.array([[0.2, 0.05], [0.1, 0.1]]), 9)
    for name in OUTPUTS:
        assert np.array_equal(a[name][0], b[name][1])
    c = sim(np.array([[0.1, 0.1]]), 10)
    assert not np.array_equal(a["icb_violence"][0], c["icb_violence"][0])


BAD = [
    ("[calibration]\nname='x'\n", "calibration.scenario"),
    ("[calibration]\nscenario='calibration-base.toml'\nbogus=1\n", "calibration.bogus"),
    ("[calibration]\nscenario='calibration-base.toml'\n", "parameters"),
    ("[calibration]\nscenario='calibration-base.toml'\n[parameters.'decision.precision']\nlow=5\n", "parameters.decision.precision"),
    ("[calibration]\nscenario='calibration-base.toml'\n[parameters.'no.such']\nlow=0\nhigh=1\n", "parameters.no.such"),
    ("[calibration]\nscenario='calibration-base.toml'\n[parameters.'channel.misperception']\nlow=0.5\nhigh=2\n", "parameters.channel.misperception"),
    ("[calibration]\nscenario='calibration-base.toml'\n[parameters.'channel.misperception']\nlow=0\nhigh=0.2\n[abc]\npopulation_size=1\n", "abc.population_size"),
    ("[calibration]\nscenario='calibration-base.toml'\n[parameters.'channel.misperception']\nlow=0\nhigh=0.2\n[abc]\nwhat=1\n", "abc.what"),
    ("[calibration]\nscenario='calibration-base.toml'\ntargets='missing.toml'\n[parameters.'channel.misperception']\nlow=0\nhigh=0.2\n", "calibration.targets"),
    ("[calibration]\nscenario='calibration-base.toml'\n[parameters.'channel.misperception']\nlow=0\nhigh=0.2\n[roles]\nicb_violence='maybe'\n", "roles"),
]


@pytest.mark.parametrize("text,field", BAD)
def test_bad_calibration_file_names_the_field(tmp_path, text, field):
    (tmp_path / "calibration-base.toml").write_text((ROOT / "experiments" / "calibration-base.toml").read_text())
    f = tmp_path / "cal.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_calibration(f)
    assert e.value.field == field
    assert str(f) in str(e.value)


def test_bad_calibration_file_exits_2_and_writes_nothing(tmp_path):
    f = tmp_path / "cal.toml"
    f.write_text("[calibration]\nname='x'\n")
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "escalation_sim", "calibrate", str(f), "--out", str(out)],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2
    assert "calibration.scenario" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_combined_interval_is_the_monte_carlo_interval_for_one_point():
    """A one-point posterior: the combined interval is the binomial (Wilson) interval of R crises."""
    from escalation_sim.stats import wilson

    s = combined_share(np.full(5, 0.2), None, 1000)
    lo, hi = wilson(200, 1000)
    assert s["share_parameters"] == pytest.approx(0.0, abs=1e-20)  # identical draws: rounding only
    assert s["low"] == pytest.approx(lo, abs=1e-12) and s["high"] == pytest.approx(hi, abs=1e-12)


def test_posterior_cells_pairs():
    class C:
        def __init__(self, i):
            self.index, self.label, self.overrides = i, f"c{i}", {}

    p = np.array([[0.1, 0.12, 0.11], [0.2, 0.22, 0.21]])
    cells, pairs = posterior_cells([C(0), C(1)], p, 10_000)
    assert pairs["p_a_less_war"].iloc[0] == 1.0  # the first cell gives less war at every draw
    assert cells["mean"].iloc[0] == pytest.approx(0.11)


def _fake_targets(path: Path, truth: dict, sim: ModelSimulator, seed: int) -> None:
    out = sim(np.array([list(truth.values())]), seed)
    v = [float(x) for x in out["icb_violence"][0]]  # plain floats: numpy's repr is not TOML
    a = [float(x) for x in out["icb_actor_outcome"][0]]
    path.write_text(textwrap.dedent(f"""
        format = "escalation-sim calibration targets"
        format_version = 1
        tolerance = 0.005
        [targets.icb_violence]
        description = "fake"
        output = "icb_violence"
        role = "fit"
        n = 2000
        shares = {{ none = {v[0]!r}, minor_clashes = {v[1]!r}, serious_clashes = {v[2]!r}, full_scale_war = {v[3]!r} }}
        [targets.icb_violence.source]
        dataset = "the model itself at known parameters"
        version = "test"
        unit = "crisis"
        variable = "violence"
        codebook = "tests/test_calibration_model.py"
        [targets.icb_actor_outcome]
        description = "fake"
        output = "icb_actor_outcome"
        role = "fit"
        n = 2000
        shares = {{ victory = {a[0]!r}, compromise = {a[1]!r}, stalemate = {a[2]!r}, defeat = {a[3]!r} }}
        [targets.icb_actor_outcome.source]
        dataset = "the model itself at known parameters"
        version = "test"
        unit = "crisis actor"
        variable = "outcome"
        codebook = "tests/test_calibration_model.py"
    """))


@pytest.mark.slow
def test_recovery_of_known_parameters(tmp_path):
    """Fake targets from the model at known parameters (a different seed from the fit's: the targets carry their own
    sampling noise, as data do): the true values lie inside the 90% posterior intervals. Two parameters that move
    the targets strongly, a small fast configuration (~1-2 minutes on 2 cores)."""
    base = Scenario.build(values={"crisis.opportunity_rate": 0.05})
    truth = {"military.incident_rate": 0.03, "intent.fear_loss": 0.12}
    sim = ModelSimulator(base, tuple(truth), 1500)
    targets = tmp_path / "targets.toml"
    _fake_targets(targets, truth, ModelSimulator(base, tuple(truth), 20_000), seed=777)
    priors = {"military.incident_rate": {"low": 0.0, "high": 0.06}, "intent.fear_loss": {"low": 0.0, "high": 0.25}}
    run = calibrate(sim, OUTPUTS, targets, None, ABCConfig(population_size=150, seed=3, max_generations=5,
                                                           replications=1500), priors=priors,
                    known_parameters=list(truth), figures=False)
    post = run.result.posterior_frame()
    for k, v in truth.items():
        w = post["weight"].to_numpy()
        order = np.argsort(post[k].to_numpy())
        cw = np.cumsum(w[order]) / w.sum()
        lo = post[k].to_numpy()[order][np.searchsorted(cw, 0.05)]
        hi = post[k].to_numpy()[order][min(len(cw) - 1, np.searchsorted(cw, 0.95))]
        assert lo <= v <= hi, (k, lo, v, hi)


def _small_calibration(tmp_path: Path, population: int, replications: int, seed: int) -> Path:
    """A two-parameter calibration file on the shipped calibration scenario, two generations."""
    cfg = tmp_path / "cal.toml"
    (tmp_path / "calibration-base.toml").write_text((ROOT / "experiments" / "calibration-base.toml").read_text())
    cfg.write_text(textwrap.dedent(f"""
        [calibration]
        scenario = "calibration-base.toml"
        [parameters."intent.fear_loss"]
        low = 0.0
        high = 0.25
        [parameters."channel.misperception"]
        low = 0.0
        high = 0.25
        [abc]
        population_size = {population}
        replications = {replications}
        seed = {seed}
        max_generations = 2
    """))
    return cfg


def _posteriors_of(cfg: Path, runs: dict[str, list[str]]) -> list[bytes]:
    """The posterior bytes of ``calibrate cfg`` with each set of extra options (each in a subprocess)."""
    outs = []
    for name, extra in runs.items():
        out = cfg.parent / name
        r = subprocess.run([sys.executable, "-m", "escalation_sim", "calibrate", str(cfg), "--out", str(out), *extra],
                           capture_output=True, text=True, cwd=cfg.parent)
        assert r.returncode == 0, r.stderr
        outs.append((out / "posterior.csv").read_bytes())
    return outs


@pytest.mark.slow
def test_calibration_is_reproducible_at_one_and_two_threads(tmp_path):
    """The same seed and configuration give the same posterior bytes with 1 or 2 Numba threads (subprocesses)."""
    a, b = _posteriors_of(_small_calibration(tmp_path, 20, 300, 4), {"t1": ["--threads", "1"], "t2": ["--threads", "2"]})
    assert a == b


def test_posterior_ranking_of_a_tournament_averages_over_opponents():
    """Two defender mixes x two opponents: the mix that is better on average at every draw is best with P = 1;
    ties share the rank and the probability of being best."""
    from types import SimpleNamespace

    from escalation_sim.analysis.calibration import posterior_ranking

    cells = [SimpleNamespace(overrides={"defender.strategy": m, "challenger.strategy": o}, label=f"{m}{o}")
             for m in (["grit"], []) for o in ("probing", "firm")]
    exp = SimpleNamespace(raw={"tournament": {}}, cells=cells)
    p = np.array([[0.1, 0.3, 0.2], [0.2, 0.1, 0.2],   # grit vs probing, firm: means 0.15, 0.2, 0.2
                  [0.3, 0.3, 0.3], [0.2, 0.2, 0.1]])  # none: means 0.25, 0.25, 0.2
    r = posterior_ranking(exp, p).set_index("option")
    assert r.loc["grit", "p_best"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert r.loc["none", "mean_rank"] == pytest.approx((2 + 2 + 1.5) / 3)
    assert r.loc["grit", "mean_p_war"] == pytest.approx((0.15 + 0.2 + 0.2) / 3)


# --- experiments on calibrated parameters: [posterior] and run over a posterior ----------------------------------
def _posterior_files(tmp_path: Path) -> tuple[Path, Path]:
    """A two-point posterior (all weight on one point unless said) and a two-cell experiment that names it."""
    post = tmp_path / "post.csv"
    post.write_text("particle,channel.misperception,intent.fear_loss,weight,distance\n"
                    "0,0.05,0.05,1.0,1.0\n1,0.2,0.2,0.0,9.0\n")
    (tmp_path / "direct.toml").write_text((ROOT / "experiments" / "direct-deterrence.toml").read_text())
    exp = tmp_path / "exp.toml"
    exp.write_text(textwrap.dedent("""
        [experiment]
        name = "post-test"
        scenario = "direct.toml"
        replications = 600
        seed = 4
        [grid]
        "defender.strategy" = [[], ["immediate_deterrence"]]
        [posterior]
        file = "post.csv"
        draws = 3
        replications = 500
    """))
    return post, exp


def test_experiment_posterior_table_is_validated(tmp_path):
    from escalation_sim.pipeline.experiment import load_experiment

    _, exp = _posterior_files(tmp_path)
    text = exp.read_text()
    for bad, field in ((text.replace('file = "post.csv"', 'file = "nope.csv"'), "posterior.file"),
                       (text.replace("draws = 3", "draws = 1"), "posterior.draws"),
                       (text.replace("draws = 3", "colour = 3"), "posterior.colour")):
        exp.write_text(bad)
        with pytest.raises(ConfigError) as e:
            load_experiment(exp)
        assert e.value.field == field and str(exp) in str(e.value)
    res = cli_run("run", exp, "--out", tmp_path / "o")  # the last bad file: exit 2, nothing written
    assert res.exit_code == 2 and "posterior.colour" in res.output and not (tmp_path / "o").exists()


def cli_run(*args):
    from conftest import cli

    return cli(*args)


def test_run_uses_the_experiments_posterior_and_illustrative_the_defaults(tmp_path):
    """An experiment with [posterior] runs over its draws by default: every outcome's share per cell and draw sums to
    1, the draws all sit on the one point with weight, so each cell's mean is that point's share (a run of the
    scenario at those values, same seed: an independent path through run_cell). --illustrative runs the
    scenario's own values through the pipeline."""
    import pandas as pd

    _, exp = _posterior_files(tmp_path)
    res = cli_run("run", exp, "--out", tmp_path / "post", "--threads", 1)
    assert res.exit_code == 0, res.output
    cells = pd.read_csv(tmp_path / "post" / "posterior_cells.csv")
    allc = cells[cells["motive"] == "all"]
    sums = allc.groupby("cell")["mean"].sum()
    assert np.allclose(sums, 1.0, atol=1e-12)
    import dataclasses

    from escalation_sim.model.scenario import Mix
    from escalation_sim.model.validation import load_scenario

    base = load_scenario(tmp_path / "direct.toml").with_values({"channel.misperception": 0.05, "intent.fear_loss": 0.05})
    for i, mix in enumerate(((), ("immediate_deterrence",))):
        scen = dataclasses.replace(base, mixes=(Mix(mix),))
        tot = mc.run_cell(scen, 500, 4, block_size=1024, threads=1)
        war = np.asarray(tot.counts)[:, 4].sum() / 500
        row = allc[(allc["cell"] == i) & (allc["measure"] == "war")].iloc[0]
        assert row["mean"] == pytest.approx(war, abs=1e-12)
        assert row["share_parameters"] == pytest.approx(0.0, abs=1e-12)  # one point: all simulation
    ill = cli_run("run", exp, "--illustrative", "-n", 600, "--out", tmp_path / "ill", "--threads", 1)
    assert ill.exit_code == 0, ill.output
    assert (tmp_path / "ill" / "cells.csv").is_file() and not (tmp_path / "ill" / "posterior_cells.csv").exists()
    both = cli_run("run", exp, "--illustrative", "--posterior", "post.csv")
    assert both.exit_code == 2


def test_the_shipped_posterior_is_the_calibration_files():
    """The posterior shipped as package data: the bytes its provenance records, one column per parameter of the
    calibration file, every particle inside its prior box, weights that sum to 1."""
    import hashlib
    import json

    import pandas as pd

    from escalation_sim.calibration.targets import posterior_file

    path = posterior_file("crisis-record")
    meta = json.loads(path.with_suffix(".json").read_text())
    assert hashlib.sha256(path.read_bytes()).hexdigest() == meta["posterior_sha256"]
    spec = load_calibration(CAL)
    post = pd.read_csv(path)
    assert list(post.columns) == ["particle", *spec.priors, "weight", "distance"]
    assert [p["name"] for p in meta["priors"]] == list(spec.priors)
    for k, (lo, hi) in spec.priors.items():
        assert post[k].between(lo, hi).all(), k
    assert post["weight"].sum() == pytest.approx(1.0, abs=1e-12) and (post["weight"] >= 0).all()
    assert len(post) == spec.config.population_size == meta["config"]["population_size"]


def test_api_run_posterior_is_the_command(tmp_path):
    """escalation_sim.run_posterior writes the same tables as the command; without a posterior it refuses."""
    import escalation_sim

    _, exp = _posterior_files(tmp_path)
    res = escalation_sim.run_posterior(exp, threads=1, out=tmp_path / "api")
    assert cli_run("run", exp, "--threads", 1, "--out", tmp_path / "cli").exit_code == 0
    assert (tmp_path / "api" / "posterior_cells.csv").read_bytes() == (tmp_path / "cli" / "posterior_cells.csv").read_bytes()
    assert list(res.ranking["option"])[:1] and res.directory == tmp_path / "api"
    plain = tmp_path / "plain.toml"
    plain.write_text(exp.read_text().split("[posterior]")[0])
    with pytest.raises(ConfigError) as e:
        escalation_sim.run_posterior(plain, out=tmp_path / "never")
    assert e.value.field == "posterior" and not (tmp_path / "never").exists()


@pytest.mark.slow
def test_calibration_on_dask_is_the_same_posterior(tmp_path):
    """--backend dask (a LocalCluster of two worker processes, the particles in batches): the posterior's bytes
    are those of the run on threads."""
    pytest.importorskip("distributed")
    a, b = _posteriors_of(_small_calibration(tmp_path, 16, 200, 5),
                          {"threads": [], "dask": ["--backend", "dask", "--workers", "2"]})
    assert a == b


def test_posterior_ranking_of_a_grid_ranks_mixes_within_each_challenger_population():
    """A grid of p_need x defender mix: mixes are ranked within p_need = 0 and within p_need = 1, never across
    (ranking a need-driven cell against an opportunity-driven one would compare the populations)."""
    from types import SimpleNamespace

    from escalation_sim.analysis.calibration import posterior_ranking

    cells = [SimpleNamespace(overrides={"challenger.p_need": q, "defender.strategy": m}, label=f"{q}{m}")
             for q in (0.0, 1.0) for m in (["immediate_deterrence"], [])]
    exp = SimpleNamespace(raw={}, cells=cells)
    p = np.array([[0.1, 0.1], [0.2, 0.2],    # p_need 0: deterrence less war at both draws
                  [0.5, 0.5], [0.4, 0.45]])  # p_need 1: none less war; both worse than anything at p_need 0
    r = posterior_ranking(exp, p)
    assert list(r["context"].unique()) == ["challenger.p_need=0", "challenger.p_need=1"]
    top = r.groupby("context").first()["option"]
    assert top["challenger.p_need=0"] == "immediate_deterrence" and top["challenger.p_need=1"] == "none"
    assert (r["p_best"].groupby(r["context"]).sum() == 1.0).all() and r["mean_rank"].max() == 2.0


def test_posterior_ranking_compares_policies_not_their_settings():
    """The renewal interval and the instruments' costs are part of the policy a ranking compares: the ally
    portfolio's five policies (each with its own costs) are ranked against each other in one context, and a
    renewal grid ranks instrument x renewal together within each challenger population."""
    from types import SimpleNamespace

    from escalation_sim.analysis.calibration import option_groups
    from escalation_sim.pipeline.experiment import load_experiment

    groups = option_groups(load_experiment(Path(__file__).resolve().parents[1] / "experiments" / "ally-portfolio.toml"))
    assert {ctx for ctx, _ in groups} == {""} and len(groups) == 5
    assert ("", "immediate_deterrence+tripwire, cost_tripwire=0.06") in groups
    cells = [SimpleNamespace(overrides={"challenger.p_need": q, "defender.renewal_interval": r,
                                        "defender.strategy": ["public_statement"]}, label="")
             for q in (0.0, 1.0) for r in (15.0, 120.0)]
    groups = option_groups(SimpleNamespace(raw={}, cells=cells))
    assert sorted(groups) == [("challenger.p_need=0", "public_statement, renewal_interval=120"),
                              ("challenger.p_need=0", "public_statement, renewal_interval=15"),
                              ("challenger.p_need=1", "public_statement, renewal_interval=120"),
                              ("challenger.p_need=1", "public_statement, renewal_interval=15")]

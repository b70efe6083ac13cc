"""The robustness analysis (``analysis/robustness.py``, ``escalation-sim robustness``).

Its parts are checked on synthetic data where the answer is planted (a rule the depth-2 tree must recover, signs
the rank regression must recover, a Latin hypercube whose marginals must be stratified), its verdict logic on
hand-made numbers, and a small real run against an independent path (the compiled engine's own cell loop) and for
reproducibility. The command writes its files and refuses bad input with exit code 2.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import DIRECT_TOML, EXPERIMENTS, cli
from scipy.stats import binomtest

from escalation_sim.analysis import robustness as rb
from escalation_sim.engines import montecarlo as mc
from escalation_sim.model.constants import WAR_OUTCOME
from escalation_sim.model.params import FREE_PARAMETERS, SPEC_BY_KEY
from escalation_sim.model.scenario import Mix
from escalation_sim.model.strategies import BY_NAME
from escalation_sim.model.validation import load_scenario


# --- the shallow tree -------------------------------------------------------------------------------------------
def _synthetic(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.random(n), "b": rng.random(n), "noise": rng.random(n)})


def test_tree_recovers_a_planted_rule():
    """``holds`` exactly when a > 0.6 and b <= 0.3: the tree splits on a and b near those thresholds (within the
    gap between neighbouring sample points, < 0.02 at 400 uniform points), its pure leaf holds everywhere, the other
    leaves nowhere, and the noise column is never used."""
    x = _synthetic()
    y = ((x["a"] > 0.6) & (x["b"] <= 0.3)).to_numpy(dtype=float)
    leaves = rb.shallow_tree(x, y, depth=2, min_leaf=10)
    assert sum(leaf["n"] for leaf in leaves) == len(x)
    assert all(len(leaf["rule"]) <= 2 for leaf in leaves)
    assert not any(k == "noise" for leaf in leaves for k, _, _ in leaf["rule"])
    holding = [leaf for leaf in leaves if leaf["share"] == 1.0]
    assert len(holding) == 1
    rule = {(k, op): thr for k, op, thr in holding[0]["rule"]}
    assert rule.keys() == {("a", ">"), ("b", "<=")}
    assert abs(rule[("a", ">")] - 0.6) < 0.02 and abs(rule[("b", "<=")] - 0.3) < 0.02
    assert all(leaf["share"] == 0.0 for leaf in leaves if leaf is not holding[0])
    assert holding[0]["n"] == int(y.sum())


def test_tree_does_not_split_a_pure_or_small_node():
    x = _synthetic(50)
    assert rb.shallow_tree(x, np.ones(50)) == [{"rule": [], "n": 50, "share": 1.0}]
    y = (x["a"] > 0.5).to_numpy(dtype=float)
    assert len(rb.shallow_tree(x, y, min_leaf=30)) == 1  # a split would leave fewer than 30 points on one side
    leaves = rb.shallow_tree(x, y, depth=1, min_leaf=5)
    assert len(leaves) == 2 and {leaf["rule"][0][0] for leaf in leaves} == {"a"}


def test_tree_text():
    lines = rb.tree_text([{"rule": [("a", ">", 0.6), ("b", "<=", 0.3)], "n": 40, "share": 0.85},
                          {"rule": [], "n": 3, "share": 0.0}])
    assert lines == ["when a > 0.6 and b <= 0.3: holds at 85% of 40 points", "when everywhere: holds at 0% of 3 points"]


# --- the rank regression ----------------------------------------------------------------------------------------
def test_rank_regression_recovers_planted_signs_and_order():
    """v = 3a - b + small noise: a positive and largest, b negative, the noise column near 0; a monotone
    transform of v changes nothing (ranks)."""
    x = _synthetic(500, seed=1)
    rng = np.random.default_rng(2)
    v = 3 * x["a"].to_numpy() - x["b"].to_numpy() + 0.05 * rng.standard_normal(500)
    s = rb.rank_regression(x, v)
    assert list(s.index) == ["a", "b", "noise"]
    assert s["a"] > 0.8 and s["b"] < -0.2 and abs(s["noise"]) < 0.1
    pd.testing.assert_series_equal(rb.rank_regression(x, np.exp(v)), s)
    v[:10] = np.nan  # points without a contrast are left out
    assert rb.rank_regression(x, v)["a"] > 0.8


# --- verdicts and contrasts -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "se", "claim", "expected"), [
    (0.05, 0.01, 1, "holds"), (-0.05, 0.01, 1, "fails"), (-0.05, 0.01, -1, "holds"), (0.05, 0.01, -1, "fails"),
    (0.019, 0.01, 1, "indeterminate"), (-0.0195, 0.01, -1, "indeterminate"), (0.0, 0.0, 1, "indeterminate"),
    (float("nan"), 0.01, 1, "indeterminate"), (0.02, 0.01, 1, "holds"),
])
def test_verdict(value, se, claim, expected):
    assert rb.verdict(value, se, claim) == expected


def test_contrast_value_by_motive():
    """One block (no block axis): the independent-binomial error; counts keyed by arm, then outcome."""
    c = rb.Contrast("x", ("immediate_deterrence",), (), "need", 1, "")
    a, b = rb.Arm(("immediate_deterrence",)), rb.Arm(())
    counts = {a: {"war": (np.array([10, 30]), np.array([100, 100]))}, b: {"war": (np.array([5, 20]), np.array([100, 100]))}}
    v, se = rb.contrast_value(c, counts)
    assert v == pytest.approx(0.1) and se == pytest.approx(np.sqrt(0.3 * 0.7 / 100 + 0.2 * 0.8 / 100))
    c_all = rb.Contrast("x", ("immediate_deterrence",), (), "all", 1, "")
    assert rb.contrast_value(c_all, counts)[0] == pytest.approx(40 / 200 - 25 / 200)
    assert np.isnan(rb.contrast_value(c, {**counts, b: {"war": (np.array([0, 0]), np.array([0, 0]))}})[0])


def test_the_default_contrasts_are_lebow_and_steins():
    got = {(c.mix_b, c.motive, c.claim) for c in rb.DEFAULT_CONTRASTS}
    assert got == {(other, motive, claim) for other in ((), ("self_restraint",), ("grit",))
                   for motive, claim in (("opportunity", -1), ("need", 1))}
    assert all(c.mix_a == ("immediate_deterrence",) for c in rb.DEFAULT_CONTRASTS)


# --- the design ----------------------------------------------------------------------------------------------------
def test_box_is_the_documented_one_without_unused_strategies():
    mixes = rb.contrast_mixes(rb.DEFAULT_CONTRASTS)
    assert mixes == [(), ("grit",), ("immediate_deterrence",), ("self_restraint",)]
    box = rb.default_box(mixes)
    unused = {p for name, s in BY_NAME.items() if name not in ("grit", "immediate_deterrence", "self_restraint")
              for p in s.parameters}
    assert "effects.norms_accuracy" in unused and "effects.cost_tripwire" in unused
    assert set(box) == set(FREE_PARAMETERS) - unused
    assert {"defender.grit_transfer", "effects.restraint_pressure_cut"} <= set(box)
    assert all(box[k] == SPEC_BY_KEY[k].box for k in box)
    assert set(rb.default_box()) == set(FREE_PARAMETERS)


def test_latin_hypercube_marginals_are_stratified():
    """Each parameter's points fall one in each of ``points`` equal strata of its range; reproducible per seed."""
    box = rb.default_box(rb.contrast_mixes(rb.DEFAULT_CONTRASTS), ally=False)
    points = 64
    d = rb.latin_hypercube(box, points, seed=3)
    assert list(d.columns) == list(box) and len(d) == points
    for k, (lo, hi) in box.items():
        x = d[k].to_numpy()
        assert (x >= lo).all() and (x <= hi).all()
        strata = np.floor((x - lo) / (hi - lo) * points).astype(int)
        assert sorted(strata) == list(range(points)), k
    pd.testing.assert_frame_equal(d, rb.latin_hypercube(box, points, seed=3))
    assert not d.equals(rb.latin_hypercube(box, points, seed=4))
    corr = np.corrcoef(d.to_numpy().T)[np.triu_indices(len(box), 1)]
    assert np.abs(corr).max() < 0.6  # the columns are permuted independently


# --- a small real run --------------------------------------------------------------------------------------------
POINTS, REPS = 8, 512


@pytest.fixture(scope="module")
def small():
    base = load_scenario(DIRECT_TOML)
    return base, rb.robustness(base, points=POINTS, replications=REPS, seed=5, block_size=256, threads=1)


def test_points_equal_independent_runs(small):
    """Each point's P(war) per mix and motive equals the compiled engine's own cell loop at those values with the
    same seed; each contrast is the difference of its two mixes; each verdict follows from value and se."""
    base, res = small
    pts = res.points
    box = rb.default_box(rb.contrast_mixes(rb.DEFAULT_CONTRASTS), ally=False)
    for i in (0, POINTS - 1):
        values = {k: float(pts.loc[i, k]) for k in box}
        for mix in rb.contrast_mixes(rb.DEFAULT_CONTRASTS):
            scen = base.with_values(values)
            scen = type(scen)(scen.name, scen.values, (Mix(mix),), scen.description, scen.source)
            tot = mc.run_cell(scen, REPS, 5, block_size=256, threads=1)
            for motive, k in (("opportunity", 0), ("need", 1)):
                expect = tot.counts[k, WAR_OUTCOME] / tot.counts[k].sum()
                assert pts.loc[i, f"p_war[{rb._mix_label(mix)}|{motive}]"] == expect
        for j, c in enumerate(rb.DEFAULT_CONTRASTS):
            a = pts.loc[i, f"p_war[{rb._mix_label(c.mix_a)}|{c.motive}]"]
            b = pts.loc[i, f"p_war[{rb._mix_label(c.mix_b)}|{c.motive}]"]
            assert pts.loc[i, f"c{j}"] == pytest.approx(a - b, abs=1e-15)
            assert pts.loc[i, f"c{j}_verdict"] == rb.verdict(pts.loc[i, f"c{j}"], pts.loc[i, f"c{j}_halfwidth"],
                                                             c.claim, z=1.0)


def test_summary_follows_from_the_points(small):
    _, res = small
    s = res.summary
    assert len(s) == len(rb.DEFAULT_CONTRASTS) and (s["points"] == POINTS).all()
    for j, r in s.iterrows():
        v = res.points[f"c{j}_verdict"]
        holds, fails = int((v == "holds").sum()), int((v == "fails").sum())
        assert r["share_holds"] == holds / POINTS and r["share_fails"] == fails / POINTS
        ci = binomtest(holds, POINTS).proportion_ci(0.95, method="wilson")
        assert (r["holds_ci_low"], r["holds_ci_high"]) == pytest.approx((ci.low, ci.high), abs=1e-12)
        assert r["share_indeterminate"] == pytest.approx(1 - (holds + fails) / POINTS)
        assert r["top_parameter"] == res.rank_coefficients[r["contrast"]].abs().idxmax()
        assert r["median_value"] == pytest.approx(float(np.nanmedian(res.points[f"c{j}"])))
    assert list(res.at_defaults["contrast"]) == list(s["contrast"])


def test_same_seed_same_tables_other_seed_other_tables(small):
    base, res = small
    again = rb.robustness(base, points=POINTS, replications=REPS, seed=5, block_size=256, threads=2)
    pd.testing.assert_frame_equal(res.points, again.points)
    pd.testing.assert_frame_equal(res.summary, again.summary)
    other = rb.robustness(base, points=POINTS, replications=REPS, seed=6, block_size=256, threads=1)
    assert not res.points.equals(other.points)


def test_report_section_says_where_each_contrast_holds(small):
    _, res = small
    box = rb.default_box(rb.contrast_mixes(rb.DEFAULT_CONTRASTS), ally=False)
    md = rb.robustness_markdown(res, box, REPS, 5, "test")
    for _, r in res.summary.iterrows():
        assert r["contrast"] in md and f"`{r['top_parameter']}`" in md
    assert all(f"| `{k}` |" in md for k in box)


def test_the_box_of_a_scenario_without_an_ally_leaves_out_the_allys_parameters(small):
    _, res = small
    ally_only = [k for k in res.points.columns if k.startswith("ally.") or k == "challenger.prevention_loss"]
    assert ally_only == []


# --- the command ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def command_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("rob") / "out"
    res = cli("robustness", DIRECT_TOML, "--points", 8, "-n", 64, "--seed", 3, "--threads", 1, "--out", out, "--json")
    return res, out


def test_command_writes_its_files(command_run):
    res, out = command_run
    assert res.exit_code == 0, res.output
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    for stem in ("robustness_points", "robustness_summary", "robustness_rank_coefficients"):
        assert {f"{stem}.csv", f"{stem}.parquet"} & names, stem
    assert {"report.md", "manifest.json", "figures/robustness.png", "figures/robustness.svg"} <= names
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "robustness" and manifest["points"] == 8 and manifest["seed"] == 3
    assert manifest["replications_per_mix_and_point"] == 64
    summary = json.loads(res.stdout)
    assert len(summary) == len(rb.DEFAULT_CONTRASTS)
    assert "## Robustness" in (out / "report.md").read_text()


@pytest.mark.parametrize(("args", "needle"), [
    (["--points", "4"], "--points"),
    (["-n", "10"], "--replications"),
    (["--seed", "-1"], "--seed"),
])
def test_bad_options_exit_2(tmp_path, args, needle):
    res = cli("robustness", DIRECT_TOML, "--out", tmp_path / "o", *args)
    assert res.exit_code == 2 and needle in res.output


def test_bad_files_exit_2(tmp_path, command_run):
    assert cli("robustness", tmp_path / "missing.toml").exit_code == 2
    bad = tmp_path / "bad.toml"
    bad.write_text((EXPERIMENTS / "deterrence-vs-reassurance-by-motive.toml").read_text()
                   .replace('scenario = "direct-deterrence.toml"', f'scenario = "{DIRECT_TOML}"')
                   .replace("points = 256", "points = 2"))
    res = cli("robustness", bad, "--out", tmp_path / "o")
    assert res.exit_code == 2 and "robustness.points" in res.output
    _, out = command_run  # a finished run is not overwritten without --force
    res = cli("robustness", DIRECT_TOML, "--points", 8, "-n", 64, "--seed", 3, "--out", out)
    assert res.exit_code == 2

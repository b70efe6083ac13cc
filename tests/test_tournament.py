"""Tournament: round robin of defender mixes against challenger styles and motives, its matrix (checked against
single runs), and the ranking with batch-means intervals that account for common random numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from escalation_sim.analysis import batch
from escalation_sim.analysis.tournament import ranking
from escalation_sim.cli import main
from escalation_sim.engines import montecarlo as mc
from escalation_sim.model.constants import N_OUTCOMES, WAR_OUTCOME
from escalation_sim.model.validation import load_scenario
from escalation_sim.pipeline.experiment import load_experiment

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "experiments" / "direct-deterrence.toml"
Z = 1.959963984540054


def _file(tmp_path, body: str, block_size: int = 100) -> Path:
    p = tmp_path / "tour.toml"
    p.write_text(f'[experiment]\nname = "t"\nscenario = "{SCENARIO}"\nreplications = 3000\nseed = 11\n'
                 f'block_size = {block_size}\n\n[tournament]\n{body}\n')
    return p


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tour")
    path = _file(tmp, 'defender = [["tit_for_tat"], ["immediate_deterrence"], []]\nchallenger = ["firm", "probing"]\n'
                      'motive = ["opportunity", "need"]')
    out = tmp / "out"
    res = CliRunner().invoke(main, ["tournament", str(path), "--out", str(out), "--no-progress", "--threads", "1"])
    assert res.exit_code == 0, res.output
    return path, out


def test_round_robin_cells_and_matrix_match_single_runs(tour):
    path, out = tour
    assert len(load_experiment(path).cells) == 12
    m = pd.read_csv(out / "tournament_matrix.csv")
    assert len(m) == 12 and set(m["opponent"]) == {"firm (opportunity)", "firm (need)", "probing (opportunity)", "probing (need)"}
    # an independent path: the same cell run on its own, built from the scenario file with the cell's overrides
    row = m[(m["defender"] == "immediate_deterrence") & (m["opponent"] == "firm (need)")].iloc[0]
    s = load_scenario(SCENARIO, {"defender.strategy": ["immediate_deterrence"], "challenger.strategy": "firm",
                                 "challenger.p_need": 1.0})
    tot = mc.run_cell(s, 3000, 11, 100, threads=1)
    wars = tot.counts.sum(axis=0)[WAR_OUTCOME]
    assert row["p_war"] == pytest.approx(wars / 3000, abs=1e-12)
    assert (out / "figures" / "tournament.png").stat().st_size > 10_000
    assert (out / "figures" / "tournament.svg").is_file()
    assert "## Tournament ranking" in (out / "report.md").read_text()


def test_ranking_uses_blocks_and_is_consistent(tour):
    _, out = tour
    m = pd.read_csv(out / "tournament_matrix.csv")
    rank = pd.read_csv(out / "tournament_ranking.csv")
    pairs = pd.read_csv(out / "tournament_pairs.csv")
    assert list(rank["rank"]) == [1, 2, 3] and rank["mean_p_war"].is_monotonic_increasing
    assert set(rank["ci_method"]) == {batch.METHOD}  # 30 blocks of 100
    assert len(pairs) == 3
    for _, r in rank.iterrows():  # the mean is the row mean of the matrix (block totals add up to the cells)
        assert r["mean_p_war"] == pytest.approx(m[m["defender"] == r["defender"]]["p_war"].mean(), abs=1e-12)
        assert r["ci_low"] <= r["mean_p_war"] <= r["ci_high"]
        assert r["rank_low"] <= r["rank"] <= r["rank_high"]
    # a single cell's batch-means standard error estimates the binomial one: their ratio has sd ~ 1/sqrt(2 * 29)
    # = 0.13 with 30 blocks, so 0.55-1.45 is a 3.5-sd band; a wrong scale (n_b vs N) is off by sqrt(30)
    cells = pd.read_csv(out / "cells.csv")
    counts = batch.block_counts(out, len(cells))
    assert counts.shape == (12, 30, N_OUTCOMES)
    j = int(cells["p_war"].idxmax())
    w = np.zeros(12)
    w[j] = 1.0
    est, lo, hi, b = batch.linear_estimate(batch.wars(counts), counts[0].sum(axis=1), w)
    p = cells["p_war"].iloc[j]
    assert est == pytest.approx(p, abs=1e-12) and b == 30
    ratio = (hi - lo) / 2 / batch.t975(29) / np.sqrt(p * (1 - p) / 3000)
    assert 0.55 < ratio < 1.45


def test_batch_means_recomputed_by_hand():
    """Equal blocks: the batch-means interval is mean +- t(B-1) * sd(block values) / sqrt(B)."""
    rng = np.random.default_rng(5)
    succ = rng.binomial(200, [[0.2], [0.3]], size=(2, 25))
    n = np.full(25, 200)
    est, lo, hi, b = batch.linear_estimate(succ, n, np.array([1.0, -1.0]))
    per_block = (succ[0] - succ[1]) / 200
    assert est == pytest.approx(per_block.mean()) and b == 25
    assert hi - est == pytest.approx(batch.t975(24) * per_block.std(ddof=1) / np.sqrt(25))
    # ratio with a constant denominator per block reduces to the same thing
    d, rlo, rhi, _ = batch.ratio_difference(succ[0], np.full(25, 100), succ[1], np.full(25, 100))
    per_block = (succ[0] - succ[1]) / 100
    assert d == pytest.approx(per_block.mean())
    assert rhi - d == pytest.approx(batch.t975(24) * per_block.std(ddof=1) / np.sqrt(25))


@pytest.mark.parametrize(("df", "t"), [(1, 12.7062), (5, 2.5706), (9, 2.2622), (10, 2.2281), (20, 2.0860),
                                       (30, 2.0423), (60, 2.0003), (120, 1.9799)])
def test_t_quantile_matches_tables(df, t):
    assert batch.t975(df) == pytest.approx(t, abs=1e-4)


def test_ranking_without_blocks_uses_independent_cells():
    """Mean over opponents and its independent-cells variance, computed by hand for two mixes."""
    m = pd.DataFrame({
        "defender": ["a", "a", "b", "b"], "opponent": ["x", "y", "x", "y"],
        "p_war": [0.10, 0.30, 0.11, 0.31], "n": [2_000] * 4, "p_defender_concedes": [0.0] * 4,
    })
    r = ranking(m).set_index("defender")
    var_a = (0.1 * 0.9 + 0.3 * 0.7) / 2_000 / 4
    assert r.loc["a", "mean_p_war"] == pytest.approx(0.2)
    assert r.loc["a", "ci_high"] - r.loc["a", "mean_p_war"] == pytest.approx(Z * np.sqrt(var_a))
    assert r.loc["a", "rank"] == 1
    # gap 0.01; the difference's half-width is 1.96 * sqrt(var_a + var_b) = 1.96 * sqrt(2 * 3.75e-5) ~ 0.017
    assert not r.loc["a", "distinct_from_next"]
    assert (r.loc["a", "rank_low"], r.loc["a", "rank_high"]) == (1, 2)
    m.loc[m["defender"] == "b", "p_war"] += 0.05  # gap 0.06 > ~0.018
    r = ranking(m).set_index("defender")
    assert r.loc["a", "distinct_from_next"] and (r.loc["a", "rank_low"], r.loc["a", "rank_high"]) == (1, 1)


def test_existing_results_need_force_and_rerun_is_identical(tour):
    path, out = tour
    before = (out / "tournament_ranking.csv").read_text()
    res = CliRunner().invoke(main, ["tournament", str(path), "--out", str(out), "--no-progress", "--threads", "1"])
    assert res.exit_code == 2 and "--force" in res.output
    res = CliRunner().invoke(main, ["tournament", str(path), "--out", str(out), "--no-progress", "--threads", "2",
                                    "--force", "--json"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)) == 12
    assert (out / "tournament_ranking.csv").read_text() == before  # same seed: the same numbers, any thread count


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('defender = [["tit_for_tat"]]\nchallenger = ["sneaky"]', "tournament.challenger"),
        ('defender = [["tit_for_tat"]]\nchallenger = []', "tournament.challenger"),
        ('defender = []', "tournament.defender"),
        ('defender = [["tit_for_tat"]]\nmotive = ["greed"]', "tournament.motive"),
        ('defender = [["tit_for_tat"]]\nmotive = []', "tournament.motive"),
        ('defender = [["tit_for_tat"], ["tit_for_tat"]]', "tournament.defender"),
        ('defender = [["immediate_deterrence", "tit_for_tat"]]', "tournament.defender[0]"),  # two response rules
        ('defender = [["grit", "grit"]]', "tournament.defender[0]"),  # a strategy twice
        ('defender = [["tit_for_tat"], ["tit_for_tatt"]]', "tournament.defender[1]"),
        ('defender = [["tripwire"]]', "ally.present"),
        ('defender = [["tit_for_tat"]]\nrounds = 3', "tournament"),
    ],
)
def test_bad_tournament_files(tmp_path, body, field):
    out = tmp_path / "o"
    res = CliRunner().invoke(main, ["tournament", str(_file(tmp_path, body)), "--out", str(out)])
    assert res.exit_code == 2 and field in res.output and "tour.toml" in res.output, res.output
    assert "Traceback" not in res.output
    assert not out.exists()


def test_tournament_command_needs_a_tournament_table(tmp_path):
    res = CliRunner().invoke(main, ["tournament", str(ROOT / "experiments" / "default.toml"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "[tournament]" in res.output

"""Tournament (issue 4, item 6): round robin, matrix, ranking with intervals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from escalation_sim.cli import main
from escalation_sim.engines import montecarlo as mc
from escalation_sim.experiments.tournament import ranking
from escalation_sim.io.config import load_experiment, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "experiments" / "direct-deterrence.toml"


def _file(tmp_path, body: str) -> Path:
    p = tmp_path / "tour.toml"
    p.write_text(f'[experiment]\nname = "t"\nscenario = "{SCENARIO}"\nreplications = 3000\nseed = 11\n'
                 f'block_size = 1000\n\n[tournament]\n{body}\n')
    return p


def test_round_robin_cells_and_matrix_match_single_runs(tmp_path):
    path = _file(tmp_path, 'defender = [["tit_for_tat"], ["immediate_deterrence"]]\nchallenger = ["firm", "probing"]\n'
                           'motive = ["opportunity", "need"]')
    exp = load_experiment(path)
    assert len(exp.cells) == 8
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["tournament", str(path), "--out", str(out), "--no-progress", "--threads", "1"])
    assert res.exit_code == 0, res.output
    m = pd.read_csv(out / "tournament_matrix.csv")
    assert len(m) == 8 and set(m["opponent"]) == {"firm (opportunity)", "firm (need)", "probing (opportunity)", "probing (need)"}
    # an independent path: the same cell run on its own, built from the scenario file with the cell's overrides
    row = m[(m["defender"] == "immediate_deterrence") & (m["opponent"] == "firm (need)")].iloc[0]
    s = load_scenario(SCENARIO, {"defender.strategy": ["immediate_deterrence"], "challenger.strategy": "firm",
                                 "challenger.p_need": 1.0})
    tot = mc.run_cell(s, 3000, 11, 1000, threads=1)
    wars = tot.counts.sum(axis=0)[[4, 5]].sum()
    assert row["p_war"] == pytest.approx(wars / 3000, abs=1e-12)
    rank = pd.read_csv(out / "tournament_ranking.csv")
    assert list(rank["rank"]) == [1, 2] and rank["mean_p_war"].is_monotonic_increasing
    assert (out / "figures" / "tournament.png").stat().st_size > 10_000
    assert "## Tournament ranking" in (out / "report.md").read_text()


def test_ranking_interval_and_distinctness():
    """Mean over opponents and its independent-cells variance, computed by hand for two mixes."""
    m = pd.DataFrame({
        "defender": ["a", "a", "b", "b"], "opponent": ["x", "y", "x", "y"],
        "p_war": [0.10, 0.30, 0.11, 0.31], "n": [2_000] * 4, "p_defender_concedes": [0.0] * 4,
    })
    r = ranking(m).set_index("defender")
    var_a = (0.1 * 0.9 + 0.3 * 0.7) / 2_000 / 4
    assert r.loc["a", "mean_p_war"] == pytest.approx(0.2)
    assert r.loc["a", "ci_high"] - r.loc["a", "mean_p_war"] == pytest.approx(1.959963984540054 * np.sqrt(var_a))
    assert r.loc["a", "rank"] == 1
    # gap 0.01; the difference's half-width is 1.96 * sqrt(var_a + var_b) = 1.96 * sqrt(2 * 3.75e-5) ~ 0.017
    assert not r.loc["a", "distinct_from_next"]
    m.loc[m["defender"] == "b", "p_war"] += 0.05  # gap 0.06 > ~0.018
    assert ranking(m).set_index("defender").loc["a", "distinct_from_next"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('defender = [["tit_for_tat"]]\nchallenger = ["sneaky"]', "tournament.challenger"),
        ('defender = []', "tournament.defender"),
        ('defender = [["tit_for_tat"]]\nmotive = ["greed"]', "tournament.motive"),
        ('defender = [["tit_for_tat"], ["tit_for_tat"]]', "tournament.defender"),
        ('defender = [["tit_for_tatt"]]', "defender.strategy"),
        ('defender = [["tit_for_tat"]]\nrounds = 3', "tournament"),
    ],
)
def test_bad_tournament_files(tmp_path, body, field):
    out = tmp_path / "o"
    res = CliRunner().invoke(main, ["tournament", str(_file(tmp_path, body)), "--out", str(out)])
    assert res.exit_code == 2 and field in res.output, res.output
    assert not out.exists()


def test_tournament_command_needs_a_tournament_table(tmp_path):
    res = CliRunner().invoke(main, ["tournament", str(ROOT / "experiments" / "default.toml"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "[tournament]" in res.output

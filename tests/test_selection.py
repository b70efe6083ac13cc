"""Selection bias: Newcombe's interval, the effects recomputed from counts, and the shipped experiment end to end."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from escalation_sim.analysis.selection import newcombe_difference, selection_effects
from escalation_sim.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10 (hybrid score)
        ((56, 70, 48, 80), (0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.1705, 0.8090)),
        ((6, 7, 2, 7), (0.0582, 0.8062)),
        ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ],
)
def test_newcombe_interval_matches_the_published_examples(counts, expected):
    d, lo, hi = newcombe_difference(*counts)
    assert d == pytest.approx(counts[0] / counts[1] - counts[2] / counts[3])
    assert (round(lo, 4), round(hi, 4)) == expected


def test_effects_recomputed_from_counts():
    """A deterrent that halves challenges but not wars-per-case: true effect 0, observed effect positive."""
    cells = pd.DataFrame({
        "label": ["base", "base+tripwire"],
        "n": [1000, 1000],
        "p_war": [0.100, 0.100],  # 100 wars in both
        "crises": [400, 200],
    })
    e = selection_effects(cells).iloc[0]
    assert e["true_effect"] == pytest.approx(0.0, abs=1e-12)
    assert e["observed_effect"] == pytest.approx(100 / 200 - 100 / 400)
    assert e["true_ci_low"] < 0 < e["true_ci_high"]
    assert e["observed_ci_low"] > 0
    assert e["p_crisis"] == pytest.approx(0.2) and e["p_crisis_baseline"] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="baseline"):
        selection_effects(cells.iloc[:1])


N_SEL = 16384


def test_selection_bias_experiment_end_to_end(tmp_path):
    out = tmp_path / "sel"
    res = CliRunner().invoke(main, ["run", str(ROOT / "experiments" / "selection-bias.toml"), "-n", str(N_SEL),
                                    "--block-size", "1024", "--out", str(out), "--no-progress", "--threads", "1"])
    assert res.exit_code == 0, res.output
    cells = pd.read_csv(out / "cells.csv")
    outcomes = pd.read_csv(out / "outcomes.csv")
    eff = pd.read_csv(out / "selection_bias.csv")
    assert list(eff["label"]) == list(cells["label"].iloc[1:])

    def count(cell: int, measure: str) -> int:
        row = outcomes[(outcomes["cell"] == cell) & (outcomes["motive"] == "all") & (outcomes["measure"] == measure)]
        return int(row["count"].iloc[0])

    # an independent path through the outputs: the outcome table's counts (war, no_challenge) per cell
    wars = {c: count(c, "war") for c in cells["cell"]}
    crises = {c: N_SEL - count(c, "no_challenge") for c in cells["cell"]}
    for i, r in eff.iterrows():
        c = int(cells["cell"].iloc[i + 1])
        assert r["true_effect"] == pytest.approx(wars[c] / N_SEL - wars[0] / N_SEL, abs=1e-12)
        assert r["observed_effect"] == pytest.approx(wars[c] / crises[c] - wars[0] / crises[0], abs=1e-12)
        assert r["bias"] == pytest.approx(r["observed_effect"] - r["true_effect"], abs=1e-12)
        assert r["p_crisis"] == pytest.approx(crises[c] / N_SEL, abs=1e-12)
        d, lo, hi = newcombe_difference(wars[c], N_SEL, wars[0], N_SEL)
        assert (r["true_ci_low"], r["true_ci_high"]) == pytest.approx((lo, hi), abs=1e-12)
        # paired (batch means over 16 blocks of 1,024) intervals exist and contain their estimate
        assert r["blocks"] == 16
        assert r["true_paired_ci_low"] < r["true_effect"] < r["true_paired_ci_high"]
        assert r["observed_paired_ci_low"] < r["observed_effect"] < r["observed_paired_ci_high"]
    # General deterrence deters the challengers that value a challenge least (the posture lowers every challenge's
    # value; those who still challenge are the more resolved and greedy), so P(crisis) falls and war among the crises
    # that remain falls less than war over all cases: an observer of crises underrates the posture (Achen & Snidal
    # 1989; Fearon 2002). At 40,960 replications: P(crisis) 0.766 vs 0.880, true effect -0.027, observed -0.004.
    gd = eff[eff["label"] == "+ general deterrence"].iloc[0]
    assert gd["p_crisis"] < gd["p_crisis_baseline"] - 0.05
    assert gd["true_paired_ci_high"] < 0  # fewer wars over all cases
    assert gd["observed_paired_ci_low"] > gd["true_paired_ci_high"]  # the selection bias, intervals apart
    # the same challengers meet both cells (common random numbers): the paired interval of the true effect is
    # narrower than Newcombe's, which assumes independent samples (the batch-means width with 15 degrees of freedom
    # is uncertain by ~18%, and the ratio is ~0.6 here)
    assert (gd["true_paired_ci_high"] - gd["true_paired_ci_low"]) < (gd["true_ci_high"] - gd["true_ci_low"])
    assert (out / "figures" / "selection_bias.png").stat().st_size > 10_000
    report = (out / "report.md").read_text()
    assert "## Selection bias" in report and "batch means over the run's 16 blocks" in report


def test_selection_bias_needs_a_baseline_and_another_cell(tmp_path):
    bad = tmp_path / "one.toml"
    bad.write_text(f'[experiment]\nname = "one"\nscenario = "{ROOT / "experiments" / "extended-deterrence.toml"}"\n'
                   'analysis = "selection_bias"\n\n[[cells]]\nlabel = "only"\n"defender.strategy" = ["tripwire"]\n')
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(bad), "-n", "100", "--out", str(out)])
    assert res.exit_code == 2 and "experiment.analysis" in res.output and "at least 2 cells" in res.output
    assert "one.toml" in res.output and not out.exists()


def test_unknown_analysis_is_a_config_error(tmp_path):
    text = (ROOT / "experiments" / "selection-bias.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('analysis = "selection_bias"', 'analysis = "selection"').replace(
        'scenario = "extended-deterrence.toml"', f'scenario = "{ROOT / "experiments" / "extended-deterrence.toml"}"'))
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(bad), "-n", "100", "--out", str(out)])
    assert res.exit_code == 2
    assert "experiment.analysis" in res.output and "selection_bias" in res.output
    assert not out.exists()

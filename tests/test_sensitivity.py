"""Sobol sensitivity: SALib plumbing on a known function, the real model (a parameter it never reads, common random
numbers), the command."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from escalation_sim.analysis.sensitivity import sobol
from escalation_sim.cli import main
from escalation_sim.model.validation import load_scenario

ROOT = Path(__file__).resolve().parents[1]
DIRECT = ROOT / "experiments" / "direct-deterrence.toml"


def test_indices_of_a_linear_function_are_known():
    """Y = 2a + b, a and b uniform on [0, 1]: Var = 4/12 + 1/12, so S1 = ST = 0.8 and 0.2 (no interactions).

    Tolerance: SALib's bootstrap 95% half-width plus 0.02 (the bootstrap interval itself is estimated)."""
    bounds = {"channel.misperception": (0.0, 1.0), "challenger.p_need": (0.0, 1.0)}
    idx, samples, _ = sobol(load_scenario(DIRECT), bounds, 1024, 100, seed=5,
                            model=lambda v: 2 * v["channel.misperception"] + v["challenger.p_need"])
    assert len(samples) == 1024 * 4
    for row, expected in zip(idx.itertuples(), (0.8, 0.2), strict=True):
        assert abs(row.S1 - expected) <= row.S1_ci_halfwidth + 0.02
        assert abs(row.ST - expected) <= row.ST_ci_halfwidth + 0.02


def test_a_parameter_the_model_never_reads_has_no_effect():
    """Without an ally, the ally's threat exposure cannot change a crisis (only the ally's reviews read it): with the
    same seed at every point its total index is exactly 0, whatever the sample size."""
    bounds = {"ally.threat": (0.02, 0.3), "challenger.p_need": (0.2, 0.8)}
    idx, samples, noise = sobol(load_scenario(DIRECT), bounds, 8, 512, seed=3, block_size=256, threads=1)
    st = dict(zip(idx["parameter"], idx["ST"], strict=True))
    assert st["ally.threat"] == 0.0
    assert st["challenger.p_need"] > 0.5
    assert samples["p_war"].between(0, 1).all() and noise["points"] == 32


def test_common_random_numbers_remove_most_of_the_noise():
    """The same seed at every point: the noise that differs between points (measured on a second seed) is well
    below a point's own binomial variance, which is what an independent seed per point would add.

    With a seed per point the ratio of the two would be 1 in expectation; estimated from 32 re-run points it
    would fall below 0.5 with probability about 0.006 (chi-square, 31 degrees of freedom). With common random
    numbers it is about 0.3 at these settings."""
    bounds = {"challenger.p_need": (0.2, 0.8), "audience.cost": (0.0, 0.15)}
    _, samples, noise = sobol(load_scenario(DIRECT), bounds, 8, 2000, seed=3, block_size=500, threads=1,
                              noise_points=32)
    assert noise["crn_noise_points"] == 32
    assert 0 < noise["crn_noise_variance"] < 0.5 * noise["mean_binomial_variance"]
    p = samples["p_war"].to_numpy()
    assert noise["mean_binomial_variance"] == pytest.approx(float((p * (1 - p) / 2000).mean()))


def _cli(tmp_path, *extra, out="s"):
    return CliRunner().invoke(main, ["sensitivity", str(ROOT / "experiments" / "default.toml"), "--cell", "1",
                                     "--params", "challenger.p_need,channel.misperception", "--samples", "4",
                                     "-n", "256", "--threads", "1", "--out", str(tmp_path / out), *extra])


def test_command_is_deterministic_and_writes_everything(tmp_path):
    a, b = _cli(tmp_path, out="a"), _cli(tmp_path, out="b")
    assert a.exit_code == 0 and b.exit_code == 0, a.output
    ta = pd.read_csv(tmp_path / "a" / "sobol_indices.csv")
    tb = pd.read_csv(tmp_path / "b" / "sobol_indices.csv")
    pd.testing.assert_frame_equal(ta, tb)
    for f in ("figures/sobol.png", "sobol_samples.parquet", "report.md", "manifest.json"):
        assert (tmp_path / "a" / f).is_file()
    assert _cli(tmp_path, out="a").exit_code == 2  # never overwritten without --force


def test_command_takes_a_scenario_file(tmp_path):
    res = CliRunner().invoke(main, ["sensitivity", str(DIRECT), "--params", "challenger.p_need", "--samples", "4",
                                    "-n", "256", "--threads", "1", "--json", "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["seed"] == 1 and manifest["points"] == 12
    assert [r["parameter"] for r in json.loads(res.stdout)] == ["challenger.p_need"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--params", "challenger.nonsense"], "challenger.nonsense"),
        (["--params", "defender.strategy"], "not numeric"),
        (["--bounds", "challenger.p_need=0.5:1.5"], "allowed: 0 <= LOW < HIGH <= 1"),
        (["--bounds", "challenger.p_need=0.5"], "section.name=LOW:HIGH"),
        (["--samples", "6"], "power of 2"),
        (["--cell", "99"], "--cell"),
        (["--bounds", "challenger.p_need=0.6:0.4"], "LOW < HIGH"),
        (["--bounds", "channel.misperception=0:0.1", "--params", "challenger.p_need"], "not one of --params"),
    ],
)
def test_bad_input(tmp_path, extra, message):
    res = _cli(tmp_path, *extra)
    assert res.exit_code == 2 and message in res.output, res.output
    assert not (tmp_path / "s").exists()

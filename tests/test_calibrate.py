"""Calibration (issue 4, item 8): recovers a known parameter, deterministic, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from escalation_sim.cli import main
from escalation_sim.engines import montecarlo as mc
from escalation_sim.experiments.calibrate import calibrate, shares
from escalation_sim.io.config import load_scenario

ROOT = Path(__file__).resolve().parents[1]
DIRECT = ROOT / "experiments" / "direct-deterrence.toml"


def test_recovers_a_known_share_of_need_driven_challengers():
    """Simulate with p_need = 0.3 (seed 1), use its war-given-crisis share as the target, fit with seed 2.

    Tolerance 0.1: against immediate deterrence P(war | crisis) moves by about 0.4 over p_need 0..1
    (docs/validation.md 2.1: 0.41 need-driven vs 0.00 opportunity-driven), and with 4,000 crises per point
    its binomial standard error is about 0.01, i.e. about 0.025 in p_need; 0.1 is four of those."""
    base = load_scenario(DIRECT)
    truth = shares(mc.run_cell(base.with_values({"challenger.p_need": 0.3}), 4000, 1, 1000, threads=1))
    target = {"war_given_crisis": (truth["war_given_crisis"], 100_000)}
    res = calibrate(base, {"challenger.p_need": (0.0, 1.0)}, target, 4000, seed=2, points=12, bootstrap=200,
                    block_size=1000, threads=1)
    assert abs(res["fit"]["challenger.p_need"] - 0.3) <= 0.1
    assert res["at_bound"] == []
    lo, hi = res["intervals"]["challenger.p_need"]
    assert lo <= res["fit"]["challenger.p_need"] <= hi


def _cli(tmp_path, *extra, out="c"):
    return CliRunner().invoke(main, ["calibrate", str(ROOT / "experiments" / "default.toml"), "--cell", "1",
                                     "--params", "challenger.p_need", "--bounds", "challenger.p_need=0.05:0.95",
                                     "--preset", "icb", "--points", "6", "-n", "500", "--threads", "1",
                                     "--out", str(tmp_path / out), *extra])


def test_command_deterministic_writes_a_loadable_scenario(tmp_path):
    a, b = _cli(tmp_path, "--json", out="a"), _cli(tmp_path, "--json", out="b")
    assert a.exit_code == 0 and b.exit_code == 0, a.output
    assert json.loads(a.stdout) == json.loads(b.stdout)
    fit = json.loads(a.stdout)["fit"]["challenger.p_need"]
    scen = load_scenario(tmp_path / "a" / "calibrated-scenario.toml")
    assert scen.value("challenger.p_need") == pytest.approx(fit)
    assert scen.value("ally.present") == 1.0  # the base scenario's other settings survive
    for f in ("figures/calibration.png", "calibration_design.csv", "report.md", "manifest.json"):
        assert (tmp_path / "a" / f).is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--target", "war=1.5:100"], "0 < SHARE < 1"),
        (["--target", "peace=0.5:100"], "unknown measure"),
        (["--target", "war=0.5"], "MEASURE=SHARE:SAMPLE_SIZE"),
        (["--params", "defender.strategy"], "not numeric"),
        (["--bounds", "challenger.p_need=0.5:2"], "allowed: 0 <= LOW < HIGH <= 1"),
    ],
)
def test_bad_input(tmp_path, extra, message):
    res = _cli(tmp_path, *extra)
    assert res.exit_code == 2 and message in res.output, res.output
    assert not (tmp_path / "c").exists()

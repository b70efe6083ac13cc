"""Outputs of a calibration run: files, manifest, report sections, refusal to overwrite."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from escalation_sim.calibration import ABCConfig, CalibrationError, calibrate, default_targets_path, load_targets, toy

R = 2000
TOY_ROLES = {"icb_violence": "fit", "icb_actor_outcome": "fit", "icb_war": "info", "icb_actor_settlement": "info"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The shipped targets against the toy simulator, the toy fitting the full ICB distributions (its outputs can
    match them; the crisis model's cannot, so the shipped roles fit their folded forms) and MID held out."""
    out = tmp_path_factory.mktemp("calib") / "run"
    ts = load_targets(default_targets_path(), toy.OUTPUTS, roles=TOY_ROLES)
    cfg = ABCConfig(population_size=150, seed=21, replications=R, max_generations=12)
    return calibrate(toy.ToySimulator(R), toy.OUTPUTS, ts, out, cfg, priors=toy.priors(), command="pytest"), out


def test_files_written(run):
    res, out = run
    names = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    expected = {"posterior.parquet", "posterior.csv", "history.parquet", "history.csv", "generations.parquet",
                "predictive.parquet", "predictive.csv", "predictive_targets.csv", "identifiability.csv",
                "manifest.json", "report.md", "figures/trace.png", "figures/marginals.png", "figures/pairs.png"}
    assert expected <= names
    post = pd.read_parquet(out / "posterior.parquet")
    assert list(post.columns) == ["particle", *toy.PARAMETERS, "weight", "distance"]
    assert post["weight"].sum() == pytest.approx(1.0)
    assert np.array_equal(post[list(toy.PARAMETERS)].to_numpy(), res.result.theta)
    hist = pd.read_csv(out / "history.csv")
    assert {"generation", "tolerance", "acceptance_rate", "ess", "simulations", "simulator_seed"} <= set(hist.columns)
    assert len(hist) == len(res.result.generations)
    assert not list(out.parent.glob(".run.tmp-*"))  # the temporary directory is gone


def test_manifest(run):
    res, out = run
    m = json.loads((out / "manifest.json").read_text())
    assert m["config"]["seed"] == 21 and m["config"]["population_size"] == 150
    assert m["generation_seeds"] == [g.simulator_seed for g in res.result.generations]
    assert m["distance"]["degrees_of_freedom"] == 6  # two fit targets of four categories
    assert m["targets"]["roles"]["mid_hostility"] == "check"
    assert {"numpy", "scipy", "pandas", "pyarrow"} <= set(m["versions"])
    assert [p["name"] for p in m["priors"]] == list(toy.PARAMETERS)


def test_report_sections_and_diagnostics(run):
    res, out = run
    text = (out / "report.md").read_text()
    for heading in ("## Run", "## Posterior", "## Fit to the fit targets", "## Held-out check (not used in the fit)",
                    "## Other recorded targets (not used)", "## What this calibration cannot identify"):
        assert heading in text
    # the toy's ICB outputs do not depend on f: the report must say that f is not identified
    cannot = text.split("## What this calibration cannot identify")[1]
    assert "`f`" in cannot
    # every fit and check category appears with its target
    cells = res.cells
    assert set(cells[cells.role == "fit"].target) == {"icb_violence", "icb_actor_outcome"}
    assert set(cells[cells.role == "check"].cell) == {"threat", "display", "use_of_force", "war"}
    assert "icb_actor_duration" in text  # listed as having no model counterpart
    row = cells[(cells.target == "icb_violence") & (cells.cell == "full_scale_war")].iloc[0]
    assert row.replicated_low <= row.parameter_low <= row.predictive_mean <= row.parameter_high <= row.replicated_high


def test_refuses_to_overwrite_and_force_replaces(run, tmp_path):
    _, out = run
    cfg = ABCConfig(population_size=20, seed=1, max_generations=2)
    with pytest.raises(CalibrationError) as e:
        calibrate(toy.ToySimulator(200), toy.OUTPUTS, default_targets_path(), out, cfg, priors=toy.priors())
    assert e.value.source == str(out) and "already holds results" in e.value.message
    fresh = tmp_path / "again"
    (fresh / "old.txt").parent.mkdir()
    (fresh / "old.txt").write_text("x")
    calibrate(toy.ToySimulator(200), toy.OUTPUTS, default_targets_path(), fresh, cfg, priors=toy.priors(), force=True,
              figures=False)
    assert not (fresh / "old.txt").exists() and (fresh / "posterior.parquet").exists()


def test_report_is_reproducible(tmp_path):
    """The same run twice: identical posterior Parquet, history, predictive tables and report."""
    cfg = ABCConfig(population_size=60, seed=5, replications=R, max_generations=4)
    outs = []
    for k in range(2):
        o = tmp_path / f"r{k}"
        calibrate(toy.ToySimulator(R), toy.OUTPUTS, default_targets_path(), o, cfg, priors=toy.priors(), figures=False)
        outs.append(o)
    for name in ("posterior.parquet", "history.parquet", "predictive.parquet", "report.md", "identifiability.csv"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name

"""Every file in ``experiments/`` loads, and every experiment runs end to end with few replications, with the
extra outputs of the analysis it names (selection bias, the ally's belief over time, the tournament, robustness).

An experiment with a ``[robustness]`` table runs that analysis at the table's size whatever ``-n`` says (256
points x 4,096 crises for deterrence-vs-reassurance-by-motive): the run here uses a copy with a small table.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from conftest import EXPERIMENTS, cli

from escalation_sim.analysis.calibration import ALLY_MEASURES, load_calibration
from escalation_sim.ipd.config import load_ipd_scenario
from escalation_sim.model.constants import OUTCOME_NAMES
from escalation_sim.model.validation import load_scenario
from escalation_sim.pipeline.experiment import load_experiment

FILES = sorted(EXPERIMENTS.glob("*.toml"))
RUNNABLE = [p for p in FILES if "[experiment]" in p.read_text()]
QUICK = {"default", "selection-bias", "public-vs-private"}
HOOK_FILES = {
    "selection_bias": ["selection_bias.csv"],
    "ally_decay": ["ally_confidence.csv"],
    "tournament": ["tournament_ranking.csv", "tournament_pairs.csv", "tournament_matrix.csv"],
    "robustness": ["robustness_points.csv", "robustness_summary.csv", "figures/robustness.png"],
}


def kind(path) -> str:
    text = path.read_text()
    for table, name in (("[experiment]", "experiment"), ("[calibration]", "calibration"), ("[ipd]", "ipd"),
                        ("[scenario]", "scenario")):
        if re.search(rf"^{re.escape(table)}", text, flags=re.M):
            return name
    return "unknown"


def test_there_are_experiments_of_every_kind():
    kinds = {kind(p) for p in FILES}
    assert kinds == {"experiment", "calibration", "ipd", "scenario"}
    assert len(RUNNABLE) >= 10


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_file_loads(path):
    k = kind(path)
    if k == "experiment":
        exp = load_experiment(path)
        assert exp.cells and len({c.label for c in exp.cells}) == len(exp.cells)
    elif k == "calibration":
        spec = load_calibration(path)
        assert spec.priors
    elif k == "ipd":
        load_ipd_scenario(path)
    else:
        scen = load_scenario(path)
        assert scen.name == path.stem


def hooks(path) -> list[str]:
    text = path.read_text()
    names = []
    m = re.search(r'^analysis = "([a-z_]+)"', text, flags=re.M)
    if m:
        names.append(m.group(1))
    if "[tournament]" in text and 'form = "ipd"' not in text:
        names.append("tournament")
    if "[robustness]" in text:
        names.append("robustness")
    return names


def small_copy(path, tmp_path):
    """The experiment with an absolute scenario path and, if it has one, a small ``[robustness]`` table."""
    text = path.read_text()
    text = re.sub(r'^scenario = "([^"]+)"', lambda m: f'scenario = "{(path.parent / m.group(1)).as_posix()}"', text,
                  count=1, flags=re.M)
    text = re.sub(r"(\[robustness\]\n)(?:[a-z]+ = [0-9]+\n)+", r"\1points = 8\nreplications = 64\n", text)
    p = tmp_path / path.name
    p.write_text(text)
    return p


@pytest.mark.parametrize("path", [pytest.param(p, marks=[] if p.stem in QUICK else [pytest.mark.slow], id=p.stem)
                                  for p in RUNNABLE])
def test_every_experiment_runs_with_its_analysis(path, tmp_path):
    exp = load_experiment(path)
    out = tmp_path / "o"
    extra = ["--illustrative"] if "posterior" in exp.raw else []  # the pipeline at the scenario's values
    res = cli("run", small_copy(path, tmp_path), "-n", 300, "--block-size", 100, "--seed", 2, "--out", out,
              "--no-progress", *extra)
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["exit_status"] == "complete"
    if exp.form == "ipd":
        assert (out / "standings.csv").is_file() or list(out.glob("*standings*"))
        return
    cells = pd.read_csv(out / "cells.csv")
    assert len(cells) == len(exp.cells) and (cells["n"] == 300).all()
    assert (cells["p_war"].between(0, 1)).all() and (out / "report.md").is_file()
    for hook in hooks(path):
        for name in HOOK_FILES[hook]:
            assert (out / name).is_file(), (hook, name)


CALIBRATED = [p for p in RUNNABLE if "posterior" in load_experiment(p).raw]


def test_the_literature_experiments_run_on_the_calibrated_posterior():
    """Issue 13: the shipped posterior is the default of the literature experiments."""
    names = {p.stem for p in CALIBRATED}
    assert {"default", "deterrence-vs-reassurance-by-motive", "tournament"} <= names
    for p in CALIBRATED:
        assert load_experiment(p).raw["posterior"]["file"] == "crisis-record"


@pytest.mark.parametrize("path", [pytest.param(p, marks=[] if p.stem == "default" else [pytest.mark.slow], id=p.stem)
                                  for p in CALIBRATED])
def test_every_calibrated_experiment_runs_over_its_posterior(path, tmp_path):
    """Two draws, 200 crises each: every cell gets every outcome's posterior share, all challengers and by motive."""
    exp = load_experiment(path)
    out = tmp_path / "o"
    res = cli("run", small_copy(path, tmp_path), "--draws", 2, "-n", 200, "--seed", 2, "--out", out, "--threads", 1)
    assert res.exit_code == 0, res.output
    cells = pd.read_csv(out / "posterior_cells.csv")
    allc = cells[(cells["motive"] == "all")]
    assert sorted(allc["cell"].unique()) == list(range(len(exp.cells)))
    crisis = allc[allc["measure"].isin(OUTCOME_NAMES)]
    assert np.allclose(crisis.groupby("cell")["mean"].sum(), 1.0)
    # the ally's outcomes are reported iff the scenario has an ally; entrapment is a war (in a crisis the ally
    # opened), so its share never exceeds the war share, draw by draw and so on average
    ally = allc[allc["measure"].isin(ALLY_MEASURES)].pivot(index="cell", columns="measure", values="mean")
    has_ally = exp.cells[0].scenario.value("ally.present") != 0.0
    assert (len(ally) == len(exp.cells)) == has_ally and (len(ally) == 0) == (not has_ally)
    if has_ally:
        war = crisis[crisis["measure"] == "war"].set_index("cell")["mean"]
        assert ((ally >= 0) & (ally <= 1)).all().all()
        assert (ally["entrapment"] <= war + 1e-12).all()
        assert (ally["proliferation"] <= ally["programme"] + 1e-12).all()
    assert json.loads((out / "manifest.json").read_text())["exit_status"] == "complete"
    assert "Ranking over the posterior" in res.output
    # an experiment with literature contrasts tells the reader of its report where they hold, and how to see it
    report = (out / "report.md").read_text()
    assert ("## Where the contrasts hold" in report) == ("robustness" in exp.raw)
    if "robustness" in exp.raw:
        assert "escalation-sim robustness " in report and "--posterior " in report


def test_the_robustness_table_is_validated(tmp_path):
    path = EXPERIMENTS / "deterrence-vs-reassurance-by-motive.toml"
    bad = small_copy(path, tmp_path)
    bad.write_text(bad.read_text().replace("points = 8", "points = 8\ncolour = 3"))
    res = cli("run", bad, "-n", 100, "--out", tmp_path / "o")
    assert res.exit_code == 2 and "robustness.colour" in res.output

"""Every shipped experiment file loads and runs end to end (with few replications)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from escalation_sim.cli import main
from escalation_sim.pipeline.experiment import load_experiment

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted(p for p in (ROOT / "experiments").glob("*.toml") if "[experiment]" in p.read_text())


def test_there_are_experiments():
    assert len(EXPERIMENTS) >= 5


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_runs(path, tmp_path):
    exp = load_experiment(path)
    res = CliRunner().invoke(main, ["run", str(path), "-n", "600", "--block-size", "200", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    cells = pd.read_csv(tmp_path / "o" / "cells.csv")
    assert len(cells) == len(exp.cells) and (cells["n"] == 600).all()

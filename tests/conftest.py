"""Shared fixtures: the two shipped scenarios, a scenario builder, and a small experiment for the scale tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import settings

from escalation_sim.cli import main
from escalation_sim.model.scenario import Scenario
from escalation_sim.model.validation import load_scenario

settings.register_profile("ci", max_examples=30, deadline=None)
settings.load_profile("ci")

REPO = Path(__file__).resolve().parent.parent
EXPERIMENTS = REPO / "experiments"
DIRECT_TOML = EXPERIMENTS / "direct-deterrence.toml"
EXTENDED_TOML = EXPERIMENTS / "extended-deterrence.toml"


def build_scenario(values: dict | None = None, strategies=None, population=None, name: str = "test") -> Scenario:
    """Build a validated scenario from Python values (``section.name -> raw value``)."""
    return Scenario.build(name=name, values=values, strategies=strategies, population=population)


@pytest.fixture(scope="session")
def direct() -> Scenario:
    """The shipped direct-deterrence scenario."""
    return load_scenario(DIRECT_TOML)


@pytest.fixture(scope="session")
def extended() -> Scenario:
    """The shipped extended-deterrence scenario."""
    return load_scenario(EXTENDED_TOML)


@pytest.fixture
def build():
    """The :func:`build_scenario` helper, as a fixture."""
    return build_scenario


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


# --- a small experiment run through the command line (tests/test_scale.py, tests/test_dask.py) ---------------
def scale_experiment(tmp_path: Path, seed: int = 5, reps: int = 6000) -> Path:
    """Three cells of the extended-deterrence scenario in blocks of 250 (24 blocks per cell at 6,000 replications)."""
    p = tmp_path / f"exp{seed}.toml"
    p.write_text(
        f'[experiment]\nname = "scale"\nscenario = "{EXTENDED_TOML}"\nreplications = {reps}\nseed = {seed}\n'
        "block_size = 250\n"
        '[grid]\n"defender.strategy" = [["immediate_deterrence", "tripwire"], ["grit", "aid"], ["tit_for_tat"]]\n'
    )
    return p


def cli(*args):
    """``escalation-sim ARGS`` through click's runner."""
    return CliRunner().invoke(main, [str(a) for a in args])


def tables(d: Path) -> tuple[bytes, bytes]:
    """The bytes of a run's cell and outcome tables."""
    return (d / "cells.csv").read_bytes(), (d / "outcomes.csv").read_bytes()


@pytest.fixture
def reference(tmp_path):
    """:func:`scale_experiment` and its run in one process, one thread."""
    exp = scale_experiment(tmp_path)
    out = tmp_path / "single"
    assert cli("run", exp, "--out", out, "--threads", "1").exit_code == 0
    return exp, out

"""Shared fixtures: the two shipped scenarios and a scenario builder."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

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

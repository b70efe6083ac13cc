"""The timeline ``simulate`` prints (escalation_sim.report.timeline): what each line says is what happened."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import DIRECT_TOML, EXTENDED_TOML

from escalation_sim.cli import main
from escalation_sim.engines.simpy_engine import simulate
from escalation_sim.model.validation import load_scenario
from escalation_sim.report.timeline import BEFORE_A_CHALLENGE, describe, general_deterrence


def _first(scenario, want, seeds=range(1, 200)):
    """The first seed (replication 0) whose crisis satisfies ``want``."""
    for seed in seeds:
        res = simulate(scenario, seed=seed)
        if want(res):
            return seed, res
    raise AssertionError("no such crisis among the seeds tried")


def _lines(args) -> list[str]:
    res = CliRunner().invoke(main, ["simulate", *map(str, args)])
    assert res.exit_code == 0, res.output
    return res.output.splitlines()


def test_strategies_in_place_before_a_challenge_come_from_the_catalogue():
    """The strategies the model applies at set-up: a standing posture, a tripwire, alliance terms."""
    assert BEFORE_A_CHALLENGE == {"general_deterrence", "tripwire", "alliance_terms"}
    assert not general_deterrence(("immediate_deterrence",))
    assert general_deterrence(("immediate_deterrence", "tripwire", "public_statement"))


def test_no_challenge_without_general_deterrence_is_not_called_deterrence():
    """Direct deterrence (immediate deterrence only): a challenger that does not challenge was not deterred by a
    general-deterrence posture, because there is none; the line says its motivation was too low."""
    scen = load_scenario(DIRECT_TOML)
    seed, _ = _first(scen, lambda r: r.outcome == "no_challenge")
    line = next(x for x in _lines([DIRECT_TOML, "--seed", seed]) if "decides not to challenge" in x)
    assert "general deterrence holds" not in line
    assert "motivation is below its challenge threshold (no general deterrence)" in line


def test_no_challenge_under_general_deterrence_says_so():
    """The same scenario with a general-deterrence posture, and extended deterrence (a tripwire)."""
    scen = load_scenario(DIRECT_TOML, {"defender.strategy": ["general_deterrence", "immediate_deterrence"]})
    seed, _ = _first(scen, lambda r: r.outcome == "no_challenge")
    args = [DIRECT_TOML, "--seed", seed, "-d", "general_deterrence", "-d", "immediate_deterrence"]
    assert any(x.endswith("decides not to challenge: general deterrence holds") for x in _lines(args))
    seed, _ = _first(load_scenario(EXTENDED_TOML), lambda r: r.outcome == "no_challenge")
    assert any(x.endswith("decides not to challenge: general deterrence holds")
               for x in _lines([EXTENDED_TOML, "--seed", seed]))


def test_audience_lines_print_pressure_and_the_ally_audience_passes_fear_on():
    """Crisis audiences print their pressure after the move (the trace's value); the ally's audience has no
    pressure: its value is the move's level, which it passes on to the ally's leader as fear."""
    scen = load_scenario(EXTENDED_TOML)
    seed, res = _first(scen, lambda r: (r.trace["actor"] == "ally.audience").any()
                       and (r.trace["actor"] == "challenger.audience").any())
    rows = [(line[10:29].strip(), line[30:]) for line in _lines([EXTENDED_TOML, "--seed", seed])
            if line[10:29].strip().endswith(".audience")]  # "    day  actor               what happened"
    ally = [text for actor, text in rows if actor == "ally.audience"]
    assert ally and all(t.endswith("passes it on to the ally's leader as fear") and "pressure" not in t for t in ally)
    tr = res.trace
    seen = tr[tr["actor"].isin(["challenger.audience", "defender.audience"]) & tr["observed"]
              & (tr["message"] == "signal") & (tr["event"] == "pressure")]
    crisis = [text for actor, text in rows if actor != "ally.audience"]
    assert len(crisis) == len(seen) > 0
    for text, value in zip(crisis, seen["value"], strict=True):
        assert text.endswith(f"pressure now {value:.2f}")


@pytest.mark.parametrize("in_place", [True, False])
def test_describe_no_challenge_row(in_place):
    row = {"event": "no_challenge", "value": -1.0, "level_sent": -1, "level_perceived": -1, "sender": "",
           "public": False, "message": "start", "observed": False, "incident": False, "misperceived": False,
           "actor": "challenger.leader"}
    assert ("general deterrence holds" in describe(row, in_place)) is in_place

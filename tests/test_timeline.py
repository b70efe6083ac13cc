"""The timeline ``simulate`` prints (``report/timeline.py``): each line says what the trace row says happened.

Issue 10's two display bugs are regression-tested in the new model's terms: a challenger that lets an opportunity
pass is said to face general deterrence only when the defender's mix has it, and the ally's audience passes fear
on instead of printing a "pressure" that is really the move's level.
"""

from __future__ import annotations

import json

import pytest
from conftest import DIRECT_TOML, EXTENDED_TOML, build_scenario, cli

from escalation_sim.engines.simpy_engine import simulate
from escalation_sim.model.validation import load_scenario
from escalation_sim.report.timeline import (
    BEFORE_A_CHALLENGE,
    crisis_record,
    crisis_text,
    describe,
    format_timeline,
    general_deterrence,
)


def _first(scenario, want, seeds=range(1, 300)):
    """The first seed (replication 0) whose crisis satisfies ``want``."""
    for seed in seeds:
        res = simulate(scenario, seed=seed)
        if want(res):
            return seed, res
    raise AssertionError("no such crisis among the seeds tried")


def _lines(args) -> list[str]:
    res = cli("simulate", *args)
    assert res.exit_code == 0, res.output
    return res.stdout.splitlines()


def test_strategies_in_place_before_a_challenge_are_the_standing_commitments():
    """docs/model.md: a leader is committed "by policy (general deterrence, a tripwire, alliance terms...)"."""
    assert BEFORE_A_CHALLENGE == {"general_deterrence", "tripwire", "alliance_terms"}
    assert not general_deterrence(("immediate_deterrence", "grit"))
    assert general_deterrence(("immediate_deterrence", "tripwire", "public_statement"))


def test_a_pass_without_general_deterrence_is_not_called_deterrence():
    scen = load_scenario(DIRECT_TOML)
    seed, _ = _first(scen, lambda r: (r.trace["event"] == "wait").any())
    waits = [x for x in _lines([DIRECT_TOML, "--seed", seed]) if "lets a challenge opportunity pass" in x]
    assert waits and all("no general deterrence in place" in x and "facing general" not in x for x in waits)


def test_a_pass_under_general_deterrence_says_so():
    scen = load_scenario(DIRECT_TOML, {"defender.strategy": ["general_deterrence", "immediate_deterrence"]})
    seed, res = _first(scen, lambda r: (r.trace["event"] == "wait").any())
    args = [DIRECT_TOML, "--seed", seed, "-d", "general_deterrence", "-d", "immediate_deterrence"]
    waits = [x for x in _lines(args) if "lets a challenge opportunity pass" in x]
    assert len(waits) == (res.trace["event"] == "wait").sum()
    for line, p in zip(waits, res.trace.loc[res.trace["event"] == "wait", "value"], strict=True):
        assert line.endswith(f"(P(wait) {p:.2f}; facing general deterrence)")


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
    seen = tr[tr["actor"].isin(["challenger.audience", "defender.audience"]) & (tr["event"] == "pressure")]
    crisis = [text for actor, text in rows if actor != "ally.audience"]
    assert len(crisis) == len(seen) > 0
    for text, value in zip(crisis, seen["value"], strict=True):
        assert text.endswith(f"pressure now {value:.3f}")


def test_one_line_per_row_except_bookkeeping_and_decisions_named():
    """Ticks and messages ignored after the outcome print nothing; every other row prints one line, and a leader's
    decision line names the move: the level it escalated to, the terms it offered, conceded or settled at."""
    scen = build_scenario({"crisis.opportunity_rate": 0.1, "military.incident_rate": 0.05}, ["reciprocal_concessions"])
    names = {"escalate": "ESCALATES to", "offer": "OFFERS terms", "concede": "CONCEDES", "settle": "SETTLES",
             "war": "WAR", "back_down": "BACKS DOWN", "incident": "no reply"}
    seen = set()
    for seed in range(40):
        res = simulate(scen, seed)
        tr = res.trace
        lines = format_timeline(tr).splitlines()
        shown = tr[~tr["event"].isin(["tick", "ignored"])]
        assert len(lines) == len(shown)
        for line, (_, row) in zip(lines, shown.iterrows(), strict=True):
            assert line.startswith(f"{row['time']:8.1f}  {row['actor']:<19} ")
            if row["actor"].endswith("leader") and row["message"] == "signal" and row["event"] in names:
                assert names[row["event"]] in line
                seen.add(row["event"])
                if row["event"] == "escalate":
                    assert line.endswith(["demand", "threat", "show of force", "mobilization", "limited force"]
                                         [int(row["level"]) - 1])
                if row["event"] in ("offer", "concede", "settle"):
                    assert line.endswith(f"{row['value']:.2f}")
                if row["misperceived"]:
                    assert "(misperceived)" in line
    assert {"escalate", "offer", "settle"} <= seen


def test_grit_transfers_and_reports():
    scen = build_scenario({"crisis.opportunity_rate": 0.0}, ["grit", "norms_of_competition"])
    res = simulate(scen, 2)
    text = format_timeline(res.trace)
    got = [line[-4:] for line in text.splitlines() if "receives a GRIT transfer: its status-quo share is now" in line]
    assert got == ["0.53", "0.56", "0.59"]  # 0.5 + k x 0.03
    assert "receives a report on the adversary's type" in text
    assert text.count("makes a GRIT transfer") == 2  # the first transfer is made at the defender's start


@pytest.mark.parametrize(("want", "needle"), [
    ("no_challenge", "Outcome: no challenge within the horizon (365 days)"),
    ("war", "won the war"),
    ("settlement", "Outcome: settlement on day"),
])
def test_outcome_line(want, needle):
    scen = load_scenario(DIRECT_TOML, {"defender.strategy": ["reciprocal_concessions"]}
                         if want == "settlement" else None)
    if want == "no_challenge":
        scen = load_scenario(DIRECT_TOML, {"crisis.opportunity_rate": 0.002})
    _, res = _first(scen, lambda r: r.outcome == want)
    text = crisis_text(scen, res)
    assert needle in text and f"the challenger's final share {res.terms:.2f}" in text
    assert res.challenger_type.replace("_", " ") in text and scen.mixes[res.mix].label in text


def test_record_is_the_result(extended):
    res = simulate(extended, 3)
    rec = crisis_record(extended, res)
    assert json.loads(json.dumps(rec)) == rec
    assert (rec["outcome"], rec["end_time"], rec["terms"], rec["challenger_type"]) == (
        res.outcome, res.end_time, res.terms, res.challenger_type)
    assert len(rec["trace"]) == len(res.trace) == rec["events"]


def test_describe_unknown_event_and_bookkeeping():
    row = {"event": "tick", "value": -1.0, "level_sent": -1, "level_perceived": -1, "sender": "", "public": False,
           "message": "incident_tick", "observed": False, "incident": False, "misperceived": False,
           "actor": "defender.military", "level": -1.0}
    assert describe(row) is None
    assert describe({**row, "event": "something_new"}) == "something new"

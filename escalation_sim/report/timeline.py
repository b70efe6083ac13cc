"""One crisis as a person reads it (a timeline, day by day) and as a JSON record (``simulate --json``)."""

from __future__ import annotations

import json

import pandas as pd

from ..engines.simpy_engine import CrisisResult
from ..model.constants import ACTOR_NAMES, ALLY, AUDIENCE, LEVEL_NAMES
from ..model.scenario import Scenario
from ..model.strategies import STRATEGIES

ALLY_AUDIENCE = ACTOR_NAMES[3 * ALLY + AUDIENCE]
#: Defender strategies in place before any challenge: those the model applies at set-up (general deterrence: a
#: standing posture, a tripwire force, precise alliance terms raise the challenger's belief that the defender fights).
BEFORE_A_CHALLENGE = frozenset(s.name for s in STRATEGIES
                               if s.side == "defender" and "setup" in (r.strip() for r in s.rule.split(",")))


def general_deterrence(strategies) -> bool:
    """Whether a defender mix deters before any challenge (holds a strategy of :data:`BEFORE_A_CHALLENGE`)."""
    return any(name in BEFORE_A_CHALLENGE for name in strategies)


def _lvl(v: int) -> str:
    return LEVEL_NAMES[v].replace("_", " ") if 0 <= v < len(LEVEL_NAMES) else "?"


def describe(row: pd.Series, deterrence_in_place: bool = True) -> str | None:
    """One line for a trace row, or None for bookkeeping rows (ticks, ignored).

    ``deterrence_in_place``: the defender's mix deters before any challenge
    (:func:`general_deterrence`); a challenger that then does not challenge is
    deterred, otherwise its own motivation was too low.
    """
    ev = row["event"]
    lvl = int(row["value"]) if row["value"] >= 0 else -1
    sent, seen = int(row["level_sent"]), int(row["level_perceived"])
    who = f"from {row['sender']}" if row["sender"] else ""
    vis = "public" if row["public"] else "private"
    if ev in ("ignored", "tick"):
        return None
    if ev == "challenge":
        return "opens a crisis: demand (public)"
    if ev == "no_challenge":
        if deterrence_in_place:
            return "decides not to challenge: general deterrence holds"
        return "decides not to challenge: its motivation is below its challenge threshold (no general deterrence)"
    if row["message"] == "signal" and not row["observed"]:
        what = "incident (" + _lvl(sent) + ")" if row["incident"] else _lvl(sent)
        read = f"reads {what} {who}"
        if row["misperceived"] or (seen >= 0 and seen != sent):
            read += f" AS {_lvl(seen)}" + (" (misperceived)" if row["misperceived"] else "")
        if ev == "respond":
            return f"{read} -> answers {_lvl(lvl)}"
        if ev == "incident":
            return f"{read} -> no reply"
        return f"{read} -> {ev.replace('_', ' ').upper()}"
    if row["message"] == "signal" and row["observed"]:
        if row["actor"] == ALLY_AUDIENCE:  # it passes the move on as fear; its value is the move's level
            return f"sees {_lvl(sent)} {who} ({vis}); passes it on to the ally's leader as fear"
        if row["actor"].endswith("audience"):
            return f"sees {_lvl(sent)} {who} ({vis}); pressure now {row['value']:.2f}"
        return f"observes {_lvl(sent)} {who}"
    labels = {
        "order": f"receives order: {_lvl(lvl)}" if lvl >= 0 else "receives order",
        "executed": f"carries out {_lvl(lvl)}",
        "demand_action": "audience demands action",
        "pressure": "fear from the challenger's move erodes confidence",
        "support": "receives support",
        "review": f"reviews confidence: {row['value']:.2f}",
        "hedge_start": f"confidence {row['value']:.2f} too low: starts a proliferation programme",
        "hedge_stop": f"confidence {row['value']:.2f} restored: shelves the programme",
        "proliferate": "PROLIFERATES: the programme matured",
        "programme_shelved": "programme timer ends; programme was shelved",
        "renew": "renews its reassurance of the ally",
        "start": "starts",
        "incident": "causes an INCIDENT",
    }
    return labels.get(ev, ev)


def format_timeline(trace: pd.DataFrame, max_rows: int | None = None, deterrence_in_place: bool = True) -> str:
    """Readable lines ``day  actor  what happened`` (``deterrence_in_place``: see :func:`describe`)."""
    lines = []
    for _, row in trace.iterrows():
        text = describe(row, deterrence_in_place)
        if text is None:
            continue
        lines.append(f"{row['time']:8.1f}  {row['actor']:<19} {text}")
    if max_rows is not None and len(lines) > max_rows:
        lines = lines[:max_rows] + [f"   ... {len(lines) - max_rows} more lines (use --json for the full trace)"]
    return "\n".join(lines)


def crisis_record(scenario: Scenario, res: CrisisResult) -> dict:
    """One crisis as a JSON-able record: scenario, seed, mix, motive, outcome, and the full trace."""
    return {
        "scenario": scenario.name,
        "seed": res.seed,
        "replication": res.replication,
        "defender_mix": scenario.mixes[res.mix].label,
        "challenger_need_driven": res.need_driven,
        "outcome": res.outcome,
        "end_time": res.end_time,
        "ally_proliferated": res.ally_proliferated,
        "events": res.events,
        "trace": json.loads(res.trace.to_json(orient="records")),
    }


def crisis_text(scenario: Scenario, res: CrisisResult) -> str:
    """One crisis for a terminal: who, the timeline day by day, the outcome."""
    motive = "need-driven" if res.need_driven else "opportunity-driven"
    when = "at t = 0" if res.outcome == "no_challenge" else f"on day {res.end_time:.1f}"
    lines = [
        f"Crisis '{scenario.name}'  seed {res.seed}  replication {res.replication}",
        f"Challenger: {motive}.  Defender strategy mix: {scenario.mixes[res.mix].label}",
        "",
        "     day  actor               what happened",
        format_timeline(res.trace, deterrence_in_place=general_deterrence(scenario.mixes[res.mix].strategies)),
        "",
        f"Outcome: {res.outcome.replace('_', ' ')} {when}",
    ]
    if scenario.value("ally.present"):
        lines.append(f"Ally proliferated within the horizon: {'yes' if res.ally_proliferated else 'no'}")
    return "\n".join(lines)

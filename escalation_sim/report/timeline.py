"""One crisis as a person reads it (a timeline, day by day) and as a JSON record (``simulate --json``)."""

from __future__ import annotations

import json

import pandas as pd

from ..engines.simpy_engine import CrisisResult
from ..model.constants import ACTOR_NAMES, ALLY, AUDIENCE, LEVEL_NAMES, STATE_NAMES
from ..model.doctrine import deployed_by_policy, policy_committed
from ..model.params import vector_from
from ..model.scenario import Scenario
from ..model.strategies import ALLY_INSTRUMENTS, STRATEGIES

ALLY_AUDIENCE = ACTOR_NAMES[3 * ALLY + AUDIENCE]


def _commits(p) -> bool:
    """Whether a mix commits the defender from t = 0 when its standing instruments are deployed."""
    return policy_committed(p, 1, deployed_by_policy(p)) > 0.0
#: Defender strategies that commit it before any challenge (general deterrence: a standing posture and declared
#: commitment; with an ally, a tripwire or precise alliance terms): read from the model's doctrine, so the list
#: follows the rules (``model/doctrine.policy_committed``).
BEFORE_A_CHALLENGE = frozenset(
    s.name for s in STRATEGIES
    if s.side == "defender" and _commits(vector_from({"ally.present": 1.0}, (s.name,)))
)


def general_deterrence(strategies) -> bool:
    """Whether a defender mix is committed before any challenge (holds a strategy of :data:`BEFORE_A_CHALLENGE`)."""
    return any(name in BEFORE_A_CHALLENGE for name in strategies)


def _lvl(v: int) -> str:
    return LEVEL_NAMES[v].replace("_", " ") if 0 <= v < len(LEVEL_NAMES) else "?"


def _instrument(k: float) -> str:
    k = int(k)
    return ALLY_INSTRUMENTS[k].replace("_", " ") if 0 <= k < len(ALLY_INSTRUMENTS) else "?"


def _decision(row) -> str | None:
    """What a leader decided (the trace's event after it perceived a move), or None if it is not a decision."""
    ev, value = row["event"], row["value"]
    if ev == "escalate":
        return f"ESCALATES to {_lvl(int(row['level']))}"
    return {
        "offer": f"OFFERS terms: the challenger's share {value:.2f}",
        "back_down": "BACKS DOWN",
        "concede": f"CONCEDES: the challenger's share {value:.2f}",
        "settle": f"SETTLES at the challenger's share {value:.2f}",
        "war": "goes to WAR",
        "incident": "no reply",
        "incident_recognised": "recognises an incident: no reply",
    }.get(ev)


def describe(row: pd.Series, deterrence_in_place: bool = True) -> str | None:
    """One line for a trace row, or None for bookkeeping rows (ticks, messages ignored once the crisis is over).

    ``deterrence_in_place``: the defender's mix commits it before any challenge (:func:`general_deterrence`);
    a challenger that lets an opportunity pass then faces general deterrence, otherwise it faces none.
    """
    ev = row["event"]
    value = row["value"]
    sent, seen = int(row["level_sent"]), int(row["level_perceived"])
    who = f"from {row['sender']}" if row["sender"] else ""
    vis = "public" if row["public"] else "private"
    if ev in ("ignored", "tick"):
        return None
    if ev == "wait":
        facing = "facing general deterrence" if deterrence_in_place else "no general deterrence in place"
        return f"lets a challenge opportunity pass (P(wait) {value:.2f}; {facing})"
    if ev == "challenge":
        return f"opens a crisis: demands the challenger's share {value:.2f} (public)"
    if row["message"] == "opportunity" and ev == "war":
        return "strikes at an opportunity: WAR without a crisis"
    if row["message"] == "signal" and not row["observed"]:
        what = "incident (" + _lvl(sent) + ")" if row["incident"] else _lvl(sent)
        read = f"reads {what} {who}"
        if row.get("offer", False):
            read = read.replace(f"reads {what}", f"reads an offer (at {what})")
        if row["misperceived"] or (seen >= 0 and seen != sent):
            read += f" AS {_lvl(seen)}" + (" (misperceived)" if row["misperceived"] else "")
        decided = _decision(row)
        return f"{read} -> {decided}" if decided else f"{read} -> {ev.replace('_', ' ')}"
    if row["message"] == "signal" and row["observed"]:
        if row["actor"] == ALLY_AUDIENCE:  # it passes the move on as fear; its value is the move's level
            return f"sees {_lvl(sent)} {who} ({vis}); passes it on to the ally's leader as fear"
        if row["actor"].endswith("audience"):
            return f"sees {_lvl(sent)} {who} ({vis}); pressure now {value:.3f}"
        return f"observes {_lvl(sent)} {who}"
    labels = {
        "start": "starts",
        "report": "receives a report on the adversary's type",
        "order": f"receives order: {_lvl(int(row['level']))}" if row["level"] >= 0 else "receives order",
        "executed": f"carries out {_lvl(int(row['level']))}",
        "incident": "causes an INCIDENT",
        "transfer": (f"receives a GRIT transfer: its status-quo share is now {value:.2f}" if value >= 0
                     else "makes a GRIT transfer"),
        "renew": "renews its reassurance of the ally",
        "programme_detected": "DETECTS the ally's proliferation programme",
        "pressure": "hears of a challenger move: the risk of attack rises",
        "support": f"receives {_instrument(row['level'])}: belief the defender is committed {value:.2f}",
        "reassurance_withheld": (f"expected {_instrument(row['level'])} and did not get it: "
                                 f"belief the defender is committed {value:.2f}"),
        "stay": f"reviews: stays (belief the defender is committed {value:.2f})",
        "review": f"reviews: keeps its programme running (belief {value:.2f})",
        "hedge_start": f"reviews: HEDGES, starts a proliferation programme (belief {value:.2f})",
        "hedge_stop": f"reviews: shelves its programme (belief {value:.2f})",
        "provoke": f"reviews: TAKES RISKS against the challenger (belief {value:.2f})",
        "proliferate": "PROLIFERATES: the programme matured",
        "programme_shelved": "programme timer ends; the programme was shelved",
    }
    return labels.get(ev, ev.replace("_", " "))


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
    """One crisis as a JSON-able record: scenario, seed, mix, motive, types, outcome, and the full trace."""
    return {
        "scenario": scenario.name,
        "seed": res.seed,
        "replication": res.replication,
        "defender_mix": scenario.mixes[res.mix].label,
        "challenger_need_driven": res.need_driven,
        "challenger_type": res.challenger_type,
        "defender_type": res.defender_type,
        "outcome": res.outcome,
        "end_time": res.end_time,
        "challenge_time": res.challenge_time,
        "terms": res.terms,
        "winner": res.winner,
        "inadvertent": res.inadvertent,
        "ally_proliferated": res.ally_proliferated,
        "events": res.events,
        "trace": json.loads(res.trace.to_json(orient="records")),
    }


def crisis_text(scenario: Scenario, res: CrisisResult) -> str:
    """One crisis for a terminal: who, the timeline day by day, the outcome."""
    motive = "need-driven" if res.need_driven else "opportunity-driven"
    if res.outcome == "no_challenge" and not scenario.value("ally.present"):
        return "\n".join([
            f"Crisis '{scenario.name}'  seed {res.seed}  replication {res.replication}",
            f"Challenger: {motive}, {res.challenger_type.replace('_', ' ')}; defender mix {scenario.mixes[res.mix].label}",
            f"Outcome: no challenge within the horizon ({res.end_time:g} days); the challenger's final share "
            f"{res.terms:.2f}. It let every opportunity pass (another --replication or --seed shows a crisis).",
        ])
    if res.outcome == "no_challenge":
        when = f"within the horizon ({res.end_time:g} days)"
    elif res.outcome == "unresolved":
        when = f"at the horizon (day {res.end_time:g}; challenged on day {res.challenge_time:.1f})"
    else:
        when = f"on day {res.end_time:.1f}"
    lines = [
        f"Crisis '{scenario.name}'  seed {res.seed}  replication {res.replication}",
        f"Challenger: {motive}, {res.challenger_type.replace('_', ' ')}.  Defender: "
        f"{res.defender_type.replace('_', ' ')}; strategy mix: {scenario.mixes[res.mix].label}",
        "",
        "     day  actor               what happened",
        format_timeline(res.trace, deterrence_in_place=general_deterrence(scenario.mixes[res.mix].strategies)),
        "",
        f"Outcome: {res.outcome.replace('_', ' ')} {when}; the challenger's final share {res.terms:.2f}"
        + (f" ({res.winner} won the war{', inadvertent' if res.inadvertent else ''})" if res.outcome == "war" else ""),
    ]
    if scenario.value("ally.present"):
        lines.append(f"Ally proliferated within the horizon: {'yes' if res.ally_proliferated else 'no'}")
    return "\n".join(lines)


__all__ = ["BEFORE_A_CHALLENGE", "STATE_NAMES", "crisis_record", "crisis_text", "describe", "format_timeline",
           "general_deterrence"]

"""One crisis as a person reads it (a timeline, day by day) and as a JSON record (``simulate --json``).

Each trace row of the SimPy engine (``engines/simpy_engine.py``: event, levels sent and perceived, the value
the handler reported) becomes one line; bookkeeping rows (incident clock ticks, ignored messages) are left
out. A replication in which the challenger never challenges is said in one line, not as a year of clockwork.
"""

from __future__ import annotations

import json

import pandas as pd

from ..engines.simpy_engine import CrisisResult
from ..model.constants import LEVEL_NAMES
from ..model.scenario import Scenario

ALLY_ACTORS = ("ally.leader", "ally.audience", "ally.military")


def _lvl(v: int) -> str:
    return LEVEL_NAMES[v].replace("_", " ") if 0 <= v < len(LEVEL_NAMES) else "?"


def describe(row: pd.Series) -> str | None:
    """One line for a trace row, or None for bookkeeping rows (ticks, ignored messages, the starts)."""
    ev = row["event"]
    value = float(row["value"])
    level = int(row["level"]) if row["level"] >= 0 else -1
    sent, seen = int(row["level_sent"]), int(row["level_perceived"])
    who = f"from {row['sender']}" if row["sender"] else ""
    if ev in ("ignored", "tick", "start"):
        return None
    if ev == "wait":
        return f"a challenge opportunity: waits (P(wait) {value:.2f})"
    if ev == "challenge":
        return f"CHALLENGES: a public demand for {value:.2f} of the stake"
    if ev == "report":
        return "receives a report on the adversary's type (norms / regime)"
    if ev == "transfer":
        if row["message"] == "grit_step" or row["actor"].startswith("defender"):
            return "makes an announced GRIT transfer (a unilateral concession)"
        return f"receives a GRIT transfer: the status quo moves to {value:.2f}"
    if row["message"] == "signal" and not row["observed"]:
        what = "an incident" if row["incident"] else _lvl(sent) + (" with an offer" if row.get("offer", False) else "")
        read = f"reads {what} {who}"
        if row["misperceived"] or (seen >= 0 and seen != sent):
            read += f" AS {_lvl(seen)}" + (" (misperceived)" if row["misperceived"] else "")
        if ev == "perceived":
            return f"{read}; believes the adversary greedy with p = {value:.2f}"
        if ev == "incident_recognised":
            return f"{read}: recognised as an incident, no reaction"
        if ev == "incident":
            return f"{read} -> no reply (P(war) was {value:.2f})"
        action = {"escalate": f"escalates to {_lvl(level)}", "offer": f"offers terms {value:.2f}",
                  "war": "goes to WAR", "back_down": "BACKS DOWN", "concede": f"CONCEDES {value:.2f}",
                  "settle": f"SETTLES at {value:.2f}"}.get(ev, ev.replace("_", " "))
        return f"{read} -> {action}"
    if row["message"] == "signal" and row["observed"]:
        if row["actor"] == "ally.audience":
            return f"sees {_lvl(sent)} {who}; passes it on to the ally's leader as fear"
        return f"sees {_lvl(sent)} {who}; pressure now {value:.3f} (stake units)"
    labels = {
        "war": "goes to WAR",
        "order": f"receives the order: {_lvl(level)}" if level >= 0 else "receives an order",
        "executed": f"carries out {_lvl(level)}",
        "incident": "causes an INCIDENT",
        "pressure": "fear from the challenger's move: its risk of attack rises",
        "support": f"receives reassurance; believes the defender committed with p = {value:.2f}",
        "reassurance_withheld": f"an expected reassurance did not come; belief {value:.2f}",
        "stay": f"review (belief {value:.2f}): stays",
        "review": f"review (belief {value:.2f}): continues its programme",
        "hedge_start": f"review (belief {value:.2f}): starts a proliferation programme",
        "hedge_stop": f"review (belief {value:.2f}): shelves its programme",
        "provoke": f"review (belief {value:.2f}): takes risks against the challenger (provocation)",
        "proliferate": "PROLIFERATES: the programme matured",
        "programme_shelved": "a shelved programme's timer ends",
        "programme_detected": "detects the ally's proliferation programme",
        "renew": "renews its reassurance of the ally",
    }
    return labels.get(ev, ev.replace("_", " "))


def format_timeline(trace: pd.DataFrame, max_rows: int | None = None) -> str:
    """Readable lines ``day  actor  what happened``."""
    lines = []
    for _, row in trace.iterrows():
        text = describe(row)
        if text is None:
            continue
        lines.append(f"{row['time']:8.1f}  {row['actor']:<19} {text}")
    if max_rows is not None and len(lines) > max_rows:
        lines = lines[:max_rows] + [f"   ... {len(lines) - max_rows} more lines (use --json for the full trace)"]
    return "\n".join(lines)


def crisis_record(scenario: Scenario, res: CrisisResult) -> dict:
    """One crisis as a JSON-able record: scenario, seed, mix, motive, types, outcome, terms and the full trace."""
    return {
        "scenario": scenario.name,
        "seed": res.seed,
        "replication": res.replication,
        "defender_mix": scenario.mixes[res.mix].label,
        "challenger_need_driven": res.need_driven,
        "challenger_type": res.challenger_type,
        "defender_type": res.defender_type,
        "outcome": res.outcome,
        "challenge_time": res.challenge_time,
        "end_time": res.end_time,
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
    head = [
        f"Crisis '{scenario.name}'  seed {res.seed}  replication {res.replication}",
        f"Challenger: {motive}, {res.challenger_type.replace('_', ', ')}.  "
        f"Defender: {res.defender_type.replace('_', ', ')}, strategy mix {scenario.mixes[res.mix].label}",
        "",
    ]
    if res.outcome == "no_challenge" and not scenario.value("ally.present"):
        return "\n".join(head + [f"No challenge within the horizon ({res.end_time:g} days): the challenger let every "
                                 "opportunity pass (try another --replication or --seed to see a crisis)."])
    lines = head + ["     day  actor               what happened", format_timeline(res.trace), ""]
    if res.outcome == "no_challenge":
        lines.append(f"Outcome: no challenge within the horizon ({res.end_time:g} days)")
    else:
        terms = f"; the challenger's share of the stake: {res.terms:.2f}"
        won = f" (won by the {res.winner})" if res.winner else ""
        why = " — inadvertent (after an incident or a misread move)" if res.inadvertent else ""
        lines.append(f"Outcome: {res.outcome.replace('_', ' ')}{won} on day {res.end_time:.1f}, "
                     f"{res.end_time - res.challenge_time:.1f} days after the challenge{why}{terms}")
    if scenario.value("ally.present"):
        lines.append(f"Ally proliferated within the horizon: {'yes' if res.ally_proliferated else 'no'}")
    return "\n".join(lines)

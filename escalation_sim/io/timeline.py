"""A crisis trace as a timeline a person can read."""

from __future__ import annotations

import pandas as pd

from ..model.constants import LEVEL_NAMES


def _lvl(v: int) -> str:
    return LEVEL_NAMES[v].replace("_", " ") if 0 <= v < len(LEVEL_NAMES) else "?"


def describe(row: pd.Series) -> str | None:
    """One line for a trace row, or None for bookkeeping rows (ticks, ignored)."""
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
        return "decides not to challenge: general deterrence holds"
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

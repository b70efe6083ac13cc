"""One crisis up close: each side's escalation level over time, signals marked."""

from __future__ import annotations

from pathlib import Path

from ..engines.simpy_engine import CrisisResult
from ..model.constants import LEVEL_NAMES
from .figures import write_figure_file

SIDES = (("challenger", "tab:red"), ("defender", "tab:blue"))


def crisis_figure(result: CrisisResult, path: Path, title: str = "") -> Path:
    """Draw the escalation levels of one crisis and save it (PNG or SVG by suffix).

    Upper panel: each side's level (step line: the level its leader decided,
    its challenge and escalations), moves as they were received and perceived
    (misperceptions ringed, incidents as crosses), the outcome as a vertical
    line. Lower panel, when the trace has an ally: its belief that the defender
    is committed, at each of its messages.
    """
    from matplotlib.figure import Figure  # here, not at the top: matplotlib is slow to import

    tr = result.trace
    ally = (tr["actor"] == "ally.leader").any()
    fig = Figure(figsize=(9, 6 if ally else 4.2), layout="constrained")
    axes = fig.subplots(2 if ally else 1, 1, sharex=True, squeeze=False)[:, 0]
    ax = axes[0]
    end = result.end_time if result.outcome != "no_challenge" else 0.0
    for side, colour in SIDES:
        # the levels a leader decided: its challenge (a demand, level 1) and its escalations (the trace's level)
        mine = tr[(tr["actor"] == f"{side}.leader") & tr["event"].isin(["escalate", "challenge"])]
        decided = [1 if e == "challenge" else int(v) for e, v in zip(mine["event"], mine["level"], strict=True)]
        times = [0.0, *mine["time"].tolist(), end]
        levels = [0, *decided, decided[-1] if decided else 0]
        ax.step(times, levels, where="post", color=colour, label=f"{side}: level decided")
        other = "defender" if side == "challenger" else "challenger"
        recv = tr[(tr["actor"] == f"{other}.leader") & (tr["message"] == "signal") & ~tr["observed"] & tr["sender"].str.startswith(side)]
        plain = recv[~recv["misperceived"] & ~recv["incident"]]
        ax.scatter(plain["time"], plain["level_perceived"], color=colour, s=18, zorder=3, label=f"{side} move, as {other} read it")
        mis = recv[recv["misperceived"]]
        ax.scatter(mis["time"], mis["level_perceived"], facecolors="none", edgecolors="black", s=70, zorder=4,
                   label="misperceived" if side == "challenger" else None)
        inc = recv[recv["incident"]]
        ax.scatter(inc["time"], inc["level_perceived"], marker="x", color=colour, s=60, zorder=4, label=f"{side} incident")
    ax.axvline(end, color="grey", ls="--", lw=1)
    ax.text(end, 6.35, f" {result.outcome.replace('_', ' ')} (day {end:.0f})", fontsize="small", va="bottom")
    ax.set_yticks(range(len(LEVEL_NAMES)), [n.replace("_", " ") for n in LEVEL_NAMES])
    ax.set_ylim(-0.4, 6.8)
    ax.set_ylabel("escalation level")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(title or f"seed {result.seed}, replication {result.replication}: {result.outcome.replace('_', ' ')}")
    if ally:
        rev = tr[(tr["actor"] == "ally.leader") & tr["event"].isin(
            ["review", "stay", "hedge_start", "hedge_stop", "provoke", "support", "reassurance_withheld"]) & (tr["value"] >= 0)]
        axes[1].plot(rev["time"], rev["value"], marker="o", color="tab:green", label="ally's belief the defender is committed")
        hedge = tr[tr["event"] == "hedge_start"]
        axes[1].scatter(hedge["time"], hedge["value"], color="black", zorder=3, label="starts proliferation programme")
        axes[1].set_ylim(0, 1)
        axes[1].set_ylabel("belief")
        axes[1].grid(alpha=0.3)
        axes[1].legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    axes[-1].set_xlabel("day")
    return write_figure_file(fig, path)

"""Reassurance over time: the ally's confidence when reassurance is one-off or renewed.

"Reassurance is a process, not an objective" (the Poast thread in
``shared/seeds``): in the model the ally's confidence in the defender's
guarantee decays at ``ally.decay`` per day unless the defender renews its
statements, aid or exercises every ``defender.renewal_interval`` days
(0 = one-off); the ally reviews it every ``ally.review_interval`` days and
starts a proliferation programme when it falls below ``ally.hedge_threshold``
(``docs/model.md``, "The ally").

This module follows that confidence through the SimPy reference engine: every
ally review of every replication is one observation of confidence at a fixed
time, so the mean over replications at each review time, with a 95% normal
interval (the replications are independent; the sample mean over a few hundred
of them is close to normal), traces the decay of a one-off reassurance against
renewed ones. It also reports the share of allies that have started hedging
by each review.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..engines.simpy_engine import simulate
from ..io.results import write_figure
from ..model.scenario import Scenario
from .stats import Z95

REVIEW_EVENTS = ("review", "hedge_start", "programme_shelved", "proliferate")


def confidence_paths(make: Callable[[float], Scenario], renewals: Sequence[float], replications: int,
                     seed: int) -> pd.DataFrame:
    """Mean ally confidence at each review time, for each renewal interval.

    Parameters
    ----------
    make : callable
        ``make(renewal) -> Scenario``: the scenario (with an ally) at that renewal interval.
    renewals : sequence of float
        Renewal intervals in days (0 = one-off reassurance).
    replications : int
        Crises per renewal interval (replications ``0 .. replications - 1`` of ``seed``).
    seed : int
        Seed; every interval sees the same challengers (common random numbers).

    Returns
    -------
    pandas.DataFrame
        Columns ``renewal``, ``time``, ``n``, ``mean``, ``ci_low``, ``ci_high``, ``sd``,
        ``p_hedging`` (share of replications whose ally has started a programme by then).
    """
    rows = []
    for renewal in renewals:
        scen = make(renewal)
        obs: dict[float, list[float]] = {}
        hedged_at: list[float] = []
        for rep in range(replications):
            tr = simulate(scen, seed, rep).trace
            ally = tr[(tr["actor"] == "ally.leader") & (tr["message"] == "review")]
            for t, v in zip(ally["time"], ally["value"], strict=True):
                obs.setdefault(round(float(t), 9), []).append(float(v))
            starts = tr[(tr["actor"] == "ally.leader") & (tr["event"] == "hedge_start")]["time"]
            hedged_at.append(float(starts.iloc[0]) if len(starts) else math.inf)
        hedged = np.array(hedged_at)
        for t in sorted(obs):
            v = np.array(obs[t])
            mean = float(v.mean())
            sd = float(v.std(ddof=1)) if len(v) > 1 else 0.0
            half = Z95 * sd / math.sqrt(len(v))
            rows.append({"renewal": float(renewal), "time": t, "n": len(v), "mean": mean, "sd": sd,
                         "ci_low": mean - half, "ci_high": mean + half,
                         "p_hedging": float((hedged <= t).mean())})
    return pd.DataFrame(rows)


def _renewal_label(r: float) -> str:
    return "one-off (no renewal)" if r == 0 else f"renewed every {r:g} days"


def ally_decay_figure(paths: pd.DataFrame, out_dir: Path, threshold: float, title: str) -> list[Path]:
    """Confidence (mean, 95% band) and share hedging against time, one line per renewal interval."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 7), layout="constrained")
    ax, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    styles = ["-", "--", ":", "-."]
    for i, (r, g) in enumerate(paths.groupby("renewal", sort=True)):
        ls, lw = styles[i % len(styles)], 3.0 - 0.6 * (i % 4)  # lines that coincide stay visible
        (line,) = ax.plot(g["time"], g["mean"], marker="o", ms=3, ls=ls, lw=lw, label=_renewal_label(r))
        ax.fill_between(g["time"], g["ci_low"], g["ci_high"], color=line.get_color(), alpha=0.2)
        ax2.step(g["time"], g["p_hedging"], where="post", color=line.get_color(), ls=ls, lw=lw)
    ax.axhline(threshold, color="black", ls="--", lw=1)
    ax.annotate(f"hedging threshold ({threshold:g})", (paths["time"].min(), threshold), xytext=(0, 4),
                textcoords="offset points", fontsize="small")
    ax.set_ylabel("ally's confidence at its reviews\n(mean, 95% band)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax2.set_ylabel("share of allies that\nstarted a programme")
    ax2.set_xlabel("days since the crisis began")
    ax2.set_ylim(0, 1)
    ax2.grid(alpha=0.3)
    fig.legend(fontsize="small", loc="outside lower center", ncols=3, frameon=False)
    n = int(paths["n"].max())
    ax.set_title(f"{title}\nreassurance is a process: {n:,} crises per line (SimPy engine)", fontsize="medium")
    written = write_figure(fig, out_dir, "ally_confidence")
    return written


def ally_decay_markdown(paths: pd.DataFrame, threshold: float, title: str, command: str) -> str:
    """A short report: confidence at the last review and share hedging, per renewal interval."""
    last = paths.loc[paths.groupby("renewal")["time"].idxmax()]
    lines = [
        f"# {title}: reassurance over time",
        "",
        "Question: does a one-off reassurance of an ally decay while a renewed one holds (Poast thread; "
        "docs/model.md, \"The ally\")?",
        "",
        "Set-up: SimPy reference engine, the same challengers for every line (common random numbers); "
        "confidence observed at each of the ally's reviews; 95% normal intervals for the mean over crises.",
        "",
        f"| reassurance | confidence at day {last['time'].iloc[0]:g} | share that started a programme |",
        "|---|---|---|",
    ]
    for _, r in last.iterrows():
        lines.append(f"| {_renewal_label(r['renewal'])} | {r['mean']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] "
                     f"| {r['p_hedging']:.3f} |")
    lines += [
        "",
        "![ally confidence](figures/ally_confidence.png)",
        "",
        f"Hedging threshold: {threshold:g}. Caveats: decay rate, threshold and the effect of each instrument "
        "are illustrative defaults, not estimates; the ally is passive apart from hedging (docs/model.md, "
        "\"What the model does not capture\").",
        "",
        f"Reproduce: `{command}`",
        "",
    ]
    return "\n".join(lines)

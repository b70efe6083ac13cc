"""Round-robin tournament of defender strategy mixes against challenger strategies and motives.

Axelrod's tournaments ranked strategies by their score against every entrant;
here each defender mix meets every challenger strategy (probing, firm,
reciprocating) with each motive (opportunity- or need-driven: Lebow & Stein),
and is ranked by its **mean probability of war across those opponents**,
every opponent weighted equally.

Intervals. Each cell's P(war) has a Wilson 95% interval. The mean of ``k``
cells is given a normal 95% interval with variance ``sum p_j (1 - p_j) / n_j
/ k^2``, which treats the cells as independent. They are not: every cell of an
experiment sees the same random streams (common random numbers). For a
defender's mean over its own row that correlation is positive or negative
depending on the opponents, so the interval is approximate; for the
*difference* between two defenders against the same opponents it is positive,
so the independent interval of a difference is conservative. Two mixes are
reported as distinguishable when the Newcombe-style interval of the difference
of their means, built the same way, excludes 0.

A tournament is an experiment file with a ``[tournament]`` table (see
:func:`escalation_sim.io.config.tournament_cells`); ``escalation-sim
tournament FILE`` or ``escalation-sim run FILE`` runs it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..io.results import atomic_write_bytes, write_figure
from .stats import Z95

P_NEED_MOTIVE = {0.0: "opportunity", 1.0: "need"}


def _mix(strategies: list[str]) -> str:
    return "+".join(strategies) if strategies else "none"


def tournament_matrix(cells: pd.DataFrame) -> pd.DataFrame:
    """Long table: one row per (defender mix, opponent) with P(war), its interval and n."""
    rows = []
    for _, c in cells.iterrows():
        over = json.loads(c["overrides"]) if isinstance(c["overrides"], str) else c["overrides"]
        rows.append({
            "defender": _mix(over["defender.strategy"]),
            "opponent": f"{over['challenger.strategy']} ({P_NEED_MOTIVE[float(over['challenger.p_need'])]})",
            "p_war": c["p_war"], "war_ci_low": c["war_ci_low"], "war_ci_high": c["war_ci_high"], "n": int(c["n"]),
            "p_defender_concedes": c["p_defender_concedes"],
        })
    return pd.DataFrame(rows)


def ranking(matrix: pd.DataFrame) -> pd.DataFrame:
    """Defender mixes by mean P(war) over their opponents (lowest first), with approximate 95% intervals.

    ``distinct_from_next`` says whether the interval of the difference from the
    next-ranked mix excludes 0 (see the module docstring for the method).
    """
    rows = []
    for d, g in matrix.groupby("defender", sort=False):
        k = len(g)
        var = float((g["p_war"] * (1 - g["p_war"]) / g["n"]).sum()) / k**2
        mean = float(g["p_war"].mean())
        half = Z95 * math.sqrt(var)
        rows.append({"defender": d, "mean_p_war": mean, "ci_low": mean - half, "ci_high": mean + half,
                     "opponents": k, "var": var, "mean_p_defender_concedes": float(g["p_defender_concedes"].mean()),
                     "worst_opponent": g.loc[g["p_war"].idxmax(), "opponent"],
                     "worst_p_war": float(g["p_war"].max())})
    r = pd.DataFrame(rows).sort_values("mean_p_war", kind="stable").reset_index(drop=True)
    r.insert(0, "rank", np.arange(1, len(r) + 1))
    diff_half = Z95 * np.sqrt(r["var"].to_numpy()[:-1] + r["var"].to_numpy()[1:])
    gap = r["mean_p_war"].to_numpy()[1:] - r["mean_p_war"].to_numpy()[:-1]
    r["distinct_from_next"] = list(gap > diff_half) + [None]
    r["ci_method"] = "normal, independent cells"
    return r.drop(columns="var")


def _label(text: str) -> str:
    return text.replace("+", " + ").replace("_", " ")


def tournament_figure(out_dir: Path, cells: pd.DataFrame, outcomes: pd.DataFrame, manifest: dict) -> list[Path]:
    """Heatmap of P(war) (defender mix x opponent, numbers in the cells), tables and a report section."""
    from matplotlib.figure import Figure

    m = tournament_matrix(cells)
    rank = ranking(m)
    order = list(rank["defender"])
    opponents = list(dict.fromkeys(m["opponent"]))
    grid = m.pivot(index="defender", columns="opponent", values="p_war").loc[order, opponents]
    fig = Figure(figsize=(2.2 + 1.15 * len(opponents), 1.8 + 0.5 * len(order)), layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(grid.to_numpy(), cmap="Reds", vmin=0.0, vmax=max(0.05, float(grid.to_numpy().max())), aspect="auto")
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            v = grid.iat[i, j]
            ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize="small",
                    color="white" if v > 0.6 * im.get_clim()[1] else "black")
    ax.set_xticks(range(len(opponents)), [o.replace(" (", "\n(") for o in opponents], fontsize="small")
    ax.set_yticks(range(len(order)), [f"{r}. {_label(d)}" for r, d in zip(rank["rank"], order, strict=True)],
                  fontsize="small")
    ax.set_xlabel("challenger strategy (motive)")
    fig.colorbar(im, ax=ax, label="P(war)", shrink=0.8)
    n = int(m["n"].iloc[0])
    ax.set_title(f"{manifest.get('experiment', 'tournament')}: P(war), defender mixes ranked by mean over opponents\n"
                 f"n = {n:,} crises per cell, seed {manifest.get('seed')}; Wilson 95% intervals in tournament_matrix.csv",
                 fontsize="medium")
    written = write_figure(fig, out_dir, "tournament")
    for name, df in (("tournament_matrix.csv", m), ("tournament_ranking.csv", rank)):
        p = Path(out_dir) / name
        atomic_write_bytes(p, df.to_csv(index=False).encode())
        written.append(p)
    report = Path(out_dir) / "report.md"
    if report.is_file():
        atomic_write_bytes(report, (report.read_text() + "\n" + tournament_markdown(rank)).encode())
    return written


def tournament_markdown(rank: pd.DataFrame) -> str:
    """Report section: the ranking with intervals and which ranks are distinguishable."""
    lines = [
        "## Tournament ranking",
        "",
        "Defender mixes ranked by their mean P(war) over every opponent (challenger strategy x motive, weighted "
        "equally). Intervals: normal 95%, cells treated as independent (they share random streams: approximate for "
        "a mean, conservative for the difference between two mixes). 'Distinct' = the interval of the difference "
        "from the next rank excludes 0.",
        "",
        "| rank | defender mix | mean P(war) [95% CI] | mean P(defender concedes) | worst opponent (P(war)) | distinct from next |",
        "|---|---|---|---|---|---|",
    ]
    for _, r in rank.iterrows():
        distinct = "" if r["distinct_from_next"] is None else ("yes" if r["distinct_from_next"] else "no")
        lines.append(f"| {r['rank']} | {r['defender']} | {r['mean_p_war']:.4f} [{r['ci_low']:.4f}, {r['ci_high']:.4f}] "
                     f"| {r['mean_p_defender_concedes']:.4f} | {r['worst_opponent']} ({r['worst_p_war']:.4f}) | {distinct} |")
    lines += ["", "![tournament](figures/tournament.png)", "",
              "Caveat: war is not the only cost. A mix can buy a low P(war) by conceding (the column beside it); "
              "`outcomes.csv` has every outcome of every cell. Effect sizes are the model's illustrative defaults.", ""]
    return "\n".join(lines)

"""Round-robin tournament of defender strategy mixes against challenger strategies and motives.

Axelrod's tournaments ranked strategies by their score against every entrant;
here each defender mix meets every challenger strategy (probing, firm,
reciprocating) with each motive (opportunity- or need-driven: Lebow & Stein),
and is ranked by its **mean probability of war across those opponents**,
every opponent weighted equally.

Intervals. Each cell's P(war) has a Wilson 95% interval. Every cell of an
experiment sees the same random streams (common random numbers), so cells are
correlated: two defender mixes facing the same opponent meet the same
challengers, which correlates their estimates (mostly positively). The mean of
``k`` cells and the difference between two mixes' means therefore get
**batch-means intervals over the run's blocks** (:mod:`.batch`): block ``b``
holds the same replications in every cell and blocks are independent, so the
statistic computed block by block carries the correlation and its spread gives
the variance (Student's t, ``B - 1`` degrees of freedom). With fewer than
:data:`~.batch.MIN_BLOCKS` blocks (or no block files) the intervals fall back
to treating the cells as independent: variance ``sum p_j (1 - p_j) / n / k^2``
for a mean, the sum of two such variances for a difference. Both versions are
written to ``tournament_ranking.csv``; for a difference the independent one is
conservative when the correlation is positive, which the report measures.

Rank robustness: every pair of mixes is compared (interval of the difference
of their means; 95% per pair, not adjusted for multiple comparisons). A mix's
**rank range** runs from 1 + the number of mixes distinguishably better to
K - the number distinguishably worse.

A tournament is an experiment file with a ``[tournament]`` table (see
:func:`escalation_sim.pipeline.experiment.tournament_cells`); ``escalation-sim
tournament FILE`` or ``escalation-sim run FILE`` runs it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..io.files import atomic_write_bytes
from ..report.figures import write_figure
from ..stats import Z95
from . import batch

P_NEED_MOTIVE = {0.0: "opportunity", 1.0: "need"}
INDEPENDENT = "normal, cells treated as independent"


def _mix(strategies: list[str]) -> str:
    return "+".join(strategies) if strategies else "none"


def tournament_matrix(cells: pd.DataFrame) -> pd.DataFrame:
    """Long table: one row per (defender mix, opponent) with P(war), its Wilson interval, n and the cell index."""
    rows = []
    for _, c in cells.iterrows():
        over = json.loads(c["overrides"]) if isinstance(c["overrides"], str) else c["overrides"]
        rows.append({
            "cell": int(c["cell"]) if "cell" in c else len(rows),
            "defender": _mix(over["defender.strategy"]),
            "opponent": f"{over['challenger.strategy']} ({P_NEED_MOTIVE[float(over['challenger.p_need'])]})",
            "p_war": c["p_war"], "war_ci_low": c["war_ci_low"], "war_ci_high": c["war_ci_high"], "n": int(c["n"]),
            "ci_method": "wilson",
            "p_defender_concedes": c["p_defender_concedes"],
        })
    return pd.DataFrame(rows)


def _usable(counts: np.ndarray | None, matrix: pd.DataFrame) -> bool:
    """Block counts that match the matrix (same totals) and are numerous enough for batch means."""
    if counts is None or counts.shape[1] < batch.MIN_BLOCKS or "cell" not in matrix:
        return False
    w = batch.wars(counts).sum(axis=1)
    n = counts.sum(axis=(1, 2))
    cells = matrix["cell"].to_numpy()
    return bool(np.all(n[cells] == matrix["n"].to_numpy())
                and np.allclose(w[cells] / n[cells], matrix["p_war"].to_numpy(), rtol=0, atol=1e-12))


def _independent_var(g: pd.DataFrame) -> float:
    return float((g["p_war"] * (1 - g["p_war"]) / g["n"]).sum()) / len(g) ** 2


def ranking(matrix: pd.DataFrame, counts: np.ndarray | None = None) -> pd.DataFrame:
    """Defender mixes by mean P(war) over their opponents (lowest first), with 95% intervals and rank ranges.

    Parameters
    ----------
    matrix : pandas.DataFrame
        :func:`tournament_matrix` output.
    counts : ndarray, optional
        Outcome counts per cell and block (:func:`.batch.block_counts`). With
        at least ``batch.MIN_BLOCKS`` blocks the intervals are batch means over
        blocks (they account for common random numbers); otherwise the cells
        are treated as independent.

    Returns
    -------
    pandas.DataFrame
        ``rank, defender, mean_p_war, ci_low, ci_high, ci_method,
        ci_low_independent, ci_high_independent, rank_low, rank_high,
        distinct_from_next, not_distinct_from, ...``.
    """
    use_blocks = _usable(counts, matrix)
    groups = {d: g for d, g in matrix.groupby("defender", sort=False)}
    if use_blocks:
        w = batch.wars(counts).astype(float)
        nb = counts.sum(axis=(0, 2)) / counts.shape[0]  # replications per block (equal in every cell)
    rows = []
    for d, g in groups.items():
        k = len(g)
        mean = float(g["p_war"].mean())
        half_ind = Z95 * math.sqrt(_independent_var(g))
        if use_blocks:
            weights = np.zeros(counts.shape[0])
            weights[g["cell"].to_numpy()] = 1.0 / k
            _, lo, hi, _ = batch.linear_estimate(w, nb, weights)
        else:
            lo, hi = mean - half_ind, mean + half_ind
        rows.append({"defender": d, "mean_p_war": mean, "ci_low": lo, "ci_high": hi,
                     "ci_method": batch.METHOD if use_blocks else INDEPENDENT,
                     "ci_low_independent": mean - half_ind, "ci_high_independent": mean + half_ind,
                     "opponents": k, "mean_p_defender_concedes": float(g["p_defender_concedes"].mean()),
                     "worst_opponent": g.loc[g["p_war"].idxmax(), "opponent"],
                     "worst_p_war": float(g["p_war"].max())})
    r = pd.DataFrame(rows).sort_values("mean_p_war", kind="stable").reset_index(drop=True)
    r.insert(0, "rank", np.arange(1, len(r) + 1))
    pw = pairwise(matrix, counts if use_blocks else None)
    order = list(r["defender"])
    better = {d: 0 for d in order}
    worse = {d: 0 for d in order}
    ties: dict[str, list[str]] = {d: [] for d in order}
    for _, p in pw.iterrows():
        a, b = p["a"], p["b"]  # difference a - b
        if p["ci_high"] < 0:  # a distinguishably lower than b
            better[b] += 1
            worse[a] += 1
        elif p["ci_low"] > 0:
            better[a] += 1
            worse[b] += 1
        else:
            ties[a].append(b)
            ties[b].append(a)
    k = len(order)
    r["rank_low"] = [1 + better[d] for d in order]
    r["rank_high"] = [k - worse[d] for d in order]
    distinct = []
    for i in range(k - 1):
        distinct.append(order[i + 1] not in ties[order[i]])
    r["distinct_from_next"] = [*distinct, None]
    r["not_distinct_from"] = [", ".join(sorted(ties[d], key=order.index)) for d in order]
    return r


def pairwise(matrix: pd.DataFrame, counts: np.ndarray | None = None) -> pd.DataFrame:
    """Every pair of defender mixes: difference of their mean P(war) (``a - b``) with a 95% interval.

    Batch means over blocks when ``counts`` is given and usable (see
    :func:`ranking`), else independent cells; the independent half-width is
    always reported beside it (``halfwidth_independent``), so the effect of
    the pairing can be read off.
    """
    use_blocks = _usable(counts, matrix)
    groups = {d: g.sort_values("opponent") for d, g in matrix.groupby("defender", sort=False)}
    names = list(groups)
    if use_blocks:
        w = batch.wars(counts).astype(float)
        nb = counts.sum(axis=(0, 2)) / counts.shape[0]
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            ga, gb = groups[a], groups[b]
            if list(ga["opponent"]) != list(gb["opponent"]):
                raise ValueError(f"{a} and {b} did not meet the same opponents")
            d = float(ga["p_war"].mean() - gb["p_war"].mean())
            half_ind = Z95 * math.sqrt(_independent_var(ga) + _independent_var(gb))
            if use_blocks:
                weights = np.zeros(counts.shape[0])
                weights[ga["cell"].to_numpy()] += 1.0 / len(ga)
                weights[gb["cell"].to_numpy()] -= 1.0 / len(gb)
                _, lo, hi, _ = batch.linear_estimate(w, nb, weights)
            else:
                lo, hi = d - half_ind, d + half_ind
            rows.append({"a": a, "b": b, "difference": d, "ci_low": lo, "ci_high": hi,
                         "ci_method": batch.METHOD if use_blocks else INDEPENDENT,
                         "halfwidth": (hi - lo) / 2, "halfwidth_independent": half_ind})
    return pd.DataFrame(rows, columns=["a", "b", "difference", "ci_low", "ci_high", "ci_method", "halfwidth",
                                       "halfwidth_independent"])


def _label(text: str) -> str:
    return text.replace("+", " + ").replace("_", " ")


def tournament_figure(out_dir: Path, cells: pd.DataFrame, outcomes: pd.DataFrame, manifest: dict) -> list[Path]:
    """Heatmap of P(war) (numbers in the cells) beside the ranking with intervals; tables and a report section.

    Writes ``figures/tournament.{png,svg}``, ``tournament_matrix.csv``,
    ``tournament_ranking.csv``, ``tournament_pairs.csv`` and appends a section
    to ``report.md``. Returns the files written.
    """
    from matplotlib.figure import Figure  # here, not at the top: matplotlib is slow to import

    m = tournament_matrix(cells)
    counts = batch.block_counts(out_dir, len(cells))
    rank = ranking(m, counts)
    pairs = pairwise(m, counts)
    order = list(rank["defender"])
    opponents = list(dict.fromkeys(m["opponent"]))
    grid = m.pivot(index="defender", columns="opponent", values="p_war").loc[order, opponents]
    fig = Figure(figsize=(4.6 + 1.15 * len(opponents), 2.3 + 0.5 * len(order)), layout="constrained")
    ax, axr = fig.subplots(1, 2, sharey=True, width_ratios=[len(opponents), 2.4])
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
    fig.colorbar(im, ax=ax, label="P(war)", location="bottom", shrink=0.6, aspect=40)
    ys = np.arange(len(order))
    axr.errorbar(rank["mean_p_war"], ys, xerr=[rank["mean_p_war"] - rank["ci_low"], rank["ci_high"] - rank["mean_p_war"]],
                 fmt="o", color="black", ms=4, capsize=4, elinewidth=1.5)
    for y, (_, r) in zip(ys, rank.iterrows(), strict=True):
        ranks = f"rank {r['rank_low']}" if r["rank_low"] == r["rank_high"] else f"ranks {r['rank_low']}-{r['rank_high']}"
        axr.annotate(f"{r['mean_p_war']:.3f}  ({ranks})", (r["ci_high"], y), xytext=(6, 0), textcoords="offset points",
                     va="center", fontsize="x-small")
    lo, hi = float(rank["ci_low"].min()), float(rank["ci_high"].max())
    axr.set_xlim(max(0.0, lo - 0.05 * (hi - lo + 0.01)), hi + 0.75 * (hi - lo + 0.01))
    axr.tick_params(axis="y", left=False)
    axr.grid(axis="x", alpha=0.3)
    half = float(((rank["ci_high"] - rank["ci_low"]) / 2).max())
    axr.set_xlabel(f"mean P(war) over opponents, rank range\n(95% CI bars, half-width at most {half:.4f})", fontsize="small")
    n = int(m["n"].iloc[0])
    method = "batch means over blocks" if rank["ci_method"].iloc[0] == batch.METHOD else "cells as independent"
    fig.suptitle(f"{manifest.get('experiment', 'tournament')}: P(war), defender mixes ranked by mean over opponents\n"
                 f"n = {n:,} crises per cell, seed {manifest.get('seed')}; intervals: {method}",
                 fontsize="medium")
    written = write_figure(fig, out_dir, "tournament")
    for name, df in (("tournament_matrix.csv", m), ("tournament_ranking.csv", rank), ("tournament_pairs.csv", pairs)):
        p = Path(out_dir) / name
        atomic_write_bytes(p, df.to_csv(index=False).encode())
        written.append(p)
    report = Path(out_dir) / "report.md"
    if report.is_file():
        atomic_write_bytes(report, (report.read_text() + "\n" + tournament_markdown(rank, pairs, m, counts)).encode())
    return written


def _groups(rank: pd.DataFrame) -> str:
    """Adjacent ranks that cannot be told apart, as a sentence."""
    runs, cur = [], [0]
    for i, distinct in enumerate(rank["distinct_from_next"].iloc[:-1]):
        if distinct:
            runs.append(cur)
            cur = [i + 1]
        else:
            cur.append(i + 1)
    runs.append(cur)
    tied = [r for r in runs if len(r) > 1]
    if not tied:
        return "Every rank is distinguishable from the next."
    parts = [f"ranks {r[0] + 1}-{r[-1] + 1} ({', '.join(rank['defender'].iloc[r])})" for r in tied]
    return "Not distinguishable from the next rank: " + "; ".join(parts) + "."


def tournament_markdown(rank: pd.DataFrame, pairs: pd.DataFrame, matrix: pd.DataFrame | None = None,
                        counts: np.ndarray | None = None) -> str:
    """Report section: the ranking with intervals, rank ranges and which ranks are distinguishable."""
    blocks = rank["ci_method"].iloc[0] == batch.METHOD
    if blocks:
        method = (f"batch means over the run's {counts.shape[1]} blocks (every block holds the same replications in "
                  "every cell, so the intervals account for the correlation that common random numbers create; "
                  f"Student's t with {counts.shape[1] - 1} degrees of freedom)")
        ratio = (pairs["halfwidth"] / pairs["halfwidth_independent"]).replace([np.inf, -np.inf], np.nan).dropna()
        pairing = (f" Pairing matters: the half-width of a difference between two mixes is a median {ratio.median():.2f} "
                   f"(range {ratio.min():.2f}-{ratio.max():.2f}) times the one that treats the cells as independent "
                   "(`tournament_pairs.csv`).") if len(ratio) else ""
    else:
        method = ("normal, cells treated as independent (too few blocks for batch means): variance sum p(1-p)/n / k^2. "
                  "The cells share random streams, so this is approximate; for a difference between two mixes it is "
                  "conservative when their correlation is positive")
        pairing = ""
    lines = [
        "## Tournament ranking",
        "",
        "Defender mixes ranked by their mean P(war) over every opponent (challenger strategy x motive, weighted "
        f"equally). 95% intervals: {method}.{pairing} Every pair of mixes is compared by the interval of the "
        "difference of their means (95% per pair, not adjusted for multiple comparisons); the rank range runs "
        "from 1 + the number of mixes distinguishably better to K - the number distinguishably worse.",
        "",
        "| rank | rank range | defender mix | mean P(war) [95% CI] | not distinguishable from | mean P(defender concedes) | worst opponent: P(war) |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, r in rank.iterrows():
        rr = f"{r['rank_low']}" if r["rank_low"] == r["rank_high"] else f"{r['rank_low']}-{r['rank_high']}"
        lines.append(f"| {r['rank']} | {rr} | {r['defender']} | {r['mean_p_war']:.4f} [{r['ci_low']:.4f}, {r['ci_high']:.4f}] "
                     f"| {r['not_distinct_from'] or '-'} | {r['mean_p_defender_concedes']:.4f} "
                     f"| {r['worst_opponent']}: {r['worst_p_war']:.4f} |")
    lines += ["", _groups(rank), "", "![tournament](figures/tournament.png)", "",
              "Tables: `tournament_matrix.csv` (P(war) per pairing, Wilson 95% intervals), `tournament_ranking.csv`, "
              "`tournament_pairs.csv` (every pair's difference).",
              "",
              "Caveats: war is not the only cost. A mix can buy a low P(war) by conceding (the column beside it); "
              "`outcomes.csv` has every outcome of every cell. The ranking weights every opponent equally: another "
              "population of challengers (more need-driven ones, say) can reorder it. Effect sizes are the model's "
              "illustrative defaults, not estimates.", ""]
    return "\n".join(lines)


def ranking_text(rank: pd.DataFrame) -> str:
    """The ranking for a terminal: rank, rank range, mean P(war) with its interval, the full mix name (last)."""
    lines = ["", "Tournament ranking (mean P(war) over every opponent, 95% CI; rank range: ranks not excluded):",
             f"{'rank':>4} {'range':>7} {'mean P(war)':>11} {'95% CI':>18}  defender mix"]
    for _, r in rank.iterrows():
        rr = f"{r['rank_low']}" if r["rank_low"] == r["rank_high"] else f"{r['rank_low']}-{r['rank_high']}"
        lines.append(f"{int(r['rank']):>4} {rr:>7} {r['mean_p_war']:11.4f} [{r['ci_low']:.4f}, {r['ci_high']:.4f}]  "
                     f"{r['defender']}")
    lines.append(_groups(rank))
    return "\n".join(lines)

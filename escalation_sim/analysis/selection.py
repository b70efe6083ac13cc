"""Selection bias: the effect of an instrument as an observer of crises would estimate it.

Observers of international crises see the crises that happened. An
instrument that deters challenges (general deterrence: tripwires, alliance
terms, public commitments) also changes *which* challengers still challenge:
the ones left are the more motivated, so war among the crises that occurred
can rise even when war over all cases barely moves (Achen & Snidal 1989;
Fearon 2002; Lebow & Stein 1990 on the cases observers never see). The
simulator sees every case, so it can report both:

* the **true effect** over all cases: ``P(war | instrument) - P(war | baseline)``,
  a case with no challenge counting as no war;
* the **observed effect** among crises: ``P(war | crisis, instrument) -
  P(war | crisis, baseline)``, a crisis being every outcome but ``no_challenge``.

Both differences get Newcombe's hybrid score interval (Newcombe 1998, method
10), built from the two Wilson intervals. It assumes independent samples;
the cells of an experiment share their random streams (common random numbers),
which correlates them, positively here (the same challengers meet both
instruments), so these intervals are conservative (too wide). The run checks
that claim rather than assuming it: from the run's blocks (the same
replications in every cell, independent across blocks) it computes paired
intervals by batch means (:mod:`.batch`; for the ratio "war among crises"
with the delta method), written beside Newcombe's in ``selection_bias.csv``
and compared in the report.

An experiment opts in with ``analysis = "selection_bias"`` in its
``[experiment]`` table; its first cell is the baseline, every other cell adds
an instrument.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..io.files import atomic_write_bytes
from ..report.figures import write_figure
from ..stats import Z95, wilson
from . import batch

METHOD = "newcombe-hybrid-score"


def newcombe_difference(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> tuple[float, float, float]:
    """Difference of two proportions ``x1/n1 - x2/n2`` with Newcombe's hybrid score interval.

    Parameters
    ----------
    x1, n1, x2, n2 : int
        Successes and trials of the two samples (``n > 0``).
    z : float
        Normal quantile (1.96 for 95%).

    Returns
    -------
    (difference, low, high) : tuple of float
    """
    if n1 <= 0 or n2 <= 0:
        return (math.nan, math.nan, math.nan)
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return (d, max(-1.0, low), min(1.0, high))


def _wars(row) -> int:
    return round(row["p_war"] * row["n"])


def selection_effects(cells: pd.DataFrame, counts: np.ndarray | None = None) -> pd.DataFrame:
    """True and observed effect on P(war) of every cell against the first (the baseline).

    Parameters
    ----------
    cells : pandas.DataFrame
        A run's cell table (columns ``label``, ``n``, ``p_war``, ``crises``).
    counts : ndarray, optional
        Outcome counts per cell and block (:func:`.batch.block_counts`, cells in
        the table's order). With at least ``batch.MIN_BLOCKS`` blocks whose
        totals match the table, paired batch-means intervals are added
        (``true_paired_ci_*``, ``observed_paired_ci_*``).

    Returns
    -------
    pandas.DataFrame
        One row per non-baseline cell: ``true_effect`` and ``observed_effect``
        with their intervals, the share of cases that became crises in both
        cells, and ``bias`` (observed minus true).
    """
    if len(cells) < 2:
        raise ValueError("a selection-bias analysis needs a baseline cell and at least one other")
    base = cells.iloc[0]
    wb, nb, cb = _wars(base), int(base["n"]), int(base["crises"])
    paired = _paired_ok(cells, counts)
    rows = []
    for i, (_, r) in enumerate(cells.iloc[1:].iterrows(), start=1):
        w, n, c = _wars(r), int(r["n"]), int(r["crises"])
        t, tl, th = newcombe_difference(w, n, wb, nb)
        o, ol, oh = newcombe_difference(w, c, wb, cb)
        extra = {}
        if paired:
            wars_b = batch.wars(counts).astype(float)
            crises_b = (counts.sum(axis=2) - counts[..., 0]).astype(float)
            n_b = counts[0].sum(axis=1).astype(float)
            weights = np.zeros(counts.shape[0])
            weights[i], weights[0] = 1.0, -1.0
            _, ptl, pth, blocks = batch.linear_estimate(wars_b, n_b, weights)
            _, pol, poh, _ = batch.ratio_difference(wars_b[i], crises_b[i], wars_b[0], crises_b[0])
            extra = {"true_paired_ci_low": ptl, "true_paired_ci_high": pth, "observed_paired_ci_low": pol,
                     "observed_paired_ci_high": poh, "paired_ci_method": batch.METHOD, "blocks": blocks}
        rows.append({
            "label": r["label"],
            "baseline": base["label"],
            "p_crisis": c / n,
            "p_crisis_baseline": cb / nb,
            "true_effect": t,
            "true_ci_low": tl,
            "true_ci_high": th,
            "observed_effect": o,
            "observed_ci_low": ol,
            "observed_ci_high": oh,
            "bias": o - t,
            "ci_method": METHOD,
            **extra,
        })
    return pd.DataFrame(rows)


def _paired_ok(cells: pd.DataFrame, counts: np.ndarray | None) -> bool:
    """Block counts that add up to the cell table and are numerous enough for batch means."""
    if counts is None or counts.shape[0] != len(cells) or counts.shape[1] < batch.MIN_BLOCKS:
        return False
    n = counts.sum(axis=(1, 2))
    crises = n - counts[:, :, 0].sum(axis=1)
    wars = batch.wars(counts).sum(axis=1)
    return bool(np.all(n == cells["n"].to_numpy()) and np.all(crises == cells["crises"].to_numpy())
                and all(int(w) == _wars(r) for w, (_, r) in zip(wars, cells.iterrows(), strict=True)))


def _short(label: str, baseline: str) -> str:
    text = label.replace("defender.strategy=", "")
    base = baseline.replace("defender.strategy=", "")
    if text.startswith(base + "+"):
        text = "+ " + text[len(base) + 1 :]
    return text.replace("+", " + ").replace("  ", " ").replace("_", " ")


def selection_figure(out_dir: Path, cells: pd.DataFrame, outcomes: pd.DataFrame, manifest: dict) -> list[Path]:
    """Figure and report section: true effect vs effect among observed crises, per instrument.

    Writes ``figures/selection_bias.{png,svg}``, ``selection_bias.csv`` and
    appends a section to ``report.md``. Returns the files written.
    """
    from matplotlib.figure import Figure  # here, not at the top: matplotlib is slow to import

    eff = selection_effects(cells, batch.block_counts(out_dir, len(cells)))
    labels = [f"{_short(lab, eff['baseline'].iloc[0])}\nP(crisis) {pc:.2f} (baseline {pb:.2f})"
              for lab, pc, pb in zip(eff["label"], eff["p_crisis"], eff["p_crisis_baseline"], strict=True)]
    k = len(eff)
    fig = Figure(figsize=(8, 1.6 + 0.8 * k), layout="constrained")
    ax = fig.add_subplot()
    ys = list(range(k))[::-1]
    for off, col, name, colour in ((0.15, "true", "true effect, all cases", "tab:blue"),
                                   (-0.15, "observed", "effect among crises that occurred", "tab:red")):
        e = eff[f"{col}_effect"]
        ax.errorbar(e, [y + off for y in ys],
                    xerr=[e - eff[f"{col}_ci_low"], eff[f"{col}_ci_high"] - e],
                    fmt="o", color=colour, capsize=3, label=name)
    for y, t, o in zip(ys, eff["true_effect"], eff["observed_effect"], strict=True):
        ax.annotate("", xy=(o, y - 0.15), xytext=(t, y + 0.15),
                    arrowprops={"arrowstyle": "->", "color": "grey", "lw": 0.8, "shrinkA": 5, "shrinkB": 5})
        ax.annotate(f"gap {o - t:+.3f}", ((t + o) / 2, y), xytext=(0, 6), textcoords="offset points",
                    ha="center", fontsize="x-small", color="dimgrey")
    ax.axvline(0.0, color="grey", lw=0.8)
    ax.set_yticks(ys, labels)
    ax.set_xlabel("change in P(war) against the baseline (95% Newcombe interval)")
    ax.grid(axis="x", alpha=0.3)
    fig.legend(fontsize="small", loc="outside lower center", ncols=2, frameon=False)
    base = _short(eff["baseline"].iloc[0], "").removesuffix(" (baseline)")
    ax.set_title(f"{manifest.get('experiment', '')}: what an observer of crises would estimate\n"
                 f"baseline: {base}; n = {int(cells['n'].iloc[0]):,} cases per cell, seed {manifest.get('seed')}",
                 fontsize="medium")
    paths = write_figure(fig, out_dir, "selection_bias")
    table = Path(out_dir) / "selection_bias.csv"
    atomic_write_bytes(table, eff.to_csv(index=False).encode())
    paths.append(table)
    report = Path(out_dir) / "report.md"
    if report.is_file():
        atomic_write_bytes(report, (report.read_text() + "\n" + selection_markdown(eff)).encode())
    return paths


def _ci(x: float, lo: float, hi: float) -> str:
    return f"{x:+.4f} [{lo:+.4f}, {hi:+.4f}]"


def _paired_text(eff: pd.DataFrame) -> str:
    """How the paired (batch-means) intervals compare with Newcombe's."""
    if "true_paired_ci_low" not in eff:
        return "Too few blocks for paired intervals: Newcombe's are expected to be conservative, not checked."
    ratios = pd.concat([
        (eff["true_paired_ci_high"] - eff["true_paired_ci_low"]) / (eff["true_ci_high"] - eff["true_ci_low"]),
        (eff["observed_paired_ci_high"] - eff["observed_paired_ci_low"]) / (eff["observed_ci_high"] - eff["observed_ci_low"]),
    ]).dropna()
    verdict = ("so Newcombe's intervals are conservative here" if ratios.max() <= 1.0 else
               "so for some effects Newcombe's intervals are too narrow: use the paired ones in `selection_bias.csv`")
    return (f"Check: paired intervals by batch means over the run's {int(eff['blocks'].iloc[0])} blocks (every block "
            "holds the same replications in every cell) are {:.2f} to {:.2f} times as wide as Newcombe's, {}.".format(
                ratios.min(), ratios.max(), verdict))


def selection_markdown(eff: pd.DataFrame) -> str:
    """The report section: a table of true vs observed effects and what it means."""
    lines = [
        "## Selection bias: what an observer of crises would conclude",
        "",
        f"Baseline: `{eff['baseline'].iloc[0]}`. True effect: change in P(war) over all cases (no challenge = no war). "
        "Observed effect: change in P(war) among the crises that occurred. 95% Newcombe hybrid score intervals "
        f"(independent samples assumed; the cells share random streams). {_paired_text(eff)}",
        "",
        "| instrument | P(crisis) | true effect | observed among crises | observed - true |",
        "|---|---|---|---|---|",
    ]
    for _, r in eff.iterrows():
        lines.append(
            f"| {r['label']} | {r['p_crisis']:.4f} (baseline {r['p_crisis_baseline']:.4f}) | "
            f"{_ci(r['true_effect'], r['true_ci_low'], r['true_ci_high'])} | "
            f"{_ci(r['observed_effect'], r['observed_ci_low'], r['observed_ci_high'])} | {r['bias']:+.4f} |"
        )
    lines += [
        "",
        "![selection bias](figures/selection_bias.png)",
        "",
        "Reading it: an instrument that deters some challenges (P(crisis) falls) leaves the more motivated challengers "
        "in the sample of crises, so war among crises can rise while war over all cases falls or barely moves; "
        "studies that code only the crises that occurred (ICB, MIDs) estimate the observed effect. Where P(crisis) "
        "does not change (an instrument used only once a crisis is under way), the two differ only by the scale "
        "1 / P(crisis), not by selection. Caveat: effect sizes are the model's illustrative defaults, not estimates.",
        "",
    ]
    return "\n".join(lines)


def selection_text(eff: pd.DataFrame) -> str:
    """The result for a terminal: each instrument's true effect, its effect among crises, and the gap."""
    lines = ["", f"Selection bias against the baseline ({eff['baseline'].iloc[0]}): change in P(war), 95% Newcombe intervals",
             f"{'P(crisis)':>9} {'true effect (all cases)':>31} {'among crises that occurred':>31} {'gap':>8}  instrument"]
    for _, r in eff.iterrows():
        lines.append(f"{r['p_crisis']:9.4f} {_ci(r['true_effect'], r['true_ci_low'], r['true_ci_high']):>31} "
                     f"{_ci(r['observed_effect'], r['observed_ci_low'], r['observed_ci_high']):>31} {r['bias']:+8.4f}  "
                     f"{r['label']}")
    return "\n".join(lines)

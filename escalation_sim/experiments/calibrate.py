"""Calibration: fit chosen parameters so that simulated outcome shares match empirical base rates.

Targets (``docs/experiments.md``, "Calibration", states the mapping and its limits):

* **ICB** (International Crisis Behavior v14, 486 crises 1918-2017): 21.1% of crises ended in full-scale war.
  Mapped to ``war_given_crisis``: P(war | a crisis occurred), a crisis being every outcome but ``no_challenge``.
* **MID** (Militarized Interstate Disputes v5.0, 2,436 disputes 1816-2014): 4.35% reached war. Mapped to the
  same measure (a dispute that occurred), which makes MIDs a much lower bar: most MIDs are far smaller events
  than the crises this model describes.

Method: simulation-based search with common random numbers. Every candidate parameter vector is run with the
same seed, so the objective is a deterministic (step) function of the parameters and candidates are compared
on the same draws. A Latin hypercube over the bounds, then two rounds of a finer one in a box around
the best point. Loss: ``sum ((simulated - target) / se_target)^2`` with the target's binomial standard error
from its sample size.

Uncertainty: a parametric bootstrap of the targets (each target redrawn as Binomial(n, target) / n, ``B``
times) refit on the evaluated design (the argmin over the points already run), giving a 95% percentile
interval for each parameter that reflects the sampling error of the empirical base rate; and a refit on a
second seed (fresh random streams) that shows how much the Monte Carlo error of the simulation moves the fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..engines import montecarlo as mc
from ..model.constants import NO_CHALLENGE, OUTCOME_NAMES, WAR_DELIBERATE, WAR_MISCALCULATION
from ..model.scenario import Scenario

PRESETS: dict[str, dict[str, tuple[float, int]]] = {
    "icb": {"war_given_crisis": (0.211, 486)},
    "mid": {"war_given_crisis": (0.0435, 2436)},
}
MEASURES = ("war", "war_given_crisis", "no_challenge", *(f"{o}_given_crisis" for o in OUTCOME_NAMES if o != "no_challenge"))


def shares(totals: mc.CellTotals) -> dict[str, float]:
    """Outcome shares of a finished cell, for every measure in :data:`MEASURES`."""
    c = totals.counts.sum(axis=0).astype(float)
    n = c.sum()
    crises = n - c[NO_CHALLENGE]
    war = c[WAR_DELIBERATE] + c[WAR_MISCALCULATION]
    out = {"war": war / n, "no_challenge": c[NO_CHALLENGE] / n,
           "war_given_crisis": war / crises if crises else math.nan}
    for k, name in enumerate(OUTCOME_NAMES):
        if name != "no_challenge":
            out[f"{name}_given_crisis"] = c[k] / crises if crises else math.nan
    return out


def _design(bounds: dict[str, tuple[float, float]], m: int, seed: int) -> np.ndarray:
    """A Latin hypercube of ``m`` points in the box (each axis cut into ``m`` strata, one point per stratum)."""
    rng = np.random.default_rng(seed)
    lo = np.array([b[0] for b in bounds.values()])
    hi = np.array([b[1] for b in bounds.values()])
    d = len(bounds)
    u = (np.stack([rng.permutation(m) for _ in range(d)], axis=1) + rng.random((m, d))) / m
    return lo + u * (hi - lo)


def _loss(sim: pd.DataFrame, targets: dict[str, tuple[float, int]], values: dict[str, float] | None = None) -> np.ndarray:
    total = np.zeros(len(sim))
    for key, (t, n) in targets.items():
        tv = t if values is None else values[key]
        se = math.sqrt(max(t * (1 - t), 1e-12) / n)
        total += ((sim[key].to_numpy() - tv) / se) ** 2
    return total


def evaluate(base: Scenario, points: np.ndarray, names: Sequence[str], replications: int, seed: int,
             block_size: int, threads: int | None) -> pd.DataFrame:
    """Run every parameter vector (same seed) and return its outcome shares."""
    rows = []
    for row in points:
        values = {k: float(v) for k, v in zip(names, row, strict=True)}
        tot = mc.run_cell(base.with_values(values), replications, seed, block_size, threads=threads)
        rows.append({**values, **shares(tot), "n": tot.n})
    return pd.DataFrame(rows)


def calibrate(base: Scenario, bounds: dict[str, tuple[float, float]], targets: dict[str, tuple[float, int]],
              replications: int, seed: int, points: int = 32, rounds: int = 2, bootstrap: int = 1000,
              block_size: int = 4096, threads: int | None = None) -> dict:
    """Fit ``bounds``' parameters to ``targets`` (``measure -> (share, sample size)``).

    Returns
    -------
    dict
        ``fit`` (parameter values), ``fitted_shares``, ``loss``, ``design`` (every point run, a DataFrame),
        ``bootstrap`` (DataFrame of refits), ``intervals`` (95% percentile interval per parameter),
        ``second_seed`` (the fit with seed + 1) and the settings.
    """
    names = list(bounds)
    design = evaluate(base, _design(bounds, points, seed), names, replications, seed, block_size, threads)
    box = dict(bounds)
    for r in range(rounds):
        best = design.iloc[int(np.argmin(_loss(design, targets)))]
        box = {k: (max(bounds[k][0], best[k] - (hi - lo) / 4), min(bounds[k][1], best[k] + (hi - lo) / 4))
               for k, (lo, hi) in box.items()}
        more = evaluate(base, _design(box, max(8, points // 2), seed + 1 + r), names, replications, seed, block_size, threads)
        design = pd.concat([design, more], ignore_index=True)
    loss = _loss(design, targets)
    i = int(np.argmin(loss))
    fit = {k: float(design[k].iloc[i]) for k in names}
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(bootstrap):
        drawn = {k: rng.binomial(n, t) / n for k, (t, n) in targets.items()}
        j = int(np.argmin(_loss(design, targets, drawn)))
        boots.append({k: float(design[k].iloc[j]) for k in names})
    boots = pd.DataFrame(boots)
    intervals = {k: (float(boots[k].quantile(0.025)), float(boots[k].quantile(0.975))) for k in names}
    at_bound = [k for k in names if min(fit[k] - bounds[k][0], bounds[k][1] - fit[k]) <= 0.02 * (bounds[k][1] - bounds[k][0])]
    second = evaluate(base, design[names].to_numpy(), names, replications, seed + 1, block_size, threads)
    j = int(np.argmin(_loss(second, targets)))
    return {
        "fit": fit, "fitted_shares": {k: float(design[k].iloc[i]) for k in targets}, "loss": float(loss[i]),
        "design": design.assign(loss=loss), "bootstrap": boots, "intervals": intervals,
        "second_seed": {k: float(second[k].iloc[j]) for k in names}, "at_bound": at_bound,
        "replications": replications, "seed": seed, "points": len(design),
    }


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(float(v)) if isinstance(v, float) else str(v)


def fitted_scenario_toml(scenario_data: dict, overrides: dict, fit: dict[str, float], header: str) -> str:
    """A scenario file: the base scenario's tables, the cell's overrides and the fitted values on top."""
    data = {sec: dict(v) for sec, v in scenario_data.items() if isinstance(v, dict)}
    for key, val in {**overrides, **fit}.items():
        sec, name = key.split(".", 1)
        data.setdefault(sec, {})[name] = val
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    for sec, table in data.items():
        lines += ["", f"[{sec}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def calibration_figure(result: dict, targets: dict[str, tuple[float, int]], title: str):
    """Simulated share against each fitted parameter (every design point), the target band and the fit."""
    from matplotlib.figure import Figure

    design = result["design"]
    names = list(result["fit"])
    fig = Figure(figsize=(4.2 * len(names) + 1, 3.2 * len(targets) + 1.2), layout="constrained")
    axes = fig.subplots(len(targets), len(names), squeeze=False)
    for r, (measure, (t, n)) in enumerate(targets.items()):
        se = math.sqrt(t * (1 - t) / n)
        for c, name in enumerate(names):
            ax = axes[r][c]
            ax.scatter(design[name], design[measure], s=10, alpha=0.6, label="design points (same seed)")
            ax.axhspan(t - 1.96 * se, t + 1.96 * se, color="tab:green", alpha=0.2, label=f"target {t:g} (95%, n={n})")
            ax.axhline(t, color="tab:green", lw=1)
            lo, hi = result["intervals"][name]
            ax.axvspan(lo, hi, color="tab:orange", alpha=0.15, label="95% interval of the fit (bootstrap)")
            ax.axvline(result["fit"][name], color="tab:orange", lw=1.5, label=f"fit {result['fit'][name]:.4g}")
            ax.set_xlabel(name)
            ax.set_ylabel(measure.replace("_", " "))
            ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False, fontsize="small")
    import textwrap

    fig.suptitle(textwrap.fill(title, 40 * len(names) + 20), fontsize="medium")
    return fig


def calibration_markdown(result: dict, targets: dict[str, tuple[float, int]], title: str, command: str) -> str:
    """Report: targets and their sources, the fit with intervals, fitted shares, method and caveats."""
    lines = [f"# Calibration: {title}", "", "| target | share | sample size | fitted share |", "|---|---|---|---|"]
    for k, (t, n) in targets.items():
        lines.append(f"| {k} | {t:g} | {n:,} | {result['fitted_shares'][k]:.4f} |")
    lines += ["", "| parameter | fit | 95% interval (target sampling error) | fit with another seed |", "|---|---|---|---|"]
    for k, v in result["fit"].items():
        lo, hi = result["intervals"][k]
        lines.append(f"| {k} | {v:.4g} | [{lo:.4g}, {hi:.4g}] | {result['second_seed'][k]:.4g} |")
    if result["at_bound"]:
        lines += ["", f"**The fit is at the edge of the search range for {', '.join(result['at_bound'])}**: within these "
                  "bounds the model cannot reach the target with these parameters; widen the bounds or calibrate others. "
                  "Its interval then only says that every bootstrap refit chose the same edge."]
    lines += [
        "",
        f"Loss (sum of squared z-scores against the targets' standard errors): {result['loss']:.3g}. "
        f"{result['points']} parameter vectors, {result['replications']:,} crises each, seed {result['seed']} at "
        "every point (common random numbers).",
        "",
        "![calibration](figures/calibration.png)",
        "",
        "Caveats: the fit matches one or a few shares; it does not make the model's other outputs empirical. The "
        "mapping of model outcomes to ICB/MID categories is a modelling choice (docs/experiments.md, "
        "'Calibration'). The interval is resolved only to the spacing of the design points.",
        "",
        f"Reproduce: `{command}`",
        "",
    ]
    return "\n".join(lines)

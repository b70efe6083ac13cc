"""Where a contrast holds over a calibration posterior, and which calibrated parameters move it.

The box (:mod:`.robustness`) asks how much of a wide range of parameter values supports a claim. A calibration
posterior (``escalation-sim calibrate``: a weighted sample of particles, columns ``particle``, the fitted
parameters, ``weight``, ``distance``) asks it of the values the crisis record leaves plausible. Here:

* ``draws`` equally weighted draws are taken from the weighted particles with a seeded systematic resampler
  (:func:`escalation_sim.calibration.posterior.systematic_resample`, as ``run --posterior`` does); a particle drawn
  ``m`` times counts ``m`` times. Each distinct particle is run once: with the same seed everywhere (common random
  numbers) a repeated particle would give the same counts.
* At each particle every arm of the contrasts runs ``replications`` crises; the parameters the posterior does not
  hold keep the experiment's scenario values. Each contrast gets a verdict as over the box (holds, fails,
  indeterminate by its 95% interval, paired batch means over the blocks).
* The share of the posterior where a contrast holds (fails, is indeterminate) is the share of the draws, with a
  Wilson 95% interval at the effective number of draws ``(sum m)^2 / sum m^2`` (Kish): a posterior whose weight
  sits on a few particles gives a wide interval, one whose weight sits on one particle gives that particle's
  verdict with the interval of one observation. The interval covers the finite sample of particles, not the
  error of the ABC approximation itself.
* Also per contrast: the posterior mean of the contrast, its 5-95% range over the draws, and the probability that
  it has the claimed sign at all (whatever its size).
* Which calibrated parameters move it: Spearman rank correlations of the contrast with each parameter over the
  draws, with Fisher-z 95% intervals at the effective number of draws. Sobol indices are not computed over the
  posterior: they decompose variance over *independent* inputs, and the posterior's parameters are correlated
  (the calibration trades one off against another); Shapley effects (Owen 2014; Song, Nelson & Staum 2016) would
  handle dependence but need conditional samples that a weighted particle set does not give. The box's Sobol
  indices (:mod:`.contrast_sobol`) say what decides a contrast; the posterior's rank correlations say which of
  the calibrated parameters still matter where the data leave them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..engines import montecarlo as mc
from ..errors import ConfigError
from ..model.params import SPEC_BY_KEY
from ..model.scenario import Scenario
from ..scale.executors import LocalExecutor
from .contrasts import Contrast, Z, contrast_arms, contrast_row, point_block_size, run_arms

BOOKKEEPING = ("particle", "weight", "distance")
VERDICTS = ("holds", "fails", "indeterminate")


def read_posterior(path: str | Path) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """A posterior sample written by ``calibrate``: the parameter columns, normalized weights, parameter names.

    Raises
    ------
    ConfigError
        Naming the file and the column: the file is missing or unreadable, ``weight`` is missing or not finite
        and non-negative with a positive sum, a column is neither a model parameter nor ``particle``, ``weight`` or
        ``distance``, there is no parameter column, or a parameter value is missing or outside what the parameter
        allows.
    """
    p = Path(path)
    source = str(path)
    if not p.is_file():
        raise ConfigError(source, "", "no such file; allowed: a posterior.parquet or posterior.csv written by calibrate")
    try:
        df = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)
    except Exception:  # noqa: BLE001  (any unreadable file is the same user error)
        raise ConfigError(source, "", "not a readable Parquet or CSV posterior") from None
    allowed = "columns particle, <parameter keys (section.name)>, weight, distance, as calibrate writes"
    if "weight" not in df.columns:
        raise ConfigError(source, "weight", f"missing column; allowed: {allowed}")
    unknown = [c for c in df.columns if c not in BOOKKEEPING and c not in SPEC_BY_KEY]
    if unknown:
        raise ConfigError(source, str(unknown[0]), f"unknown column (not a model parameter); allowed: {allowed}")
    names = [c for c in df.columns if c in SPEC_BY_KEY]
    if not names:
        raise ConfigError(source, "", f"no parameter columns; allowed: {allowed}")
    if len(df) == 0:
        raise ConfigError(source, "", "no particles; allowed: a posterior with at least one row")
    w = pd.to_numeric(df["weight"], errors="coerce").to_numpy(dtype=float)
    if not (np.all(np.isfinite(w)) and np.all(w >= 0) and w.sum() > 0):
        raise ConfigError(source, "weight", "allowed: finite non-negative weights with a positive sum")
    for k in names:
        x = pd.to_numeric(df[k], errors="coerce").to_numpy(dtype=float)
        spec = SPEC_BY_KEY[k]
        if spec.kind not in ("float", "prob", "int"):
            raise ConfigError(source, k, "not a numeric parameter; allowed: numeric parameters of docs/model.md")
        bad = ~np.isfinite(x) | (x < spec.lo) | (x > spec.hi)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ConfigError(source, k, f"row {i}: got {df[k].iloc[i]!r}; allowed: a number in "
                              f"[{spec.lo:g}, {spec.hi:g}]")
        df[k] = x
    return df, w / w.sum(), names


def posterior_particles(path: str | Path, draws: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """The distinct particles of ``draws`` systematic-resampling draws, with how often each was drawn.

    Returns the particles' parameter values (in the order of the file, with their ``row`` in it), the
    multiplicities (summing to ``draws``) and the parameter names.
    """
    # here, not at the top: the calibration package imports SciPy, which every command would pay for
    from ..calibration.posterior import systematic_resample

    df, w, names = read_posterior(path)
    idx = systematic_resample(w, draws, seed)
    rows, mult = np.unique(idx, return_counts=True)
    out = df.iloc[rows][names].reset_index(drop=True)
    out.insert(0, "row", rows.astype(np.int64))
    if "particle" in df.columns:
        out.insert(1, "particle", df["particle"].to_numpy()[rows])
    return out, mult.astype(np.int64), names


def effective_draws(mult: np.ndarray) -> float:
    """Kish's effective sample size of draws with multiplicities ``mult``: ``(sum m)^2 / sum m^2``."""
    m = np.asarray(mult, dtype=float)
    return float(m.sum() ** 2 / (m**2).sum()) if m.sum() > 0 else math.nan


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    """The ``q`` quantile of ``x`` with integer weights ``w`` (the draws, repeated): inverted empirical CDF."""
    ok = np.isfinite(x)
    x, w = np.asarray(x)[ok], np.asarray(w)[ok]
    if len(x) == 0:
        return math.nan
    return float(np.quantile(np.repeat(x, w), q, method="inverted_cdf"))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties); nan when either side is constant."""
    rx = pd.Series(x).rank().to_numpy()
    ry = pd.Series(y).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


@dataclass
class ContrastPosterior:
    """Per distinct particle (values, multiplicity, every contrast), per contrast a summary, rank correlations."""

    particles: pd.DataFrame
    summary: pd.DataFrame
    rank_correlations: pd.DataFrame
    parameters: list[str]
    draws: int
    replications: int
    seed: int
    source: str


def contrast_posterior(base: Scenario, contrasts: Sequence[Contrast], posterior: str | Path, draws: int,
                       replications: int, seed: int, block_size: int | None = None, threads: int | None = None,
                       model: Callable[[dict], Mapping] | None = None,
                       progress: Callable[[int], None] | None = None) -> ContrastPosterior:
    """Every contrast at ``draws`` draws of a posterior (see the module docstring).

    Parameters
    ----------
    base : Scenario
        The scenario every arm runs on; the posterior's parameters are set at each draw.
    contrasts : sequence of Contrast
        What to compare.
    posterior : path
        ``posterior.parquet`` or ``posterior.csv`` written by ``calibrate`` (:func:`read_posterior`).
    draws, seed
        Systematic-resampling draws and their seed; the crises use the same seed.
    replications, block_size, threads
        Crises per arm and draw, engine settings (they do not change the numbers).
    model : callable, optional
        ``model(values) -> counts`` instead of the engine (for tests).
    progress : callable, optional
        Called with the number of distinct particles done.
    """
    from ..calibration.posterior import wilson_interval

    parts, mult, names = posterior_particles(posterior, draws, seed)
    arms = contrast_arms(contrasts)
    block_size = point_block_size(replications) if block_size is None else block_size
    nthreads = threads or mc.max_threads()
    executor = LocalExecutor(nthreads) if model is None else None
    rows = []
    for i in range(len(parts)):
        values = {k: float(parts.iloc[i][k]) for k in names}
        for k in names:
            if SPEC_BY_KEY[k].kind == "int":
                values[k] = float(round(values[k]))
        counts = model(values) if model is not None else run_arms(base, values, arms, replications, seed,
                                                                  block_size, nthreads, executor)
        rows.append(contrast_row(contrasts, counts))
        if progress is not None:
            progress(i + 1)
    pts = pd.concat([parts, pd.DataFrame({"draws": mult}), pd.DataFrame(rows)], axis=1)
    n_eff = effective_draws(mult)
    summary, corr = [], []
    for j, c in enumerate(contrasts):
        v = pts[f"c{j}"].to_numpy(dtype=float)
        verdicts = pts[f"c{j}_verdict"].to_numpy()
        shares = {name: float(mult[verdicts == name].sum() / draws) for name in VERDICTS}
        lo_h, hi_h = wilson_interval(shares["holds"], n_eff)
        lo_f, hi_f = wilson_interval(shares["fails"], n_eff)
        ok = np.isfinite(v)
        mean = float(np.sum(v[ok] * mult[ok]) / mult[ok].sum()) if ok.any() else math.nan
        summary.append({
            "contrast": c.name, "claim": c.claim_text, "arm_a": c.arm_a.label, "arm_b": c.arm_b.label,
            "outcome": c.outcome, "motive": c.motive, "claimed_sign": c.claim, "draws": draws,
            "distinct_particles": int(len(parts)), "effective_draws": n_eff,
            "share_holds": shares["holds"], "holds_ci_low": lo_h, "holds_ci_high": hi_h,
            "share_fails": shares["fails"], "fails_ci_low": lo_f, "fails_ci_high": hi_f,
            "share_indeterminate": shares["indeterminate"],
            "p_claimed_sign": float(mult[np.sign(v) == c.claim].sum() / draws),
            "mean_value": mean, "value_q05": weighted_quantile(v, mult, 0.05),
            "value_q95": weighted_quantile(v, mult, 0.95),
            "ci_method": "wilson at Kish's effective number of draws",
        })
        rep_v = np.repeat(v, mult)
        for k in names:
            x = np.repeat(pts[k].to_numpy(dtype=float), mult)
            rho = spearman(x[np.isfinite(rep_v)], rep_v[np.isfinite(rep_v)])
            half = Z / math.sqrt(n_eff - 3) if n_eff > 3 else math.inf
            lo, hi = ((math.tanh(math.atanh(max(min(rho, 0.999999), -0.999999)) - half),
                       math.tanh(math.atanh(max(min(rho, 0.999999), -0.999999)) + half))
                      if math.isfinite(rho) else (math.nan, math.nan))
            corr.append({"contrast": c.name, "index": j, "parameter": k, "spearman": rho, "ci_low": lo,
                         "ci_high": hi, "effective_draws": n_eff})
    return ContrastPosterior(particles=pts, summary=pd.DataFrame(summary), rank_correlations=pd.DataFrame(corr),
                             parameters=names, draws=draws, replications=replications, seed=seed,
                             source=str(posterior))


def posterior_markdown(res: ContrastPosterior) -> str:
    """The report section: per contrast, the share of the posterior where it holds, and what moves it there."""
    s = res.summary
    n_eff = float(s["effective_draws"].iloc[0]) if len(s) else math.nan
    n_part = int(s["distinct_particles"].iloc[0]) if len(s) else 0
    lines = ["## Over the calibration posterior", "",
             f"{res.draws} draws from `{res.source}` (systematic resampling, seed {res.seed}; {n_part} distinct "
             f"particles, {n_eff:.0f} effective draws); at each, every arm runs {res.replications:,} crises with the "
             f"same seed. The calibrated parameters ({', '.join(f'`{k}`' for k in res.parameters)}) take the "
             "draw's values; every other parameter keeps the scenario's value. Shares are over the draws, with "
             "Wilson 95% intervals at the effective number of draws.", "",
             "| contrast | holds | fails | indeterminate | P(claimed sign) | mean [5%, 95%] | moved most by (Spearman) |",
             "|---|---|---|---|---:|---|---|"]
    for _, r in s.iterrows():
        rc = res.rank_correlations[res.rank_correlations["contrast"] == r["contrast"]].copy()
        rc = rc[np.isfinite(rc["spearman"])]
        moved = "–"
        if len(rc):
            t = rc.iloc[int(np.argmax(np.abs(rc["spearman"].to_numpy())))]
            moved = f"`{t['parameter']}` {t['spearman']:+.2f} [{t['ci_low']:+.2f}, {t['ci_high']:+.2f}]"
        lines.append(
            f"| {r['contrast']} | {r['share_holds']:.0%} [{r['holds_ci_low']:.0%}, {r['holds_ci_high']:.0%}] "
            f"| {r['share_fails']:.0%} [{r['fails_ci_low']:.0%}, {r['fails_ci_high']:.0%}] "
            f"| {r['share_indeterminate']:.0%} | {r['p_claimed_sign']:.2f} "
            f"| {r['mean_value']:+.3f} [{r['value_q05']:+.3f}, {r['value_q95']:+.3f}] | {moved} |")
    lines += ["", "Sobol indices are not computed over the posterior: its parameters are correlated, and Sobol "
              "indices decompose variance over independent inputs (docs/robustness.md). The rank correlations "
              "say which calibrated parameters still move a contrast within the posterior.", ""]
    return "\n".join(lines)


def flip_figure(box_summary: pd.DataFrame, post: ContrastPosterior | None = None):
    """For every contrast: the shares where it holds, is indeterminate and fails, over the box and the posterior."""
    from matplotlib.figure import Figure  # here, not at the top: matplotlib is slow to import

    names = list(box_summary["contrast"])
    groups = [("box", box_summary)] + ([("posterior", post.summary)] if post is not None else [])
    n = len(names)
    fig = Figure(figsize=(9, 1.2 + 0.32 * n * len(groups)), layout="constrained")
    ax = fig.add_subplot()
    colours = {"holds": "tab:blue", "indeterminate": "lightgrey", "fails": "tab:red"}
    ticks, labels = [], []
    for g, (label, df) in enumerate(groups):
        d = df.set_index("contrast").reindex(names)
        y = np.arange(n)[::-1] * len(groups) - g * 0.9 + (len(groups) - 1) * 0.45
        left = np.zeros(n)
        for verdict_name, colour in colours.items():
            width = d[f"share_{verdict_name}"].to_numpy(dtype=float)
            ax.barh(y, width, left=left, height=0.8, color=colour, label=verdict_name if g == 0 else None,
                    hatch="//" if label == "posterior" else None, edgecolor="white")
            left += width
        ticks += list(y)
        labels += [f"{nm} ({label})" for nm in names]
    ax.set_yticks(ticks, labels, fontsize="x-small")
    ax.set_xlim(0, 1)
    ax.set_xlabel("share where the claimed sign holds / cannot be told / fails")
    fig.legend(loc="outside lower center", ncols=3, fontsize="small", frameon=False)
    ax.set_title("Where the answers flip: the literature's claims over the box"
                 + (" and over the posterior (hatched)" if post is not None else ""), fontsize="medium")
    return fig


def write_contrast_posterior(out_dir: Path, res: ContrastPosterior) -> list[Path]:
    """Tables ``posterior_contrast_points``, ``posterior_contrast_summary``, ``posterior_contrast_rank_correlations``."""
    from ..io.files import write_table

    out_dir = Path(out_dir)
    paths = write_table(res.particles, out_dir, "posterior_contrast_points")
    paths += write_table(res.summary, out_dir, "posterior_contrast_summary")
    paths += write_table(res.rank_correlations, out_dir, "posterior_contrast_rank_correlations")
    return paths


__all__ = ["read_posterior", "posterior_particles", "effective_draws", "weighted_quantile", "spearman",
           "ContrastPosterior", "contrast_posterior", "posterior_markdown", "flip_figure", "write_contrast_posterior"]

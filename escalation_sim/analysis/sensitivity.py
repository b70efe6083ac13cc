"""Global sensitivity of war probability: Sobol indices with SALib.

For a chosen cell of an experiment and chosen numeric parameters with bounds,
Saltelli's scheme (SALib's ``sample.sobol``, no second-order terms) draws
``N (k + 2)`` parameter vectors; each is run through the compiled engine with
``R`` replications and **the same seed** (common random numbers: every point
sees the same challengers and the same draws, so differences between points
come from the parameters, not from sampling noise, which lowers the variance
of the index estimates). SALib's ``analyze.sobol`` gives first-order (S1) and
total (ST) indices with bootstrap 95% intervals (Sobol 2001; Saltelli et al.
2010; Herman & Usher 2017 for SALib).

The Monte Carlo noise left in each point's P(war) is reported beside them: the
mean binomial variance ``p (1 - p) / R`` over the points against the variance
of P(war) across points. When that share is more than a few per cent, raise
``R``: noise inflates the indices of nothing in particular.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..engines import montecarlo as mc
from ..errors import ConfigError
from ..io.files import atomic_write_bytes, prepare_run_dir, write_table
from ..io.manifest import MANIFEST, Manifest
from ..io.provenance import now_iso
from ..model.constants import WAR_OUTCOME
from ..model.params import SPEC_BY_KEY
from ..model.scenario import Scenario
from ..pipeline.experiment import Experiment
from ..pipeline.schedule import run_scenario
from ..report.figures import write_figure
from ..scale.executors import LocalExecutor

NUMERIC_KINDS = ("float", "prob")


def point_block_size(replications: int, block_size: int, threads: int | None) -> int:
    """Block size for one parameter vector: small enough that its replications spread over the threads.

    A point of a design runs only ``R`` replications (a few thousand); with the experiment's block size (4,096)
    that is one block and one thread. Counts do not depend on the block size (replication ``r`` always uses the
    streams keyed by ``(seed, r)``), so shares and P(war) are the same with any value.
    """
    nthreads = threads or mc.max_threads()
    return int(min(block_size, max(256, -(-replications // (2 * nthreads)))))


def parse_bounds(source: str, params: Sequence[str], texts: Sequence[str], base: Scenario) -> dict[str, tuple[float, float]]:
    """Bounds for each parameter: ``name=lo:hi`` from ``texts``, else the default +-50% within the allowed range."""
    given: dict[str, tuple[float, float]] = {}
    for t in texts:
        if "=" not in t or ":" not in t.split("=", 1)[1]:
            raise ConfigError(source, "--bounds", f"got {t!r}; allowed: section.name=LOW:HIGH")
        key, rng = t.split("=", 1)
        try:
            lo, hi = (float(x) for x in rng.split(":", 1))
        except ValueError:
            raise ConfigError(source, "--bounds", f"got {t!r}; allowed: section.name=LOW:HIGH with numbers") from None
        given[key.strip()] = (lo, hi)
    if not params:
        raise ConfigError(source, "--params", "allowed: one or more numeric parameters, e.g. channel.misperception")
    for key in list(params) + list(given):
        spec = SPEC_BY_KEY.get(key)
        if spec is None or spec.kind not in NUMERIC_KINDS:
            allowed = "a numeric parameter (float or probability) listed by docs/model.md, e.g. channel.misperception"
            raise ConfigError(source, key, f"unknown or not numeric; allowed: {allowed}")
        if key in given and key not in params:
            raise ConfigError(source, "--bounds", f"{key} is not one of --params")
    out = {}
    for key in params:
        spec = SPEC_BY_KEY[key]
        if key in given:
            lo, hi = given[key]
        else:
            d = base.value(key)
            if d == 0.0:
                raise ConfigError(source, f"--bounds {key}", "its default is 0: give bounds, e.g. --bounds {key}=0:0.2")
            lo, hi = sorted((0.5 * d, 1.5 * d))
            lo, hi = max(spec.lo, lo), min(spec.hi, hi)
        if not (spec.lo <= lo < hi <= spec.hi) or not math.isfinite(hi):
            raise ConfigError(source, f"--bounds {key}", f"got {lo:g}:{hi:g}; allowed: {spec.lo:g} <= LOW < HIGH <= {spec.hi:g}")
        out[key] = (lo, hi)
    return out


def p_war(totals: mc.CellTotals) -> float:
    """Probability of war (deliberate or by miscalculation) of a finished cell."""
    c = totals.counts.sum(axis=0)
    return float(c[WAR_OUTCOME]) / totals.n


def sobol(base: Scenario, bounds: dict[str, tuple[float, float]], n_base: int, replications: int, seed: int,
          block_size: int = 4096, threads: int | None = None, model=None, progress=None,
          noise_points: int = 16) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Sobol indices of P(war) over ``bounds``.

    Parameters
    ----------
    base : Scenario
        The cell's scenario; the parameters in ``bounds`` are varied.
    bounds : dict
        ``section.name -> (low, high)``.
    n_base : int
        SALib's base sample size ``N`` (a power of 2); ``N (k + 2)`` points are run.
    replications, seed, block_size, threads
        Compiled-engine settings of every point (same seed everywhere).
    model : callable, optional
        ``model(values: dict) -> float`` instead of the compiled engine (for tests).
    progress : callable, optional
        Called with 1 after each point.
    noise_points : int
        Points (evenly spread over the sample) run again with seed ``seed + 1`` to measure the Monte Carlo noise
        that common random numbers leave in the differences between points.

    Returns
    -------
    (indices, samples, noise) : DataFrame, DataFrame, dict
        ``noise``: ``var_p_war_across_points``; ``mean_binomial_variance`` (``p (1 - p) / R``, the noise of a
        point on its own, which would enter the variance across points in full with independent seeds) and its
        ``noise_share``; ``crn_noise_variance`` (half the variance across the re-run points of the change of
        P(war) between the two seeds: the part of the noise that differs between points, which is what remains
        with common random numbers) and its ``crn_noise_share``.
    """
    # SALib is an optional dependency (pip install 'escalation-sim[sensitivity]')
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    names = list(bounds)
    problem = {"num_vars": len(names), "names": names, "bounds": [list(bounds[k]) for k in names]}
    X = sobol_sample.sample(problem, n_base, calc_second_order=False, scramble=True, seed=seed)
    bs = point_block_size(replications, block_size, threads)
    nthreads = threads or mc.max_threads()
    executor = LocalExecutor(nthreads)

    def point(values: dict, seed_: int) -> float:
        return p_war(run_scenario(base.with_values(values), replications, seed_, bs, nthreads, executor))

    Y = np.empty(X.shape[0])
    for i, row in enumerate(X):
        values = {k: float(v) for k, v in zip(names, row, strict=True)}
        Y[i] = model(values) if model is not None else point(values, seed)
        if progress is not None:
            progress(1)
    Si = sobol_analyze.analyze(problem, Y, calc_second_order=False, num_resamples=1000, conf_level=0.95, seed=seed)
    indices = pd.DataFrame({
        "parameter": names,
        "low": [bounds[k][0] for k in names],
        "high": [bounds[k][1] for k in names],
        "S1": Si["S1"], "S1_ci_halfwidth": Si["S1_conf"],
        "ST": Si["ST"], "ST_ci_halfwidth": Si["ST_conf"],
        "ci_method": "SALib bootstrap, 1000 resamples, 95%",
    })
    samples = pd.DataFrame(X, columns=names)
    samples["p_war"] = Y
    var_y = float(np.var(Y, ddof=1)) if len(Y) > 1 else 0.0
    noise_var = float(np.mean(Y * (1 - Y) / replications)) if model is None else 0.0
    crn_var, rerun = 0.0, np.array([], dtype=np.int64)
    if model is None and noise_points >= 2:
        rerun = np.unique(np.linspace(0, len(X) - 1, min(noise_points, len(X))).round().astype(np.int64))
        d = np.array([Y[i] - point({k: float(v) for k, v in zip(names, X[i], strict=True)}, seed + 1) for i in rerun])
        crn_var = float(np.var(d, ddof=1) / 2)
    noise = {"points": int(len(Y)), "replications_per_point": replications, "var_p_war_across_points": var_y,
             "mean_binomial_variance": noise_var, "noise_share": noise_var / var_y if var_y > 0 else math.nan,
             "crn_noise_points": int(len(rerun)), "crn_noise_variance": crn_var,
             "crn_noise_share": crn_var / var_y if var_y > 0 else math.nan}
    return indices, samples, noise


def sobol_figure(indices: pd.DataFrame, out_dir: Path, title: str, noise: dict | None = None) -> list[Path]:
    """Bar plot of S1 and ST with their 95% bootstrap intervals (PNG and SVG)."""
    from matplotlib.figure import Figure  # here, not at the top: matplotlib is slow to import

    k = len(indices)
    fig = Figure(figsize=(7, 1.8 + 0.6 * k), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(k)[::-1]
    ax.barh(y + 0.2, indices["S1"], height=0.38, xerr=indices["S1_ci_halfwidth"], capsize=3, label="first order S1")
    ax.barh(y - 0.2, indices["ST"], height=0.38, xerr=indices["ST_ci_halfwidth"], capsize=3, label="total ST")
    ax.set_yticks(y, [f"{p}\n[{lo:g}, {hi:g}]" for p, lo, hi in zip(indices["parameter"], indices["low"], indices["high"], strict=True)],
                  fontsize="small")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel("Sobol index of P(war) (95% bootstrap interval)")
    ax.grid(axis="x", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=2, frameon=False, fontsize="small")
    title = textwrap.fill(title, 70)
    if noise:
        title += (f"\n{noise['points']:,} points x {noise['replications_per_point']:,} crises, same seed at every point;"
                  f"\nMonte Carlo noise {noise.get('crn_noise_share', noise['noise_share']):.1%} of the variance across points")
    ax.set_title(title, fontsize="medium")
    written = write_figure(fig, out_dir, "sobol")
    return written


def sobol_markdown(indices: pd.DataFrame, noise: dict, title: str, command: str) -> str:
    """Report: the indices with intervals, the Monte Carlo noise left in them, the method."""
    lines = [
        f"# Sensitivity of P(war): {title}",
        "",
        "Sobol indices (Saltelli sampling, SALib) of the probability of war; every point run with the same seed "
        f"(common random numbers), {noise['replications_per_point']:,} crises per point, {noise['points']:,} points.",
        "",
        "| parameter | range | S1 [95% CI] | ST [95% CI] |",
        "|---|---|---|---|",
    ]
    for _, r in indices.iterrows():
        lines.append(f"| {r['parameter']} | {r['low']:g} - {r['high']:g} | "
                     f"{r['S1']:.3f} [{r['S1'] - r['S1_ci_halfwidth']:.3f}, {r['S1'] + r['S1_ci_halfwidth']:.3f}] | "
                     f"{r['ST']:.3f} [{r['ST'] - r['ST_ci_halfwidth']:.3f}, {r['ST'] + r['ST_ci_halfwidth']:.3f}] |")
    share, crn = noise["noise_share"], noise.get("crn_noise_share", math.nan)
    judged = crn if math.isfinite(crn) else share
    lines += [
        "",
        f"Monte Carlo noise. Variance of P(war) across points: {noise['var_p_war_across_points']:.3g}. A point's own "
        f"binomial variance p(1 - p)/R averages {noise['mean_binomial_variance']:.3g} ({share:.2%} of it): what the "
        "noise would add with an independent seed per point.",
    ]
    if noise.get("crn_noise_points", 0):
        lines[-1] += (f" With the same seed at every point, the noise that differs between points, measured by running "
                      f"{noise['crn_noise_points']} points again on seed + 1 (half the variance of the change), is "
                      f"{noise['crn_noise_variance']:.3g} ({crn:.2%}).")
    lines[-1] += (" Small: the indices describe the parameters, not the sampling." if judged < 0.05 else
                  " Not small: raise the replications per point before reading the indices.")
    lines += [
        "",
        "![Sobol indices](figures/sobol.png)",
        "",
        "S1: share of the variance of P(war) due to the parameter alone; ST: including its interactions. Intervals: "
        "SALib's bootstrap over the sample points (1,000 resamples, 95%). Indices hold for the ranges shown and the "
        "cell's other settings; the model's effect sizes are illustrative defaults (docs/sensitivity.md).",
        "",
        f"Reproduce: `{command}`",
        "",
    ]
    return "\n".join(lines)


def sensitivity_command(exp: Experiment, cell: int, bounds: dict[str, tuple[float, float]], *, n_base: int,
                        replications: int, seed: int, threads: int | None = None, out: Path | None = None,
                        force: bool = False, experiment_file=None, log=None) -> tuple[Path, pd.DataFrame, dict]:
    """``escalation-sim sensitivity``: the indices of cell ``cell``, with their table, samples, figure, report, manifest.

    Writes to ``out`` [default: ``results/<experiment>-sensitivity/cell<K>-seed<S>``], which must be empty unless
    ``force``. Returns the directory, the indices and the Monte Carlo noise.
    """
    experiment_file = exp.source if experiment_file is None else experiment_file
    out_dir = out or Path("results") / f"{exp.name}-sensitivity" / f"cell{cell}-seed{seed}"
    prepare_run_dir(out_dir, force)
    points = n_base * (len(bounds) + 2)
    command = (f"escalation-sim sensitivity {experiment_file} --params {','.join(bounds)} "
               + " ".join(f"--bounds {k}={lo:g}:{hi:g}" for k, (lo, hi) in bounds.items())
               + f" --cell {cell} --samples {n_base} -n {replications} --seed {seed}")
    start = now_iso()
    if log is not None:
        log(f"sensitivity: {points:,} points x {replications:,} crises, cell {cell} ({exp.cells[cell].label}) -> {out_dir}")
    mc.warm_up()
    indices, samples, noise = sobol(exp.cells[cell].scenario, bounds, n_base, replications, seed, exp.block_size,
                                    threads)
    title = f"{exp.name}, cell {cell}: {exp.cells[cell].label}"
    files = write_table(indices, out_dir, "sobol_indices") + write_table(samples, out_dir, "sobol_samples")
    files += sobol_figure(indices, out_dir, title, noise)
    report = out_dir / "report.md"
    atomic_write_bytes(report, sobol_markdown(indices, noise, title, command).encode())
    Manifest.new(out_dir / MANIFEST, {
        "kind": "sensitivity", "experiment": exp.name, "experiment_file": str(experiment_file), "cell": cell,
        "bounds": {k: list(v) for k, v in bounds.items()}, "samples": n_base, "points": points,
        "replications_per_point": replications, "seed": seed, "block_size": exp.block_size,
        "method": "Saltelli/Sobol (SALib), no second order; bootstrap 95% intervals", "noise": noise,
        "command": command,
    }, start=start).finish("complete", files=[str(Path(f).relative_to(out_dir)) for f in [*files, report]])
    return out_dir, indices, noise


def sensitivity_text(indices: pd.DataFrame, noise: dict) -> str:
    """The indices for a terminal: S1 and ST with their half-widths, and the Monte Carlo noise share."""
    lines = [f"{'parameter':<34} {'range':>15} {'S1 +- 95% half-width':>22} {'ST +- 95% half-width':>22}"]
    for _, r in indices.iterrows():
        lines.append(f"{r['parameter']:<34} {r['low']:>7g}-{r['high']:<7g} "
                     f"{r['S1']:7.3f} +- {r['S1_ci_halfwidth']:<10.3f} {r['ST']:7.3f} +- {r['ST_ci_halfwidth']:.3f}")
    lines.append(f"Monte Carlo noise share of the variance across points: {noise['crn_noise_share']:.2%} with the same "
                 f"seed at every point ({noise['noise_share']:.2%} it would be with independent seeds)")
    return "\n".join(lines)

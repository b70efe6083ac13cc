"""What decides a contrast: Sobol indices of the contrast over the parameter box, with SALib.

:mod:`.sensitivity` gives the Sobol indices of one cell's P(war). Here the output is a *contrast*: the
difference of one outcome's probability between two arms (:mod:`.contrasts`), e.g. P(war | immediate
deterrence) - P(war | self-restraint) against need-driven challengers. Its variance over the box is what decides
whether the literature's claim holds where it does: a parameter with a large total index moves the contrast, and
so can move it across zero.

Saltelli's scheme (SALib's ``sample.sobol``, scrambled Sobol sequence, no second-order terms) draws ``N (k + 2)``
parameter vectors of the ``k`` parameters of the box; every arm runs at every vector with ``R`` replications and
**the same seed** (common random numbers, between the arms and between the points). One design serves every
contrast of a set: each contrast is computed at every point, and SALib's ``analyze.sobol`` gives its first-order
(S1) and total (ST) indices with bootstrap 95% intervals (Sobol 2001; Saltelli et al. 2010; Herman & Usher 2017).

The Monte Carlo noise left in each contrast is measured as in :mod:`.sensitivity`: ``noise_points`` points are run
again on seed + 1, and half the variance of the change is the noise that differs between points (what remains
under common random numbers), reported as a share of the contrast's variance across points beside the
independent-binomial variance (what the noise would be with an independent seed per arm and point) and the
paired variance of a point's contrast (an independent seed per point, the arms still paired). A share of more
than a few per cent inflates the indices of nothing in particular.

Sobol indices are a variance decomposition over *independent* inputs: they are computed over the box (independent
uniform parameters), never over a posterior, whose parameters are correlated (:mod:`.contrast_posterior` gives
rank correlations there instead).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..engines import montecarlo as mc
from ..model.params import SPEC_BY_KEY
from ..model.scenario import Scenario
from ..scale.executors import LocalExecutor
from .contrasts import Contrast, contrast_arms, contrast_value, independent_se, point_block_size, run_arms

RESAMPLES = 1000


@dataclass
class ContrastSobol:
    """Indices (one row per contrast and parameter), the sample (parameters and every contrast at every point) and
    the Monte Carlo noise (one row per contrast)."""

    indices: pd.DataFrame
    samples: pd.DataFrame
    noise: pd.DataFrame
    n_base: int
    replications: int
    seed: int


def _values(names: Sequence[str], row: np.ndarray) -> dict[str, float]:
    out = {}
    for k, v in zip(names, row, strict=True):
        out[k] = float(round(v)) if SPEC_BY_KEY[k].kind == "int" else float(v)
    return out


def contrast_sobol(base: Scenario, contrasts: Sequence[Contrast], box: Mapping[str, tuple[float, float]],
                   n_base: int, replications: int, seed: int, block_size: int | None = None, threads: int | None = None,
                   noise_points: int = 16, model: Callable[[dict], Mapping] | None = None,
                   progress: Callable[[int], None] | None = None) -> ContrastSobol:
    """Sobol indices of every contrast over ``box``.

    Parameters
    ----------
    base : Scenario
        The scenario every arm runs on; the box's parameters are set at each point.
    contrasts : sequence of Contrast
        The contrasts; their arms all run at every point.
    box : mapping
        ``section.name -> (low, high)``: the independent uniform inputs.
    n_base : int
        SALib's base sample ``N`` (a power of 2): ``N (k + 2)`` points.
    replications, seed, block_size, threads
        Crises per arm and point (the same seed everywhere) and engine settings (which do not change the counts;
        the blocks [default: :func:`~.contrasts.point_block_size`] are the batches of the paired errors).
    noise_points : int
        Points run again on seed + 1 to measure the Monte Carlo noise (0: not measured).
    model : callable, optional
        ``model(values) -> counts`` (:data:`.contrasts.Counts`) instead of the engine (for tests); no noise is
        measured then.
    progress : callable, optional
        Called with the number of points done.

    Returns
    -------
    ContrastSobol
        ``indices``: contrast, parameter, low, high, S1, S1_ci_halfwidth, ST, ST_ci_halfwidth (SALib bootstrap,
        95%); ``samples``: every point's parameters and contrasts; ``noise``: per contrast
        ``var_across_points``; ``mean_binomial_variance`` and ``noise_share`` (what the noise would be with
        independent seeds for the arms and the points); ``mean_paired_variance`` and ``paired_noise_share`` (a
        point's own Monte Carlo variance of the contrast, the arms on common random numbers: what the noise would
        be with an independent seed per point); ``crn_noise_variance`` and ``crn_noise_share`` (measured: the
        noise that differs between points with the same seed everywhere, which is what enters the indices).
    """
    # SALib is an optional dependency (pip install 'escalation-sim[sensitivity]')
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    names = list(box)
    problem = {"num_vars": len(names), "names": names, "bounds": [list(box[k]) for k in names]}
    X = sobol_sample.sample(problem, n_base, calc_second_order=False, scramble=True, seed=seed)
    arms = contrast_arms(contrasts)
    nthreads = threads or mc.max_threads()
    executor = LocalExecutor(nthreads) if model is None else None

    block_size = point_block_size(replications) if block_size is None else block_size

    def evaluate(values: dict, seed_: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        counts = model(values) if model is not None else run_arms(base, values, arms, replications, seed_,
                                                                  block_size, nthreads, executor)
        vs = [contrast_value(c, counts) for c in contrasts]
        return (np.array([v for v, _ in vs]), np.array([se for _, se in vs]),
                np.array([independent_se(c, counts) for c in contrasts]))

    Y = np.empty((X.shape[0], len(contrasts)))
    SE = np.empty_like(Y)
    SE_IND = np.empty_like(Y)
    for i, row in enumerate(X):
        Y[i], SE[i], SE_IND[i] = evaluate(_values(names, row), seed)
        if progress is not None:
            progress(i + 1)
    rerun = np.array([], dtype=np.int64)
    D = np.empty((0, len(contrasts)))
    if model is None and noise_points >= 2:
        rerun = np.unique(np.linspace(0, len(X) - 1, min(noise_points, len(X))).round().astype(np.int64))
        D = np.array([Y[i] - evaluate(_values(names, X[i]), seed + 1)[0] for i in rerun])

    rows, noise = [], []
    for j, c in enumerate(contrasts):
        y = Y[:, j]
        var_y = float(np.var(y, ddof=1)) if len(y) > 1 else 0.0
        ok = bool(np.all(np.isfinite(y))) and var_y > 0
        if ok:
            si = sobol_analyze.analyze(problem, y, calc_second_order=False, num_resamples=RESAMPLES,
                                       conf_level=0.95, seed=seed)
            s1, s1c, st, stc = si["S1"], si["S1_conf"], si["ST"], si["ST_conf"]
        else:  # a contrast that does not vary (or is undefined somewhere) has no variance to decompose
            s1 = s1c = st = stc = np.full(len(names), math.nan)
        for k, name in enumerate(names):
            rows.append({"contrast": c.name, "index": j, "parameter": name, "low": box[name][0], "high": box[name][1],
                         "S1": float(s1[k]), "S1_ci_halfwidth": float(s1c[k]),
                         "ST": float(st[k]), "ST_ci_halfwidth": float(stc[k])})
        binom = float(np.nanmean(SE_IND[:, j] ** 2))
        paired = float(np.nanmean(SE[:, j] ** 2))
        crn = float(np.var(D[:, j], ddof=1) / 2) if len(rerun) >= 2 else math.nan
        noise.append({"contrast": c.name, "index": j, "points": int(len(y)), "replications_per_point": replications,
                      "var_across_points": var_y, "mean_binomial_variance": binom,
                      "noise_share": binom / var_y if var_y > 0 else math.nan,
                      "mean_paired_variance": paired, "paired_noise_share": paired / var_y if var_y > 0 else math.nan,
                      "crn_noise_points": int(len(rerun)), "crn_noise_variance": crn,
                      "crn_noise_share": crn / var_y if var_y > 0 else math.nan})
    indices = pd.DataFrame(rows)
    indices["ci_method"] = f"SALib bootstrap, {RESAMPLES} resamples, 95%"
    samples = pd.DataFrame(X, columns=names)
    for j in range(len(contrasts)):
        samples[f"c{j}"] = Y[:, j]
        samples[f"c{j}_se"] = SE[:, j]
        samples[f"c{j}_se_independent"] = SE_IND[:, j]
    return ContrastSobol(indices=indices, samples=samples, noise=pd.DataFrame(noise), n_base=n_base,
                         replications=replications, seed=seed)


def top_parameters(indices: pd.DataFrame, contrast: str, k: int = 3) -> pd.DataFrame:
    """The ``k`` parameters with the largest total index for one contrast (largest first)."""
    d = indices[indices["contrast"] == contrast]
    return d.sort_values("ST", ascending=False, kind="stable").head(k)


def _ci(v: float, h: float) -> str:
    return f"{v:.2f} [{v - h:.2f}, {v + h:.2f}]"


def sobol_markdown(res: ContrastSobol, contrasts: Sequence[Contrast], k: int = 3) -> str:
    """The report section: per contrast, the parameters with the largest total indices and the noise left."""
    n_pts = int(res.noise["points"].iloc[0]) if len(res.noise) else 0
    lines = ["## What decides each contrast: Sobol indices over the box", "",
             f"Saltelli's scheme (SALib, N = {res.n_base}, {n_pts:,} points of the box, seed {res.seed}); at every "
             f"point every arm runs {res.replications:,} crises with the same seed. S1: the share of the contrast's "
             "variance over the box due to the parameter alone; ST: with its interactions. Intervals: SALib's "
             f"bootstrap ({RESAMPLES} resamples, 95%). Noise: the Monte Carlo share of the contrast's variance "
             "across points that is left with common random numbers (points run again on seed + 1).", "",
             "| contrast | largest total indices: ST [95% CI] (S1 [95% CI]) | noise |", "|---|---|---:|"]
    for j, c in enumerate(contrasts):
        top = top_parameters(res.indices, c.name, k)
        nz = res.noise.iloc[j]
        if top["ST"].isna().all():
            lines.append(f"| {c.name} | (the contrast does not vary over the box) | – |")
            continue
        cells = "; ".join(f"`{r['parameter']}` {_ci(r['ST'], r['ST_ci_halfwidth'])} "
                          f"({_ci(r['S1'], r['S1_ci_halfwidth'])})" for _, r in top.iterrows())
        share = nz["crn_noise_share"] if math.isfinite(nz["crn_noise_share"]) else nz["noise_share"]
        flag = "" if share < 0.05 else " **(large: read with care)**"
        lines.append(f"| {c.name} | {cells} | {share:.1%}{flag} |")
    lines += ["", "Indices hold for the box shown with the robustness table; a total index well above its first-order "
              "index means the parameter acts through interactions. Negative lower bounds are sampling noise of "
              "the estimator (the index itself is non-negative).", ""]
    return "\n".join(lines)


def sobol_figure(res: ContrastSobol, contrasts: Sequence[Contrast], k: int = 5):
    """One panel per contrast: S1 and ST of its ``k`` most influential parameters, with bootstrap intervals."""
    from matplotlib.figure import Figure  # here, not at the top: matplotlib is slow to import

    n = len(contrasts)
    cols = 3 if n > 4 else max(n, 1)
    rows = -(-n // cols)
    fig = Figure(figsize=(4.6 * cols, 0.5 + 2.6 * rows), layout="constrained")
    for j, c in enumerate(contrasts):
        ax = fig.add_subplot(rows, cols, j + 1)
        top = top_parameters(res.indices, c.name, k)
        y = np.arange(len(top))[::-1]
        ax.barh(y + 0.2, top["S1"], height=0.38, xerr=top["S1_ci_halfwidth"], capsize=2, label="S1")
        ax.barh(y - 0.2, top["ST"], height=0.38, xerr=top["ST_ci_halfwidth"], capsize=2, label="ST")
        ax.set_yticks(y, list(top["parameter"]), fontsize="x-small")
        ax.axvline(0, color="grey", lw=0.7)
        ax.set_title(c.name, fontsize="small")
        ax.tick_params(axis="x", labelsize="x-small")
        if j == 0:
            ax.legend(fontsize="x-small")
    fig.suptitle(f"Sobol indices of each contrast over the box (N = {res.n_base}, {res.replications:,} crises per "
                 "arm and point, 95% bootstrap intervals)", fontsize="medium")
    return fig


def write_contrast_sobol(out_dir: Path, res: ContrastSobol, contrasts: Sequence[Contrast]) -> list[Path]:
    """Tables (``sobol_contrast_indices``, ``sobol_contrast_samples``, ``sobol_contrast_noise``) and figure."""
    from ..io.files import write_table
    from ..report.figures import write_figure

    out_dir = Path(out_dir)
    paths = write_table(res.indices, out_dir, "sobol_contrast_indices")
    paths += write_table(res.samples, out_dir, "sobol_contrast_samples")
    paths += write_table(res.noise, out_dir, "sobol_contrast_noise")
    paths += write_figure(sobol_figure(res, contrasts), out_dir, "sobol_contrasts")
    return paths


__all__ = ["ContrastSobol", "contrast_sobol", "top_parameters", "sobol_markdown", "sobol_figure",
           "write_contrast_sobol"]

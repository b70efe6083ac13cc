"""Outputs of a calibration run: posterior predictive check, identifiability diagnostics, figures,
a markdown report, and the files on disk (Parquet + CSV tables, manifest, figures, report).

Functions meant for the CLI: :func:`predictive_check`, :func:`identifiability`, :func:`ridges`,
:func:`trace_figure`, :func:`marginals_figure`, :func:`pairs_figure`, :func:`render_report`,
:func:`write_run`. :func:`escalation_sim.calibration.run.calibrate` chains them.
"""

from __future__ import annotations

import io
import json
import math
import os
import platform
import shutil
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .abc import ABCResult, derived_seed, simulate_batches, weighted_mean_cov, weighted_quantile
from .distance import share_deviance
from .parallel import MapBatches, serial_map
from .targets import KnownOutputs, Target, TargetSet

PPC_PURPOSE = 1  # derived_seed purpose code of the predictive check

# heuristics of the identifiability section (stated in the report itself)
WIDTH_RATIO_UNIDENTIFIED = 0.8
RIDGE_CORRELATION = 0.6
BOUND_MARGIN = 0.02


# --- posterior predictive check -------------------------------------------------------------------------


def comparable(target: Target, known_outputs: KnownOutputs) -> bool:
    """Whether the model has an output this target can be compared with (always true for fit/check)."""
    if target.output not in known_outputs:
        return False
    cats = known_outputs[target.output]
    if target.kind == "scalar":
        return cats is None
    return cats is not None and all(c in cats for c in target.categories)


def _cells(target: Target, sim: Mapping[str, np.ndarray], known_outputs: KnownOutputs) -> np.ndarray:
    cats = tuple(known_outputs[target.output]) if known_outputs[target.output] is not None else None
    a = np.asarray(sim[target.output], float)
    if target.kind == "scalar":
        return (a[:, 0] if a.ndim == 2 else a)[:, None]
    q = a[:, [cats.index(c) for c in target.categories]]
    if target.partial:
        q = np.concatenate([q, np.clip(1.0 - q.sum(axis=1, keepdims=True), 0.0, 1.0)], axis=1)
    return q


def predictive_check(result: ABCResult, simulate, targets: TargetSet, known_outputs: KnownOutputs,
                     level: float = 0.90, batches: int | None = None,
                     map_batches: MapBatches | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Posterior predictive distribution of every comparable target (fit, check and info) at the posterior.

    All final particles are simulated once more with a fresh seed derived from the run seed (common random
    numbers across particles). For each target cell: the target, the predictive mean, the parameter
    interval (weighted quantiles of the simulated share) and the replicated-data interval (weighted
    quantiles of Multinomial(n, q_i) / n: what a new record of the same size would show). Per target:
    the posterior predictive p-value of the deviance, ``P(D(rep, q) >= D(obs, q))``.

    Returns ``(cells, summary)`` data frames.
    """
    seed = derived_seed(result.config.seed, PPC_PURPOSE)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
    usable = [t for t in targets.targets if comparable(t, known_outputs)]
    outputs = tuple(dict.fromkeys(t.output for t in usable))
    sim = simulate_batches(simulate, result.theta, seed, outputs, batches or result.config.batches, map_batches or serial_map)
    w = result.weights
    a = (1.0 - level) / 2.0
    cells, summary = [], []
    for t in usable:
        q = _cells(t, sim, known_outputs)
        obs = t.observed()
        n = t.n_effective
        if t.kind == "scalar":
            rep = q[:, 0] + t.se * rng.standard_normal(len(q))
            d_obs = ((obs[0] - q[:, 0]) / t.se) ** 2
            d_rep = ((rep - q[:, 0]) / t.se) ** 2
            rep = rep[:, None]
        else:
            qn = np.clip(q, 0.0, None)
            qn = qn / qn.sum(axis=1, keepdims=True)
            rep = np.stack([rng.multinomial(n, qn[i]) for i in range(len(qn))]) / n
            d_obs = share_deviance(obs, qn, n)
            d_rep = np.array([share_deviance(rep[i], qn[i:i + 1], n)[0] for i in range(len(qn))])
        inside_all = True
        for j, label in enumerate(t.cells()):
            rlo, rhi = weighted_quantile(rep[:, j], w, a), weighted_quantile(rep[:, j], w, 1 - a)
            inside = bool(rlo <= obs[j] <= rhi)
            inside_all &= inside
            cells.append({
                "target": t.name, "role": t.role, "output": t.output, "cell": label, "target_value": float(obs[j]),
                "predictive_mean": float(np.sum(w * q[:, j])),
                "parameter_low": weighted_quantile(q[:, j], w, a), "parameter_high": weighted_quantile(q[:, j], w, 1 - a),
                "replicated_low": rlo, "replicated_high": rhi, "level": level, "target_inside": inside,
            })
        summary.append({
            "target": t.name, "role": t.role, "output": t.output, "n": n,
            "deviance_at_mean": float(np.sum(w * d_obs)),
            "ppc_p_value": float(np.sum(w * (d_rep >= d_obs))),
            "all_cells_inside": inside_all,
        })
    return pd.DataFrame(cells), pd.DataFrame(summary)


# --- identifiability ------------------------------------------------------------------------------------


def identifiability(result: ABCResult, level: float = 0.90) -> pd.DataFrame:
    """Per parameter: prior box, posterior mean, sd, median, interval, and how much the data narrowed it.

    ``width_ratio`` is the posterior interval's width over the prior's interval of the same level
    (``level * (high - low)`` for a uniform prior): near 1, the fit targets say little about the
    parameter. ``at_bound`` marks posterior intervals that run into a prior bound.
    """
    th, w = result.theta, result.weights
    mean, cov = weighted_mean_cov(th, w)
    a = (1.0 - level) / 2.0
    rows = []
    for j, p in enumerate(result.priors):
        lo, hi = weighted_quantile(th[:, j], w, a), weighted_quantile(th[:, j], w, 1 - a)
        width = p.high - p.low
        ratio = (hi - lo) / (level * width)
        bound = []
        if lo - p.low <= BOUND_MARGIN * width:
            bound.append("low")
        if p.high - hi <= BOUND_MARGIN * width:
            bound.append("high")
        rows.append({
            "parameter": p.name, "prior_low": p.low, "prior_high": p.high, "mean": float(mean[j]),
            "sd": float(math.sqrt(max(cov[j, j], 0.0))), "median": weighted_quantile(th[:, j], w, 0.5),
            "low": lo, "high": hi, "level": level, "width_ratio": float(ratio),
            "identified": bool(ratio < WIDTH_RATIO_UNIDENTIFIED), "at_bound": ",".join(bound),
        })
    return pd.DataFrame(rows)


def correlations(result: ABCResult) -> np.ndarray:
    """Weighted posterior correlation matrix."""
    _, cov = weighted_mean_cov(result.theta, result.weights)
    sd = np.sqrt(np.clip(np.diag(cov), 1e-300, None))
    return cov / np.outer(sd, sd)


def ridges(result: ABCResult, threshold: float = RIDGE_CORRELATION) -> list[tuple[str, str, float]]:
    """Parameter pairs whose posterior correlation is at least ``threshold`` in absolute value."""
    r = correlations(result)
    names = result.parameter_names
    return [(names[i], names[j], float(r[i, j])) for i in range(len(names)) for j in range(i + 1, len(names))
            if abs(r[i, j]) >= threshold]


# --- figures ----------------------------------------------------------------------------------------------


def trace_figure(result: ABCResult) -> Figure:
    """Tolerance, acceptance rate and ESS / N by generation."""
    h = result.history_frame()
    fig = Figure(figsize=(10, 3.2), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    g = h["generation"].to_numpy()
    tol = h["tolerance"].to_numpy(dtype=float)
    fin = np.isfinite(tol)
    ax1.plot(g[fin], tol[fin], "o-")
    if result.tolerance_floor > 0:
        ax1.axhline(result.tolerance_floor, ls="--", c="grey", label=f"floor {result.tolerance_floor:.3g}")
        ax1.legend(fontsize=8)
    ax1.set_yscale("log")
    ax1.set_xlabel("generation")
    ax1.set_ylabel("tolerance (deviance)")
    ax2.plot(g, h["acceptance_rate"], "o-")
    ax2.set_yscale("log")
    ax2.set_xlabel("generation")
    ax2.set_ylabel("acceptance rate")
    ax3.plot(g, h["ess"] / h["particles"], "o-")
    ax3.set_ylim(0, 1.05)
    ax3.set_xlabel("generation")
    ax3.set_ylabel("ESS / N")
    fig.suptitle(f"ABC-SMC trace ({result.simulations:,} simulated particles; {result.stop_reason})", fontsize=9)
    return fig


def _weighted_kde(x: np.ndarray, w: np.ndarray, grid: np.ndarray) -> np.ndarray | None:
    from scipy.stats import gaussian_kde

    if np.ptp(x) == 0 or len(x) < 3:
        return None
    try:
        return gaussian_kde(x, weights=w)(grid)
    except (np.linalg.LinAlgError, ValueError):
        return None


def marginals_figure(result: ABCResult, truth: Sequence[float] | None = None) -> Figure:
    """Weighted histogram and KDE of each parameter, drawn on its prior box (the prior density dashed)."""
    d = len(result.priors)
    cols = min(3, d)
    rows = math.ceil(d / cols)
    fig = Figure(figsize=(3.4 * cols, 2.6 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    th, w = result.theta, result.weights
    for j, p in enumerate(result.priors):
        ax = axes[j]
        grid = np.linspace(p.low, p.high, 200)
        ax.hist(th[:, j], bins=25, range=(p.low, p.high), weights=w, density=True, alpha=0.4)
        k = _weighted_kde(th[:, j], w, grid)
        if k is not None:
            ax.plot(grid, k)
        ax.hlines(1.0 / (p.high - p.low), p.low, p.high, colors="grey", linestyles="--", label="prior")
        if truth is not None:
            ax.axvline(truth[j], c="k", lw=1)
        ax.set_xlim(p.low, p.high)
        ax.set_title(p.name, fontsize=9)
    for ax in axes[d:]:
        ax.set_visible(False)
    fig.suptitle("Posterior marginals on the prior box (dashed: prior density)", fontsize=9)
    return fig


def pairs_figure(result: ABCResult, truth: Sequence[float] | None = None, max_points: int = 2000) -> Figure:
    """Pairwise scatter of the weighted particles (colour by weight), each axis on its prior box."""
    d = len(result.priors)
    fig = Figure(figsize=(1.9 * d, 1.9 * d), layout="constrained")
    axes = np.asarray(fig.subplots(d, d, squeeze=False))
    th, w = result.theta[:max_points], result.weights[:max_points]
    order = np.argsort(w, kind="stable")
    for i in range(d):
        for j in range(d):
            ax = axes[i, j]
            pi, pj = result.priors[i], result.priors[j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                ax.hist(th[:, j], bins=20, range=(pj.low, pj.high), weights=w, alpha=0.6)
                ax.set_xlim(pj.low, pj.high)
            else:
                ax.scatter(th[order, j], th[order, i], c=w[order], s=4, cmap="viridis")
                ax.set_xlim(pj.low, pj.high)
                ax.set_ylim(pi.low, pi.high)
                if truth is not None:
                    ax.plot(truth[j], truth[i], "r+", ms=8)
            if i == d - 1:
                ax.set_xlabel(pj.name, fontsize=8)
            if j == 0 and i > 0:
                ax.set_ylabel(pi.name, fontsize=8)
            ax.tick_params(labelsize=6)
    fig.suptitle("Pairwise posterior (colour: weight)", fontsize=9)
    return fig


# --- report -----------------------------------------------------------------------------------------------


def _f(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:.{digits}f}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def render_report(result: ABCResult, targets: TargetSet, cells: pd.DataFrame | None, summary: pd.DataFrame | None,
                  ident: pd.DataFrame, ridge_list: list[tuple[str, str, float]], title: str = "Calibration (ABC-SMC)",
                  command: str | None = None) -> str:
    """The markdown report: run, posterior, fit to every target, held-out check, what is not identified."""
    h = result.history_frame()
    cfg = result.config
    out = [f"# {title}", ""]
    if command:
        out += ["```", command, "```", ""]
    out += [
        "## Run", "",
        f"* {len(result.generations)} generations of {cfg.population_size} particles, {result.simulations:,} particles "
        f"simulated in all; kernel `{cfg.kernel}`, tolerance = the {cfg.quantile:g} quantile of the previous generation's distances.",
        f"* Distance: sum over the fit targets of the multinomial deviance `2 n' KL(target || simulated)` "
        f"({result.df} degrees of freedom); floor {result.tolerance_floor:.3f} = chi-square {cfg.floor_level:g} quantile.",
        f"* Stopped: {result.stop_reason}. Final tolerance {_f(result.final.tolerance)}, "
        f"final ESS {result.final.ess:.0f} of {cfg.population_size}, seed {cfg.seed}.",
    ]
    if not result.reached_floor:
        out.append("* **The tolerance did not reach the floor.** The posterior is wider than the targets warrant "
                   "(conservative): more generations or a larger budget would narrow it.")
    out += ["", "| generation | tolerance | acceptance | ESS | simulations |", "|---:|---:|---:|---:|---:|"]
    for _, r in h.iterrows():
        out.append(f"| {int(r.generation)} | {_f(r.tolerance)} | {_f(r.acceptance_rate)} | {r.ess:.0f} | {int(r.simulations):,} |")
    out += ["", "Figures: `figures/trace.png`, `figures/marginals.png`, `figures/pairs.png`.", ""]

    lvl = ident["level"].iloc[0]
    out += ["## Posterior", "", f"Weighted posterior of the final generation; intervals are {lvl:.0%} weighted quantiles.", "",
            "| parameter | prior | mean | sd | median | interval | width / prior width |", "|---|---|---:|---:|---:|---|---:|"]
    for _, r in ident.iterrows():
        out.append(f"| {r.parameter} | [{r.prior_low:g}, {r.prior_high:g}] | {_f(r['mean'])} | {_f(r.sd)} | {_f(r['median'])} "
                   f"| [{_f(r.low)}, {_f(r.high)}] | {_f(r.width_ratio, 2)} |")
    out.append("")

    def fit_section(role: str, heading: str, intro: str):
        if cells is None or cells.empty or summary is None:
            return
        sub = summary[summary.role == role]
        if sub.empty:
            return
        out.extend([f"## {heading}", "", intro, "",
                    "| target | cell | target | predictive mean | parameter interval | replicated-data interval | inside |",
                    "|---|---|---:|---:|---|---|:-:|"])
        for _, r in cells[cells.role == role].iterrows():
            out.append(f"| {r.target} | {r.cell} | {_f(r.target_value)} | {_f(r.predictive_mean)} | "
                       f"[{_f(r.parameter_low)}, {_f(r.parameter_high)}] | [{_f(r.replicated_low)}, {_f(r.replicated_high)}] | "
                       f"{'yes' if r.target_inside else '**no**'} |")
        out.extend(["", "| target | n | mean deviance | posterior predictive p |", "|---|---:|---:|---:|"])
        for _, r in sub.iterrows():
            out.append(f"| {r.target} | {r.n:,} | {_f(r.deviance_at_mean, 1)} | {_f(r.ppc_p_value, 2)} |")
        out.append("")

    level = cells["level"].iloc[0] if cells is not None and not cells.empty else 0.9
    explain = (f"Parameter interval: {level:.0%} weighted quantiles of the simulated share over the posterior. "
               f"Replicated-data interval: the same for a new record of n cases drawn at each particle "
               "(parameter and sampling uncertainty); the target should usually fall inside. The p-value is "
               "P(deviance of a replicated record >= deviance of the actual one); small values (< 0.05) mean the "
               "model at its posterior does not reproduce the target.")
    fit_section("fit", "Fit to the fit targets", explain)
    fit_section("check", "Held-out check (not used in the fit)", explain)
    fit_section("info", "Other recorded targets (not used)", "For information; see each target's notes for why it is not used.")
    skipped = [t for t in targets.targets if cells is None or t.name not in set(cells.target)]
    if skipped:
        out += ["Targets without a model counterpart (not compared):", ""]
        out += [f"* `{t.name}` (role {t.role}, output `{t.output}`): {t.description or ''}" for t in skipped]
        out.append("")

    out += ["## What this calibration cannot identify", ""]
    notes = []
    weak = ident[~ident.identified]
    if len(weak):
        notes.append("Parameters the fit targets barely constrain (posterior interval at least "
                     f"{WIDTH_RATIO_UNIDENTIFIED:.0%} as wide as the prior's): "
                     + ", ".join(f"`{r.parameter}` ({r.width_ratio:.2f})" for _, r in weak.iterrows())
                     + ". Their posterior is mostly the prior box: results that depend on them inherit the box, not the data.")
    bound = ident[ident.at_bound != ""]
    if len(bound):
        notes.append("Posterior runs into a prior bound: " + ", ".join(f"`{r.parameter}` ({r.at_bound})" for _, r in bound.iterrows())
                     + ". The data push the parameter to the edge of the box: the box, not the data, decides there.")
    if ridge_list:
        notes.append("Ridges (strong posterior correlations, |r| >= "
                     f"{RIDGE_CORRELATION:g}): " + ", ".join(f"`{a}`-`{b}` ({r:+.2f})" for a, b, r in ridge_list)
                     + ". Along a ridge the targets fix a combination of the parameters, not each one.")
    if summary is not None and not summary.empty:
        bad = summary[(summary.role.isin(["fit", "check"])) & (summary.ppc_p_value < 0.05)]
        if len(bad):
            notes.append("Targets the posterior does not reproduce (p < 0.05): "
                         + ", ".join(f"`{r.target}` ({r.role}, p = {r.ppc_p_value:.3f})" for _, r in bad.iterrows()) + ".")
    if not result.reached_floor:
        notes.append("The tolerance stopped above the floor, so the posterior is wider than the data alone would make it.")
    notes.append("Always: the targets are treated as independent samples (ICB crisis- and actor-level targets share "
                 "crises, so their joint information is overstated); coding error in the data sets and change over "
                 "time (the model has no era) are not modelled; ABC with a uniform kernel at the floor gives the prior "
                 "restricted to the parameters whose deviance is within the sampling noise of the targets, which is "
                 "wider than an exact posterior would be.")
    out += [f"* {n}" for n in notes]
    out.append("")
    return "\n".join(out)


# --- files ----------------------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    """Versions of Python and of the libraries that shape the numbers."""
    out = {"python": platform.python_version()}
    for pkg in ("escalation-sim", "numpy", "scipy", "pandas", "pyarrow", "matplotlib"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _table_bytes(df: pd.DataFrame) -> tuple[bytes, bytes]:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue(), df.to_csv(index=False).encode()


def _figure_bytes(fig: Figure, fmt: str = "png", dpi: int = 120) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi)
    return buf.getvalue()


def run_files(result: ABCResult, targets: TargetSet, cells: pd.DataFrame | None, summary: pd.DataFrame | None,
              manifest_extra: Mapping | None = None, truth: Sequence[float] | None = None,
              command: str | None = None, figures: bool = True) -> dict[str, bytes]:
    """Every file of a run as ``relative path -> bytes`` (nothing is written)."""
    files: dict[str, bytes] = {}
    post = result.posterior_frame()
    files["posterior.parquet"], files["posterior.csv"] = _table_bytes(post)
    files["history.parquet"], files["history.csv"] = _table_bytes(result.history_frame())
    gens = []
    for g in result.generations:
        df = pd.DataFrame(g.theta, columns=list(result.parameter_names))
        df.insert(0, "generation", g.index)
        df["weight"] = g.weights
        df["distance"] = g.distances
        gens.append(df)
    files["generations.parquet"], _ = _table_bytes(pd.concat(gens, ignore_index=True))
    if cells is not None and not cells.empty:
        files["predictive.parquet"], files["predictive.csv"] = _table_bytes(cells)
        files["predictive_targets.csv"] = summary.to_csv(index=False).encode()
    ident = identifiability(result)
    files["identifiability.csv"] = ident.to_csv(index=False).encode()
    rl = ridges(result)
    manifest = {
        **result.manifest(),
        "targets": {"file": targets.path, "roles": {t.name: t.role for t in targets.targets},
                    "n_effective": {t.name: t.n_effective for t in targets.targets}},
        "versions": versions(),
        "wall_seconds": {"total": float(sum(result.seconds)), "per_generation": [float(s) for s in result.seconds]},
        **dict(manifest_extra or {}),
    }
    files["manifest.json"] = (json.dumps(manifest, indent=2, default=str) + "\n").encode()
    files["report.md"] = render_report(result, targets, cells, summary, ident, rl, command=command).encode()
    if figures:
        files["figures/trace.png"] = _figure_bytes(trace_figure(result))
        files["figures/marginals.png"] = _figure_bytes(marginals_figure(result, truth))
        files["figures/pairs.png"] = _figure_bytes(pairs_figure(result, truth))
    return files


def write_files(files: Mapping[str, bytes], out: Path, force: bool = False) -> list[Path]:
    """Write all files into ``out`` at once: into a temporary sibling directory, then renamed into place.

    Refuses (``FileExistsError``) if ``out`` holds anything and ``force`` is false. A failure while
    writing leaves ``out`` as it was.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise FileExistsError(f"{out} already holds results; pass force to replace them")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        for rel, data in files.items():
            p = tmp / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            with open(p, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / rel for rel in files]


__all__ = [
    "predictive_check", "identifiability", "correlations", "ridges", "trace_figure", "marginals_figure",
    "pairs_figure", "render_report", "run_files", "write_files", "versions", "comparable",
]

"""Calibration: fit chosen parameters so that simulated outcome shares match empirical base rates.

Targets (``docs/calibration.md`` states the mapping and its limits):

* **ICB** (International Crisis Behavior v14, 486 crises 1918-2017): 21.1% of crises ended in full-scale war.
  Mapped to ``war_given_crisis``: P(war | a crisis occurred), a crisis being every outcome but ``no_challenge``,
  war being ``war_deliberate`` + ``war_miscalculation``.
* **MID** (Militarized Interstate Disputes v5.0, 2,436 disputes 1816-2014): 4.35% reached war. Mapped to the
  same measure (a dispute that occurred), which makes MIDs a much lower bar: most MIDs are far smaller events
  than the crises this model describes.

Method (:func:`calibrate`): simulation-based search with common random numbers. Every candidate parameter
vector is run with the same seed, so the objective is a deterministic (step) function of the parameters and
candidates are compared on the same draws. A Latin hypercube over the bounds, two rounds of a finer one in a box
around the best point, and a last one in the box that the local slope says holds the fit's uncertainty. Loss:
``sum ((simulated - target) / se_target)^2`` with the target's binomial standard error from its sample size.

Uncertainty: a parametric bootstrap of the targets (each redrawn as Binomial(n, target) / n) refitted on the
evaluated points, alone and with the simulation's own binomial error added; and a refit on a second seed.
"""

from __future__ import annotations

import math
import textwrap
import tomllib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..engines import montecarlo as mc
from ..errors import ConfigError
from ..io.files import atomic_write_bytes, prepare_run_dir, write_table
from ..io.manifest import MANIFEST, Manifest
from ..io.provenance import now_iso
from ..model.constants import NO_CHALLENGE, OUTCOME_NAMES, WAR_OUTCOME
from ..model.scenario import Scenario
from ..model.validation import load_scenario
from ..pipeline.experiment import Experiment
from ..pipeline.schedule import run_scenario
from ..report.figures import write_figure
from ..scale.executors import LocalExecutor
from ..stats import wilson
from .sensitivity import point_block_size

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
    war = c[WAR_OUTCOME]
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
    bs = point_block_size(replications, block_size, threads)
    nthreads = threads or mc.max_threads()
    executor = LocalExecutor(nthreads)
    rows = []
    for row in points:
        values = {k: float(v) for k, v in zip(names, row, strict=True)}
        tot = run_scenario(base.with_values(values), replications, seed, bs, nthreads, executor)
        rows.append({**values, **shares(tot), "n": tot.n, "crises": tot.n - int(tot.counts[:, NO_CHALLENGE].sum())})
    return pd.DataFrame(rows)


def share_interval(row: pd.Series, measure: str) -> tuple[int, int, float, float]:
    """Count, denominator and 95% Wilson interval of ``measure`` at one design point.

    The denominator is every replication for ``war`` and ``no_challenge``, the crises (outcome other than
    ``no_challenge``) for the ``*_given_crisis`` measures.
    """
    n = int(row["crises"]) if measure.endswith("_given_crisis") else int(row["n"])
    count = int(round(float(row[measure]) * n)) if n else 0
    lo, hi = wilson(count, n)
    return count, n, lo, hi


def _se(share: float, n: int) -> float:
    return math.sqrt(max(share * (1 - share), 1e-12) / n) if n else math.inf


def _local_box(design: pd.DataFrame, names: list[str], targets: dict[str, tuple[float, int]],
               bounds: dict[str, tuple[float, float]], near: dict[str, tuple[float, float]], centre: pd.Series,
               sim_se: dict[str, float]) -> dict[str, tuple[float, float]]:
    """Box around ``centre`` that should hold the refits against targets moved by up to 3 standard errors.

    The local slope ``J`` of each measure in each parameter is a least-squares plane through the design points in
    ``near``; a change ``dt`` of the targets moves the fit by about ``pinv(J) dt`` (the smallest such move when
    parameters outnumber targets). The half-width is 3 standard deviations of that move, with the targets' and the
    simulation's binomial errors. Falls back to ``near`` when the plane cannot be estimated.
    """
    lo = np.array([bounds[k][0] for k in names])
    width = np.array([bounds[k][1] - bounds[k][0] for k in names])
    inside = np.ones(len(design), dtype=bool)
    for k in names:
        inside &= design[k].between(*near[k]).to_numpy()
    if inside.sum() < len(names) + 2:
        return dict(near)
    X = (design.loc[inside, names].to_numpy() - lo) / width
    A = np.column_stack([np.ones(len(X)), X])
    J = np.array([np.linalg.lstsq(A, design.loc[inside, key].to_numpy(), rcond=None)[0][1:] for key in targets])
    cov = np.diag([_se(t, n) ** 2 + sim_se[key] ** 2 for key, (t, n) in targets.items()])
    P = np.linalg.pinv(J)
    sd = np.sqrt(np.clip(np.diag(P @ cov @ P.T), 0.0, None))
    if not np.all(np.isfinite(sd)) or not np.any(sd > 0):
        return dict(near)
    half = np.clip(3.0 * sd, 1e-3, 1.0) * width
    return {k: (max(bounds[k][0], float(centre[k]) - h), min(bounds[k][1], float(centre[k]) + h))
            for k, h in zip(names, half, strict=True)}


def _simulation_se(row: pd.Series, targets: dict[str, tuple[float, int]]) -> dict[str, float]:
    """Binomial standard error of each simulated share at one design point."""
    out = {}
    for key in targets:
        _, n, _, _ = share_interval(row, key)
        out[key] = _se(float(row[key]), n)
    return out


def calibrate(base: Scenario, bounds: dict[str, tuple[float, float]], targets: dict[str, tuple[float, int]],
              replications: int, seed: int, points: int = 32, rounds: int = 2, bootstrap: int = 1000,
              block_size: int = 4096, threads: int | None = None) -> dict:
    """Fit ``bounds``' parameters to ``targets`` (``measure -> (share, sample size)``).

    Every candidate runs ``replications`` crises with the same ``seed`` (common random numbers). Search: a Latin
    hypercube of ``points`` over the bounds; ``rounds`` hypercubes of ``points // 2`` in a box half as wide around
    the best point so far; then a hypercube of ``points`` in the box the local slope says holds the fit's
    uncertainty (:func:`_local_box`). The fit is the evaluated point of least loss, ``sum(z^2)`` with ``z`` the
    distance to each target in units of its binomial standard error.

    Uncertainty, both by a parametric bootstrap refitted on the evaluated points (``bootstrap`` draws):
    ``intervals`` redraws each target as ``Binomial(n, target) / n`` (the empirical base rate's sampling error);
    ``intervals_total`` also shifts it by a normal draw with the simulated share's binomial error at the fit
    (with common random numbers, the simulation's error moves the whole curve near the fit by about the same
    amount, which is the same as moving the target). ``second_seed`` refits the points of the final box on seed
    ``seed + 1``: one fresh draw of the simulation's error, as a check.

    Returns
    -------
    dict
        ``fit`` (parameter values), ``fitted_shares``, ``fitted`` (per target: share, count, denominator, Wilson
        95% interval, target, error, z), ``loss``, ``design`` (every point run, a DataFrame), ``bootstrap``
        (DataFrame of refits), ``intervals`` and ``intervals_total`` (95% percentile intervals per parameter),
        ``second_seed``, ``at_bound`` (parameters whose interval reaches a bound of the search range),
        ``unreached`` (targets the fit misses by more than 2 standard errors), ``plateau`` (per parameter, the
        range of the evaluated points whose loss ties with the fit's, when they differ), ``identified``
        (at least as many targets as parameters), ``resolution`` (spacing of the final box's points), ``box``
        and the settings.
    """
    names = list(bounds)

    def run(box: dict, m: int, design_seed: int) -> pd.DataFrame:
        return evaluate(base, _design(box, m, design_seed), names, replications, seed, block_size, threads)

    design = run(bounds, points, seed)
    box = dict(bounds)
    for r in range(rounds):
        best = design.iloc[int(np.argmin(_loss(design, targets)))]
        box = {k: (max(bounds[k][0], best[k] - (hi - lo) / 4), min(bounds[k][1], best[k] + (hi - lo) / 4))
               for k, (lo, hi) in box.items()}
        design = pd.concat([design, run(box, max(8, points // 2), seed + 1 + r)], ignore_index=True)
    best = design.iloc[int(np.argmin(_loss(design, targets)))]
    final_box = _local_box(design, names, targets, bounds, box, best, _simulation_se(best, targets))
    design = pd.concat([design, run(final_box, points, seed + 1 + rounds)], ignore_index=True)
    # a Latin hypercube of m points has one point in every 1/m of each axis
    resolution = {k: (hi - lo) / points for k, (lo, hi) in final_box.items()}

    loss = _loss(design, targets)
    i = int(np.argmin(loss))
    fit = {k: float(design[k].iloc[i]) for k in names}
    sim_se = _simulation_se(design.iloc[i], targets)
    rng = np.random.default_rng(seed)
    boots = []
    for b in range(bootstrap):
        drawn = {k: rng.binomial(n, t) / n for k, (t, n) in targets.items()}
        shifted = {k: v - rng.normal(0.0, sim_se[k]) for k, v in drawn.items()}
        j = int(np.argmin(_loss(design, targets, drawn)))
        jt = int(np.argmin(_loss(design, targets, shifted)))
        boots.append({"draw": b, **{f"target:{k}": v for k, v in drawn.items()},
                      **{f"target_shifted:{k}": v for k, v in shifted.items()},
                      **{k: float(design[k].iloc[j]) for k in names},
                      **{f"{k} (target+simulation)": float(design[k].iloc[jt]) for k in names}})
    boots = pd.DataFrame(boots)

    def pct(col: str) -> tuple[float, float]:
        return float(boots[col].quantile(0.025)), float(boots[col].quantile(0.975))

    intervals = {k: pct(k) for k in names}
    intervals_total = {k: pct(f"{k} (target+simulation)") for k in names}
    # an interval that reaches a bound is cut by the search range, not by the data
    at_bound = [k for k in names
                if min(intervals_total[k][0] - bounds[k][0], bounds[k][1] - intervals_total[k][1]) <= resolution[k]]
    in_box = np.ones(len(design), dtype=bool)
    for k in names:
        in_box &= design[k].between(*final_box[k]).to_numpy()
    near = design.loc[in_box, names].to_numpy()
    second = evaluate(base, near, names, replications, seed + 1, block_size, threads)
    j = int(np.argmin(_loss(second, targets)))
    fitted = {}
    for k, (t, n) in targets.items():
        count, denom, lo, hi = share_interval(design.iloc[i], k)
        sim = float(design[k].iloc[i])
        fitted[k] = {"share": sim, "count": count, "n": denom, "ci_low": lo, "ci_high": hi, "ci_method": "wilson",
                     "target": t, "target_n": n, "error": sim - t, "z": (sim - t) / _se(t, n)}
    unreached = [k for k, f in fitted.items() if abs(f["z"]) > 2.0]
    # with common random numbers, points that produce the same counts have exactly the same loss: a plateau
    tied = design.loc[loss == loss[i], names]
    plateau = {k: (float(tied[k].min()), float(tied[k].max())) for k in names if tied[k].max() > tied[k].min()}
    return {
        "fit": fit, "fitted_shares": {k: v["share"] for k, v in fitted.items()}, "fitted": fitted,
        "loss": float(loss[i]), "design": design.assign(loss=loss), "bootstrap": boots, "intervals": intervals,
        "intervals_total": intervals_total, "second_seed": {k: float(second[k].iloc[j]) for k in names},
        "second_seed_shares": {k: float(second[k].iloc[j]) for k in targets}, "at_bound": at_bound,
        "unreached": unreached, "plateau": plateau,
        "identified": len(targets) >= len(names), "resolution": resolution,
        "box": {k: list(v) for k, v in final_box.items()}, "replications": replications, "seed": seed,
        "points": len(design), "bootstrap_draws": bootstrap,
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
    """Simulated share against each fitted parameter: all design points, then a zoom on the final box.

    Each target's band is its 95% sampling interval (normal, from its sample size); the fit carries the Wilson
    95% interval of its simulated share, and the orange band is the parameter's bootstrap interval.
    """
    from matplotlib.figure import Figure  # here, not at the top: matplotlib is slow to import

    design = result["design"]
    names = list(result["fit"])
    fig = Figure(figsize=(4.6 * len(names) + 0.8, 3.0 * 2 * len(targets) + 1.4), layout="constrained")
    axes = fig.subplots(2 * len(targets), len(names), squeeze=False)
    for r, (measure, (t, n)) in enumerate(targets.items()):
        se = math.sqrt(t * (1 - t) / n)
        fitted = result["fitted"][measure]
        for zoom in (False, True):
            for c, name in enumerate(names):
                ax = axes[2 * r + zoom][c]
                shown = design
                if zoom:
                    lo_b, hi_b = result["box"][name]
                    pad = 0.05 * (hi_b - lo_b)
                    shown = design[design[name].between(lo_b - pad, hi_b + pad)]
                    ax.set_xlim(lo_b - pad, hi_b + pad)
                ax.scatter(shown[name], shown[measure], s=10, alpha=0.6, label="design points (same seed)")
                ax.axhspan(t - 1.96 * se, t + 1.96 * se, color="tab:green", alpha=0.2,
                           label=f"target {t:g}, 95% sampling interval (n = {n:,})")
                ax.axhline(t, color="tab:green", lw=1)
                lo, hi = result["intervals_total"][name]
                ax.axvspan(lo, hi, color="tab:orange", alpha=0.15, label="95% interval of the fit (bootstrap, target + simulation)")
                x = result["fit"][name]
                ax.errorbar([x], [fitted["share"]], yerr=[[fitted["share"] - fitted["ci_low"]], [fitted["ci_high"] - fitted["share"]]],
                            fmt="o", color="tab:red", ms=5, capsize=3, zorder=5,
                            label="the fit: simulated share (Wilson 95%)")
                ax.set_xlabel(f"{name}{' (zoom on the final search box)' if zoom else ''}; fit {x:.4g}")
                ax.set_ylabel(measure.replace("_", " "))
                ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=1 if len(names) == 1 else 2, frameon=False,
               fontsize="small")
    fig.suptitle(textwrap.fill(title, 45 * len(names) + 15), fontsize="medium")
    return fig


def calibration_markdown(result: dict, targets: dict[str, tuple[float, int]], title: str, command: str) -> str:
    """Report: targets and their sources, the fit with intervals, fitted shares, method and caveats."""
    lines = [
        f"# Calibration: {title}",
        "",
        "| target measure | target share | sample size | simulated at the fit [Wilson 95%] | error (points) | z |",
        "|---|---|---|---|---|---|",
    ]
    for k, f in result["fitted"].items():
        lines.append(f"| {k} | {f['target']:.4g} | {f['target_n']:,} | {f['share']:.4f} [{f['ci_low']:.4f}, "
                     f"{f['ci_high']:.4f}] ({f['count']:,} of {f['n']:,}) | {100 * f['error']:+.2f} | {f['z']:+.2f} |")
    lines += [
        "",
        "| parameter | fit | 95% interval: target's sampling error | 95% interval: target + simulation | fit on seed + 1 | resolution |",
        "|---|---|---|---|---|---|",
    ]
    for k, v in result["fit"].items():
        lo, hi = result["intervals"][k]
        lo2, hi2 = result["intervals_total"][k]
        lines.append(f"| {k} | {v:.4g} | [{lo:.4g}, {hi:.4g}] | [{lo2:.4g}, {hi2:.4g}] | "
                     f"{result['second_seed'][k]:.4g} | {result['resolution'][k]:.2g} |")
    if result["unreached"]:
        lines += ["", f"**Target not reached: {', '.join(result['unreached'])}** (more than 2 standard errors away): within "
                  "these bounds the model cannot produce this share with these parameters; widen the bounds or calibrate "
                  "others."]
    if result["plateau"]:
        spans = ", ".join(f"{k} from {lo:.4g} to {hi:.4g}" for k, (lo, hi) in result["plateau"].items())
        lines += ["", f"**The loss is flat**: the same counts, hence the same loss, at every evaluated point with {spans}; "
                  "the fit is one of them and the intervals understate the uncertainty."]
    if result["at_bound"]:
        lines += ["", f"**The interval reaches the edge of the search range for {', '.join(result['at_bound'])}**: it is "
                  "cut by the bounds, not by the data; widen them if the parameter's allowed range permits."]
    if not result["identified"]:
        lines += ["", "**More parameters than targets**: many parameter vectors reach the same shares (a ridge); the fit "
                  "is one of them and the intervals are not those of a unique estimate. Fix all but as many parameters "
                  "as there are targets, or add targets."]
    lines += [
        "",
        f"Loss (sum of squared z-scores against the targets' standard errors): {result['loss']:.3g}. "
        f"{result['points']} parameter vectors, {result['replications']:,} replications each, seed {result['seed']} at "
        "every point (common random numbers: the loss is a deterministic function of the parameters). Intervals: "
        f"parametric bootstrap ({result['bootstrap_draws']:,} draws) of the targets, Binomial(n, target) / n, refitted on "
        "the points already run; 'target + simulation' also moves each target by a normal draw with the simulated "
        "share's binomial error at the fit. Resolution: spacing of the points in the final search box.",
        "",
        "![calibration](figures/calibration.png)",
        "",
        "Caveats: the fit matches the targeted shares only; it does not make the model's other outputs, or the "
        "effects of strategies, empirical. The mapping of model outcomes to ICB/MID categories is a modelling choice "
        "(docs/calibration.md). Another parameter could reach the same share by another route.",
        "",
        f"Reproduce: `{command}`",
        "",
    ]
    return "\n".join(lines)


def parse_targets(source: str, preset: str | None, texts: Sequence[str]) -> dict[str, tuple[float, int]]:
    """Targets from ``--preset`` (``icb``, ``mid``) and ``--target MEASURE=SHARE:N`` texts, validated."""
    targets = dict(PRESETS[preset]) if preset else {}
    for t in texts:
        try:
            key, rest = t.split("=", 1)
            share, n = rest.split(":", 1)
            targets[key.strip()] = (float(share), int(n))
        except ValueError:
            raise ConfigError(source, "--target", f"got {t!r}; allowed: MEASURE=SHARE:SAMPLE_SIZE, e.g. war_given_crisis=0.211:486") from None
    if not targets:
        raise ConfigError(source, "--target", "give --preset icb|mid or at least one --target MEASURE=SHARE:N")
    for key, (share, n) in targets.items():
        if key not in MEASURES:
            raise ConfigError(source, f"--target {key}", f"unknown measure; allowed: {', '.join(MEASURES)}")
        if not 0.0 < share < 1.0 or n < 1:
            raise ConfigError(source, f"--target {key}", f"got {share:g}:{n}; allowed: 0 < SHARE < 1 and a sample size >= 1")
    return targets


SUMMARY_KEYS = ("fit", "fitted_shares", "fitted", "loss", "intervals", "intervals_total", "second_seed",
                "second_seed_shares", "at_bound", "unreached", "plateau", "identified", "resolution", "box",
                "replications", "seed", "points", "bootstrap_draws")


def calibration_command(exp: Experiment, cell: int, bounds: dict[str, tuple[float, float]],
                        targets: dict[str, tuple[float, int]], *, points: int, replications: int, seed: int,
                        threads: int | None = None, out: Path | None = None, force: bool = False,
                        experiment_file=None, log=None) -> tuple[Path, dict, Path]:
    """``escalation-sim calibrate``: fit cell ``cell``, write the design, bootstrap, figure, report, fitted scenario.

    Writes to ``out`` [default: ``results/<experiment>-calibration/cell<K>-seed<S>``], which must be empty unless
    ``force``. Returns the directory, the fit (:func:`calibrate`) and the calibrated scenario file.
    """
    experiment_file = exp.source if experiment_file is None else experiment_file
    out_dir = out or Path("results") / f"{exp.name}-calibration" / f"cell{cell}-seed{seed}"
    prepare_run_dir(out_dir, force)
    start = now_iso()
    if log is not None:
        log(f"calibrate: {', '.join(bounds)} of cell {cell} ({exp.cells[cell].label}) to {targets} -> {out_dir}")
    mc.warm_up()
    base = exp.cells[cell].scenario
    result = calibrate(base, bounds, targets, replications, seed, points=points, block_size=exp.block_size,
                       threads=threads)
    title = f"{exp.name}, cell {cell}: {exp.cells[cell].label}"
    command = (f"escalation-sim calibrate {experiment_file} --params {','.join(bounds)} "
               + " ".join(f"--bounds {k}={lo:g}:{hi:g}" for k, (lo, hi) in bounds.items())
               + " " + " ".join(f"--target {k}={t:g}:{n}" for k, (t, n) in targets.items())
               + f" --cell {cell} --points {points} -n {replications} --seed {seed}")
    files = write_table(result["design"], out_dir, "calibration_design")
    files += write_table(result["bootstrap"], out_dir, "calibration_bootstrap")
    files += write_figure(calibration_figure(result, targets, title), out_dir, "calibration")
    header = (f"Calibrated scenario written by: {command}\nFit: "
              + ", ".join(f"{k} = {v:.6g} (95% interval, target + simulation: [{result['intervals_total'][k][0]:.4g}, "
                          f"{result['intervals_total'][k][1]:.4g}])" for k, v in result["fit"].items())
              + "\nSimulated: " + ", ".join(f"{k} = {f['share']:.4f} [{f['ci_low']:.4f}, {f['ci_high']:.4f}] (Wilson 95%, "
                                            f"{f['count']:,} of {f['n']:,}) against {f['target']:g} (n = {f['target_n']:,})"
                                            for k, f in result["fitted"].items()))
    scen_data = tomllib.loads(Path(exp.scenario_path).read_text()) if exp.scenario_path else {}
    meta = scen_data.setdefault("scenario", {})
    from_scenario = Path(exp.source).resolve() == Path(exp.scenario_path).resolve()
    meta["name"] = f"{meta.get('name', exp.name)}-calibrated" if from_scenario else f"{exp.name}-cell{cell}-calibrated"
    meta["description"] = (f"{exp.name}{'' if from_scenario else f', cell {exp.cells[cell].label!r},'} with "
                           + ", ".join(f"{k} fitted to {k2} = {t:g}" for k in result["fit"] for k2, (t, _) in targets.items()))
    scen_file = out_dir / "calibrated-scenario.toml"
    atomic_write_bytes(scen_file, fitted_scenario_toml(scen_data, exp.cells[cell].overrides, result["fit"], header).encode())
    try:
        load_scenario(scen_file)
    except ConfigError as exc:  # pragma: no cover - a bug in the writer, not the user's input
        raise RuntimeError(f"internal error: the calibrated scenario does not load: {exc}") from None
    report = out_dir / "report.md"
    atomic_write_bytes(report, calibration_markdown(result, targets, title, command).encode())
    summary = calibration_summary(result)
    Manifest.new(out_dir / MANIFEST, {
        "kind": "calibration", "experiment": exp.name, "experiment_file": str(experiment_file), "cell": cell,
        "bounds": {k: list(v) for k, v in bounds.items()}, "targets": {k: list(v) for k, v in targets.items()},
        "result": summary, "command": command,
    }, start=start).finish("complete", files=[str(Path(f).relative_to(out_dir)) for f in [*files, scen_file, report]])
    return out_dir, result, scen_file


def calibration_summary(result: dict) -> dict:
    """The JSON-able part of a fit (what the manifest records and ``--json`` prints)."""
    return {k: result[k] for k in SUMMARY_KEYS}


def calibration_text(result: dict, scenario_file: Path) -> str:
    """The fit for a terminal: each parameter with its intervals, each target's simulated share, the warnings."""
    lines = []
    for k, v in result["fit"].items():
        lo, hi = result["intervals"][k]
        lo2, hi2 = result["intervals_total"][k]
        lines.append(f"{k} = {v:.4g}  (95% interval: target's sampling error [{lo:.4g}, {hi:.4g}], with the "
                     f"simulation's [{lo2:.4g}, {hi2:.4g}]; seed + 1: {result['second_seed'][k]:.4g})")
    for k, f in result["fitted"].items():
        lines.append(f"{k}: target {f['target']:g} (n = {f['target_n']:,}), simulated {f['share']:.4f} "
                     f"[{f['ci_low']:.4f}, {f['ci_high']:.4f}] (Wilson 95%, {f['count']:,} of {f['n']:,}), z = {f['z']:+.2f}")
    if not result["identified"]:
        lines.append("warning: more parameters than targets: the fit is one point of a ridge of equally good fits")
    if result["unreached"]:
        lines.append(f"warning: {', '.join(result['unreached'])}: the fit misses the target by more than 2 standard "
                     "errors: it is not reached inside these bounds")
    if result["plateau"]:
        lines.append("warning: the loss is flat: every evaluated point with "
                     + ", ".join(f"{k} in [{lo:.4g}, {hi:.4g}]" for k, (lo, hi) in result["plateau"].items())
                     + " fits equally well")
    if result["at_bound"]:
        lines.append(f"warning: the interval of {', '.join(result['at_bound'])} reaches the edge of the search range")
    lines.append(f"calibrated scenario: {scenario_file}")
    return "\n".join(lines)

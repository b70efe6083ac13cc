"""Where the literature's contrasts hold: a wide parameter box, common random numbers, and what decides the sign.

A *contrast* (:mod:`.contrasts`) is a difference in the probability of an
outcome (war; with an ally also abandonment, a proliferation programme,
entrapment) between two arms (defender mixes, with fixed settings) against one
kind of challenger, with the sign the literature claims: Lebow & Stein (1990)
argue that immediate deterrence works against an opportunity-driven challenger
and fails, or provokes, against a need-driven one, where reassurance
(self-restraint, GRIT) does better; the Poast thread's claims on the ally's
reassurance are the other named sets.

:func:`robustness` draws parameter vectors from a documented box (every free
parameter's ``box`` in :data:`escalation_sim.model.params.SPEC`; a Latin
hypercube, McKay, Beckman & Conover 1979), runs every arm at every point with
the same seed (common random numbers: the arms meet the same challengers and
the same draws), and reports for each contrast

* its value at every point with a Monte Carlo standard error and 95%
  half-width, and a verdict: ``holds`` (the claimed sign, its 95% interval
  excludes 0), ``fails`` (the opposite sign, likewise), or ``indeterminate``;
* the share of the box where it holds and where it fails, with Wilson 95%
  intervals over the points (the points are a random sample of the box);
* what decides its sign: a depth-2 classification tree (CART with the Gini
  criterion; Breiman et al. 1984) of ``holds`` on the parameters, and the
  standardized rank regression coefficients of the contrast on each parameter
  (Saltelli et al. 2008, ch. 1).

The standard error is paired batch means over the point's blocks
(:func:`~.contrasts.contrast_stats`): it keeps the positive correlation that
common random numbers give the two arms. With fewer than 10 blocks it is the
independent-binomial error, which overstates it (``indeterminate`` is then
conservative). Sobol indices of the contrasts
(:mod:`.contrast_sobol`), the posterior's view (:mod:`.contrast_posterior`) and
the command that writes them all (:mod:`.flip`) build on this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..engines import montecarlo as mc
from ..model.params import FREE_PARAMETERS, SPEC_BY_KEY
from ..model.scenario import Scenario
from ..model.strategies import STRATEGIES
from ..scale.executors import LocalExecutor
from ..stats import wilson
from .contrasts import (  # noqa: F401  (re-exported: the contrasts were defined here first)
    DEFAULT_CONTRASTS,
    Arm,
    Contrast,
    Z,
    _mix_label,
    contrast_arms,
    contrast_row,
    contrast_stats,
    contrast_value,
    point_block_size,
    run_arms,
    verdict,
)


def default_box(mixes: list[tuple[str, ...]] | None = None, ally: bool = True) -> dict[str, tuple[float, float]]:
    """The robustness box: each free parameter's documented range (``Param.box``).

    Parameters that only a strategy absent from ``mixes`` reads (its effect
    sizes, ``Strategy.parameters``), and the ally's parameters in a scenario
    without an ally (``ally=False``), are left out: they cannot change the
    contrasts, and varying them would only add noise to what decides a sign.
    """
    used = {s for mix in (mixes or []) for s in mix}
    unused = {p for s in STRATEGIES if s.name not in used for p in s.parameters} if mixes is not None else set()
    if not ally:
        unused |= {k for k in FREE_PARAMETERS if k.startswith("ally.") or k == "challenger.prevention_loss"}
    return {k: (float(SPEC_BY_KEY[k].box[0]), float(SPEC_BY_KEY[k].box[1])) for k in FREE_PARAMETERS if k not in unused}


def contrast_mixes(contrasts: Sequence[Contrast]) -> list[tuple[str, ...]]:
    """The defender mixes a set of contrasts compares (sorted)."""
    return sorted({m for c in contrasts for m in (c.mix_a, c.mix_b)})


def contrast_box(base: Scenario, contrasts: Sequence[Contrast], fixed: Sequence[str] = ()) -> dict[str, tuple[float, float]]:
    """The box for ``contrasts`` on ``base``: :func:`default_box` of their mixes, without the arms' settings and
    without ``fixed`` (parameters held at the scenario's values)."""
    box = default_box(contrast_mixes(contrasts), ally=base.value("ally.present") > 0)
    held = set(fixed) | {k for c in contrasts for k, _ in (*c.set_a, *c.set_b)}
    return {k: v for k, v in box.items() if k not in held}


def latin_hypercube(box: dict[str, tuple[float, float]], points: int, seed: int) -> pd.DataFrame:
    """``points`` parameter vectors, a Latin hypercube over ``box`` (seeded; no global random state)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x4C4853]))
    d = len(box)
    u = np.empty((points, d))
    for j in range(d):
        u[:, j] = (rng.permutation(points) + rng.random(points)) / points
    lo = np.array([b[0] for b in box.values()])
    hi = np.array([b[1] for b in box.values()])
    values = lo + u * (hi - lo)
    df = pd.DataFrame(values, columns=list(box))
    for k in box:
        if SPEC_BY_KEY[k].kind == "int":
            df[k] = df[k].round()
    return df


def shallow_tree(x: pd.DataFrame, y: np.ndarray, depth: int = 2, min_leaf: int = 10) -> list[dict]:
    """A depth-limited CART classification tree (Gini) of a 0/1 outcome; returns its leaves as rules.

    Each leaf: ``{"rule": [(param, "<=" or ">", threshold), ...], "n": points, "share": mean of y}``.
    Splits are at midpoints between sorted values; a split must leave ``min_leaf`` points on each side and
    lower the weighted Gini impurity, else the node is a leaf.
    """
    leaves: list[dict] = []

    def gini(v):
        if len(v) == 0:
            return 0.0
        p = v.mean()
        return 2 * p * (1 - p)

    def grow(idx, rule, d):
        yy = y[idx]
        best = None
        if d < depth and len(idx) >= 2 * min_leaf:
            base_imp = gini(yy)
            for col in x.columns:
                xs = x[col].to_numpy()[idx]
                order = np.argsort(xs, kind="stable")
                xs_sorted, ys_sorted = xs[order], yy[order]
                cum = np.cumsum(ys_sorted)
                n = len(idx)
                for i in range(min_leaf, n - min_leaf + 1):
                    if xs_sorted[i - 1] == xs_sorted[i] or i >= n:
                        continue
                    left_p = cum[i - 1] / i
                    right_p = (cum[-1] - cum[i - 1]) / (n - i)
                    imp = (i * 2 * left_p * (1 - left_p) + (n - i) * 2 * right_p * (1 - right_p)) / n
                    if imp < base_imp - 1e-12 and (best is None or imp < best[0]):
                        best = (imp, col, 0.5 * (xs_sorted[i - 1] + xs_sorted[i]))
        if best is None:
            leaves.append({"rule": rule, "n": int(len(idx)), "share": float(yy.mean()) if len(idx) else float("nan")})
            return
        _, col, thr = best
        xs = x[col].to_numpy()[idx]
        grow(idx[xs <= thr], [*rule, (col, "<=", float(thr))], d + 1)
        grow(idx[xs > thr], [*rule, (col, ">", float(thr))], d + 1)

    grow(np.arange(len(y)), [], 0)
    return leaves


def rank_regression(x: pd.DataFrame, v: np.ndarray) -> pd.Series:
    """Standardized rank regression coefficients of ``v`` on the columns of ``x`` (largest magnitude first)."""
    ok = np.isfinite(v)
    rx = x[ok].rank().to_numpy()
    rv = pd.Series(v[ok]).rank().to_numpy()
    rx = (rx - rx.mean(axis=0)) / np.where(rx.std(axis=0) > 0, rx.std(axis=0), 1.0)
    rv = (rv - rv.mean()) / (rv.std() or 1.0)
    coef, *_ = np.linalg.lstsq(np.column_stack([np.ones(len(rv)), rx]), rv, rcond=None)
    s = pd.Series(coef[1:], index=x.columns)
    return s.reindex(s.abs().sort_values(ascending=False).index)


@dataclass
class RobustnessResult:
    """Points (one row per parameter vector: values, each arm's probabilities, each contrast), a summary per
    contrast, trees, rank regression coefficients, the contrasts at the scenario's own values."""

    points: pd.DataFrame
    summary: pd.DataFrame
    trees: dict
    rank_coefficients: pd.DataFrame
    at_defaults: pd.DataFrame


def robustness(base: Scenario, contrasts: tuple[Contrast, ...] = DEFAULT_CONTRASTS,
               box: dict[str, tuple[float, float]] | None = None, points: int = 256, replications: int = 4096,
               seed: int = 1, block_size: int | None = None, threads: int | None = None,
               progress=None) -> RobustnessResult:
    """Evaluate ``contrasts`` over a Latin hypercube of ``points`` vectors of ``box`` (see the module docstring).

    Parameters
    ----------
    base : Scenario
        The scenario every arm runs on; the box's parameters are set at each point, the rest keep its values.
    contrasts : tuple of Contrast
        What to compare (:mod:`.contrasts`); every arm runs at every point with the same seed.
    box : dict, optional
        ``section.name -> (low, high)`` [default: :func:`contrast_box`].
    points, replications, seed, block_size, threads
        Design size, crises per arm and point, the seed of the design and of the crises, engine settings (the
        counts do not depend on ``block_size`` or ``threads``; the blocks [default:
        :func:`~.contrasts.point_block_size`] are the batches of the contrasts' paired standard errors).
    progress : callable, optional
        Called with the number of points done.
    """
    arms = contrast_arms(contrasts)
    block_size = point_block_size(replications) if block_size is None else block_size
    box = contrast_box(base, contrasts) if box is None else box
    design = latin_hypercube(box, points, seed)
    nthreads = threads or mc.max_threads()
    executor = LocalExecutor(nthreads)
    rows = []
    for i in range(points):
        values = {k: float(design.iloc[i][k]) for k in box}
        counts = run_arms(base, values, arms, replications, seed, block_size, nthreads, executor)
        rows.append({"point": i, **values, **contrast_row(contrasts, counts)})
        if progress is not None:
            progress(i + 1)
    pts = pd.DataFrame(rows)
    default_counts = run_arms(base, {}, arms, replications, seed, block_size, nthreads, executor)
    summary, trees, defaults, coefs = [], {}, [], {}
    x = pts[list(box)]
    for j, c in enumerate(contrasts):
        verdicts = pts[f"c{j}_verdict"].to_numpy()
        holds = int((verdicts == "holds").sum())
        fails = int((verdicts == "fails").sum())
        lo_h, hi_h = wilson(holds, points)
        lo_f, hi_f = wilson(fails, points)
        leaves = shallow_tree(x, (verdicts == "holds").astype(float), depth=2, min_leaf=max(5, points // 10))
        trees[c.name] = leaves
        rc = rank_regression(x, pts[f"c{j}"].to_numpy())
        coefs[c.name] = rc
        v0, _, hw0, method = contrast_stats(c, default_counts)
        verdict0 = verdict(v0, hw0, c.claim, z=1.0)
        defaults.append({"contrast": c.name, "value": v0, "ci_low": v0 - hw0, "ci_high": v0 + hw0,
                         "verdict": verdict0, "se_method": method})
        summary.append({
            "contrast": c.name, "claim": c.claim_text, "mix_a": _mix_label(c.mix_a), "mix_b": _mix_label(c.mix_b),
            "arm_a": c.arm_a.label, "arm_b": c.arm_b.label, "outcome": c.outcome,
            "motive": c.motive, "claimed_sign": c.claim, "points": points,
            "share_holds": holds / points, "holds_ci_low": lo_h, "holds_ci_high": hi_h,
            "share_fails": fails / points, "fails_ci_low": lo_f, "fails_ci_high": hi_f,
            "share_indeterminate": 1 - (holds + fails) / points,
            "median_value": float(np.nanmedian(pts[f"c{j}"])),
            "value_at_defaults": v0, "verdict_at_defaults": verdict0,
            "top_parameter": rc.index[0], "top_srrc": float(rc.iloc[0]),
            "ci_method": "wilson (over points)",
        })
    return RobustnessResult(points=pts, summary=pd.DataFrame(summary), trees=trees,
                            rank_coefficients=pd.DataFrame(coefs), at_defaults=pd.DataFrame(defaults))


def tree_text(leaves: list[dict]) -> list[str]:
    """Leaves as readable lines: ``when a <= x and b > y: holds at 85% of 40 points``."""
    out = []
    for leaf in leaves:
        cond = " and ".join(f"{k} {op} {thr:.4g}" for k, op, thr in leaf["rule"]) or "everywhere"
        out.append(f"when {cond}: holds at {leaf['share']:.0%} of {leaf['n']} points")
    return out


def robustness_markdown(res: RobustnessResult, box: dict, replications: int, seed: int, title: str) -> str:
    """The report section: for each contrast, where it holds, where it fails, and what decides it."""
    lines = [f"## Robustness: {title}", "",
             f"{len(res.points)} parameter vectors drawn from the box below (Latin hypercube, seed {seed}); at each, "
             f"every arm runs {replications:,} crises with the same seed (common random numbers). A contrast "
             "*holds* at a point when it has the sign the literature claims and its 95% interval (paired batch means "
             "over the point's blocks) excludes 0; it *fails* when it has the opposite sign by that margin; "
             "otherwise it is *indeterminate*. "
             "Shares are over points, with Wilson 95% intervals.", "",
             "| contrast | claim | holds | fails | indeterminate | at the defaults | decided mostly by |",
             "|---|---|---|---|---|---|---|"]
    for _, r in res.summary.iterrows():
        lines.append(
            f"| {r['contrast']} | {r['claim']} | {r['share_holds']:.0%} [{r['holds_ci_low']:.0%}, {r['holds_ci_high']:.0%}] "
            f"| {r['share_fails']:.0%} [{r['fails_ci_low']:.0%}, {r['fails_ci_high']:.0%}] | {r['share_indeterminate']:.0%} "
            f"| {r['value_at_defaults']:+.3f} ({r['verdict_at_defaults']}) | `{r['top_parameter']}` (SRRC {r['top_srrc']:+.2f}) |")
    lines += ["", "What decides the sign (a depth-2 classification tree of *holds* on the parameters):", ""]
    for name, leaves in res.trees.items():
        lines.append(f"- **{name}**")
        lines += [f"  - {t}" for t in tree_text(leaves)]
    lines += ["", "Plainly:", ""]
    for _, r in res.summary.iterrows():
        if r["share_holds"] >= 0.8:
            verdict_text = "holds over most of the box"
        elif r["share_fails"] >= 0.5:
            verdict_text = "**fails over most of the box: the literature's claim does not hold in this model**"
        elif r["share_holds"] >= 0.5:
            verdict_text = "holds over more than half of the box, not everywhere"
        else:
            verdict_text = "**holds over less than half of the box**"
        lines.append(f"- {r['contrast']}: {verdict_text} (holds {r['share_holds']:.0%}, fails {r['share_fails']:.0%}); "
                     f"its sign depends most on `{r['top_parameter']}`.")
    lines += ["", "The box (each free parameter's documented range, docs/model.md):", "",
              "| parameter | low | high |", "|---|---|---|"]
    lines += [f"| `{k}` | {lo:g} | {hi:g} |" for k, (lo, hi) in box.items()]
    return "\n".join(lines) + "\n"


def robustness_figure(res: RobustnessResult):
    """One panel per contrast: its value at every point against the parameter that decides it most, coloured by verdict."""
    from matplotlib.figure import Figure  # here, not at the top: matplotlib is slow to import

    k = len(res.summary)
    cols = 3 if k > 4 else k
    rows = -(-k // cols)
    fig = Figure(figsize=(4.2 * cols, 3.3 * rows), layout="constrained")
    colours = {"holds": "tab:blue", "fails": "tab:red", "indeterminate": "lightgrey"}
    for j, (_, r) in enumerate(res.summary.iterrows()):
        ax = fig.add_subplot(rows, cols, j + 1)
        x = res.points[r["top_parameter"]]
        y = res.points[f"c{j}"]
        v = res.points[f"c{j}_verdict"]
        for name, colour in colours.items():
            m = v == name
            ax.scatter(x[m], y[m], s=8, color=colour, label=name)
        ax.axhline(0.0, color="black", lw=0.7)
        ax.set_xlabel(r["top_parameter"], fontsize="small")
        ax.set_ylabel(f"difference in P({r.get('outcome', 'war')})", fontsize="small")
        ax.set_title(f"{r['contrast']}\nholds {r['share_holds']:.0%}, fails {r['share_fails']:.0%}", fontsize="small")
        ax.tick_params(labelsize="x-small")
        if j == 0:
            ax.legend(fontsize="x-small", loc="best")
    fig.suptitle("Where the literature's contrasts hold over the parameter box (claimed sign: holds)", fontsize="medium")
    return fig


def write_robustness(out_dir: Path, res: RobustnessResult, box: dict, replications: int, seed: int, title: str,
                     append_to_report: bool) -> list[Path]:
    """Tables, figure and report section of a robustness analysis in ``out_dir``; returns the files written."""
    from ..io.files import atomic_write_bytes, write_table
    from ..report.figures import write_figure

    out_dir = Path(out_dir)
    paths = write_table(res.points, out_dir, "robustness_points") + write_table(res.summary, out_dir, "robustness_summary")
    paths += write_table(res.rank_coefficients.reset_index(names="parameter"), out_dir, "robustness_rank_coefficients")
    paths += write_figure(robustness_figure(res), out_dir, "robustness")
    section = robustness_markdown(res, box, replications, seed, title)
    section += "\n![robustness](figures/robustness.png)\n"
    report = out_dir / "report.md"
    if append_to_report and report.is_file():
        atomic_write_bytes(report, (report.read_text() + "\n" + section).encode())
    else:
        atomic_write_bytes(report, section.encode())
    paths.append(report)
    return paths

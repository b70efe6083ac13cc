"""Reassurance over time: the ally's belief that the defender is committed, one-off or renewed reassurance.

"Reassurance is a process, not an objective" (the Poast thread in ``shared/seeds``). In the model the
defender's commitment can lapse (a hidden two-state Markov chain), so the ally's belief that the defender is
committed drifts, between observations, towards the chain's long-run level ``recommit / (lapse + recommit)``
(the belief with no news); instruments the defender sends, or withholds, and its conduct in a crisis update it by
Bayes' rule (``docs/model.md``, "The ally"). Renewals keep the belief up; one-off reassurance wears off at a rate
that follows from the switching hazard.

This module follows that belief through the SimPy reference engine. The engine records the ally's belief at
each of its messages (the trace's ``value`` for the ally leader's support, withheld-renewal and review events);
between them the belief is the filter's prediction in closed form, so the belief at every observed day is exact.
The share of allies with a proliferation programme under way and the share that have proliferated come from the
same runs. At each observed day the mean belief over replications gets a 95% normal interval
(``mean +- 1.96 sd / sqrt(n)``: the replications are independent and the belief is bounded in [0, 1]). Every
renewal interval is run on replications ``0 .. n-1`` of the same seed (common random numbers).
"""

from __future__ import annotations

import math
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..engines.simpy_engine import simulate
from ..errors import ConfigError, OptionError
from ..io.files import atomic_write_bytes, prepare_run_dir, write_table
from ..io.manifest import MANIFEST, Manifest
from ..io.provenance import now_iso
from ..model.scenario import Scenario
from ..pipeline.experiment import experiment_from_manifest
from ..report.figures import write_figure
from ..stats import Z95, wilson

#: Days between observations of confidence (the observation pass's review interval).
OBSERVE_STEP = 1.0
#: Crises per cell for the figure of an experiment with ``analysis = "ally_decay"``: 1% of the run's
#: replications, at least ``HOOK_MIN`` (or all of them, if fewer) and at most ``HOOK_REPLICATIONS``.
HOOK_REPLICATIONS = 200
HOOK_MIN = 20
#: Observation step of that figure (days).
HOOK_STEP = 2.0


def observation_scenario(scen: Scenario, step: float) -> Scenario:
    """``scen`` itself (the belief is read exactly between the ally's messages); ``step`` is checked."""
    if not step > 0 or scen.value("crisis.horizon") / step > 1e6:
        raise ValueError(f"observation step {step!r}: allowed: > 0 days and at most 1e6 steps within the horizon")
    return scen


BELIEF_EVENTS = ("support", "reassurance_withheld", "review", "stay", "hedge_start", "hedge_stop", "provoke")


def no_news_belief(scen: Scenario) -> float:
    """The belief the ally drifts to with no news: the commitment chain's long-run share, ``recommit / (lapse + recommit)``."""
    lapse, recommit = scen.value("ally.lapse_rate"), scen.value("ally.recommit_rate")
    return recommit / (lapse + recommit) if lapse + recommit > 0 else scen.value("ally.p_committed")


def belief_on_grid(scen: Scenario, trace: pd.DataFrame, times: np.ndarray) -> np.ndarray:
    """The ally's belief at ``times`` from the snapshots in a trace and the filter's prediction between them."""
    lapse, recommit = scen.value("ally.lapse_rate"), scen.value("ally.recommit_rate")
    h = lapse + recommit
    b_inf = recommit / h if h > 0 else 0.0
    rows = trace[(trace["actor"] == "ally.leader") & trace["event"].isin(BELIEF_EVENTS) & (trace["value"] >= 0)]
    snap_t = np.concatenate([[0.0], rows["time"].to_numpy(dtype=float)])
    snap_b = np.concatenate([[scen.value("ally.p_committed")], rows["value"].to_numpy(dtype=float)])
    idx = np.searchsorted(snap_t, times, side="right") - 1
    t0, b0 = snap_t[idx], snap_b[idx]
    if h <= 0:
        return b0
    return b_inf + (b0 - b_inf) * np.exp(-h * (times - t0))


def confidence_series(scen: Scenario, seed: int, replications: int, step: float = OBSERVE_STEP) -> tuple[np.ndarray, np.ndarray]:
    """The ally's belief that the defender is committed at days ``0, step, 2 step, ...`` in each replication.

    Returns
    -------
    (times, values) : ndarray, ndarray of shape (replications, len(times))
        Day 0 is ``ally.p_committed`` (the ally's prior).
    """
    observation_scenario(scen, step)
    horizon = scen.value("crisis.horizon")
    times = np.arange(0.0, horizon + 1e-9, step)
    values = np.empty((replications, len(times)))
    for rep in range(replications):
        values[rep] = belief_on_grid(scen, simulate(scen, seed, rep).trace, times)
    return times, values


def programme_status(scen: Scenario, seed: int, replications: int, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """Share of allies with a programme under way, and share proliferated, at each of ``times`` (actual pass).

    Also returns the confidence the scenario's own reviews recorded, per
    replication (``{replication: (times, values)}``), for checks.
    """
    under_way = np.zeros((replications, len(times)), dtype=bool)
    done = np.zeros((replications, len(times)), dtype=bool)
    reviews = {}
    for rep in range(replications):
        tr = simulate(scen, seed, rep).trace
        reviews[rep] = (tr["time"].to_numpy(), belief_on_grid(scen, tr, tr["time"].to_numpy(dtype=float)))
        ev = tr[tr["event"].isin(("hedge_start", "hedge_stop", "proliferate"))]
        state = np.zeros(len(times), dtype=np.int8)  # 0 none, 1 under way, 2 proliferated
        for t, e in zip(ev["time"], ev["event"], strict=True):
            later = times >= t
            if e == "proliferate":
                state[later] = 2
            elif e == "hedge_start":
                state[later & (state != 2)] = 1
            else:
                state[later & (state != 2)] = 0
        under_way[rep] = state == 1
        done[rep] = state == 2
    return under_way.mean(axis=0), done.mean(axis=0), reviews


def _summary(times: np.ndarray, values: np.ndarray) -> dict[str, np.ndarray]:
    n = values.shape[0]
    mean = values.mean(axis=0)
    sd = values.std(axis=0, ddof=1) if n > 1 else np.zeros_like(mean)
    half = Z95 * sd / math.sqrt(n)
    return {"time": times, "n": np.full(len(times), n), "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}


def confidence_paths(make: Callable[[float], Scenario], renewals: Sequence[float], replications: int, seed: int,
                     step: float = OBSERVE_STEP, status: bool = True) -> pd.DataFrame:
    """Mean ally confidence over time, with 95% intervals, for each renewal interval.

    Parameters
    ----------
    make : callable
        ``make(renewal) -> Scenario``: the scenario (with an ally) at that renewal interval.
    renewals : sequence of float
        Renewal intervals in days (0 = one-off reassurance).
    replications : int
        Crises per renewal interval (replications ``0 .. replications - 1`` of ``seed``).
    seed : int
        Seed; every interval sees the same challengers (common random numbers).
    step : float
        Days between observations.
    status : bool
        Also run the scenario as it is for the programme shares (columns
        ``p_programme``, ``p_proliferated``, ``review_check``).

    Returns
    -------
    pandas.DataFrame
        Columns ``renewal, time, n, mean, sd, ci_low, ci_high`` (and with
        ``status``: ``p_programme`` = share with a programme under way,
        ``p_proliferated`` = share proliferated by then, ``review_check`` =
        largest difference between this pass's confidence and the scenario's
        own reviews at the same days, over all replications: 0 up to rounding).
    """
    frames = []
    for renewal in renewals:
        scen = make(renewal)
        times, values = confidence_series(scen, seed, replications, step)
        df = pd.DataFrame(_summary(times, values))
        df.insert(0, "renewal", float(renewal))
        if status:
            prog, prolif, reviews = programme_status(scen, seed, replications, times)
            df["p_programme"] = prog
            df["p_proliferated"] = prolif
            worst = 0.0
            for rep, (rt, rv) in reviews.items():
                idx = np.searchsorted(times, rt - 1e-9)
                ok = (idx < len(times)) & (np.abs(times[np.minimum(idx, len(times) - 1)] - rt) < 1e-9)
                if ok.any():
                    worst = max(worst, float(np.max(np.abs(values[rep, idx[ok]] - rv[ok]))))
            df["review_check"] = worst
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def renewal_label(r: float) -> str:
    """``one-off (no renewal)`` or ``renewed every N days``."""
    return "one-off (no renewal)" if r == 0 else f"renewed every {r:g} days"


STYLES = ["-", "--", ":", "-."]


def _confidence_axes(ax, paths: pd.DataFrame, threshold: float, legend: bool = True, solid: bool = False) -> None:
    for i, (r, g) in enumerate(paths.groupby("renewal", sort=True)):
        # lines that coincide stay visible: each one thinner than the one before; small panels get solid lines
        # (dashes on a saw-tooth read as extra teeth)
        ls, lw = ("-", 3.2 - 0.9 * (i % 4)) if solid else (STYLES[i % len(STYLES)], 2.6 - 0.5 * (i % 4))
        (line,) = ax.plot(g["time"], g["mean"], ls=ls, lw=lw, color=f"C{i}", label=renewal_label(r) if legend else None)
        ax.fill_between(g["time"], g["ci_low"], g["ci_high"], color=line.get_color(), alpha=0.25, lw=0)
    ax.axhline(threshold, color="black", ls="--", lw=1,
               label=f"belief with no news ({threshold:.2f})" if legend else None)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)


def ally_decay_figure(paths: pd.DataFrame, out_dir: Path, threshold: float, title: str) -> list[Path]:
    """Belief (mean, 95% band), share with a programme under way and share proliferated, against time."""
    from matplotlib.figure import Figure  # here, not at the top: matplotlib is slow to import

    status = "p_programme" in paths
    fig = Figure(figsize=(8.5, 8.5 if status else 5.5), layout="constrained")
    axes = fig.subplots(3 if status else 1, 1, sharex=True, height_ratios=[3, 1.5, 1.5] if status else None)
    ax = axes[0] if status else axes
    _confidence_axes(ax, paths, threshold)
    ax.set_ylabel("ally's belief that the defender\nis committed (mean, 95% band)")
    if status:
        for axis, col, label in ((axes[1], "p_programme", "share of allies with\na programme under way"),
                                 (axes[2], "p_proliferated", "share of allies\nthat proliferated")):
            for i, (_, g) in enumerate(paths.groupby("renewal", sort=True)):
                axis.step(g["time"], g[col], where="post", color=f"C{i}", ls=STYLES[i % len(STYLES)],
                          lw=2.6 - 0.5 * (i % 4))
            axis.set_ylabel(label)
            axis.set_ylim(-0.03, 1.03)
            axis.grid(alpha=0.3)
    (axes[-1] if status else ax).set_xlabel("days since the crisis began")
    fig.legend(fontsize="small", loc="outside lower center", ncols=4, frameon=False)
    n = int(paths["n"].max())
    half = float(((paths["ci_high"] - paths["ci_low"]) / 2).max())
    ax.set_title(f"{title}\nreassurance is a process: {n:,} crises per line (SimPy engine, same crises in every line);\n"
                 f"95% band of the mean: half-width at most {half:.3f}", fontsize="medium")
    return write_figure(fig, out_dir, "ally_confidence")


def _at_horizon(paths: pd.DataFrame) -> pd.DataFrame:
    return paths.loc[paths.groupby("renewal")["time"].idxmax()]


def _crossing(g: pd.DataFrame, threshold: float) -> str:
    below = g[g["mean"] < threshold]
    return f"day {below['time'].iloc[0]:g}" if len(below) else "never"


def ally_decay_markdown(paths: pd.DataFrame, threshold: float, title: str, command: str) -> str:
    """A short report: confidence at the horizon, shares with a programme and proliferated, per renewal interval."""
    last = _at_horizon(paths)
    day = last["time"].iloc[0]
    status = "p_programme" in paths
    lines = [
        f"# {title}: reassurance over time",
        "",
        "Question: does a one-off reassurance of an ally decay while a renewed one holds (Poast thread: "
        "\"reassurance is a process, not an objective\"; docs/model.md, \"The ally\")?",
        "",
        "Set-up: SimPy reference engine, the same crises for every line (common random numbers). The ally's belief "
        "that the defender is committed is read from the engine's trace at each of the ally's messages and predicted "
        f"exactly in between (docs/model.md, \"The ally\"), every {paths['time'].iloc[1] - paths['time'].iloc[0]:g} days. "
        "95% normal intervals for the mean over crises.",
        "",
        f"| reassurance | confidence at day {day:g} [95% CI] | mean first below {threshold:.2f} |"
        + (f" programme under way at day {day:g} | proliferated by day {day:g} [95% CI, Wilson] |" if status else ""),
        "|---|---|---|" + ("---|---|" if status else ""),
    ]
    for (_, r), (_, g) in zip(last.iterrows(), paths.groupby("renewal", sort=True), strict=True):
        row = (f"| {renewal_label(r['renewal'])} | {r['mean']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] "
               f"| {_crossing(g, threshold)} |")
        if status:
            n = int(r["n"])
            k = round(r["p_proliferated"] * n)
            lo, hi = wilson(k, n)
            row += f" {r['p_programme']:.3f} | {r['p_proliferated']:.3f} [{lo:.3f}, {hi:.3f}] |"
        lines.append(row)
    lines += [
        "",
        "![ally confidence](figures/ally_confidence.png)",
        "",
        f"Belief with no news (the commitment chain's long-run share): {threshold:.3f}. Caveats: the switching hazards, "
        "the instruments' costs and the ally's values are illustrative defaults, not estimates (docs/model.md, "
        "\"Parameters\").",
        "",
        f"Reproduce: `{command}`",
        "",
    ]
    return "\n".join(lines)


# --- the analysis hook of an experiment (analysis = "ally_decay") -------------------------------------------
def _panel_key(values: dict, mix: str) -> tuple:
    return (mix, tuple(sorted((k, v) for k, v in values.items() if k != "defender.renewal_interval")))


def experiment_paths(manifest: dict, replications: int, step: float = HOOK_STEP) -> pd.DataFrame:
    """Confidence paths of every cell of a run (from its manifest): one row per cell and observed day.

    Cells that differ only in ``defender.renewal_interval`` share a ``panel``.
    """
    exp = experiment_from_manifest(manifest, manifest.get("experiment_file", ""))
    panels: dict[tuple, int] = {}
    frames = []
    for cell in exp.cells:
        scen = cell.scenario
        key = _panel_key(scen.values, scen.mix_label)
        panel = panels.setdefault(key, len(panels))
        times, values = confidence_series(scen, int(manifest["seed"]), replications, step)
        df = pd.DataFrame(_summary(times, values))
        df.insert(0, "renewal", scen.value("defender.renewal_interval"))
        df.insert(0, "defender_mix", scen.mix_label)
        df.insert(0, "panel", panel)
        df.insert(0, "label", cell.label)
        df.insert(0, "cell", cell.index)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _panel_title(mix: str, width: int = 34) -> str:
    return "\n".join(textwrap.wrap(mix.replace("+", " + ").replace("_", " "), width)) or "none"


def hook_replications(n: int) -> int:
    """Crises per cell that the ``ally_decay`` analysis follows in a run of ``n`` replications per cell."""
    return min(n, max(HOOK_MIN, min(HOOK_REPLICATIONS, n // 100)))


def ally_decay_analysis(out_dir: Path, cells: pd.DataFrame, outcomes: pd.DataFrame, manifest: dict) -> list[Path]:
    """Extra figure, table and report section of a run whose experiment says ``analysis = "ally_decay"``.

    One panel per defender mix (and any other setting that is not the renewal
    interval), one line per renewal interval: the mean confidence over the
    first :func:`hook_replications` replications of the run's seed (the same
    crises as the run's first replications: both engines are identical
    replication for replication), observed every ``HOOK_STEP`` days.
    """
    from matplotlib.figure import Figure  # here, not at the top: matplotlib is slow to import

    reps = hook_replications(int(cells["n"].min()))
    print(f"ally_decay: the ally's confidence in {len(cells)} cells x {reps} crises (SimPy engine)...", file=sys.stderr)
    paths = experiment_paths(manifest, reps)
    scenarios = {c.index: c.scenario for c in experiment_from_manifest(manifest, "").cells}
    first = scenarios[min(scenarios)]
    threshold = no_news_belief(first)
    thresholds = {i: no_news_belief(s) for i, s in scenarios.items()}
    n_panels = int(paths["panel"].max()) + 1
    ncols = min(4, n_panels)
    nrows = -(-n_panels // ncols)
    fig = Figure(figsize=(3.4 * ncols + 0.8, 2.9 * nrows + 1.3), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)).ravel()
    for p in range(n_panels):
        g = paths[paths["panel"] == p]
        _confidence_axes(axes[p], g, thresholds[int(g["cell"].iloc[0])], legend=(p == 0), solid=True)
        axes[p].set_title(_panel_title(g["defender_mix"].iloc[0]), fontsize="small")
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    for ax in axes[::ncols]:
        ax.set_ylabel("ally's confidence")
    for ax in axes[(nrows - 1) * ncols:]:
        ax.set_xlabel("day")
    fig.legend(fontsize="small", loc="outside lower center", ncols=4, frameon=False)
    half = float(((paths["ci_high"] - paths["ci_low"]) / 2).max())
    fig.suptitle(f"{manifest.get('experiment', '')}: the ally's belief that the defender is committed (mean over {reps} "
                 f"crises, 95% band: half-width at most {half:.3f})\n"
                 f"SimPy engine, seed {manifest.get('seed')}, every {HOOK_STEP:g} days; dashed: the belief with no news",
                 fontsize="medium")
    written = write_figure(fig, out_dir, "ally_confidence")
    table = Path(out_dir) / "ally_confidence.csv"
    atomic_write_bytes(table, paths.to_csv(index=False).encode())
    written.append(table)
    report = Path(out_dir) / "report.md"
    if report.is_file():
        h = first.value("ally.lapse_rate") + first.value("ally.recommit_rate")
        text = ally_experiment_markdown(paths, cells, outcomes, threshold, reps, h)
        atomic_write_bytes(report, (report.read_text() + "\n" + text).encode())
    return written


def ally_experiment_markdown(paths: pd.DataFrame, cells: pd.DataFrame, outcomes: pd.DataFrame, threshold: float,
                             reps: int, decay: float = 0.0) -> str:
    """Report section: the ally's belief at the horizon per cell beside the run's P(ally proliferates).

    ``decay`` is the commitment chain's total switching rate (per day), for the half-life of old news in the text.
    """
    last = paths.loc[paths.groupby("cell")["time"].idxmax()].set_index("cell")
    prolif = outcomes[(outcomes["measure"] == "ally_proliferation") & (outcomes["motive"] == "all")].set_index("cell")
    day = last["time"].iloc[0]
    lines = [
        "## Reassurance over time: the ally's belief that the defender is committed",
        "",
        f"Mean belief of the ally over the run's first {reps} crises (SimPy engine, same seed; 95% normal "
        "intervals), read from the trace at the ally's messages and predicted exactly in between. P(ally "
        "proliferates) is the run's own estimate over every replication (Wilson 95%).",
        "",
        f"| defender mix | renewal | belief at day {day:g} [95% CI] | mean first below {threshold:.2f} "
        "| P(ally proliferates) [95% CI] |",
        "|---|---|---|---|---|",
    ]
    for cell, r in last.iterrows():
        g = paths[paths["cell"] == cell]
        p = prolif.loc[cell] if cell in prolif.index else None
        pp = f"{p['p']:.4f} [{p['ci_low']:.4f}, {p['ci_high']:.4f}]" if p is not None else "-"
        lines.append(f"| {r['defender_mix']} | {renewal_label(r['renewal'])} | {r['mean']:.3f} "
                     f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}] | {_crossing(g, threshold)} | {pp} |")
    lines += [
        "",
        "![ally confidence](figures/ally_confidence.png)",
        "",
        "Reading it: between pieces of news the belief drifts to the belief with no news (dashed), the commitment "
        "chain's long-run share"
        + (f"; the distance to it halves in about {math.log(2) / decay:.0f} days" if decay > 0 else "")
        + ". Each instrument sent moves it up by as much as its cost separates a committed from an uncommitted "
        "defender (a costly one more than cheap talk), a withheld renewal moves it down, and a defender that yields "
        "in a crisis lowers it. Caveat: hazards, costs and the ally's values are illustrative defaults, not estimates.",
        "",
    ]
    return "\n".join(lines)


def ally_decay_command(scenario_file, make: Callable[[float], Scenario], renewals: Sequence[float], *,
                       mix: list[str], replications: int, seed: int, step: float = OBSERVE_STEP,
                       out: Path | None = None, force: bool = False, renewal_text: str | None = None,
                       log=None) -> tuple[Path, pd.DataFrame]:
    """``escalation-sim ally-decay``: confidence paths per renewal interval, with their table, figure, report, manifest.

    ``make(renewal)`` builds the scenario (with an ally) at that renewal interval; ``mix`` is the defender's mix
    and ``renewal_text`` the intervals as given (both for the title and the command in the report). Writes to ``out`` [default:
    ``results/ally-decay/<scenario>-seed<seed>``], which must be empty unless ``force``. Returns the directory
    and the paths (:func:`confidence_paths`).
    """
    scenario_file = Path(scenario_file)
    renewal_text = ",".join(f"{r:g}" for r in renewals) if renewal_text is None else renewal_text
    base = make(renewals[0])
    if not base.value("ally.present"):
        raise ConfigError(str(scenario_file), "ally.present", "this scenario has no ally; allowed: a scenario with an "
                          "ally (e.g. experiments/extended-deterrence.toml)")
    if base.value("crisis.horizon") / step > 1e6:
        raise OptionError(f"--step {step:g}: allowed: at most 1e6 observations within the horizon "
                          f"({base.value('crisis.horizon'):g} days)")
    out_dir = out or Path("results") / "ally-decay" / f"{scenario_file.stem}-seed{seed}"
    prepare_run_dir(out_dir, force)
    start = now_iso()
    if log is not None:
        log(f"ally-decay: {len(renewals)} renewal intervals x {replications} crises (SimPy engine) -> {out_dir}")
    paths = confidence_paths(make, renewals, replications, seed, step=step)
    threshold = no_news_belief(base)
    title = f"{scenario_file.stem}, defender: {' + '.join(mix)}"
    files = write_table(paths, out_dir, "ally_confidence")
    files += ally_decay_figure(paths, out_dir, threshold, title)
    command = (f"escalation-sim ally-decay {scenario_file} --renewal {renewal_text} "
               + " ".join(f"-d {m}" for m in mix) + f" -n {replications} --seed {seed} --step {step:g}")
    report = out_dir / "report.md"
    atomic_write_bytes(report, ally_decay_markdown(paths, threshold, title, command).encode())
    Manifest.new(out_dir / MANIFEST, {
        "kind": "ally-decay", "scenario_file": str(scenario_file), "defender_strategy": mix, "renewals": list(renewals),
        "replications": replications, "seed": seed, "engine": "simpy", "ci_method": "normal (mean over crises)",
        "observation_step": step, "review_check": float(paths["review_check"].max()), "command": command,
    }, start=start).finish("complete", files=[str(Path(f).relative_to(out_dir)) for f in [*files, report]])
    return out_dir, paths


def ally_decay_text(paths: pd.DataFrame) -> str:
    """The paths for a terminal: per renewal interval, confidence at the last observed day and the programme shares."""
    last = _at_horizon(paths)
    lines = [f"{'reassurance':<28} {'confidence at day ' + format(last['time'].iloc[0], 'g'):>26} "
             f"{'programme':>10} {'proliferated':>13}"]
    for _, r in last.iterrows():
        name = "one-off" if r["renewal"] == 0 else f"renewed every {r['renewal']:g} days"
        lines.append(f"{name:<28} {r['mean']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]    "
                     f"{r['p_programme']:10.3f} {r['p_proliferated']:13.3f}")
    return "\n".join(lines)

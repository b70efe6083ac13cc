"""Calibration of the crisis model to the crisis record: the model side of ABC-SMC, and predictions over a posterior.

:mod:`escalation_sim.calibration` is model-agnostic (targets, distance, ABC-SMC, posterior summaries, report).
This module plugs the model in:

* :data:`OUTPUTS` declares what the model can be compared with: the ICB crisis-violence scale, the ICB actor
  outcomes and the MID hostility scale (``docs/model.md``, "Outcomes and outputs"), all conditional on a crisis,
  and the median crisis duration (days).
* :class:`ModelSimulator` is the simulator ABC-SMC calls: parameter vectors in, shares out. Every particle runs
  the same ``replications`` replications with the same seed (common random numbers within a generation),
  through the one scheduling path (:func:`escalation_sim.pipeline.schedule.run_scenario`).
* :func:`load_calibration` reads a calibration file (``experiments/calibration-crisis-record.toml``): the base
  scenario, the free parameters and their prior boxes, the targets and the ABC settings, validated before
  anything runs.
* :func:`posterior_cells` evaluates every cell of an experiment at draws of a posterior (``run --posterior``):
  posterior predictive means with intervals that combine parameter and Monte Carlo uncertainty (and how much of
  the variance is each), and for each pair of cells the posterior probability that one gives less war.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..calibration.abc import ABCConfig
from ..calibration.posterior import combined_share, prob_less, systematic_resample
from ..calibration.targets import CalibrationError, default_targets_path
from ..engines import montecarlo as mc
from ..errors import ConfigError
from ..io.toml import read_toml
from ..model.constants import N_OUTCOMES, NO_CHALLENGE, OUTCOME_NAMES, WAR_OUTCOME
from ..model.measures import ACTOR_OUTCOME_NAMES, HOSTILITY_NAMES, VIOLENCE_NAMES
from ..model.params import FREE_PARAMETERS, SPEC_BY_KEY
from ..model.scenario import Scenario
from ..model.validation import load_scenario
from ..pipeline.schedule import run_scenario
from ..scale.executors import LocalExecutor
from ..stats import hist_quantile

#: The model outputs a target may name, with their categories (None: a scalar).
OUTPUTS: dict[str, tuple[str, ...] | None] = {
    "icb_violence": VIOLENCE_NAMES,
    "icb_actor_outcome": ACTOR_OUTCOME_NAMES,
    "mid_hostility": HOSTILITY_NAMES[1:],  # among militarized crises (a MID needs a threat, display or use of force)
    "icb_actor_duration_median_days": None,
}
ABC_FIELDS = ("population_size", "seed", "quantile", "floor_level", "kernel", "max_generations",
              "min_acceptance_rate", "max_simulations", "replications", "batches")


def shares_of(tot: mc.CellTotals, horizon: float) -> dict[str, np.ndarray]:
    """The outputs of one finished cell: shares among crises (or among crisis parties) and the median duration."""
    counts = tot.counts.sum(axis=0)
    crises = int(tot.n - counts[NO_CHALLENGE])
    out = {}
    host = np.asarray(tot.hostility).sum(axis=0)[1:]  # militarized crises only: the MIDs among them
    for name, arr, denom in (("icb_violence", np.asarray(tot.violence).sum(axis=0), crises),
                             ("mid_hostility", host, int(host.sum())),
                             ("icb_actor_outcome", np.asarray(tot.actor).sum(axis=0), 2 * crises)):
        v = arr.astype(float)
        out[name] = v / denom if denom else np.full(len(v), np.nan)
    out["icb_actor_duration_median_days"] = np.array(hist_quantile(tot.hist, horizon / mc.N_BINS, 0.5))
    return out


@dataclass
class ModelSimulator:
    """``simulate(theta, seed)`` for ABC-SMC: ``theta[i]`` sets ``parameters`` on ``base``; shares out."""

    base: Scenario
    parameters: tuple[str, ...]
    replications: int
    block_size: int = 1024
    threads: int | None = None
    _executor: object = field(default=None, repr=False)

    def scenario(self, theta: np.ndarray) -> Scenario:
        """The base scenario with one parameter vector (integers rounded)."""
        values = {}
        for key, x in zip(self.parameters, theta, strict=True):
            values[key] = float(round(x)) if SPEC_BY_KEY[key].kind == "int" else float(x)
        return self.base.with_values(values)

    def run(self, theta: np.ndarray, seed: int) -> mc.CellTotals:
        """The totals of one particle (the same seed for every particle: common random numbers)."""
        threads = self.threads or mc.max_threads()
        if self._executor is None:
            self._executor = LocalExecutor(threads)
        return run_scenario(self.scenario(theta), self.replications, seed, self.block_size, threads, self._executor)

    def __call__(self, theta: np.ndarray, seed: int) -> dict[str, np.ndarray]:
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        horizon = self.base.value("crisis.horizon")
        rows = [shares_of(self.run(t, seed), horizon) for t in theta]
        return {name: np.array([r[name] for r in rows]) for name in OUTPUTS}


@dataclass
class CalibrationSpec:
    """A validated calibration file."""

    name: str
    source: str
    base: Scenario
    priors: dict[str, tuple[float, float]]
    targets: Path
    roles: dict[str, str]
    config: ABCConfig
    description: str = ""


def load_calibration(path: str | Path) -> CalibrationSpec:
    """Read and validate a calibration file (``[calibration]``, ``[parameters.<key>]``, ``[abc]``, ``[roles]``).

    Every problem is a :class:`ConfigError` naming the file and the field, before anything runs.
    """
    source = str(path)
    data = read_toml(path)
    unknown = set(data) - {"calibration", "parameters", "abc", "roles"}
    if unknown:
        raise ConfigError(source, sorted(unknown)[0], "unknown section; allowed: calibration, parameters, abc, roles")
    cal = data.get("calibration")
    if not isinstance(cal, dict) or not isinstance(cal.get("scenario"), str):
        raise ConfigError(source, "calibration.scenario", "required: path of the base scenario file")
    bad = set(cal) - {"name", "description", "scenario", "targets"}
    if bad:
        raise ConfigError(source, f"calibration.{sorted(bad)[0]}", "unknown field; allowed: name, description, scenario, targets")
    base = load_scenario((Path(path).parent / cal["scenario"]).resolve())
    targets = cal.get("targets", "crisis-record")
    targets_path = default_targets_path() if targets == "crisis-record" else (Path(path).parent / str(targets)).resolve()
    if not targets_path.is_file():
        raise ConfigError(source, "calibration.targets", f"no such file {targets_path}; allowed: \"crisis-record\" or a target file")
    params = data.get("parameters")
    if not isinstance(params, dict) or len(params) < 1:
        raise ConfigError(source, "parameters", "required: one [parameters.\"section.name\"] table per free parameter, with low and high")
    priors = {}
    for key, spec in params.items():
        if key not in SPEC_BY_KEY or SPEC_BY_KEY[key].kind not in ("float", "prob", "int"):
            raise ConfigError(source, f"parameters.{key}", f"unknown or not numeric; allowed: numeric parameters, e.g. {', '.join(FREE_PARAMETERS[:3])}")
        if not isinstance(spec, dict) or "low" not in spec or "high" not in spec:
            raise ConfigError(source, f"parameters.{key}", "missing bounds; allowed: a table with low and high")
        lo, hi = spec["low"], spec["high"]
        p = SPEC_BY_KEY[key]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lo, hi)) or not (p.lo <= lo < hi <= p.hi):
            raise ConfigError(source, f"parameters.{key}", f"got low = {lo!r}, high = {hi!r}; allowed: {p.lo:g} <= low < high <= {p.hi:g}")
        priors[key] = (float(lo), float(hi))
    abc = data.get("abc", {})
    if not isinstance(abc, dict) or set(abc) - set(ABC_FIELDS):
        extra = sorted(set(abc) - set(ABC_FIELDS)) if isinstance(abc, dict) else ["abc"]
        raise ConfigError(source, f"abc.{extra[0]}", f"unknown field; allowed: {', '.join(ABC_FIELDS)}")
    config = ABCConfig(**{k: v for k, v in abc.items() if k != "replications"},
                       replications=abc.get("replications", 4000))
    try:
        config.validate(source)
    except CalibrationError as exc:
        raise ConfigError(source, f"abc.{exc.field}", exc.message) from None
    roles = data.get("roles", {})
    if not isinstance(roles, dict) or any(v not in ("fit", "check", "info") for v in roles.values()):
        raise ConfigError(source, "roles", "allowed: a table of target = \"fit\" | \"check\" | \"info\"")
    return CalibrationSpec(name=str(cal.get("name", Path(path).stem)), source=source, base=base, priors=priors,
                           targets=targets_path, roles=dict(roles), config=config,
                           description=str(cal.get("description", "")))


# --- predictions over a posterior (run --posterior) ---------------------------------------------------------
def load_posterior(path: str | Path) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """A posterior sample (Parquet or CSV written by ``calibrate``): parameter columns, weights, parameter names."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(str(path), "", "no such file; allowed: a posterior.parquet or posterior.csv written by calibrate")
    try:
        df = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)
    except Exception:  # noqa: BLE001  (any unreadable file is the same user error)
        raise ConfigError(str(path), "", "not a readable Parquet or CSV posterior") from None
    if "weight" not in df:
        raise ConfigError(str(path), "weight", "missing column; allowed: a posterior written by calibrate")
    names = [c for c in df.columns if c in SPEC_BY_KEY]
    if not names:
        raise ConfigError(str(path), "", "no parameter columns (section.name); allowed: a posterior written by calibrate")
    w = df["weight"].to_numpy(dtype=float)
    if not (np.all(np.isfinite(w)) and np.all(w >= 0) and w.sum() > 0):
        raise ConfigError(str(path), "weight", "allowed: finite non-negative weights with a positive sum")
    return df, w / w.sum(), names


def posterior_draws(path: str | Path, draws: int, seed: int) -> tuple[pd.DataFrame, list[str]]:
    """``draws`` equally weighted parameter vectors from a posterior (systematic resampling, seeded)."""
    df, w, names = load_posterior(path)
    idx = systematic_resample(w, draws, seed)
    return df.iloc[idx][names].reset_index(drop=True), names


def outcome_counts_by_draw(cells, draws: pd.DataFrame, names: list[str], replications: int, seed: int,
                           block_size: int = 1024, threads: int | None = None) -> np.ndarray:
    """Outcome counts of every cell at every draw, by motive: ``(cells, draws, 2, N_OUTCOMES)``.

    Each cell's scenario takes the draw's values (except the parameters the cell itself sets); every cell and
    draw runs the same replications on the streams of ``(seed, r)`` (common random numbers).
    """
    return counts_by_draw(cells, draws, names, replications, seed, block_size, threads)[0]


#: the ally's outcomes a run over a posterior reports beside the crisis outcomes (shares of all replications)
ALLY_MEASURES = ("abandonment", "programme", "proliferation", "entrapment")


def counts_by_draw(cells, draws: pd.DataFrame, names: list[str], replications: int, seed: int,
                   block_size: int = 1024, threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`outcome_counts_by_draw`'s counts, and the ally's: ``(cells, draws, 2, len(ALLY_MEASURES))`` (replications
    with abandonment, an ally programme, a proliferated ally, entrapment; by motive)."""
    threads = threads or mc.max_threads()
    executor = LocalExecutor(threads)
    out = np.zeros((len(cells), len(draws), 2, N_OUTCOMES), dtype=np.int64)
    ally = np.zeros((len(cells), len(draws), 2, len(ALLY_MEASURES)), dtype=np.int64)
    for i, cell in enumerate(cells):
        for m in range(len(draws)):
            values = {k: float(draws.iloc[m][k]) for k in names if k not in cell.overrides}
            tot = run_scenario(cell.scenario.with_values(values), replications, seed, block_size, threads, executor)
            out[i, m] = np.asarray(tot.counts)
            ally[i, m] = np.stack([np.asarray(x) for x in (tot.abandonment, tot.programme, tot.prolif,
                                                           tot.entrapment)], axis=-1)
    return out, ally


def motive_counts(counts: np.ndarray, motive: str) -> np.ndarray:
    """``counts[..., 2, N_OUTCOMES]`` for one motive (``"all"`` sums both): ``[..., N_OUTCOMES]``."""
    return counts.sum(axis=-2) if motive == "all" else counts[..., 1 if motive == "need" else 0, :]


def war_by_draw(cells, draws: pd.DataFrame, names: list[str], replications: int, seed: int, block_size: int = 1024,
                threads: int | None = None, motive: str = "all") -> np.ndarray:
    """P(war) of every cell at every draw, ``(cells, draws)`` (see :func:`outcome_counts_by_draw`)."""
    c = motive_counts(outcome_counts_by_draw(cells, draws, names, replications, seed, block_size, threads), motive)
    return c[..., WAR_OUTCOME] / np.maximum(1, c.sum(axis=-1))


def posterior_cells(cells, p: np.ndarray, replications: int, measure: str = "war",
                    pairs: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Posterior predictive share of ``measure`` per cell (combined interval, variance shares), and for each pair of
    cells the posterior probability that the first gives less of it (``pairs``).

    ``p`` is ``(cells, draws)``: the share at each draw, each from ``replications`` crises.
    """
    rows = []
    for i, cell in enumerate(cells):
        s = combined_share(p[i], None, replications)
        rows.append({"cell": cell.index, "label": cell.label, "measure": measure, **s})
    out = []
    for i, a in enumerate(cells if pairs else []):
        for j, b in enumerate(cells):
            if i < j:
                r = prob_less(p[i], p[j], None, replications)
                out.append({"cell_a": a.index, "label_a": a.label, "cell_b": b.index, "label_b": b.label,
                            "measure": measure, "p_a_less_war": r["prob"], "unresolved": r.get("unresolved", float("nan"))})
    return pd.DataFrame(rows), pd.DataFrame(out)


def posterior_tables(cells, counts: np.ndarray,
                     ally: np.ndarray | None = None) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Every outcome of every cell over the posterior, for all challengers and by motive; pairs for war.

    ``counts`` is :func:`outcome_counts_by_draw`'s array; ``ally`` (:func:`counts_by_draw`), if given and the
    experiment has an ally, adds the ally's outcomes (:data:`ALLY_MEASURES`, shares of all replications). The
    replications behind a motive's share at a draw are that motive's replications (their mean over draws enters
    the Monte Carlo variance). Returns the cell table, the pair table (war only) and P(war) of every cell at every
    draw for all challengers.
    """
    has_ally = ally is not None and any(c.scenario.value("ally.present") != 0.0 for c in cells)
    tables, pair_tables = [], []
    p_war_all = None
    for motive in ("all", "opportunity", "need"):
        c = motive_counts(counts, motive).astype(float)  # (cells, draws, outcomes)
        n = c.sum(axis=-1)
        if not n.any():
            continue
        keep = [i for i in range(len(cells)) if n[i].min() > 0]
        sub = [cells[i] for i in keep]
        reps = max(1, int(round(float(n[keep].mean())))) if keep else 1
        for k, name in enumerate(OUTCOME_NAMES):
            p = c[keep, :, k] / n[keep]
            cells_df, pairs_df = posterior_cells(sub, p, reps, name, pairs=(k == WAR_OUTCOME))
            cells_df.insert(2, "motive", motive)
            tables.append(cells_df)
            if k == WAR_OUTCOME:
                pairs_df.insert(4, "motive", motive)
                pair_tables.append(pairs_df)
                if motive == "all":
                    p_war_all = c[:, :, k] / np.maximum(1.0, n)
        if has_ally:
            a = motive_counts(ally, motive).astype(float)  # (cells, draws, ally measures)
            for k, name in enumerate(ALLY_MEASURES):
                cells_df, _ = posterior_cells(sub, a[keep, :, k] / n[keep], reps, name, pairs=False)
                cells_df.insert(2, "motive", motive)
                tables.append(cells_df)
    return pd.concat(tables, ignore_index=True), pd.concat(pair_tables, ignore_index=True), p_war_all


def calibration_command(spec: CalibrationSpec, out: Path | None, force: bool, threads: int | None,
                        seed: int | None = None, population: int | None = None, replications: int | None = None,
                        generations: int | None = None, command: str | None = None, log=print,
                        backend: str = "threads", scheduler: str | None = None, workers: int = 2):
    """``escalation-sim calibrate``: ABC-SMC of ``spec``'s parameters to its targets; posterior, check, report, files.

    Writes to ``out`` [default: ``results/calibration-<name>/seed<S>``]; refuses a directory that holds results
    unless ``force``. With ``backend="dask"`` the particles of each round go to the workers of a Dask cluster
    (``scheduler``, or a LocalCluster of ``workers`` processes) in batches, each batch on one worker thread; the
    posterior is the same bytes as on threads (the batches are joined in order, every particle on the
    generation's seed). Returns the :class:`escalation_sim.calibration.run.CalibrationRun`.
    """
    from dataclasses import replace as _replace

    from ..calibration.run import calibrate
    from ..calibration.targets import Prior

    config = spec.config
    changes = {k: v for k, v in (("seed", seed), ("population_size", population), ("replications", replications),
                                 ("max_generations", generations)) if v is not None}
    if changes:
        config = _replace(config, **changes)
    out_dir = out or Path("results") / f"calibration-{spec.name}" / f"seed{config.seed}"
    priors = [Prior(k, lo, hi, SPEC_BY_KEY[k].doc) for k, (lo, hi) in spec.priors.items()]
    executor = map_batches = None
    if backend == "dask":
        from ..calibration.parallel import dask_map
        from ..scale.executors import DaskExecutor

        executor = DaskExecutor(scheduler, workers)
        n_workers = max(1, len(executor.client.scheduler_info()["workers"]))
        map_batches = dask_map(executor.client)
        config = _replace(config, batches=max(config.batches, 4 * n_workers))
        threads = 1  # one thread per worker task
    sim = ModelSimulator(spec.base, tuple(spec.priors), int(config.replications), threads=threads)
    log(f"calibrate: {len(priors)} parameters of {spec.base.name} to {spec.targets.name} (ABC-SMC, "
        f"{config.population_size} particles x {config.replications:,} crises each, {backend}) -> {out_dir}")
    mc.warm_up()
    try:
        def progress(row: dict) -> None:
            log("  generation {:.0f}: tolerance {:.4g} (floor {:.4g}), median distance {:.4g}, acceptance {:.3f}, "
                "{:.0f} simulated, ESS {:.0f}".format(row.get("generation", -1), row.get("tolerance", float("nan")),
                                                      row.get("tolerance_floor", float("nan")),
                                                      row.get("median_distance", float("nan")),
                                                      row.get("acceptance_rate", float("nan")),
                                                      row.get("simulations", float("nan")), row.get("ess", float("nan"))))

        run = calibrate(sim, OUTPUTS, spec.targets, out_dir, config, priors=priors, roles=spec.roles or None,
                        known_parameters=list(SPEC_BY_KEY), force=force, command=command, progress=progress,
                        map_batches=map_batches,
                        manifest_extra={"kind": "calibration", "calibration_file": spec.source,
                                        "scenario": spec.base.name, "engine": "compiled (common random numbers)",
                                        "backend": backend})
    except CalibrationError as exc:
        raise ConfigError(exc.source, exc.field, exc.message) from None
    finally:
        if executor is not None:
            executor.close()
    return out_dir, run


def posterior_command(exp, posterior: Path, draws: int, replications: int, seed: int, threads: int | None,
                      out: Path | None, force: bool, command: str | None = None,
                      log=print) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """``escalation-sim run --posterior``: every cell at ``draws`` posterior draws, common random numbers throughout.

    Writes ``posterior_cells`` (posterior predictive P(war) per cell and motive: mean, combined 95% interval, the
    shares of its variance from the parameters and from simulation), ``posterior_pairs`` (for each pair of cells
    the posterior probability that the first gives less war), ``posterior_ranking`` (each option's mean rank, its
    range and its probability of giving the least war: the ranking's robustness; a tournament ranks its defender
    mixes by their mean over opponents), ``posterior_draws`` and a report, with a manifest.
    """
    from ..io.files import atomic_write_bytes, prepare_run_dir, write_table
    from ..io.manifest import MANIFEST, Manifest
    from ..io.provenance import now_iso
    from ..report.figures import write_figure

    out_dir = out or Path("results") / exp.name / f"posterior-seed{seed}-d{draws}-n{replications}"
    sample, names = posterior_draws(posterior, draws, seed)  # a bad posterior fails before anything is written
    prepare_run_dir(out_dir, force)
    start = now_iso()
    log(f"posterior: {len(exp.cells)} cells x {draws} posterior draws x {replications:,} crises -> {out_dir}")
    mc.warm_up()
    counts, ally = counts_by_draw(exp.cells, sample, names, replications, seed, threads=threads)
    cells_df, pairs_df, p_war = posterior_tables(exp.cells, counts, ally)
    ranking = posterior_ranking(exp, p_war)
    files = write_table(cells_df, out_dir, "posterior_cells") + write_table(pairs_df, out_dir, "posterior_pairs")
    files += write_table(sample, out_dir, "posterior_draws") + write_table(ranking, out_dir, "posterior_ranking")
    files += write_figure(posterior_figure(ranking, f"{exp.name}: ranking over the posterior ({draws} draws)"),
                          out_dir, "posterior_ranking", tight=True)
    report = out_dir / "report.md"
    atomic_write_bytes(report, posterior_markdown(exp, cells_df, pairs_df, draws, replications, seed, posterior,
                                                  ranking).encode())
    files.append(report)
    Manifest.new(out_dir / MANIFEST, {
        "kind": "posterior-predictive", "experiment": exp.name, "posterior": str(posterior), "draws": draws,
        "replications_per_draw": replications, "seed": seed, "parameters": names,
        "method": "systematic resampling of the weighted posterior; every cell and draw on the streams of (seed, r)",
        "interval": "Wilson at the effective replications of the combined variance (parameter + Monte Carlo)",
        "command": command,
    }, start=start).finish("complete", files=[str(Path(f).relative_to(out_dir)) for f in files])
    return out_dir, cells_df, ranking


def _value_text(v) -> str:
    if isinstance(v, list):
        return "+".join(v) if v else "none"
    return f"{v:g}" if isinstance(v, float) else str(v)


def is_policy(key: str) -> bool:
    """Whether a cell's setting is part of the defender's policy (compared by a ranking) rather than of the world
    the policy meets (its context): the mix, the renewal interval and the instruments' costs."""
    return key in ("defender.strategy", "defender.renewal_interval") or key.startswith("effects.cost_")


def option_groups(exp) -> dict[tuple[str, str], list[int]]:
    """The options a ranking compares, each with its context: ``{(context, option): cells}``.

    A ``[tournament]``'s defender mixes are averaged over their opponents (one context). Otherwise each cell is an
    option named by the defender's policy: its mix and, if the cell sets them, how often it renews and what its
    instruments cost (:func:`is_policy`); it is ranked against the cells that share its other settings (its
    context, e.g. ``challenger.p_need=1``): ranking mixes across different challenger populations would compare
    the populations, not the mixes. A cell that sets no defender mix is named by its label.
    """
    groups: dict[tuple[str, str], list[int]] = {}
    tournament = "tournament" in exp.raw
    for i, c in enumerate(exp.cells):
        over = dict(c.overrides)
        if tournament:
            key = ("", _value_text(over.get("defender.strategy", [])))
        elif "defender.strategy" in over:
            mix = over.pop("defender.strategy")
            policy = "".join(f", {k.split('.', 1)[1]}={_value_text(v)}" for k, v in over.items() if is_policy(k))
            context = ", ".join(f"{k}={_value_text(v)}" for k, v in over.items() if not is_policy(k))
            key = (context, _value_text(mix) + policy)
        else:
            key = ("", c.label)
        groups.setdefault(key, []).append(i)
    return groups


def posterior_ranking(exp, p_war: np.ndarray) -> pd.DataFrame:
    """How robust a ranking is over the posterior: each option's mean rank and its probability of being best.

    ``p_war`` is ``(cells, draws)``; an option's P(war) at a draw is the mean of its cells (a tournament's defender
    mix over its opponents). Options are ranked within their context (:func:`option_groups`). Ties share ranks
    (average). Draws are equally weighted (systematic resampling).
    """
    groups = option_groups(exp)
    frames = []
    for context in dict.fromkeys(ctx for ctx, _ in groups):
        keys = [k for k in groups if k[0] == context]
        value = np.array([p_war[groups[k]].mean(axis=0) for k in keys])  # (options, draws)
        ranks = pd.DataFrame(value).rank(axis=0, method="average").to_numpy()
        best = (value == value.min(axis=0, keepdims=True)).astype(float)
        best /= best.sum(axis=0, keepdims=True)
        frames.append(pd.DataFrame({
            "context": context, "option": [k[1] for k in keys], "mean_p_war": value.mean(axis=1),
            "p_war_low": np.quantile(value, 0.05, axis=1), "p_war_high": np.quantile(value, 0.95, axis=1),
            "mean_rank": ranks.mean(axis=1),
            "rank_low": np.quantile(ranks, 0.05, axis=1, method="inverted_cdf"),
            "rank_high": np.quantile(ranks, 0.95, axis=1, method="inverted_cdf"),
            "p_best": best.mean(axis=1),
        }).sort_values("mean_rank", kind="stable"))
    return pd.concat(frames, ignore_index=True)


def posterior_figure(ranking: pd.DataFrame, title: str):
    """P(war) of every option over the posterior, one panel per context, in rank order: the mean over draws and
    the 5-95% range of the draws' values (the parameters' uncertainty), P(least war) beside each."""
    from matplotlib.figure import Figure

    contexts = list(dict.fromkeys(ranking["context"]))
    rows = max(len(ranking[ranking["context"] == c]) for c in contexts)
    fig = Figure(figsize=(6.5 * len(contexts), 0.42 * rows + 1.6))
    axes = fig.subplots(1, len(contexts), sharex=True, squeeze=False)[0]
    for ax, context in zip(axes, contexts, strict=True):
        g = ranking[ranking["context"] == context].reset_index(drop=True)
        y = np.arange(len(g))[::-1]
        ax.errorbar(g["mean_p_war"], y, xerr=[g["mean_p_war"] - g["p_war_low"], g["p_war_high"] - g["mean_p_war"]],
                    fmt="o", color="tab:red", ecolor="0.4", capsize=3)
        ax.set_yticks(y, [f"{o}  (P best {b:.2f})" for o, b in zip(g["option"], g["p_best"], strict=True)], fontsize=8)
        ax.set_title(context or "all cells", fontsize=9)
        ax.set_xlabel("P(war), posterior mean and 5-95% of draws")
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def posterior_markdown(exp, cells: pd.DataFrame, pairs: pd.DataFrame, draws: int, replications: int, seed: int,
                       posterior, ranking: pd.DataFrame | None = None) -> str:
    """Report: posterior predictive P(war) per cell with the variance shares, and the robustness of the ranking."""
    lines = [f"# {exp.name}: predictions over the posterior", "",
             f"Every cell was run at {draws} draws of the posterior `{Path(posterior).name}` (systematic resampling), "
             f"{replications:,} crises per draw, all on the streams of seed {seed} (common random numbers). "
             "The interval combines the parameters' uncertainty and the simulation's (law of total variance); "
             "the last two columns say how much of the variance each contributes.", "",
             "| cell | motive | P(war), posterior predictive mean [95% interval] | parameters | simulation |",
             "|---|---|---|---:|---:|"]
    war = cells[cells["measure"] == "war"] if "measure" in cells else cells
    for _, r in war.iterrows():
        lines.append(f"| {r['label']} | {r['motive']} | {r['mean']:.4f} [{r['low']:.4f}, {r['high']:.4f}] "
                     f"| {r['share_parameters']:.0%} | {r['share_monte_carlo']:.0%} |")
    if "measure" in cells:
        every = cells[cells["motive"] == "all"]
        lines += ["", "Every outcome, all challengers (share of replications; posterior predictive mean [95% interval]; "
                  "by motive in posterior_cells.csv):", "",
                  "| cell | " + " | ".join(OUTCOME_NAMES) + " |", "|---|" + "---|" * len(OUTCOME_NAMES)]
        for label_, g in every.groupby("label", sort=False):
            by = g.set_index("measure")
            lines.append(f"| {label_} | " + " | ".join(
                f"{by.loc[m, 'mean']:.3f} [{by.loc[m, 'low']:.3f}, {by.loc[m, 'high']:.3f}]" for m in OUTCOME_NAMES) + " |")
        if every["measure"].isin(ALLY_MEASURES).any():
            lines += ["", "The ally, all challengers (share of replications with abandonment, an ally programme, a "
                      "proliferated ally, entrapment; posterior predictive mean [95% interval]). The ally's parameters "
                      "are illustrative: the posterior moves only the crisis parameters.", "",
                      "| cell | " + " | ".join(ALLY_MEASURES) + " |", "|---|" + "---|" * len(ALLY_MEASURES)]
            for label_, g in every.groupby("label", sort=False):
                by = g.set_index("measure")
                lines.append(f"| {label_} | " + " | ".join(
                    f"{by.loc[m, 'mean']:.3f} [{by.loc[m, 'low']:.3f}, {by.loc[m, 'high']:.3f}]"
                    for m in ALLY_MEASURES) + " |")
    allp = pairs[pairs["motive"] == "all"]
    if len(allp):
        lines += ["", "Which mix gives less war, over the posterior (P that the first cell gives less war than the "
                  "second; near 0.5 means the ranking is not robust to what the calibration leaves uncertain):", "",
                  "| first | second | P(first < second) |", "|---|---|---:|"]
        for _, r in allp.iterrows():
            lines.append(f"| {r['label_a']} | {r['label_b']} | {r['p_a_less_war']:.2f} |")
    if ranking is not None and len(ranking):
        lines += ["", "The ranking over the posterior (by P(war), within each context; a tournament's defender mixes "
                  "by their mean over opponents): mean rank, its 90% range over draws, and the probability of "
                  "giving the least war:", "",
                  "![ranking](figures/posterior_ranking.png)", "",
                  "| context | option | mean P(war) | mean rank | rank, 5-95% of draws | P(least war) |",
                  "|---|---|---:|---:|---|---:|"]
        for _, r in ranking.iterrows():
            lines.append(f"| {r['context'] or 'all cells'} | {r['option']} | {r['mean_p_war']:.4f} | {r['mean_rank']:.1f} "
                         f"| {r['rank_low']:g}-{r['rank_high']:g} | {r['p_best']:.2f} |")
    if "robustness" in getattr(exp, "raw", {}):
        lines += ["", "## Where the contrasts hold", "",
                  "The posterior probabilities above say how robust each comparison is to what the calibration leaves "
                  "uncertain. The literature's contrasts of this experiment (its `[robustness]` table) over a wide box "
                  "of parameter values as well, with what decides their sign (a classification tree and Sobol "
                  "indices), and over this posterior:", "",
                  f"    escalation-sim robustness {exp.source} --sobol 16 --posterior {posterior}", "",
                  "(measured results and how to read them: docs/robustness.md). `escalation-sim run --illustrative` "
                  "writes the box analysis into the run's report."]
    return "\n".join(lines) + "\n"

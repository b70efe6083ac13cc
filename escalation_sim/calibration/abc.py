"""ABC-SMC: a weighted posterior sample by sequential approximate Bayesian computation.

Algorithm (Beaumont, Cornuet, Marin & Robert 2009; Toni et al. 2009; kernels after Filippi, Barnes,
Cornebise & Stumpf 2013):

* Generation 0 draws ``N`` particles from the uniform prior box, simulates them and accepts all
  (tolerance infinite); weights are equal.
* Generation ``t`` sets the tolerance ``eps_t`` to the weighted ``quantile`` of generation ``t-1``'s
  distances, but never below the floor (the chi-square quantile of the fit targets' degrees of
  freedom: :meth:`.distance.Distance.floor`). It proposes particles by picking a particle of ``t-1``
  by weight and perturbing it with a multivariate normal kernel, simulates the proposals that fall in
  the prior box (proposals outside have prior density 0 and are rejected without a simulation),
  and keeps the first ``N`` with distance ``<= eps_t``, in proposal order.
* Importance weight of an accepted particle: ``prior(theta) / sum_j w_j K_j(theta | theta_j)`` over
  the particles of ``t-1``, normalised; the kernel density is the untruncated normal, which is the
  density the proposals were drawn from. Effective sample size ``1 / sum w^2``.
* Kernels: ``"olcm"`` (default), the optimal local covariance matrix of Filippi et al. (2013): particle
  ``j``'s covariance is ``sum_k w~_k (theta_k - theta_j)(theta_k - theta_j)^T`` over the particles of
  ``t-1`` already within ``eps_t`` (weights renormalised among them), which follows ridges locally;
  ``"mvn"``, one covariance for all, twice the weighted covariance of ``t-1`` (Beaumont et al. 2009).
* Stops after the generation that ran at the floor, or when a generation's acceptance rate (accepted
  / simulated) falls below ``min_acceptance_rate``, or after ``max_generations`` generations, or before
  a round of proposals that would exceed ``max_simulations`` (the generation in progress is then
  dropped and the last complete one returned). The result says which.

Randomness and reproducibility. Nothing here touches global random state. From the run seed,
``numpy.random.SeedSequence(seed, spawn_key=...)`` derives (a) one simulator seed per generation,
``spawn_key = (generation, 0)``, passed to every particle of that generation (common random numbers:
particles of a generation differ only by their parameters); (b) one ``numpy.random.Generator``
(PCG64) per round of proposals, ``spawn_key = (generation, 1, round)``. Round sizes are computed from
earlier results only. The simulator contract requires a particle's outputs to depend only on its
parameters and the seed, not on which batch it is in, so splitting a round into any number of
batches, and mapping them to threads or Dask workers in any order, gives bit-identical results.
Reductions avoid BLAS (``np.einsum`` without optimisation, pairwise sums), so the number of BLAS
threads does not enter either.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from .distance import Distance, SimulatorOutputError
from .parallel import MapBatches, serial_map
from .targets import CalibrationError, Prior

Simulator = Callable[[np.ndarray, int], Mapping[str, np.ndarray]]
"""``simulate(theta, seed) -> {output: array}``: ``theta`` is ``(n, d)`` in the priors' order; each
categorical output is ``(n, k)`` shares in the declared category order, each scalar output ``(n,)``."""

KERNELS = ("olcm", "mvn")
_LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class ABCConfig:
    """Settings of an ABC-SMC run (all of them go into the manifest).

    population_size : particles per generation (N).
    seed : run seed; every random number derives from it.
    quantile : the next tolerance is this weighted quantile of the last generation's distances.
    floor_level : the tolerance floor is the chi-square quantile at this level (fit targets' df).
    kernel : ``"olcm"`` or ``"mvn"``.
    max_generations : at most this many generations, generation 0 included.
    min_acceptance_rate : stop after a generation whose acceptance rate is below this.
    max_simulations : simulation budget (particles simulated), or None.
    batches : each round of proposals is split into this many batches for the simulator / workers.
    replications : simulated crises per particle behind the simulated shares (for the distance), or None.
    round_size : proposals in the first round of a generation (default N); later rounds are sized from
        the acceptance rate seen so far.
    max_round_size : cap on one round's proposals (default 50 N).
    """

    population_size: int = 500
    seed: int = 1
    quantile: float = 0.5
    floor_level: float = 0.95
    kernel: str = "olcm"
    max_generations: int = 20
    min_acceptance_rate: float = 0.005
    max_simulations: int | None = None
    batches: int = 1
    replications: int | None = None
    round_size: int | None = None
    max_round_size: int | None = None

    def validate(self, source: str = "config") -> None:
        def bad(f: str, msg: str):
            raise CalibrationError(source, f, msg)

        def is_int(v):
            return isinstance(v, int | np.integer) and not isinstance(v, bool)

        if not is_int(self.population_size) or self.population_size < 2:
            bad("population_size", f"got {self.population_size!r}; allowed: an integer >= 2")
        if not is_int(self.seed) or self.seed < 0:
            bad("seed", f"got {self.seed!r}; allowed: a non-negative integer")
        if not 0.0 < self.quantile < 1.0:
            bad("quantile", f"got {self.quantile!r}; allowed: a number in (0, 1)")
        if not 0.0 <= self.floor_level < 1.0:
            bad("floor_level", f"got {self.floor_level!r}; allowed: a number in [0, 1) (0: no floor)")
        if self.kernel not in KERNELS:
            bad("kernel", f"got {self.kernel!r}; allowed: {', '.join(KERNELS)}")
        if not is_int(self.max_generations) or self.max_generations < 1:
            bad("max_generations", f"got {self.max_generations!r}; allowed: an integer >= 1")
        if not 0.0 <= self.min_acceptance_rate < 1.0:
            bad("min_acceptance_rate", f"got {self.min_acceptance_rate!r}; allowed: a number in [0, 1)")
        if self.max_simulations is not None and (not is_int(self.max_simulations) or self.max_simulations < self.population_size):
            bad("max_simulations", f"got {self.max_simulations!r}; allowed: an integer >= population_size, or none")
        if not is_int(self.batches) or self.batches < 1:
            bad("batches", f"got {self.batches!r}; allowed: an integer >= 1")
        if self.replications is not None and (not is_int(self.replications) or self.replications < 1):
            bad("replications", f"got {self.replications!r}; allowed: a positive integer, or none")
        for f in ("round_size", "max_round_size"):
            v = getattr(self, f)
            if v is not None and (not is_int(v) or v < 1):
                bad(f, f"got {v!r}; allowed: a positive integer, or none")


@dataclass
class Generation:
    """One population: particles, normalised weights, distances, and how it was obtained."""

    index: int
    tolerance: float
    theta: np.ndarray
    weights: np.ndarray
    distances: np.ndarray
    proposals: int
    out_of_prior: int
    simulations: int
    simulator_seed: int
    rounds: int

    @property
    def ess(self) -> float:
        return float(1.0 / np.sum(self.weights ** 2))

    @property
    def acceptance_rate(self) -> float:
        return len(self.weights) / self.simulations if self.simulations else math.nan


@dataclass
class ABCResult:
    """The outcome of :func:`run_abc_smc`: the last complete generation is the posterior sample."""

    priors: tuple[Prior, ...]
    config: ABCConfig
    generations: list[Generation]
    tolerance_floor: float
    df: int
    stop_reason: str
    distance_terms: list[dict]
    seconds: list[float] = field(default_factory=list)  # wall time per generation (not reproducible; not in tables)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.priors)

    @property
    def final(self) -> Generation:
        return self.generations[-1]

    @property
    def theta(self) -> np.ndarray:
        return self.final.theta

    @property
    def weights(self) -> np.ndarray:
        return self.final.weights

    @property
    def reached_floor(self) -> bool:
        return self.final.tolerance <= self.tolerance_floor

    @property
    def simulations(self) -> int:
        return int(sum(g.simulations for g in self.generations))

    def posterior_frame(self) -> pd.DataFrame:
        """The weighted posterior sample: ``particle``, one column per parameter, ``weight``, ``distance``."""
        g = self.final
        df = pd.DataFrame({"particle": np.arange(len(g.weights), dtype=np.int64)})
        for j, name in enumerate(self.parameter_names):
            df[name] = g.theta[:, j]
        df["weight"] = g.weights
        df["distance"] = g.distances
        return df

    def history_frame(self) -> pd.DataFrame:
        """One row per generation: tolerance, acceptance rate, ESS, proposals, simulations, seed."""
        rows = []
        cumulative = 0
        for g in self.generations:
            cumulative += g.simulations
            rows.append({
                "generation": g.index, "tolerance": g.tolerance, "tolerance_floor": self.tolerance_floor,
                "acceptance_rate": g.acceptance_rate, "ess": g.ess, "particles": len(g.weights),
                "proposals": g.proposals, "out_of_prior": g.out_of_prior, "simulations": g.simulations,
                "cumulative_simulations": cumulative, "rounds": g.rounds,
                "median_distance": weighted_quantile(g.distances, g.weights, 0.5),
                "simulator_seed": g.simulator_seed,
            })
        return pd.DataFrame(rows)

    def manifest(self) -> dict:
        """Settings, seeds, stopping, targets of the distance (JSON-ready; no wall times)."""
        return {
            "method": "ABC-SMC (escalation_sim.calibration.abc)",
            "config": asdict(self.config),
            "seed": int(self.config.seed),
            "seed_derivation": "numpy SeedSequence(seed, spawn_key=(generation, 0)) -> simulator seed; "
                               "(generation, 1, round) -> PCG64 Generator for proposals",
            "generation_seeds": [int(g.simulator_seed) for g in self.generations],
            "priors": [asdict(p) for p in self.priors],
            "distance": {
                "form": "sum over fit targets of 2 n' KL(observed || simulated) (multinomial deviance), plus z^2 for scalars",
                "degrees_of_freedom": self.df,
                "tolerance_floor": self.tolerance_floor,
                "floor_level": self.config.floor_level,
                "terms": self.distance_terms,
            },
            "stop_reason": self.stop_reason,
            "reached_floor": self.reached_floor,
            "generations": len(self.generations),
            "simulations": self.simulations,
            "final_tolerance": self.final.tolerance,
            "final_ess": self.final.ess,
        }


# --- seeds --------------------------------------------------------------------------------------------


def simulator_seed(seed: int, generation: int) -> int:
    """The common-random-numbers seed of a generation: a non-negative int64."""
    ss = np.random.SeedSequence(seed, spawn_key=(generation, 0))
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


def proposal_rng(seed: int, generation: int, round_: int) -> np.random.Generator:
    """The Generator of one round of proposals."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(generation, 1, round_))))


def derived_seed(seed: int, purpose: int, index: int = 0) -> int:
    """A further seed for other uses of the run (e.g. posterior predictive checks): spawn_key (purpose, index)."""
    ss = np.random.SeedSequence(seed, spawn_key=(1_000_000 + purpose, index))
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


# --- weighted statistics (deterministic, no BLAS) ----------------------------------------------------


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    """Smallest ``x`` whose cumulative weight (sorted by ``x``, ties by index) reaches ``q``."""
    x = np.asarray(x, float)
    w = np.asarray(w, float)
    order = np.argsort(x, kind="stable")
    cw = np.cumsum(w[order])
    cw = cw / cw[-1]
    i = int(np.searchsorted(cw, q, side="left"))
    return float(x[order[min(i, len(x) - 1)]])


def weighted_mean_cov(theta: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and covariance ``sum w (x - m)(x - m)^T`` (weights normalised)."""
    w = np.asarray(w, float) / np.sum(w)
    m = np.einsum("i,ij->j", w, theta)
    c = theta - m
    return m, np.einsum("i,ij,ik->jk", w, c, c)


def _chol(cov: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Cholesky factor of a covariance, with a small ridge if it is not positive definite."""
    cov = 0.5 * (cov + cov.T)
    for eps in (0.0, 1e-12, 1e-9, 1e-6, 1e-4):
        try:
            return np.linalg.cholesky(cov + np.diag(eps * scale**2))
        except np.linalg.LinAlgError:
            continue
    return np.diag(1e-2 * scale)


# --- kernels ------------------------------------------------------------------------------------------


def kernel_factors(theta: np.ndarray, w: np.ndarray, distances: np.ndarray, tolerance: float, kernel: str,
                   scale: np.ndarray) -> np.ndarray:
    """Cholesky factors of the perturbation kernel of each particle of the previous generation: ``(N, d, d)``."""
    n, d = theta.shape
    if kernel == "olcm":
        keep = distances <= tolerance
        if int(keep.sum()) >= d + 1:
            wk = w[keep] / np.sum(w[keep])
            m, cov = weighted_mean_cov(theta[keep], wk)
            out = np.empty((n, d, d))
            dev = m - theta
            for j in range(n):  # Sigma_j = Cov + (m - theta_j)(m - theta_j)^T
                out[j] = _chol(cov + np.outer(dev[j], dev[j]), scale)
            return out
        kernel = "mvn"  # too few particles within the new tolerance: fall back to the global kernel
    _, cov = weighted_mean_cov(theta, w)
    return np.broadcast_to(_chol(2.0 * cov, scale), (n, d, d)).copy()


def _log_mixture_density(x: np.ndarray, centres: np.ndarray, w: np.ndarray, chol: np.ndarray,
                         chunk: int = 256) -> np.ndarray:
    """``log sum_j w_j N(x_i; centres_j, L_j L_j^T)`` for every row of ``x``."""
    n, d = centres.shape
    linv = np.linalg.inv(chol)  # (n, d, d), each lower-triangular
    logdet = np.log(np.abs(np.einsum("jii->ji", chol))).sum(axis=1)  # log |L_j|
    logw = np.log(np.where(w > 0, w, 1.0)) + np.where(w > 0, 0.0, -np.inf)
    const = logw - logdet - 0.5 * d * _LOG_2PI
    out = np.empty(len(x))
    for s in range(0, len(x), chunk):
        xs = x[s:s + chunk]
        diff = xs[:, None, :] - centres[None, :, :]  # (m, n, d)
        z = np.einsum("jab,ijb->ija", linv, diff)
        lp = const[None, :] - 0.5 * np.einsum("ija,ija->ij", z, z)
        mx = lp.max(axis=1)
        out[s:s + chunk] = mx + np.log(np.sum(np.exp(lp - mx[:, None]), axis=1))
    return out


# --- simulation in batches ----------------------------------------------------------------------------


def _run_batch(simulate: Simulator, seed: int, theta: np.ndarray) -> dict[str, np.ndarray]:
    out = simulate(theta, seed)
    return {k: np.asarray(v) for k, v in out.items()}


def simulate_batches(simulate: Simulator, theta: np.ndarray, seed: int, outputs: Sequence[str], batches: int,
                     map_batches: MapBatches) -> dict[str, np.ndarray]:
    """Run ``theta`` through the simulator in ``batches`` contiguous chunks; join the outputs in order."""
    if len(theta) == 0:
        return {}
    chunks = [c for c in np.array_split(theta, min(batches, len(theta))) if len(c)]
    results = list(map_batches(partial(_run_batch, simulate, seed), chunks))
    if len(results) != len(chunks):
        raise SimulatorOutputError(f"map_batches returned {len(results)} results for {len(chunks)} batches")
    joined = {}
    for name in outputs:
        parts = []
        for c, r in zip(chunks, results, strict=True):
            if name not in r:
                raise SimulatorOutputError(f"simulator: output {name!r} missing; returned: {', '.join(sorted(r)) or 'nothing'}")
            if len(r[name]) != len(c):
                raise SimulatorOutputError(f"simulator: output {name!r} has {len(r[name])} rows for {len(c)} particles")
            parts.append(np.asarray(r[name], dtype=float))
        joined[name] = np.concatenate(parts, axis=0)
    return joined


# --- the sampler --------------------------------------------------------------------------------------


def _box(priors: Sequence[Prior]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([p.low for p in priors], float), np.array([p.high for p in priors], float)


def run_abc_smc(simulate: Simulator, priors: Sequence[Prior], distance: Distance, config: ABCConfig | None = None,
                map_batches: MapBatches | None = None, progress: Callable[[dict], None] | None = None) -> ABCResult:
    """Run ABC-SMC and return the weighted posterior sample with its history.

    Parameters
    ----------
    simulate : callable
        ``simulate(theta: ndarray (n, d), seed: int) -> {output: ndarray}`` (see :data:`Simulator`).
        Must be deterministic in ``(theta[i], seed)`` row by row: a particle's outputs may not depend on
        the other rows of the batch.
    priors : sequence of Prior
        Uniform priors; their order is the column order of ``theta``. At least one.
    distance : Distance
        Built from the targets (fit role) and the model's declared outputs.
    config : ABCConfig
    map_batches : callable, optional
        ``map_batches(fn, batches) -> list`` in order (:mod:`.parallel`: serial, threads, Dask). Default serial.
    progress : callable, optional
        Called with each generation's history row.
    """
    config = config or ABCConfig()
    config.validate()
    if not priors:
        raise CalibrationError("priors", "parameters", "no parameter to calibrate; allowed: one or more priors with low and high")
    map_batches = map_batches or serial_map
    lo, hi = _box(priors)
    width = hi - lo
    d = len(priors)
    n_pop = config.population_size
    outputs = distance.outputs
    floor = distance.floor(config.floor_level) if config.floor_level > 0 else 0.0
    result = ABCResult(priors=tuple(priors), config=config, generations=[], tolerance_floor=floor, df=distance.df,
                       stop_reason="", distance_terms=distance.describe())
    budget = config.max_simulations
    used = 0

    def over_budget(extra: int) -> bool:
        return budget is not None and used + extra > budget

    # generation 0: the prior
    t0 = time.perf_counter()
    rng = proposal_rng(config.seed, 0, 0)
    theta = lo + width * rng.random((n_pop, d))
    seed0 = simulator_seed(config.seed, 0)
    dist = distance(simulate_batches(simulate, theta, seed0, outputs, config.batches, map_batches))
    used += n_pop
    gen = Generation(0, math.inf, theta, np.full(n_pop, 1.0 / n_pop), dist, n_pop, 0, n_pop, seed0, 1)
    result.generations.append(gen)
    result.seconds.append(time.perf_counter() - t0)
    if progress:
        progress(result.history_frame().iloc[-1].to_dict())

    stop = ""
    for t in range(1, config.max_generations):
        prev = result.generations[-1]
        if prev.tolerance <= floor:
            stop = f"reached the tolerance floor ({floor:.4g}, chi-square {config.floor_level:g} quantile, {distance.df} df)"
            break
        if prev.acceptance_rate < config.min_acceptance_rate:
            stop = f"acceptance rate {prev.acceptance_rate:.4g} below min_acceptance_rate {config.min_acceptance_rate:g}"
            break
        eps = max(weighted_quantile(prev.distances, prev.weights, config.quantile), floor)
        if not math.isfinite(eps) or eps >= prev.tolerance:
            stop = f"tolerance stalled at {prev.tolerance:.4g} (the {config.quantile:g} quantile of the distances did not fall)"
            break
        t0 = time.perf_counter()
        chol = kernel_factors(prev.theta, prev.weights, prev.distances, eps, config.kernel, width)
        seed_t = simulator_seed(config.seed, t)
        acc_theta, acc_dist = [], []
        n_acc = proposals = outside = sims = 0
        r = 0
        aborted = False
        est = max(prev.acceptance_rate, config.min_acceptance_rate, 1e-3) if t > 1 else 0.5
        cap = config.max_round_size or 50 * n_pop
        min_round = max(1, n_pop // 10)  # fewer, larger simulator calls; wastes at most this many simulations
        while n_acc < n_pop:
            need = n_pop - n_acc
            if r == 0:
                m = config.round_size or n_pop
            else:  # size the round from the acceptance per proposal seen so far in this generation
                rate = n_acc / proposals if n_acc else est / 2
                m = int(min(cap, max(need, min_round, math.ceil(1.2 * need / max(rate, 1e-6)))))
            rng = proposal_rng(config.seed, t, r)
            pick = rng.choice(n_pop, size=m, p=prev.weights)
            z = rng.standard_normal((m, d))
            prop = prev.theta[pick] + np.einsum("mab,mb->ma", chol[pick], z)
            inside = np.all((prop >= lo) & (prop <= hi), axis=1)
            cand = prop[inside]
            if over_budget(len(cand)):
                aborted = True
                break
            dc = distance(simulate_batches(simulate, cand, seed_t, outputs, config.batches, map_batches)) if len(cand) else np.empty(0)
            used += len(cand)
            sims += len(cand)
            proposals += m
            outside += int(m - inside.sum())
            ok = np.flatnonzero(dc <= eps)[:need]
            acc_theta.append(cand[ok])
            acc_dist.append(dc[ok])
            n_acc += len(ok)
            r += 1
        if aborted:
            stop = f"simulation budget: the next round would exceed max_simulations = {budget} (generation {t} dropped)"
            break
        theta_t = np.concatenate(acc_theta)
        dist_t = np.concatenate(acc_dist)
        logq = _log_mixture_density(theta_t, prev.theta, prev.weights, chol)
        logw = -logq  # uniform prior: constant inside the box
        w = np.exp(logw - logw.max())
        w = w / w.sum()
        gen = Generation(t, eps, theta_t, w, dist_t, proposals, outside, sims, seed_t, r)
        result.generations.append(gen)
        result.seconds.append(time.perf_counter() - t0)
        if progress:
            progress(result.history_frame().iloc[-1].to_dict())
    else:
        last = result.generations[-1]
        if last.tolerance <= floor:
            stop = f"reached the tolerance floor ({floor:.4g}, chi-square {config.floor_level:g} quantile, {distance.df} df)"
        else:
            stop = f"max_generations = {config.max_generations} reached"
    if not stop:
        stop = "stopped"
    result.stop_reason = stop
    return result


__all__ = [
    "ABCConfig", "ABCResult", "Generation", "Simulator", "run_abc_smc", "simulator_seed", "proposal_rng",
    "derived_seed", "weighted_quantile", "weighted_mean_cov", "simulate_batches", "KERNELS",
]

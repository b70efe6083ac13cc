"""The distance between simulated outputs and the targets: a sum of multinomial deviances.

For a categorical target with observed distribution ``p`` over ``k`` cells from ``n`` cases and a
particle's simulated distribution ``q``::

    D = 2 n' sum_i p_i log(p_i / q_i)          (= 2 n' KL(p || q), the G statistic)

which is the likelihood-ratio (deviance) statistic of the observed counts ``n p`` under a multinomial
with probabilities ``q``. If the particle's ``q`` were the true distribution, ``D`` would be
approximately chi-square with ``k - 1`` degrees of freedom, whatever ``n`` and ``k``. So the targets
are weighed by the information they carry (a share of 486 crises pulls less than one of 2,436
disputes, and a 1-point miss on a 3% share costs more than on a 50% share), and the deviances of
independent targets add up to the deviance of all of them. A scalar target (value ``v`` with standard
error ``se``) adds ``z^2 = ((sim - v) / se)^2``, one degree of freedom.

``n'`` is ``n`` when the simulated shares are exact, and ``n R / (n + R)`` when they are estimated from
``R`` simulated crises per particle (``replications``): the variance of ``p - q`` is then
``p(1-p) (1/n + 1/R)``, and ``n'`` scales the deviance to it (the two-sample form).

The tolerance floor: ABC-SMC shrinks its tolerance generation by generation. Below the chi-square
quantile of the fit targets' degrees of freedom it would start treating the historical shares as
population values known without sampling error, and the posterior would shrink below what ``n``
cases can tell. :meth:`Distance.floor` is that quantile; :mod:`.abc` never goes below it.

Known simplifications (stated in docs/calibration-abc.md): the targets are treated as independent
(ICB crisis- and actor-level targets describe the same crises, so their information is overstated),
and coding error in the data sets is not modelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .targets import KnownOutputs, Target, TargetSet


class SimulatorOutputError(ValueError):
    """The simulator returned something other than the contract (shape, missing output, non-finite)."""


@dataclass(frozen=True)
class _Term:
    target: Target
    index: np.ndarray | None  # positions of the target's categories in the output's columns
    observed: np.ndarray
    n_prime: float
    df: int


def _columns(sim: Mapping[str, np.ndarray], output: str, n_particles: int, width: int | None) -> np.ndarray:
    if output not in sim:
        raise SimulatorOutputError(f"simulator: output {output!r} missing; returned: {', '.join(sorted(sim)) or 'nothing'}")
    a = np.asarray(sim[output], dtype=float)
    if width is None:  # scalar output: (n,) or (n, 1)
        if a.ndim == 2 and a.shape[1] == 1:
            a = a[:, 0]
        if a.shape != (n_particles,):
            raise SimulatorOutputError(f"simulator: output {output!r} has shape {a.shape}; expected ({n_particles},)")
    elif a.shape != (n_particles, width):
        raise SimulatorOutputError(f"simulator: output {output!r} has shape {a.shape}; expected ({n_particles}, {width})")
    return a


class Distance:
    """Sum of multinomial deviances (and squared z-scores of scalars) over the targets of some roles.

    Parameters
    ----------
    targets : TargetSet
        Validated targets.
    known_outputs : mapping
        Output name -> categories (in the simulator's column order) or None for a scalar.
    roles : tuple of str
        Which targets enter (default: the ``fit`` ones).
    replications : int, optional
        Simulated crises per particle behind the simulated shares (``n' = n R / (n + R)``).
    share_floor : float, optional
        Simulated shares are floored at this before the logarithm (default ``0.5 / R``, or ``1e-9`` when
        ``R`` is not given), so that a category the simulation never produced costs a large but finite
        amount.
    """

    def __init__(self, targets: TargetSet, known_outputs: KnownOutputs, roles: tuple[str, ...] = ("fit",),
                 replications: int | None = None, share_floor: float | None = None):
        self.known_outputs = {k: (tuple(v) if v is not None else None) for k, v in known_outputs.items()}
        self.replications = replications
        self.share_floor = share_floor if share_floor is not None else (0.5 / replications if replications else 1e-9)
        terms = []
        for t in targets.targets:
            if t.role not in roles:
                continue
            cats = self.known_outputs[t.output]
            n_prime = t.n_effective * replications / (t.n_effective + replications) if replications else float(t.n_effective)
            if t.kind == "scalar":
                terms.append(_Term(t, None, t.observed(), n_prime, 1))
            else:
                idx = np.array([cats.index(c) for c in t.categories], dtype=np.int64)
                df = len(t.categories) if t.partial else len(t.categories) - 1
                terms.append(_Term(t, idx, t.observed(), n_prime, df))
        if not terms:
            raise ValueError(f"{targets.path}: no target has role {' or '.join(roles)}; nothing to compare with")
        self._terms = tuple(terms)

    @property
    def targets(self) -> tuple[Target, ...]:
        return tuple(term.target for term in self._terms)

    @property
    def outputs(self) -> tuple[str, ...]:
        """Outputs the distance reads, in first-use order."""
        return tuple(dict.fromkeys(term.target.output for term in self._terms))

    @property
    def df(self) -> int:
        """Degrees of freedom of the summed deviance under the true parameters (large samples)."""
        return int(sum(term.df for term in self._terms))

    def floor(self, level: float = 0.95) -> float:
        """The ``level`` quantile of chi-square with :attr:`df` degrees of freedom."""
        return float(stats.chi2.ppf(level, self.df))

    def simulated_cells(self, target: Target, sim: Mapping[str, np.ndarray], n_particles: int) -> np.ndarray:
        """The simulated distribution over a target's cells (same layout as ``target.observed()``)."""
        cats = self.known_outputs[target.output]
        if target.kind == "scalar":
            return _columns(sim, target.output, n_particles, None)[:, None]
        a = _columns(sim, target.output, n_particles, len(cats))
        q = a[:, [cats.index(c) for c in target.categories]]
        if target.partial:
            q = np.concatenate([q, np.clip(1.0 - q.sum(axis=1, keepdims=True), 0.0, 1.0)], axis=1)
        return q

    def per_target(self, sim: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Each target's term (deviance or z^2) for every particle."""
        n_particles = None
        for out in self.outputs:
            if out in sim:
                n_particles = len(np.asarray(sim[out]))
                break
        if n_particles is None:
            raise SimulatorOutputError(f"simulator: none of the outputs {', '.join(self.outputs)} was returned")
        result = {}
        for term in self._terms:
            t = term.target
            q = self.simulated_cells(t, sim, n_particles)
            if not np.all(np.isfinite(q)):
                raise SimulatorOutputError(f"simulator: output {t.output!r} has non-finite values")
            if t.kind == "scalar":
                result[t.name] = ((q[:, 0] - t.value) / t.se) ** 2
                continue
            p = term.observed
            qf = np.maximum(q, self.share_floor)
            pos = p > 0
            terms = np.zeros_like(qf)
            terms[:, pos] = p[pos] * (np.log(p[pos]) - np.log(qf[:, pos]))
            result[t.name] = np.maximum(2.0 * term.n_prime * terms.sum(axis=1), 0.0)
        return result

    def __call__(self, sim: Mapping[str, np.ndarray]) -> np.ndarray:
        """The total distance of every particle (shape ``(n_particles,)``)."""
        parts = self.per_target(sim)
        total = np.zeros_like(next(iter(parts.values())))
        for name in parts:  # fixed order: the targets' order in the file
            total = total + parts[name]
        return total

    def describe(self) -> list[dict]:
        """One row per target: name, output, cells, n, n', degrees of freedom."""
        return [
            {"target": term.target.name, "output": term.target.output, "kind": term.target.kind,
             "cells": list(term.target.cells()), "n": term.target.n, "n_effective": term.target.n_effective,
             "n_prime": term.n_prime, "df": term.df}
            for term in self._terms
        ]


def share_deviance(observed: np.ndarray, q: np.ndarray, n: float, share_floor: float = 1e-9) -> np.ndarray:
    """``2 n sum p log(p / q)`` row by row (``observed`` (k,) or (m, k); ``q`` (m, k))."""
    p = np.atleast_2d(np.asarray(observed, float))
    qf = np.maximum(np.asarray(q, float), share_floor)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1.0)) - np.log(qf)), 0.0)
    return np.maximum(2.0 * n * t.sum(axis=1), 0.0)


__all__ = ["Distance", "SimulatorOutputError", "share_deviance", "TargetSet"]

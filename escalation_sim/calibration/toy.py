"""A toy simulator with the calibration contract, for tests, timing and as an example for the model side.

Six parameters on [-1, 1]. Each categorical output's shares are a softmax of linear functions of the
parameters; the scalar output is the median of a lognormal whose log-median is linear in them. The
"simulation" draws ``replications`` crises per particle with common random numbers: one set of
uniforms (and normals) from the seed, shared by every particle, classified by each particle's own
cumulative probabilities (inverse-CDF). So a particle's outputs depend only on its parameters and the
seed, as the contract requires, and two particles with nearly equal parameters get nearly equal shares.

The ICB-like outputs do not depend on the last parameter (``f``): fitted to them alone, ``f`` is not
identified, which the report must say.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .targets import Prior

PARAMETERS = ("a", "b", "c", "d", "e", "f")

OUTPUTS: dict[str, tuple[str, ...] | None] = {
    "icb_violence": ("none", "minor_clashes", "serious_clashes", "full_scale_war"),
    "icb_actor_outcome": ("victory", "compromise", "stalemate", "defeat"),
    "mid_hostility": ("threat", "display", "use_of_force", "war"),
    "duration_median_days": None,
}

# logits = B @ theta + c; rows are categories, columns parameters a..f (column f zero for the ICB outputs)
_B = {
    "icb_violence": np.array([
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [1.2, -0.4, 0.3, 0.0, 0.5, 0.0],
        [0.3, 1.1, -0.5, 0.4, 0.0, 0.0],
        [-0.6, 0.5, 1.3, -0.3, 0.2, 0.0],
    ]),
    "icb_actor_outcome": np.array([
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.4, 0.0, -0.3, 1.2, 0.3, 0.0],
        [-0.2, 0.6, 0.0, 0.3, 1.1, 0.0],
        [0.5, -0.3, 0.6, -0.4, -0.2, 0.0],
    ]),
    "mid_hostility": np.array([
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.3, 0.2, 0.0, 0.4, -0.3, 1.0],
        [0.5, 0.4, 0.3, 0.0, 0.2, 1.4],
        [-0.4, 0.3, 0.9, 0.2, 0.0, 0.8],
    ]),
}
_C = {
    "icb_violence": np.array([0.0, 0.1, -0.1, -0.2]),
    "icb_actor_outcome": np.array([0.0, -0.4, -0.4, -0.6]),
    "mid_hostility": np.array([0.0, 2.2, 3.1, 0.3]),
}
_DURATION = (4.2, np.array([0.3, -0.2, 0.0, 0.25, 0.0, 0.1]), 1.1)  # log-median intercept, slopes, log-sd


def priors(low: float = -1.0, high: float = 1.0) -> tuple[Prior, ...]:
    """Uniform priors on the box [low, high]^6."""
    return tuple(Prior(name, low, high, f"toy parameter {name}") for name in PARAMETERS)


def probabilities(theta: np.ndarray) -> dict[str, np.ndarray]:
    """Exact category probabilities of each categorical output, ``(n, k)``, and the exact median duration."""
    theta = np.atleast_2d(np.asarray(theta, float))
    out = {}
    for name, b in _B.items():
        z = np.einsum("kd,nd->nk", b, theta) + _C[name]
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        out[name] = e / e.sum(axis=1, keepdims=True)
    c0, slope, _ = _DURATION
    out["duration_median_days"] = np.exp(c0 + np.einsum("d,nd->n", slope, theta))
    return out


class ToySimulator:
    """``simulate(theta, seed)`` with ``replications`` simulated crises per particle (common random numbers)."""

    outputs = OUTPUTS

    def __init__(self, replications: int = 2000):
        self.replications = int(replications)

    def __call__(self, theta: np.ndarray, seed: int) -> dict[str, np.ndarray]:
        theta = np.atleast_2d(np.asarray(theta, float))
        p = probabilities(theta)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed))))
        out = {}
        for name in _B:
            u = np.sort(rng.random(self.replications))  # the same uniforms for every particle
            cum = np.cumsum(p[name], axis=1)
            cum[:, -1] = 1.0
            below = np.searchsorted(u, cum, side="right")  # crises with u <= cum_k
            counts = np.diff(np.concatenate([np.zeros((len(theta), 1), np.int64), below], axis=1), axis=1)
            out[name] = counts / self.replications
        c0, slope, sd = _DURATION
        zmed = float(np.median(rng.standard_normal(self.replications)))
        out["duration_median_days"] = np.exp(c0 + np.einsum("d,nd->n", slope, theta) + sd * zmed)
        return out


def fake_targets(theta_true: np.ndarray, n: Mapping[str, int], seed: int,
                 roles: Mapping[str, str] | None = None, duration_se: float | None = None) -> dict:
    """A target-file dict (as :func:`.targets.parse_targets` reads) drawn from the toy at ``theta_true``.

    Each categorical output in ``n`` gets multinomial counts of ``n[output]`` cases at the exact
    probabilities (sampling noise from ``seed``); ``duration_median_days``, if in ``n``, gets the exact
    median plus normal noise with standard error ``duration_se``.
    """
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed))))
    p = probabilities(np.asarray(theta_true, float)[None, :])
    roles = dict(roles or {})
    src = {"dataset": "toy", "version": "1", "unit": "simulated case", "codebook": "escalation_sim.calibration.toy"}
    targets = {}
    for name, k in n.items():
        if OUTPUTS[name] is None:
            se = duration_se if duration_se is not None else 0.05 * float(p[name][0])
            targets[name] = {"output": name, "role": roles.get(name, "fit"), "n": int(k),
                             "value": float(p[name][0] + se * rng.standard_normal()), "se": float(se), "source": src}
            continue
        counts = rng.multinomial(int(k), p[name][0])
        cats = OUTPUTS[name]
        targets[name] = {
            "output": name, "role": roles.get(name, "fit"), "n": int(k),
            "shares": {c: float(x) / k for c, x in zip(cats, counts, strict=True)},
            "counts": {c: int(x) for c, x in zip(cats, counts, strict=True)},
            "source": src,
        }
    return {"format_version": 1, "targets": targets}


__all__ = ["PARAMETERS", "OUTPUTS", "ToySimulator", "priors", "probabilities", "fake_targets"]

"""Counter-based random streams keyed by (seed, replication, stream).

Every random number of the model is ``uniform(keys, counters, stream)``: the
``counters[stream]``-th output of a splitmix64 sequence whose key is a hash of
``(seed, replication, stream)``. A draw therefore depends only on which stream
it comes from and how many draws that stream has made before — never on thread
scheduling, block size, shard or worker. There is no global random state.

splitmix64 (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number
generators", OOPSLA) passes BigCrush when used this way; its finaliser is the
``mix64`` below. Uniforms take the top 53 bits, so they lie in [0, 1) on a
grid of 2**-53 and are exact in both engines.

Both engines call these same compiled functions, so a draw is bit-identical in
the SimPy reference engine and in the Numba core.
"""

from __future__ import annotations

import numpy as np
from numba import njit

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_ONE = np.uint64(1)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53
_SEED_SALT = np.uint64(0x5EED0F5C1A55E5)  # separates seed hashing from stream hashing


@njit(cache=True)
def mix64(z: np.uint64) -> np.uint64:
    """splitmix64 finaliser: a bijective 64-bit hash."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def replication_key(seed: int, replication: int) -> np.uint64:
    """Key of one replication: a hash of (seed, replication)."""
    k = mix64(np.uint64(seed) ^ _SEED_SALT)
    return mix64(k + (np.uint64(replication) + _ONE) * GOLDEN)


@njit(cache=True)
def init_streams(seed: int, replication: int, keys: np.ndarray, counters: np.ndarray) -> None:
    """Fill ``keys[s]`` for every stream ``s`` of a replication and zero the counters."""
    base = replication_key(seed, replication)
    for s in range(keys.shape[0]):
        keys[s] = mix64(base ^ mix64((np.uint64(s) + _ONE) * GOLDEN))
        counters[s] = np.uint64(0)


@njit(cache=True)
def uniform_at(keys: np.ndarray, stream: int, count: np.uint64) -> float:
    """The ``count``-th uniform (``count`` = 1, 2, ...) of ``stream``: what :func:`uniform` returns when it
    advances the stream's counter to ``count``. A draw depends on nothing else, so a run can make a stream's
    draws ahead of time, in any order (the IPD kernel does, a match at a time)."""
    x = mix64(keys[stream] + count * GOLDEN)
    return float(x >> _S11) * _TO_UNIT


@njit(cache=True)
def uniform(keys: np.ndarray, counters: np.ndarray, stream: int) -> float:
    """Next uniform on [0, 1) of ``stream``; advances that stream's counter."""
    c = counters[stream] + _ONE
    counters[stream] = c
    return uniform_at(keys, stream, c)


@njit(cache=True)
def exponential(keys: np.ndarray, counters: np.ndarray, stream: int, mean: float) -> float:
    """Exponential variate with the given ``mean`` (one uniform, inverse CDF)."""
    if mean <= 0.0:
        return 0.0
    return -mean * np.log1p(-uniform(keys, counters, stream))

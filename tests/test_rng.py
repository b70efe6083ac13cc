"""Counter-based random streams (escalation_sim.model.rng)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from escalation_sim.model import rng
from escalation_sim.model.constants import N_STREAMS

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
M1 = 0xBF58476D1CE4E5B9
M2 = 0x94D049BB133111EB


# --- an independent pure-Python splitmix64 ------------------------------------
def py_mix64(z: int) -> int:
    z &= MASK
    z = ((z ^ (z >> 30)) * M1) & MASK
    z = ((z ^ (z >> 27)) * M2) & MASK
    return z ^ (z >> 31)


def _unxorshift(z: int, s: int) -> int:
    """Inverse of ``z ^ (z >> s)`` on 64 bits."""
    x = z
    for _ in range(64 // s + 1):
        x = z ^ (x >> s)
    return x & MASK


def py_unmix64(z: int) -> int:
    """Inverse of :func:`py_mix64` (the finaliser is a bijection)."""
    z = _unxorshift(z & MASK, 31)
    z = (z * pow(M2, -1, 1 << 64)) & MASK
    z = _unxorshift(z, 27)
    z = (z * pow(M1, -1, 1 << 64)) & MASK
    return _unxorshift(z, 30)


def py_uniform(key: int, counter: int) -> float:
    """The ``counter``-th uniform (1-based) of a stream with ``key``."""
    x = py_mix64((key + counter * GOLDEN) & MASK)
    return (x >> 11) / 2.0**53


def streams(seed: int, replication: int) -> tuple[np.ndarray, np.ndarray]:
    keys = np.zeros(N_STREAMS, dtype=np.uint64)
    ctr = np.full(N_STREAMS, 7, dtype=np.uint64)  # init_streams must zero these
    rng.init_streams(seed, replication, keys, ctr)
    return keys, ctr


def m64(z: int) -> int:
    return int(rng.mix64(np.uint64(z)))


# --- mix64 ----------------------------------------------------------------------
def test_mix64_matches_published_splitmix64_vectors():
    # splitmix64 seeded with 0 (Vigna's reference splitmix64.c / Java SplittableRandom):
    # outputs are mix64(k * GOLDEN) for k = 1, 2, 3.
    expected = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    assert [m64(k * GOLDEN & MASK) for k in (1, 2, 3)] == expected
    assert [py_mix64(k * GOLDEN & MASK) for k in (1, 2, 3)] == expected


@pytest.mark.parametrize(
    "z",
    [0, 1, 2, 0xFFFFFFFFFFFFFFFF, 0x8000000000000000, GOLDEN, 0x0123456789ABCDEF, 0xDEADBEEFCAFEBABE],
)
def test_mix64_matches_pure_python(z):
    assert m64(z) == py_mix64(z)


def test_mix64_fixed_points_and_edges():
    assert m64(0) == 0  # xorshift-multiply keeps 0
    assert m64(MASK) == 0xB4D055FCF2CBBD7B


@given(st.integers(min_value=0, max_value=MASK))
def test_mix64_matches_pure_python_property(z):
    assert m64(z) == py_mix64(z)
    assert py_unmix64(py_mix64(z)) == z  # sanity of the inverse used below


# --- uniforms ---------------------------------------------------------------------
def test_uniform_matches_pure_python_definition():
    keys, ctr = streams(42, 3)
    for s in range(N_STREAMS):
        k = int(keys[s])
        draws = [rng.uniform(keys, ctr, s) for _ in range(5)]
        assert draws == [py_uniform(k, c) for c in range(1, 6)]


@given(st.integers(0, 2**63 - 1), st.integers(0, 10**9), st.integers(1, 2**40))
def test_uniform_at_is_the_draw_at_that_count(seed, rep, count):
    """``uniform_at(keys, s, c)`` is the ``c``-th draw of stream ``s`` (what the IPD kernel makes ahead of time):
    the pure-Python definition at that count, and, for small counts, what ``uniform`` returns after ``c - 1``
    draws. An off-by-one in the count, or a count typed as a float, would break it."""
    keys, ctr = streams(seed, rep)
    s = count % N_STREAMS
    assert rng.uniform_at(keys, s, np.uint64(count)) == py_uniform(int(keys[s]), count)
    if count <= 50:
        for _ in range(count - 1):
            rng.uniform(keys, ctr, s)
        assert rng.uniform(keys, ctr, s) == rng.uniform_at(keys, s, np.uint64(count))


def test_replication_key_matches_pure_python():
    seed, rep = 12345, 6
    salt = 0x5EED0F5C1A55E5
    k = py_mix64(seed ^ salt)
    base = py_mix64((k + (rep + 1) * GOLDEN) & MASK)
    assert int(rng.replication_key(seed, rep)) == base
    keys, _ = streams(seed, rep)
    expected = [py_mix64(base ^ py_mix64(((s + 1) * GOLDEN) & MASK)) for s in range(N_STREAMS)]
    assert [int(x) for x in keys] == expected


def test_uniform_extremes_are_in_unit_interval():
    """Choose keys whose first draw hashes to 0 and to 2**64 - 1: the grid's ends."""
    keys = np.zeros(2, dtype=np.uint64)
    ctr = np.zeros(2, dtype=np.uint64)
    keys[0] = np.uint64((py_unmix64(0) - GOLDEN) & MASK)
    keys[1] = np.uint64((py_unmix64(MASK) - GOLDEN) & MASK)
    lo = rng.uniform(keys, ctr, 0)
    hi = rng.uniform(keys, ctr, 1)
    assert lo == 0.0
    assert hi == 1.0 - 2.0**-53
    assert hi < 1.0


@given(st.integers(0, 2**31), st.integers(0, 10_000), st.integers(0, N_STREAMS - 1))
def test_uniforms_lie_in_unit_interval_on_the_2_53_grid(seed, rep, s):
    keys, ctr = streams(seed, rep)
    for _ in range(50):
        u = rng.uniform(keys, ctr, s)
        assert 0.0 <= u < 1.0
        assert (u * 2.0**53).is_integer()


def test_uniform_mean_and_variance():
    # CLT, n = 100k, 99.9% two-sided (z = 3.29):
    #   mean of U: Var(U) = 1/12 -> SE = 9.1e-4, tolerance 3.0e-3;
    #   mean of U**2: E = 1/3, Var(U**2) = 1/5 - 1/9 = 4/45 -> SE = 9.4e-4, tolerance 3.1e-3.
    keys, ctr = streams(7, 0)
    n = 100_000
    u = np.array([rng.uniform(keys, ctr, 4) for _ in range(n)])
    assert abs(u.mean() - 0.5) < 3.29 * math.sqrt(1 / 12 / n)
    assert abs((u**2).mean() - 1 / 3) < 3.29 * math.sqrt(4 / 45 / n)


# --- streams ------------------------------------------------------------------------
def test_init_streams_zeroes_counters():
    _, ctr = streams(1, 1)
    assert ctr.tolist() == [0] * N_STREAMS


def test_keys_differ_across_seed_replication_stream():
    seen = {}
    for seed in range(8):
        for rep in range(8):
            keys, _ = streams(seed, rep)
            for s in range(N_STREAMS):
                seen[(seed, rep, s)] = int(keys[s])
    assert len(set(seen.values())) == len(seen) == 8 * 8 * N_STREAMS


def test_first_draws_differ_across_seed_replication_stream():
    firsts = set()
    combos = [(seed, rep) for seed in (0, 1, 2**31) for rep in (0, 1, 1000)]
    for seed, rep in combos:
        keys, ctr = streams(seed, rep)
        for s in range(N_STREAMS):
            firsts.add(rng.uniform(keys, ctr, s))
    assert len(firsts) == len(combos) * N_STREAMS


def test_seed_and_replication_are_not_interchangeable():
    a, _ = streams(1, 2)
    b, _ = streams(2, 1)
    assert not np.array_equal(a, b)


def test_counter_advances_by_one_per_draw_and_only_its_stream():
    keys, ctr = streams(3, 9)
    for i in range(1, 6):
        rng.uniform(keys, ctr, 2)
        assert int(ctr[2]) == i
    rng.exponential(keys, ctr, 5, 3.0)
    assert int(ctr[5]) == 1
    assert [int(c) for j, c in enumerate(ctr) if j not in (2, 5)] == [0] * (N_STREAMS - 2)


def test_exponential_with_non_positive_mean_is_zero_and_draws_nothing():
    keys, ctr = streams(3, 9)
    assert rng.exponential(keys, ctr, 1, 0.0) == 0.0
    assert rng.exponential(keys, ctr, 1, -2.0) == 0.0
    assert int(ctr[1]) == 0


def test_exponential_is_inverse_cdf_of_the_uniform():
    keys, ctr = streams(11, 0)
    k = int(keys[6])
    x = [rng.exponential(keys, ctr, 6, 2.5) for _ in range(5)]
    assert x == pytest.approx([-2.5 * math.log1p(-py_uniform(k, c)) for c in range(1, 6)], rel=1e-15)


def test_exponential_mean_within_clt_interval():
    # Exp(mean) has sd = mean, so the sample mean of n draws has SE = mean / sqrt(n).
    # 99.9% two-sided normal interval: |xbar - mean| < 3.29 * mean / sqrt(n)
    # (n = 200k -> 0.74% of the mean). A fixed seed makes this deterministic.
    mean, n = 4.0, 200_000
    keys, ctr = streams(2024, 17)
    x = np.array([rng.exponential(keys, ctr, 0, mean) for _ in range(n)])
    assert abs(x.mean() - mean) < 3.29 * mean / math.sqrt(n)
    assert x.min() >= 0.0
    # median of Exp(mean) is mean*ln2; the sample median's SE is ~ mean / sqrt(n) (density 1/(2 mean)
    # at the median -> SE = 1 / (2 f sqrt(n)) = mean / sqrt(n)); same 3.29 factor.
    assert abs(np.median(x) - mean * math.log(2)) < 3.29 * mean / math.sqrt(n)


# --- no global state ---------------------------------------------------------------
def test_same_keys_give_same_draws():
    k1, c1 = streams(99, 4)
    a = [rng.uniform(k1, c1, 1) for _ in range(20)]
    # draw from unrelated streams and a different replication in between
    k2, c2 = streams(5, 5)
    _ = [rng.uniform(k2, c2, s) for s in range(N_STREAMS)]
    k3, c3 = streams(99, 4)
    b = [rng.uniform(k3, c3, 1) for _ in range(20)]
    assert a == b


def test_draws_depend_only_on_stream_and_counter_not_interleaving():
    k1, c1 = streams(8, 8)
    seq = [rng.uniform(k1, c1, 3) for _ in range(10)]
    k2, c2 = streams(8, 8)
    inter = []
    for i in range(10):
        rng.uniform(k2, c2, 0)  # other streams advance in between
        if i % 2:
            rng.exponential(k2, c2, 4, 1.0)
        inter.append(rng.uniform(k2, c2, 3))
    assert inter == seq


def test_counter_resume_reproduces_draw():
    """A draw is a pure function of (key, counter): resetting the counter replays it."""
    keys, ctr = streams(0, 0)
    first = [rng.uniform(keys, ctr, 7) for _ in range(3)]
    ctr[7] = np.uint64(1)
    assert [rng.uniform(keys, ctr, 7) for _ in range(2)] == first[1:]

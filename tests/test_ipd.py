"""The iterated prisoner's dilemma special case (issue 6, part 1).

* one test class per strategy: its catalogue entry (classifier, references) and
  scripted opponents, as the Axelrod library tests its strategies;
* the SimPy engine and the compiled kernel play the same moves and scores for
  every strategy pair; serial and parallel kernels, and any block size, give
  identical totals;
* exact values from the Markov chain of memory-one pairs, computed here from
  the transition matrix (numpy linear algebra, independent of the simulator);
* agreement with the Axelrod library (move for move without noise; in
  distribution with noise).

Tolerances of the statistical checks: the simulator's estimate is a mean over
independent matches, so by the central limit theorem it is within
``Z * SE`` of its expectation, with ``SE`` the replication-level standard
error. ``Z = 4`` (two-sided 6e-5 per check): over the ~60 checks of this file
the family-wise false-alarm rate is below 0.4% (Bonferroni), yet the checks
detect errors of a few hundredths (``test_markov_check_has_power``). Seeds are
fixed, so every run gives the same numbers.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from escalation_sim.cli import main
from escalation_sim.errors import ConfigError
from escalation_sim.ipd import model as ipd
from escalation_sim.ipd import montecarlo as mc
from escalation_sim.ipd.config import load_ipd_scenario
from escalation_sim.ipd.simpy_engine import simulate_match
from escalation_sim.pipeline.experiment import load_experiment

Z = 4.0
NAMES = ipd.IPD_STRATEGY_NAMES
PAYOFFS = (3.0, 0.0, 5.0, 1.0)  # R, S, T, P


def game(a: str, b: str, turns: int = 50, noise: float = 0.0, **params) -> ipd.IPDGame:
    return ipd.IPDGame((a, b), turns=turns, noise=noise, params=params)


def versus(name: str, opponent: str, params: dict | None = None, draws=None) -> str:
    """Intended moves of ``name`` against a scripted opponent (a string of C/D), without noise.

    Calls the compiled rules both engines use. ``draws`` are the decision
    uniforms (default 0.5 each round).
    """
    spec = ipd.IPD_BY_NAME[name]
    prm = ipd.strategy_params(name, params or {}, PAYOFFS)
    h = np.zeros(ipd.N_HIST, dtype=np.int64)
    ipd.init_state(spec.sid, prm, h)
    out = []
    for t, o in enumerate(opponent):
        u = 0.5 if draws is None else draws[t]
        a = ipd.decide(spec.sid, prm, h, u)
        out.append("CD"[a])
        ipd.update_state(spec.sid, prm, h, a, "CD".index(o))
    return "".join(out)


# --- one class per strategy ---------------------------------------------------------
class StrategyTest:
    name = ""
    classifier: dict = {}
    references: tuple = ()

    def test_catalogue(self):
        s = ipd.IPD_BY_NAME[self.name]
        assert s.classifier == self.classifier
        assert set(self.references) <= set(s.references)
        for key in s.references:
            assert ipd.reference(key)
        assert s.summary and s.short


class TestTitForTat(StrategyTest):
    name = "tit_for_tat"
    classifier = {"memory": 1, "stochastic": False, "memory_one": True}
    references = ("axelrod_1984",)

    def test_versus(self):
        assert versus(self.name, "CCCCC") == "CCCCC"
        assert versus(self.name, "DDDDD") == "CDDDD"
        assert versus(self.name, "CDCDD") == "CCDCD"


class TestGenerousTitForTat(StrategyTest):
    name = "generous_tit_for_tat"
    classifier = {"memory": 1, "stochastic": True, "memory_one": True}
    references = ("molander_1985",)

    def test_molander_generosity(self):
        # min(1 - (T-R)/(R-S), (R-P)/(T-P)) = min(1/3, 1/2) for 3, 0, 5, 1
        assert ipd.molander_generosity(*PAYOFFS) == pytest.approx(1 / 3)
        assert ipd.strategy_params(self.name, {}, PAYOFFS)[0] == pytest.approx(1 / 3)
        assert ipd.molander_generosity(4.0, 0.0, 5.0, 1.0) == pytest.approx(0.75)  # min(1 - 1/4, 3/4)
        assert ipd.strategy_params(self.name, {"generosity": 0.1}, PAYOFFS)[0] == 0.1

    def test_versus(self):
        # after a defection: cooperates when the draw is below the generosity (1/3), else defects
        assert versus(self.name, "DDDD", draws=[0.9, 0.2, 0.9, 0.34]) == "CCDD"
        assert versus(self.name, "CCCC", draws=[0.99] * 4) == "CCCC"
        assert versus(self.name, "DDD", params={"generosity": 1.0}, draws=[0.99] * 3) == "CCC"


class TestWinStayLoseShift(StrategyTest):
    name = "win_stay_lose_shift"
    classifier = {"memory": 1, "stochastic": False, "memory_one": True}
    references = ("nowak_sigmund_1993",)

    def test_versus(self):
        # C first; after CC stay (C), after CD shift (D), after DD shift (C), after DC stay (D)
        assert versus(self.name, "CDDCC") == "CCDCC"
        assert versus(self.name, "CDCC") == "CCDD"
        assert versus(self.name, "DDDDDD") == "CDCDCD"


class TestGrudger(StrategyTest):
    name = "grudger"
    classifier = {"memory": None, "stochastic": False, "memory_one": False}
    references = ("friedman_1971",)

    def test_versus(self):
        assert versus(self.name, "CCCDCCCC") == "CCCCDDDD"
        assert versus(self.name, "CCCCC") == "CCCCC"


class TestAlwaysCooperate(StrategyTest):
    name = "always_cooperate"
    classifier = {"memory": 0, "stochastic": False, "memory_one": True}
    references = ("axelrod_1984",)

    def test_versus(self):
        assert versus(self.name, "DDCDC") == "CCCCC"


class TestAlwaysDefect(StrategyTest):
    name = "always_defect"
    classifier = {"memory": 0, "stochastic": False, "memory_one": True}
    references = ("axelrod_1984",)

    def test_versus(self):
        assert versus(self.name, "CCDCC") == "DDDDD"


class TestRandom(StrategyTest):
    name = "random"
    classifier = {"memory": 0, "stochastic": True, "memory_one": True}
    references = ("axelrod_1984",)

    def test_versus(self):
        assert versus(self.name, "CCCC", draws=[0.1, 0.6, 0.49, 0.5]) == "CDCD"
        assert versus(self.name, "CCC", params={"p_cooperate": 0.7}, draws=[0.69, 0.7, 0.0]) == "CDC"


class TestGRIT(StrategyTest):
    name = "grit"
    classifier = {"memory": None, "stochastic": False, "memory_one": False}
    references = ("osgood_1962",)

    def test_versus(self):
        # k unilateral concessions whatever the opponent does, then tit-for-tat
        assert versus(self.name, "DDDDDD") == "CCCDDD"
        assert versus(self.name, "DDDCDC", params={"initiative": 2}) == "CCDDCD"
        assert versus(self.name, "DDD", params={"initiative": 0}) == versus("tit_for_tat", "DDD")


class TestGRITRenewing(StrategyTest):
    name = "grit_renewing"
    classifier = {"memory": None, "stochastic": False, "memory_one": False}
    references = ("osgood_1962",)

    def test_versus(self):
        # initiative 2, deadlock 2: CC, then TFT (D, D: two mutual defections), then a new initiative CC, ...
        assert versus(self.name, "D" * 10, params={"initiative": 2, "deadlock": 2}) == "CCDDCCDDCC"
        # a reply to the initiative ends the deadlock count: plain TFT afterwards
        assert versus(self.name, "DDCCCC", params={"initiative": 2, "deadlock": 2}) == "CCDCCC"


def test_catalogue_complete():
    assert set(NAMES) == {c.name for c in StrategyTest.__subclasses__()}
    assert len({s.sid for s in ipd.IPD_STRATEGIES}) == len(NAMES)


# --- validation of settings ----------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"players": ("tit_for_tat", "pavlov")}, "players"),
        ({"turns": 0}, "turns"),
        ({"noise": 0.6}, "noise"),
        ({"payoffs": (3.0, 0.0, 2.0, 1.0)}, "payoffs"),  # T < R: not a prisoner's dilemma
        ({"payoffs": (3.0, 0.0, 7.0, 1.0)}, "payoffs"),  # 2R < T + S
        ({"params": {"random": {"p_cooperate": 1.5}}}, "strategy.random.p_cooperate"),
        ({"params": {"grit": {"initiative": 2.5}}}, "strategy.grit.initiative"),
        ({"params": {"tit_for_tat": {"generosity": 0.1}}}, "strategy.tit_for_tat.generosity"),
        ({"params": {"pavlov": {}}}, "strategy.pavlov"),
    ],
)
def test_invalid_games(kwargs, field):
    args = {"players": ("tit_for_tat", "grudger"), **kwargs}
    with pytest.raises(ipd.IPDError) as exc:
        ipd.IPDGame(**args)
    assert exc.value.field == field


# --- one rule set, two engines ---------------------------------------------------------
def test_simpy_equals_kernel_for_every_pair():
    """Same moves (intended and played) and same scores, every ordered strategy pair, with noise."""
    for a, b in itertools.product(NAMES, repeat=2):
        g = game(a, b, turns=30, noise=0.1)
        counts = mc.match_counts(g, 11, range(3))
        for rep in range(3):
            res = simulate_match(g, seed=11, replication=rep)
            assert np.array_equal(res.moves, mc.match_moves(g, 11, rep)), (a, b, rep)
            assert np.array_equal(res.counts, counts[rep]), (a, b, rep)
            assert np.array_equal(res.scores, ipd.scores_from_counts(counts[rep], g.payoffs))


def test_a_match_s_draws_made_ahead_are_the_round_by_round_draws():
    """The kernel makes a match's draws before its first round (``fill_draws``); the SimPy engine draws them round
    by round (``draws``). Same streams, same counts: the same numbers, and the counters end where they would."""
    from escalation_sim.model.rng import init_streams

    keys = np.zeros(ipd.N_STREAMS, dtype=np.uint64)
    ctr = np.zeros(ipd.N_STREAMS, dtype=np.uint64)
    init_streams(7, 3, keys, ctr)
    ahead = np.empty((ipd.N_STREAMS, 25))
    ipd.fill_draws(keys, ctr.copy(), 25, ahead)
    for t in range(25):
        for player in (0, 1):
            u, n = ipd.draws(keys, ctr, player)
            assert u == ahead[ipd.S_DECIDE + player, t] and n == ahead[ipd.S_NOISE + player, t]
    after = np.zeros(ipd.N_STREAMS, dtype=np.uint64)
    init_streams(7, 3, keys, after)
    ipd.fill_draws(keys, after, 25, ahead)
    np.testing.assert_array_equal(after, ctr)  # 25 draws on each stream, as round by round


def test_simpy_trace():
    res = simulate_match(game("tit_for_tat", "always_defect", turns=4), seed=1)
    assert list(res.trace["move_0"]) == ["C", "D", "D", "D"]
    assert list(res.trace["payoff_0"]) == [0.0, 1.0, 1.0, 1.0] and list(res.trace["payoff_1"]) == [5.0, 1.0, 1.0, 1.0]
    assert res.totals()["total_score_0"] == 3.0 and res.totals()["total_score_1"] == 8.0
    assert res.totals()["score_per_round_1"] == 2.0


def test_serial_parallel_and_block_size_identical():
    g = game("generous_tit_for_tat", "win_stay_lose_shift", turns=40, noise=0.05)
    blocks = np.arange(5)
    ser = mc.run_blocks(g, 3, blocks, 16, 77, parallel=False)
    par1 = mc.run_blocks(g, 3, blocks, 16, 77, parallel=True, threads=1)
    par2 = mc.run_blocks(g, 3, blocks, 16, 77, parallel=True, threads=min(2, mc.max_threads()))
    for x in (par1, par2):
        assert all(np.array_equal(u, v) for u, v in zip(ser, x, strict=True))
    t7 = mc.run_match(g, 77, 3, block_size=7, threads=1)
    t64 = mc.run_match(g, 77, 3, block_size=64, threads=min(2, mc.max_threads()))
    assert t7.sum_n == t64.sum_n and t7.sum_nn == t64.sum_nn and t7.n == t64.n == 77
    per_rep = mc.match_counts(g, 3, range(77))  # an independent path: replication by replication
    assert t7.sum_n == per_rep.sum(axis=0).tolist()
    assert t7.sum_nn == (per_rep.T @ per_rep).tolist()


def test_seeds():
    g = game("random", "generous_tit_for_tat", turns=30, noise=0.1)
    assert np.array_equal(mc.match_counts(g, 5, range(4)), mc.match_counts(g, 5, range(4)))
    assert not np.array_equal(mc.match_counts(g, 5, range(4)), mc.match_counts(g, 6, range(4)))


def test_estimates_match_numpy():
    g = game("tit_for_tat", "random", turns=25, noise=0.05)
    counts = mc.match_counts(g, 2, range(300))
    s = mc.summarize(g, mc.run_match(g, 300, 2, block_size=64, threads=1))
    coop = (2 * counts[:, 0] + counts[:, 1] + counts[:, 2]) / 50
    score1 = counts @ np.array([3.0, 5.0, 0.0, 1.0]) / 25
    assert s["cooperation"] == pytest.approx(coop.mean(), rel=1e-12)
    assert s["cooperation_se"] == pytest.approx(coop.std(ddof=1) / math.sqrt(300), rel=1e-9)
    assert s["score_1"] == pytest.approx(score1.mean(), rel=1e-12)
    assert s["score_1_se"] == pytest.approx(score1.std(ddof=1) / math.sqrt(300), rel=1e-9)
    assert s["n_CC"] + s["n_CD"] + s["n_DC"] + s["n_DD"] == 300 * 25


# --- exact values from the Markov chain of memory-one pairs -----------------------------
# Memory-one strategies as (P(C) first round, P(C | own last, opponent's last) for CC, CD, DC, DD), from their
# definitions in the literature (Nowak & Sigmund 1993; Molander 1985), written here independently of ipd.py.
G = min(1 - (5 - 3) / (3 - 0), (3 - 1) / (5 - 1))  # Molander's generosity, 1/3
MEMORY_ONE = {
    "tit_for_tat": (1.0, (1.0, 0.0, 1.0, 0.0)),
    "generous_tit_for_tat": (1.0, (1.0, G, 1.0, G)),
    "win_stay_lose_shift": (1.0, (1.0, 0.0, 0.0, 1.0)),
    "always_cooperate": (1.0, (1.0, 1.0, 1.0, 1.0)),
    "always_defect": (0.0, (0.0, 0.0, 0.0, 0.0)),
    "random": (0.5, (0.5, 0.5, 0.5, 0.5)),
}
SWAP = (0, 2, 1, 3)  # state (a0, a1) seen by player 1
COOP = np.array([1.0, 0.5, 0.5, 0.0])  # share of cooperative moves in state CC, CD, DC, DD
PAY0 = np.array([3.0, 0.0, 5.0, 1.0])
PAY1 = np.array([3.0, 5.0, 0.0, 1.0])


def _noisy(p, eps):
    return p * (1 - eps) + (1 - p) * eps


def chain(a: str, b: str, eps: float):
    """Initial distribution and 4x4 transition matrix over the states CC, CD, DC, DD of a noisy memory-one pair."""
    (f0, v0), (f1, v1) = MEMORY_ONE[a], MEMORY_ONE[b]
    q0, q1 = _noisy(f0, eps), _noisy(f1, eps)
    mu = np.array([q0 * q1, q0 * (1 - q1), (1 - q0) * q1, (1 - q0) * (1 - q1)])
    M = np.zeros((4, 4))
    for s in range(4):
        c0, c1 = _noisy(v0[s], eps), _noisy(v1[SWAP[s]], eps)
        M[s] = [c0 * c1, c0 * (1 - c1), (1 - c0) * c1, (1 - c0) * (1 - c1)]
    return mu, M


def stationary(M: np.ndarray) -> np.ndarray:
    """Stationary distribution: solve pi (M - I) = 0 with sum(pi) = 1 (least squares on the stacked system)."""
    A = np.vstack([M.T - np.eye(4), np.ones(4)])
    pi, *_ = np.linalg.lstsq(A, np.array([0, 0, 0, 0, 1.0]), rcond=None)
    return pi


def expected_over(mu: np.ndarray, M: np.ndarray, turns: int) -> np.ndarray:
    """Mean state distribution over rounds 1..turns (exact finite-horizon expectation)."""
    acc = np.zeros(4)
    d = mu.copy()
    for _ in range(turns):
        acc += d
        d = d @ M
    return acc / turns


@pytest.mark.parametrize("eps", [0.001, 0.01, 0.05, 0.1, 0.25, 0.4, 0.49])
def test_noisy_tft_pair_cooperates_half_in_the_long_run(eps):
    """Axelrod (1984), Molander (1985): noisy TFT vs TFT -> cooperation 1/2, for any epsilon in (0, 1/2)."""
    pi = stationary(chain("tit_for_tat", "tit_for_tat", eps)[1])
    assert pi @ COOP == pytest.approx(0.5, abs=1e-12)
    assert pi == pytest.approx(np.full(4, 0.25), abs=1e-12)


MARKOV_CASES = [
    ("tit_for_tat", "tit_for_tat", 0.05),
    ("tit_for_tat", "win_stay_lose_shift", 0.05),
    ("win_stay_lose_shift", "win_stay_lose_shift", 0.02),
    ("generous_tit_for_tat", "tit_for_tat", 0.1),
    ("generous_tit_for_tat", "generous_tit_for_tat", 0.05),
    ("generous_tit_for_tat", "win_stay_lose_shift", 0.01),
    ("win_stay_lose_shift", "always_defect", 0.05),
    ("tit_for_tat", "random", 0.1),
    ("always_cooperate", "always_defect", 0.1),
]


@pytest.mark.parametrize("a, b, eps", MARKOV_CASES, ids=lambda x: str(x))
def test_markov_chain_values(a, b, eps):
    """Simulated mean cooperation and scores over 400 matches x 500 rounds vs the chain's exact expectation."""
    turns, reps = 500, 400
    mu, M = chain(a, b, eps)
    exact = expected_over(mu, M, turns)
    s = mc.summarize(game(a, b, turns, eps), mc.run_match(game(a, b, turns, eps), reps, 2024))
    for stat, vec in (("cooperation", COOP), ("score_0", PAY0), ("score_1", PAY1)):
        assert abs(s[stat] - exact @ vec) <= Z * s[f"{stat}_se"] + 1e-12, (stat, s[stat], exact @ vec, s[f"{stat}_se"])
    # the long-run (stationary) value: within the interval widened by the exact transient |E_T - pi|
    pi = stationary(M)
    bias = abs(exact @ COOP - pi @ COOP)
    assert abs(s["cooperation"] - pi @ COOP) <= Z * s["cooperation_se"] + bias + 1e-12


def test_long_run_tft_pair_simulated():
    """Many rounds: noisy TFT vs TFT's simulated cooperation is 1/2 up to the stated interval and the transient."""
    g = game("tit_for_tat", "tit_for_tat", turns=4000, noise=0.05)
    s = mc.summarize(g, mc.run_match(g, 300, 7))
    mu, M = chain("tit_for_tat", "tit_for_tat", 0.05)
    bias = abs(expected_over(mu, M, 4000) @ COOP - 0.5)
    assert bias < 0.002
    assert abs(s["cooperation"] - 0.5) <= Z * s["cooperation_se"] + bias


def test_markov_check_has_power():
    """The check rejects a slightly wrong model: GTFT vs TFT at noise 0.1 with generosity 0.25 instead of 1/3."""
    turns, reps, eps = 500, 400, 0.1
    s = mc.summarize(game("generous_tit_for_tat", "tit_for_tat", turns, eps),
                     mc.run_match(game("generous_tit_for_tat", "tit_for_tat", turns, eps), reps, 2024))
    saved = MEMORY_ONE["generous_tit_for_tat"]
    try:
        MEMORY_ONE["generous_tit_for_tat"] = (1.0, (1.0, 0.25, 1.0, 0.25))
        wrong = expected_over(*chain("generous_tit_for_tat", "tit_for_tat", eps), turns) @ COOP
    finally:
        MEMORY_ONE["generous_tit_for_tat"] = saved
    assert abs(s["cooperation"] - wrong) > Z * s["cooperation_se"]


# --- the Axelrod library ---------------------------------------------------------------
_AXL = []


def _axl():
    """The axelrod module (skip if it is not installed), imported once.

    Importing axelrod 4.14 takes ~18 s here: it classifies ~1,000 strategy
    variants by reading their source with ``inspect.getsource``, the same
    functions many times over. For the duration of the import, a cache returns
    the same text for the same function (~8 s).
    """
    if not _AXL:
        import functools
        import inspect

        original = inspect.getsource
        cached = functools.lru_cache(maxsize=None)(original)

        def getsource(obj):
            try:
                return cached(getattr(obj, "__func__", obj))
            except TypeError:  # unhashable
                return original(obj)

        inspect.getsource = getsource
        try:
            _AXL.append(pytest.importorskip("axelrod"))
        finally:
            inspect.getsource = original
    return _AXL[0]


AXL_NAMES = {
    "tit_for_tat": "TitForTat",
    "generous_tit_for_tat": "GTFT",
    "win_stay_lose_shift": "WinStayLoseShift",
    "grudger": "Grudger",
    "always_cooperate": "Cooperator",
    "always_defect": "Defector",
    "random": "Random",
}
DETERMINISTIC = ["tit_for_tat", "win_stay_lose_shift", "grudger", "always_cooperate", "always_defect"]


def _axl_match(axl, a, b, turns, noise, seed):
    m = axl.Match((getattr(axl, AXL_NAMES[a])(), getattr(axl, AXL_NAMES[b])()), turns=turns, noise=noise, seed=seed)
    return m, m.play()


def test_axelrod_same_moves_without_noise():
    """Deterministic pairs play the same moves as axelrod (and GTFT against the nice ones, which never defect first)."""
    axl = _axl()
    nice = ["tit_for_tat", "win_stay_lose_shift", "grudger", "always_cooperate"]
    pairs = [*itertools.product(DETERMINISTIC, repeat=2), *(("generous_tit_for_tat", b) for b in nice)]
    for a, b in pairs:
        _, plays = _axl_match(axl, a, b, 20, 0, 1)
        ours = mc.match_moves(game(a, b, 20), 1, 0)
        theirs = np.array([[int(x == axl.Action.D), int(y == axl.Action.D)] for x, y in plays])
        assert np.array_equal(ours[:, [1, 3]], theirs), (a, b)


AXL_CASES = [
    ("tit_for_tat", "tit_for_tat"),
    ("tit_for_tat", "win_stay_lose_shift"),
    ("generous_tit_for_tat", "tit_for_tat"),
    ("win_stay_lose_shift", "win_stay_lose_shift"),
    ("grudger", "generous_tit_for_tat"),
    ("random", "tit_for_tat"),
    ("win_stay_lose_shift", "always_defect"),
]


@pytest.mark.parametrize("noise", [0.02, 0.1])
def test_axelrod_agreement_with_noise(noise):
    """Mean cooperation and per-round scores agree with axelrod's within Z * sqrt(SE_ours^2 + SE_axelrod^2)."""
    axl = _axl()
    turns, n_axl, n_ours = 60, 300, 20000
    for a, b in AXL_CASES:
        rows = []
        for seed in range(n_axl):
            m, _ = _axl_match(axl, a, b, turns, noise, seed)
            c0, c1 = m.normalised_cooperation()
            s0, s1 = m.final_score_per_turn()
            rows.append((0.5 * (c0 + c1), s0, s1))
        theirs = pd.DataFrame(rows, columns=["cooperation", "score_0", "score_1"])
        g = game(a, b, turns, noise)
        ours = mc.summarize(g, mc.run_match(g, n_ours, 99))
        for stat in theirs.columns:
            se = math.hypot(ours[f"{stat}_se"], theirs[stat].std(ddof=1) / math.sqrt(n_axl))
            assert abs(ours[stat] - theirs[stat].mean()) <= Z * se + 1e-12, (a, b, noise, stat, ours[stat], theirs[stat].mean())


# --- files and command line ----------------------------------------------------------------
def test_scenario_and_experiment_files(repo_root):
    g = load_ipd_scenario(repo_root / "experiments" / "ipd-noisy.toml")
    assert g.players == ("tit_for_tat", "tit_for_tat") and g.noise == 0.05
    exp = load_experiment(repo_root / "experiments" / "ipd-tournament.toml")
    k = len(exp.strategies)
    assert exp.form == "ipd" and len(exp.cells) == 4 * k * (k + 1) // 2
    with pytest.raises(ConfigError, match="ipd.noise"):
        load_ipd_scenario(repo_root / "experiments" / "ipd-noisy.toml", {"ipd.noise": 0.9})


def _write(tmp_path, body: str, scenario: str = 'players = ["tit_for_tat", "grudger"]\nturns = 20\nnoise = 0.1\n'):
    (tmp_path / "s.toml").write_text("[ipd]\n" + scenario)
    p = tmp_path / "e.toml"
    p.write_text('[experiment]\nname = "t"\nscenario = "s.toml"\nreplications = 50\nseed = 3\nblock_size = 16\n' + body)
    return p


def test_cli_run_and_simulate(tmp_path):
    exp = _write(tmp_path, '[tournament]\nstrategies = ["tit_for_tat", "always_defect", "random"]\n[grid]\n"ipd.noise" = [0.0, 0.1]\n')
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", str(exp), "--out", str(out), "--threads", "1"])
    assert r.exit_code == 0, r.output
    cells = pd.read_csv(out / "cells.csv")
    assert len(cells) == 12 and (cells["n"] == 50).all() and (cells["ci_method"] == mc.CI_METHOD).all()
    assert {"cooperation_ci_low", "score_0", "n_CC", "n_DD"} <= set(cells.columns)
    st = pd.read_csv(out / "standings.csv")
    assert set(st["group"]) == {"ipd.noise=0", "ipd.noise=0.1"} and (st["matches"] == 3).all()
    assert (out / "manifest.json").is_file() and (out / "report.md").is_file()
    # TFT vs AllD without noise: TFT cooperates once (CD), then both defect (DD): score 19 / 20 per round
    row = cells[(cells["label"] == "tit_for_tat vs always_defect, ipd.noise=0")].iloc[0]
    assert row["n_CD"] == 50 and row["n_DD"] == 50 * 19 and row["score_0"] == pytest.approx(19 / 20)
    # replay a cell's replication with the SimPy engine: the same counts as the run's kernel
    r = CliRunner().invoke(main, ["simulate", "--from", str(out), "--cell", "10", "--replication", "4", "--json"])
    assert r.exit_code == 0, r.output
    rec = json.loads(r.output)
    g = ipd.IPDGame(tuple(rec["game"]["players"]), turns=20, noise=rec["game"]["noise"])
    assert [rec["totals"][f"n_{k}"] for k in ipd.OUTCOME_NAMES] == mc.match_counts(g, 3, [4])[0].tolist()
    r = CliRunner().invoke(main, ["simulate", str(tmp_path / "s.toml"), "--seed", "2"])
    assert r.exit_code == 0 and "Scores: player 0" in r.output


@pytest.mark.parametrize(
    "body, args, message",
    [
        ('[tournament]\nstrategies = ["tit_for_tat", "pavlov"]\n', [], "tournament.strategies: unknown strategy 'pavlov'"),
        ('[grid]\n"ipd.noise" = [0.0, 0.7]\n', [], "ipd.noise: got 0.7"),
        ('[grid]\n"channel.misperception" = [0.1]\n', [], "allowed: \"ipd.<field>\""),
        ("", ["--shard", "0/2"], "--shard: not available for IPD"),
        ("", ["--threads", "99"], "--threads 99"),
    ],
)
def test_cli_bad_input(tmp_path, body, args, message):
    exp = _write(tmp_path, body)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", str(exp), "--out", str(out), *args])
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output
    assert not out.exists()

"""The iterated prisoner's dilemma (IPD) as a special case of the crisis model.

Two actors meet in simultaneous rounds. Each round each chooses one of two
actions, **concede** (cooperate, ``C``) or **escalate** (defect, ``D``), and
both are paid from the payoff matrix ``(R, S, T, P)``: ``R`` to each for
mutual cooperation, ``P`` for mutual defection, ``T`` to a defector whose
opponent cooperated and ``S`` to that opponent (Axelrod 1984). With **noise**
``epsilon`` every intended action is flipped with probability ``epsilon``
before it is played; both players see (and remember) the action actually
played, as in Axelrod's library and in Nowak & Sigmund (1993).

This module is the one rule set of the IPD form. Both engines call the same
compiled functions:

* :func:`init_state` and :func:`update_state` keep a player's history state
  (an ``int64`` vector, layout ``H_*`` below);
* :func:`decide` maps (strategy id, parameters, history state, one uniform
  draw) to the intended action;
* :func:`draws` takes that uniform and the noise uniform from the player's
  own counter-based streams (:mod:`escalation_sim.model.rng`), and
  :func:`move` turns them into the intended and the played action.

The rules are inlined into their callers at Numba-IR level (``inline="always"``)
and the draws are taken before the move: with separate calls and the draws
inside the move, a round took about 74 ns in the kernel, now about 22 ns (2-core
development machine, one thread).

Random streams of a replication, keyed by ``(seed, replication, stream)``:
``0``/``1`` the decision draws of player 0/1, ``2``/``3`` their noise draws.
Each player makes exactly one decision draw and one noise draw every round,
whatever its strategy and whatever ``epsilon`` (also when the draw is not
needed), so streams stay aligned across strategies and noise levels (common
random numbers) and a round's numbers do not depend on which player moves
first.

Strategies are small documented units (:data:`IPD_STRATEGIES`) with a name, a
classifier and references, after the Axelrod library's conventions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from ..model.bibliography import REFERENCES
from ..model.rng import uniform, uniform_at

_ONE = np.uint64(1)

# --- actions and outcomes ------------------------------------------------------
C = 0  # concede = cooperate
D = 1  # escalate = defect
ACTION_NAMES = ("C", "D")
# outcome of a round from player 0's side: index 2 * a0 + a1
CC = 0
CD = 1
DC = 2
DD = 3
OUTCOME_NAMES = ("CC", "CD", "DC", "DD")

# --- random streams --------------------------------------------------------------
N_STREAMS = 4
S_DECIDE = 0  # + player
S_NOISE = 2  # + player

# --- strategy ids ----------------------------------------------------------------
TFT = 0
GTFT = 1
WSLS = 2
GRUDGER = 3
ALLC = 4
ALLD = 5
RANDOM = 6
GRIT = 7
GRIT_RENEWING = 8

# --- parameter vector (float64, per player) ---------------------------------------
N_PARAMS = 4
P_0 = 0  # GTFT generosity; Random p_cooperate; GRIT initiative (rounds)
P_1 = 1  # GRIT renewing: deadlock (rounds of mutual defection before a new initiative)

# --- history state (int64, per player) --------------------------------------------
N_HIST = 6
H_ROUND = 0  # rounds played so far
H_OWN = 1  # own last played action (-1 before the first round)
H_OPP = 2  # opponent's last played action (-1 before the first round)
H_OPP_DEFECTIONS = 3  # opponent's defections so far
H_INITIATIVE = 4  # GRIT: rounds of the current unilateral initiative still to play
H_DEADLOCK = 5  # consecutive rounds of mutual defection, up to the last one

# Citation keys used here that the crisis model's bibliography does not hold yet.
IPD_REFERENCES: dict[str, str] = {
    "friedman_1971": "Friedman, J. W. (1971). A non-cooperative equilibrium for supergames. Review of Economic Studies 38(1), 1-12.",
    "nowak_sigmund_1993": "Nowak, M., & Sigmund, K. (1993). A strategy of win-stay, lose-shift that outperforms tit-for-tat "
    "in the Prisoner's Dilemma game. Nature 364, 56-58.",
}


def reference(key: str) -> str:
    """Full reference of a citation key (crisis bibliography or :data:`IPD_REFERENCES`)."""
    return REFERENCES.get(key) or IPD_REFERENCES[key]


# --- compiled rules (both engines) ---------------------------------------------------
@njit(cache=True, inline="always")
def init_state(sid: int, prm: np.ndarray, h: np.ndarray) -> None:
    """Reset a player's history state before the first round."""
    h[H_ROUND] = 0
    h[H_OWN] = -1
    h[H_OPP] = -1
    h[H_OPP_DEFECTIONS] = 0
    h[H_INITIATIVE] = 0
    h[H_DEADLOCK] = 0
    if sid == GRIT or sid == GRIT_RENEWING:
        h[H_INITIATIVE] = np.int64(prm[P_0])


@njit(cache=True, inline="always")
def decide(sid: int, prm: np.ndarray, h: np.ndarray, u: float) -> int:
    """Intended action of a player: ``C`` (0) or ``D`` (1).

    Parameters
    ----------
    sid : int
        Strategy id (``TFT``, ``GTFT``, ...).
    prm : numpy.ndarray
        The player's parameter vector (``P_*``).
    h : numpy.ndarray
        The player's history state (``H_*``).
    u : float
        A uniform draw on [0, 1), used by stochastic strategies only.
    """
    first = h[H_ROUND] == 0
    if sid == ALLC:
        return C
    if sid == ALLD:
        return D
    if sid == RANDOM:
        return C if u < prm[P_0] else D
    if sid == GRUDGER:
        return D if h[H_OPP_DEFECTIONS] > 0 else C
    if sid == WSLS:
        if first:
            return C
        return C if h[H_OWN] == h[H_OPP] else D
    if (sid == GRIT or sid == GRIT_RENEWING) and h[H_INITIATIVE] > 0:
        return C
    # TFT, GTFT and GRIT after its initiative: reciprocate the last move
    if first or h[H_OPP] == C:
        return C
    if sid == GTFT and u < prm[P_0]:
        return C
    return D


@njit(cache=True, inline="always")
def flip(intended: int, u: float, epsilon: float) -> int:
    """The action played: ``intended``, flipped when ``u < epsilon``."""
    return 1 - intended if u < epsilon else intended


@njit(cache=True, inline="always")
def draws(keys: np.ndarray, ctr: np.ndarray, player: int):
    """A player's two uniforms of a round: ``(decision draw, noise draw)``, from its own two streams.

    Every player draws both, every round, whatever its strategy and the noise.
    """
    return uniform(keys, ctr, S_DECIDE + player), uniform(keys, ctr, S_NOISE + player)


@njit(cache=True)
def fill_draws(keys: np.ndarray, ctr: np.ndarray, turns: int, u: np.ndarray) -> None:
    """A match's draws at once: ``u[s, t]`` is what stream ``s`` gives in round ``t``, then the counters stand at
    the end of the match.

    The numbers :func:`draws` gives round by round: every player draws from both its streams every round, so
    round ``t`` is the ``t + 1``-th draw of each stream (:func:`escalation_sim.model.rng.uniform_at`). Made
    in one loop per stream, without the round's decisions in between, the draws vectorise.
    """
    for s in range(N_STREAMS):
        base = ctr[s]
        for t in range(turns):
            u[s, t] = uniform_at(keys, s, base + np.uint64(t) + _ONE)
        ctr[s] = base + np.uint64(turns)


@njit(cache=True, inline="always")
def move(sid: int, prm: np.ndarray, h: np.ndarray, epsilon: float, u_decide: float, u_noise: float):
    """One player's move of a round from its two draws (:func:`draws`): ``(intended, played)``."""
    intended = decide(sid, prm, h, u_decide)
    return intended, flip(intended, u_noise, epsilon)


@njit(cache=True, inline="always")
def update_state(sid: int, prm: np.ndarray, h: np.ndarray, own: int, opp: int) -> None:
    """Record a round's played actions in a player's history state."""
    h[H_ROUND] += 1
    h[H_OWN] = own
    h[H_OPP] = opp
    if opp == D:
        h[H_OPP_DEFECTIONS] += 1
    if own == D and opp == D:
        h[H_DEADLOCK] += 1
    else:
        h[H_DEADLOCK] = 0
    if h[H_INITIATIVE] > 0:
        h[H_INITIATIVE] -= 1
    elif sid == GRIT_RENEWING and h[H_DEADLOCK] >= np.int64(prm[P_1]):
        h[H_INITIATIVE] = np.int64(prm[P_0])
        h[H_DEADLOCK] = 0


@njit(cache=True, inline="always")
def outcome(a0: int, a1: int) -> int:
    """Index of a round's outcome from player 0's side (``CC``, ``CD``, ``DC``, ``DD``)."""
    return 2 * a0 + a1


def scores_from_counts(counts: np.ndarray, payoffs: tuple[float, float, float, float]) -> np.ndarray:
    """Total score of each player from the counts of outcomes ``(CC, CD, DC, DD)``.

    Both engines compute scores with this function, so they agree exactly.

    Parameters
    ----------
    counts : numpy.ndarray
        ``(..., 4)`` integer counts.
    payoffs : tuple of float
        ``(R, S, T, P)``.

    Returns
    -------
    numpy.ndarray
        ``(..., 2)``: player 0's and player 1's scores.
    """
    R, S, T, P = (float(x) for x in payoffs)
    pay = np.array([[R, R], [S, T], [T, S], [P, P]])
    return np.asarray(counts, dtype=np.int64) @ pay


def molander_generosity(R: float, S: float, T: float, P: float) -> float:
    """Generosity of generous tit-for-tat: ``min(1 - (T - R) / (R - S), (R - P) / (T - P))``.

    The probability of cooperating after the opponent defected that Molander
    (1985) derives for a noisy environment (1/3 for the payoffs 3, 0, 5, 1);
    the Axelrod library's ``GTFT`` uses the same formula.
    """
    return min(1.0 - (T - R) / (R - S), (R - P) / (T - P))


# --- catalogue ------------------------------------------------------------------
@dataclass(frozen=True)
class IPDParam:
    """A strategy parameter: name, default (None: computed), range and meaning."""

    name: str
    default: float | None
    lo: float
    hi: float
    kind: str  # "prob" or "int"
    doc: str


@dataclass(frozen=True)
class IPDStrategy:
    """One IPD strategy.

    Attributes
    ----------
    name : str
        Identifier used in scenario files.
    sid : int
        Strategy id passed to the compiled rules.
    short : str
        Short label (TFT, GTFT, ...).
    summary : str
        What it does, first move included.
    references : tuple of str
        Citation keys (see :func:`reference`).
    classifier : dict
        ``{"memory": int | None, "stochastic": bool, "memory_one": bool}``: rounds of history it reads (None:
        the whole history through a counter), whether it uses its decision draw, whether it is a memory-one
        strategy (its next move depends on the last round only).
    params : tuple of IPDParam
        Its parameters.
    """

    name: str
    sid: int
    short: str
    summary: str
    references: tuple[str, ...]
    classifier: dict
    params: tuple[IPDParam, ...] = field(default_factory=tuple)


def _c(memory, stochastic=False):
    return {"memory": memory, "stochastic": stochastic, "memory_one": memory is not None and memory <= 1}


_INITIATIVE = IPDParam("initiative", 3, 0, 10**6, "int", "rounds of unilateral cooperation (k)")

IPD_STRATEGIES: tuple[IPDStrategy, ...] = (
    IPDStrategy(
        "tit_for_tat", TFT, "TFT",
        "Cooperates first, then plays the opponent's last action.",
        ("axelrod_1984",), _c(1),
    ),
    IPDStrategy(
        "generous_tit_for_tat", GTFT, "GTFT",
        "Cooperates first and after the opponent cooperated; after a defection cooperates with probability "
        "`generosity` (default: Molander's min(1 - (T-R)/(R-S), (R-P)/(T-P)), 1/3 for 3, 0, 5, 1).",
        ("molander_1985", "nowak_sigmund_1992", "axelrod_1984"), _c(1, True),
        (IPDParam("generosity", None, 0.0, 1.0, "prob", "probability of cooperating after the opponent defected"),),
    ),
    IPDStrategy(
        "win_stay_lose_shift", WSLS, "WSLS",
        "Pavlov: cooperates first, then repeats its last action after a good payoff (R or T) and switches after "
        "a bad one (S or P): cooperates after CC and DD, defects after CD and DC.",
        ("nowak_sigmund_1993",), _c(1),
    ),
    IPDStrategy(
        "grudger", GRUDGER, "Grudger",
        "Grim trigger: cooperates until the opponent's first defection (noise included), then defects forever.",
        ("friedman_1971", "axelrod_1984"), _c(None),
    ),
    IPDStrategy("always_cooperate", ALLC, "AllC", "Always cooperates (concedes).", ("axelrod_1984",), _c(0)),
    IPDStrategy("always_defect", ALLD, "AllD", "Always defects (escalates).", ("axelrod_1984",), _c(0)),
    IPDStrategy(
        "random", RANDOM, "Random",
        "Cooperates with probability `p_cooperate` every round, the first included.",
        ("axelrod_1984",), _c(0, True),
        (IPDParam("p_cooperate", 0.5, 0.0, 1.0, "prob", "probability of cooperating"),),
    ),
    IPDStrategy(
        "grit", GRIT, "GRIT",
        "GRIT-like: cooperates unilaterally for the first `initiative` rounds whatever the opponent does "
        "(Osgood's announced conciliatory initiatives), then plays tit-for-tat.",
        ("osgood_1962", "axelrod_1984"), _c(None),
        (_INITIATIVE,),
    ),
    IPDStrategy(
        "grit_renewing", GRIT_RENEWING, "GRIT-r",
        "GRIT-like with renewed initiatives: as `grit`, and whenever it is outside an initiative and the last "
        "`deadlock` rounds were all mutual defection, it starts a new initiative of `initiative` rounds.",
        ("osgood_1962", "axelrod_1984"), _c(None),
        (_INITIATIVE, IPDParam("deadlock", 5, 1, 10**6, "int", "rounds of mutual defection that trigger a new initiative (m)")),
    ),
)
IPD_BY_NAME: dict[str, IPDStrategy] = {s.name: s for s in IPD_STRATEGIES}
IPD_STRATEGY_NAMES: tuple[str, ...] = tuple(s.name for s in IPD_STRATEGIES)

DEFAULT_PAYOFFS = (3.0, 0.0, 5.0, 1.0)  # R, S, T, P (Axelrod 1984)
PAYOFF_NAMES = ("R", "S", "T", "P")
MAX_TURNS = 100_000


class IPDError(ValueError):
    """An invalid IPD setting: ``field`` and what is allowed (``message``)."""

    def __init__(self, field_: str, message: str):
        self.field = field_
        self.message = message
        super().__init__(f"{field_}: {message}")


def check_payoffs(payoffs: tuple[float, float, float, float]) -> None:
    """Require a prisoner's dilemma: ``T > R > P > S`` and ``2R > T + S``."""
    R, S, T, P = payoffs
    if not all(np.isfinite(x) for x in payoffs):
        raise IPDError("payoffs", "allowed: finite numbers R, S, T, P")
    if not (T > R > P > S):
        raise IPDError("payoffs", f"got R={R:g}, S={S:g}, T={T:g}, P={P:g}; allowed: T > R > P > S (a prisoner's dilemma)")
    if not 2 * R > T + S:
        raise IPDError("payoffs", f"got R={R:g}, S={S:g}, T={T:g}; allowed: 2R > T + S (mutual cooperation beats alternating)")


def strategy_params(name: str, given: dict, payoffs: tuple[float, float, float, float]) -> np.ndarray:
    """Parameter vector of a strategy: the given values (validated) and the defaults.

    Raises
    ------
    IPDError
        Unknown strategy or parameter, or a value out of range.
    """
    if name not in IPD_BY_NAME:
        raise IPDError("strategy", f"unknown strategy {name!r}; allowed: {', '.join(IPD_STRATEGY_NAMES)}")
    spec = IPD_BY_NAME[name]
    allowed = {p.name: i for i, p in enumerate(spec.params)}
    for key in given:
        if key not in allowed:
            what = ", ".join(allowed) if allowed else "none (it has no parameters)"
            raise IPDError(key, f"unknown parameter of {name}; allowed: {what}")
    out = np.zeros(N_PARAMS)
    for i, p in enumerate(spec.params):
        if p.name in given:
            v = given[p.name]
            ok = not isinstance(v, bool) and isinstance(v, (int, float)) and np.isfinite(v) and p.lo <= v <= p.hi
            if p.kind == "int":
                ok = ok and float(v).is_integer()
            if not ok:
                what = "a probability in [0, 1]" if p.kind == "prob" else f"a whole number in [{p.lo:g}, {p.hi:g}]"
                raise IPDError(p.name, f"got {v!r}; allowed: {what}")
            out[i] = float(v)
        elif p.default is None:  # GTFT's generosity
            out[i] = molander_generosity(*payoffs)
        else:
            out[i] = float(p.default)
    return out


@dataclass(frozen=True)
class IPDGame:
    """A validated IPD match: two strategies, turns, noise, payoffs.

    Attributes
    ----------
    players : tuple of str
        Strategy names of player 0 and player 1.
    turns : int
        Rounds per match (fixed; no discounting or random ending).
    noise : float
        Probability ``epsilon`` that an intended action is flipped, in [0, 0.5].
    payoffs : tuple of float
        ``(R, S, T, P)``.
    params : dict
        ``strategy name -> {parameter: value}`` given explicitly (the rest are defaults).
    """

    players: tuple[str, str]
    turns: int = 200
    noise: float = 0.0
    payoffs: tuple[float, float, float, float] = DEFAULT_PAYOFFS
    params: dict = field(default_factory=dict)
    name: str = "ipd"
    description: str = ""
    source: str = ""

    def __post_init__(self):
        if len(self.players) != 2:
            raise IPDError("players", "allowed: exactly two strategy names")
        for p in self.players:
            if p not in IPD_BY_NAME:
                raise IPDError("players", f"unknown strategy {p!r}; allowed: {', '.join(IPD_STRATEGY_NAMES)}")
        if isinstance(self.turns, bool) or not isinstance(self.turns, (int, np.integer)) or not 1 <= self.turns <= MAX_TURNS:
            raise IPDError("turns", f"got {self.turns!r}; allowed: a whole number in [1, {MAX_TURNS}]")
        if isinstance(self.noise, bool) or not isinstance(self.noise, (int, float)) or not 0.0 <= self.noise <= 0.5:
            raise IPDError("noise", f"got {self.noise!r}; allowed: a probability in [0, 0.5]")
        check_payoffs(self.payoffs)
        for name, given in self.params.items():
            if name not in IPD_BY_NAME:
                raise IPDError(f"strategy.{name}", f"unknown strategy; allowed: {', '.join(IPD_STRATEGY_NAMES)}")
            try:
                strategy_params(name, given, self.payoffs)
            except IPDError as exc:
                raise IPDError(f"strategy.{name}.{exc.field}", exc.message) from None

    def strategy_ids(self) -> np.ndarray:
        """``(2,)`` int64 strategy ids."""
        return np.array([IPD_BY_NAME[p].sid for p in self.players], dtype=np.int64)

    def param_matrix(self) -> np.ndarray:
        """``(2, N_PARAMS)`` parameter vectors, defaults resolved."""
        return np.stack([strategy_params(p, self.params.get(p, {}), self.payoffs) for p in self.players])

    @property
    def label(self) -> str:
        return f"{self.players[0]} vs {self.players[1]}"

    def describe(self) -> dict:
        """Everything that determines the numbers (for manifests and hashes)."""
        prm = self.param_matrix()
        return {
            "players": list(self.players),
            "params": [
                {p.name: float(prm[i, j]) for j, p in enumerate(IPD_BY_NAME[s].params)} for i, s in enumerate(self.players)
            ],
            "turns": int(self.turns),
            "noise": float(self.noise),
            "payoffs": dict(zip(PAYOFF_NAMES, (float(x) for x in self.payoffs), strict=True)),
        }

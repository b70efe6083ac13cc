"""SimPy reference engine for the iterated prisoner's dilemma: one match, round by round.

Each player is a SimPy process. Every round (one time unit) it chooses its
move with the compiled rules of :mod:`escalation_sim.ipd.model` (the same
functions the Monte Carlo kernel calls), sends the played action to the other
player's inbox (a :class:`simpy.Store`) and to the table, waits for the other
player's action in its own inbox, updates its history state, and waits for the
next round. Moves are simultaneous: neither player sees the other's action of
a round before choosing its own. A referee process takes both actions of each
round from the table and writes the trace.

Each player draws only from its own streams (decision and noise), so the
order in which SimPy runs the two processes within a round does not change any
number: the moves are bit-identical to the compiled kernel's for the same
(game, seed, replication).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import simpy

from ..model.rng import init_streams
from . import model as ipd

TRACE_COLUMNS = ("round", "intended_0", "move_0", "intended_1", "move_1", "outcome", "payoff_0", "payoff_1")


@dataclass
class IPDMatchResult:
    """One simulated match.

    Attributes
    ----------
    moves : numpy.ndarray
        ``(turns, 4)``: intended and played action of player 0, then of player 1 (0 = C, 1 = D).
    counts : numpy.ndarray
        ``(4,)`` rounds with outcome CC, CD, DC, DD (player 0's action first).
    scores : numpy.ndarray
        ``(2,)`` total payoff of each player.
    trace : pandas.DataFrame
        One row per round (:data:`TRACE_COLUMNS`).
    """

    game: ipd.IPDGame
    seed: int
    replication: int
    moves: np.ndarray
    counts: np.ndarray
    scores: np.ndarray
    trace: pd.DataFrame

    @property
    def cooperation(self) -> float:
        """Share of cooperative played actions, both players."""
        return float((2 * self.counts[ipd.CC] + self.counts[ipd.CD] + self.counts[ipd.DC]) / (2 * self.game.turns))

    def totals(self) -> dict:
        """Counts, scores and cooperation of the match as a flat dict."""
        T = self.game.turns
        out = {f"n_{n}": int(self.counts[k]) for k, n in enumerate(ipd.OUTCOME_NAMES)}
        out.update(
            cooperation=self.cooperation,
            cooperation_0=float((self.counts[ipd.CC] + self.counts[ipd.CD]) / T),
            cooperation_1=float((self.counts[ipd.CC] + self.counts[ipd.DC]) / T),
            total_score_0=float(self.scores[0]),
            total_score_1=float(self.scores[1]),
            score_per_round_0=float(self.scores[0] / T),
            score_per_round_1=float(self.scores[1] / T),
        )
        return out


class Player:
    """A player: a process that moves, sends its action and waits for the other's, every round."""

    def __init__(self, match: Match, index: int):
        self.match = match
        self.index = index
        self.sid = int(match.sids[index])
        self.prm = match.prm[index]
        self.hist = match.hist[index]
        self.inbox = simpy.Store(match.env)
        ipd.init_state(self.sid, self.prm, self.hist)

    def run(self):
        m = self.match
        other = m.players[1 - self.index]
        for t in range(m.game.turns):
            u, n = ipd.draws(m.keys, m.ctr, self.index)
            intended, played = ipd.move(self.sid, self.prm, self.hist, m.epsilon, u, n)
            other.inbox.put(played)
            m.table.put((t, self.index, intended, played))
            opp = yield self.inbox.get()
            ipd.update_state(self.sid, self.prm, self.hist, played, opp)
            yield m.env.timeout(1)


class Match:
    """One match of ``game`` for replication ``replication`` of ``seed``."""

    def __init__(self, game: ipd.IPDGame, seed: int, replication: int):
        self.game = game
        self.env = simpy.Environment()
        self.sids = game.strategy_ids()
        self.prm = np.ascontiguousarray(game.param_matrix())
        self.epsilon = float(game.noise)
        self.hist = np.zeros((2, ipd.N_HIST), dtype=np.int64)
        self.keys = np.zeros(ipd.N_STREAMS, dtype=np.uint64)
        self.ctr = np.zeros(ipd.N_STREAMS, dtype=np.uint64)
        init_streams(seed, replication, self.keys, self.ctr)
        self.table = simpy.Store(self.env)
        self.moves = np.zeros((game.turns, 4), dtype=np.int64)
        self.players = [Player(self, 0), Player(self, 1)]
        for p in self.players:
            self.env.process(p.run())
        self.env.process(self.referee())

    def referee(self):
        """Take both actions of every round from the table, in round order."""
        for _ in range(self.game.turns):
            for _ in range(2):
                t, i, intended, played = yield self.table.get()
                self.moves[t, 2 * i] = intended
                self.moves[t, 2 * i + 1] = played

    def run(self) -> None:
        self.env.run()


def simulate_match(game: ipd.IPDGame, seed: int = 1, replication: int = 0) -> IPDMatchResult:
    """Play one IPD match with the SimPy engine.

    Parameters
    ----------
    game : IPDGame
        Strategies, turns, noise and payoffs.
    seed, replication : int
        Which streams: the match equals the compiled kernel's replication
        ``replication`` of ``seed`` move for move.

    Returns
    -------
    IPDMatchResult
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: got {seed!r}; allowed: a whole number >= 0")
    if isinstance(replication, bool) or not isinstance(replication, (int, np.integer)) or replication < 0:
        raise ValueError(f"replication: got {replication!r}; allowed: a whole number >= 0")
    m = Match(game, seed, replication)
    m.run()
    moves = m.moves
    oc = 2 * moves[:, 1] + moves[:, 3]
    counts = np.bincount(oc, minlength=4).astype(np.int64)
    scores = ipd.scores_from_counts(counts, game.payoffs)
    R, S, T, P = game.payoffs
    pay0 = np.array([R, S, T, P], dtype=float)[oc]
    pay1 = np.array([R, T, S, P], dtype=float)[oc]
    names = np.array(ipd.ACTION_NAMES)
    trace = pd.DataFrame(
        {
            "round": np.arange(1, game.turns + 1),
            "intended_0": names[moves[:, 0]],
            "move_0": names[moves[:, 1]],
            "intended_1": names[moves[:, 2]],
            "move_1": names[moves[:, 3]],
            "outcome": np.array(ipd.OUTCOME_NAMES)[oc],
            "payoff_0": pay0,
            "payoff_1": pay1,
        },
        columns=list(TRACE_COLUMNS),
    )
    return IPDMatchResult(game, int(seed), int(replication), moves, counts, scores, trace)

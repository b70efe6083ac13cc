"""What a finished replication is, on the scales of the crisis data sets.

Plain compiled functions of the final state vector, called by the compiled
kernel (to count them per block) and by the SimPy engine's result (to report
them for one crisis), so both engines classify a crisis the same way.
``docs/model.md`` ("Outcomes and outputs") gives the mappings and their
sources; the calibration targets use the same category names.

ICB crisis violence (Brecher & Wilkenfeld 2000), among crises:
    0 no violence, 1 minor clashes (an incident; no deliberate force), 2 serious
    clashes (a deliberate move at limited force was sent; no war), 3 full-scale war.
MID hostility level (Palmer et al. 2022), among crises:
    0 none (a demand at most: no militarized action, so not a MID), 1 threat
    (a threat of force at most), 2 display (show of force or mobilization),
    3 use of force (limited force or an incident), 4 war. A MID is "the
    threat, display or use of military force" (Jones, Bremer & Singer 1996),
    so the MID shares are those of categories 1-4 among crises that reached
    at least a threat.
ICB actor outcome, for each party:
    0 victory (the other side yielded, or won the war), 1 compromise (a
    settlement), 2 stalemate (unresolved), 3 defeat.
"""

from __future__ import annotations

from numba import njit

from .constants import (
    CHALLENGER_BACKS_DOWN,
    DEFENDER_CONCEDES,
    LIMITED_FORCE,
    NO_CHALLENGE,
    SETTLEMENT,
    SHOW_OF_FORCE,
    THREAT,
    UNRESOLVED,
    WAR_OUTCOME,
    X_CHALLENGE_TIME,
    X_INCIDENTS,
    X_OUTCOME,
    X_PEAK,
    X_WINNER,
)

VIOLENCE_NAMES = ("none", "minor_clashes", "serious_clashes", "full_scale_war")
HOSTILITY_NAMES = ("none", "threat", "display", "use_of_force", "war")
ACTOR_OUTCOME_NAMES = ("victory", "compromise", "stalemate", "defeat")
N_SCALE = 4
N_HOSTILITY = 5

VICTORY = 0
COMPROMISE = 1
STALEMATE = 2
DEFEAT = 3


@njit(cache=True)
def is_crisis(st):
    """True if the replication had a crisis (the challenger challenged)."""
    return st[X_OUTCOME] != NO_CHALLENGE and st[X_CHALLENGE_TIME] >= 0.0


@njit(cache=True)
def violence(st):
    """ICB crisis-violence category of a crisis (0 none .. 3 full-scale war)."""
    if st[X_OUTCOME] == WAR_OUTCOME:
        return 3
    if st[X_PEAK] >= LIMITED_FORCE:
        return 2
    if st[X_INCIDENTS] > 0.0:
        return 1
    return 0


@njit(cache=True)
def hostility(st):
    """MID hostility category of a crisis (0 none: not militarized, 1 threat .. 4 war)."""
    if st[X_OUTCOME] == WAR_OUTCOME:
        return 4
    if st[X_PEAK] >= LIMITED_FORCE or st[X_INCIDENTS] > 0.0:
        return 3
    if st[X_PEAK] >= SHOW_OF_FORCE:
        return 2
    if st[X_PEAK] >= THREAT:
        return 1
    return 0


@njit(cache=True)
def actor_outcome(st, side):
    """ICB outcome of a crisis for ``side`` (0 challenger, 1 defender): victory, compromise, stalemate or defeat."""
    outcome = st[X_OUTCOME]
    if outcome == SETTLEMENT:
        return COMPROMISE
    if outcome == UNRESOLVED:
        return STALEMATE
    if outcome == WAR_OUTCOME:
        return VICTORY if st[X_WINNER] == side else DEFEAT
    if outcome == DEFENDER_CONCEDES:
        return VICTORY if side == 0 else DEFEAT
    if outcome == CHALLENGER_BACKS_DOWN:
        return DEFEAT if side == 0 else VICTORY
    return STALEMATE  # not a crisis: never asked

"""What a side's strategy fixes before any choice: standing commitments and escalation caps.

Small compiled functions that the rules, the look-ahead and the signalling
tables all read, so that a doctrine is stated once.
"""

from __future__ import annotations

from numba import njit

from .constants import DEFENDER, THREAT, TOP_RUNG
from .params import PARAM_INDEX as _I

ALLY_PRESENT = _I["ally.present"]
MIX_GD = _I["mix.general_deterrence"]
MIX_SR = _I["mix.self_restraint"]
MIX_TRIPWIRE = _I["mix.tripwire"]
MIX_TERMS = _I["mix.alliance_terms"]
GD_READY = _I["effects.general_deterrence_readiness"]
DEFENCE_EFFORT = _I["ally.defence_effort"]
EFFORT_CUT = _I["effects.tripwire_effort_cut"]
NO_EXIT = _I["effects.tripwire_no_exit"]

DEPLOYED_TRIPWIRE = 1  # bits of X_DEPLOYED: the standing instruments actually deployed at t = 0
DEPLOYED_TERMS = 2


@njit(cache=True, inline="always")
def standing_readiness_of(p, side):
    """Readiness a military keeps outside a crisis: the defender's general-deterrence posture."""
    if side == DEFENDER:
        return p[MIX_GD] * p[GD_READY]
    return 0.0


@njit(cache=True, inline="always")
def deployed_by_policy(p):
    """The standing instruments (tripwire, alliance terms) the mix calls for, as X_DEPLOYED bits (0 without an ally).

    What a replication actually deployed is decided at set-up (an uncommitted defender may withhold them); this
    is what the receivers' models of a sender assume (``signals.derive``).
    """
    if p[ALLY_PRESENT] == 0.0:
        return 0
    bits = 0
    if p[MIX_TRIPWIRE] > 0.0:
        bits |= DEPLOYED_TRIPWIRE
    if p[MIX_TERMS] > 0.0:
        bits |= DEPLOYED_TERMS
    return bits


@njit(cache=True, inline="always")
def ally_effort(p, deployed):
    """The ally's own defence effort in a war over it: ``ally.defence_effort``, less what a deployed tripwire replaces (free riding)."""
    if p[ALLY_PRESENT] == 0.0:
        return 0.0
    trip = 1.0 if deployed & DEPLOYED_TRIPWIRE else 0.0
    return p[DEFENCE_EFFORT] * (1.0 - trip * p[EFFORT_CUT])


@njit(cache=True, inline="always")
def no_exit(p, deployed):
    """1 if the defender cannot yield once the challenger has used force: a deployed tripwire in Schelling's strong form."""
    if p[ALLY_PRESENT] > 0.0 and (deployed & DEPLOYED_TRIPWIRE) and p[NO_EXIT] > 0.0:
        return 1.0
    return 0.0


@njit(cache=True, inline="always")
def policy_committed(p, side, deployed):
    """1 if ``side`` is publicly committed from t = 0 by its posture: general deterrence, a deployed tripwire or alliance terms."""
    if side != DEFENDER:
        return 0.0
    if p[MIX_GD] > 0.0:
        return 1.0
    if deployed & (DEPLOYED_TRIPWIRE | DEPLOYED_TERMS):
        return 1.0
    return 0.0


@njit(cache=True, inline="always")
def escalation_cap(p, side, force_seen):
    """Highest level ``side`` may escalate to: a self-restrained defender stops at a threat until it has seen force."""
    if side == DEFENDER and p[MIX_SR] > 0.0 and force_seen == 0.0:
        return float(THREAT)
    return float(TOP_RUNG)

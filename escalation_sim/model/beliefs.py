"""Beliefs over the adversary's private type, updated by Bayes' rule.

A leader's belief is a probability vector over the adversary's four types
(``type = 2 * greedy + resolved``; :data:`~escalation_sim.model.constants.TYPE_NAMES`).
It starts at the prior (the adversary side's ``p_greedy`` and ``p_resolved``,
independent) and is updated on each perceived move by Bayes' rule,
``posterior(k) ~ belief(k) * L(k)``, where ``L(k)`` is the probability that a
sender of type ``k`` makes the move the leader perceived, under the receiver's
model of the sender (:mod:`escalation_sim.model.signals`).

Motivated bias (Lebow & Stein 1990; Jervis 1976): a need-driven leader
discounts evidence that threatens its plan. When an update would raise its
belief that the defender is resolved, it moves only ``1 - b`` of the way from
its prior to the Bayesian posterior, with ``b = challenger.motivated_bias``;
``b = 0`` is Bayes' rule. Evidence pointing the other way is taken at face value.

Reports (norms of competition, limited security regimes): a report on one
dimension of the adversary's type (intention or resolve) that is right with
probability ``a`` multiplies the belief in the types that match it by ``a``
and the others by ``1 - a``.
"""

from __future__ import annotations

from numba import njit

from .constants import N_TYPES

DIM_RESOLVE = 0  # bit 0 of the type
DIM_INTENTION = 1  # bit 1 of the type


@njit(cache=True)
def prior(p_greedy, p_resolved, belief, bo):
    """Write the prior over a side's types (greed and resolve independent) at ``belief[bo:bo+4]``."""
    for k in range(N_TYPES):
        g = p_greedy if (k >> 1) & 1 else 1.0 - p_greedy
        r = p_resolved if k & 1 else 1.0 - p_resolved
        belief[bo + k] = g * r


@njit(cache=True)
def point_mass(true_type, belief, bo):
    """A belief that is certain of ``true_type`` (complete information)."""
    for k in range(N_TYPES):
        belief[bo + k] = 1.0 if k == true_type else 0.0


@njit(cache=True)
def p_resolved(belief, bo):
    """Probability the belief puts on a resolved adversary."""
    return belief[bo + 1] + belief[bo + 3]


@njit(cache=True)
def bayes(belief, bo, lik, lo, bias):
    """Update ``belief[bo:bo+4]`` with likelihoods ``lik[lo:lo+4]``; return False if the evidence is impossible under the belief.

    ``bias`` in [0, 1] is motivated bias: when Bayes' rule would raise the
    belief in a resolved adversary, the leader moves only ``1 - bias`` of the
    way from its prior to the Bayesian posterior (conservatism in the direction
    it does not want, Edwards 1968; Lebow & Stein 1990). The belief in a
    resolved adversary then rises by exactly ``1 - bias`` times Bayes' rise, so
    the bias can never strengthen the evidence. ``bias = 0`` is Bayes' rule.
    An update whose total probability is 0 leaves the belief unchanged (the
    move was impossible under every type the leader thought possible).
    """
    total = 0.0
    for k in range(N_TYPES):
        total += belief[bo + k] * lik[lo + k]
    if not total > 0.0:
        return False
    before = belief[bo + 1] + belief[bo + 3]
    after = (belief[bo + 1] * lik[lo + 1] + belief[bo + 3] * lik[lo + 3]) / total
    w = 1.0 - bias if (bias > 0.0 and after > before) else 1.0
    for k in range(N_TYPES):
        post = belief[bo + k] * lik[lo + k] / total
        belief[bo + k] = belief[bo + k] + w * (post - belief[bo + k])
    return True


@njit(cache=True)
def report(belief, bo, dim, reported, accuracy):
    """Update on a report that the adversary's bit ``dim`` is ``reported``, right with probability ``accuracy``."""
    total = 0.0
    for k in range(N_TYPES):
        w = accuracy if ((k >> dim) & 1) == reported else 1.0 - accuracy
        total += belief[bo + k] * w
    if not total > 0.0:  # a report impossible under the belief (certain and contradicted): ignored
        return
    for k in range(N_TYPES):
        w = accuracy if ((k >> dim) & 1) == reported else 1.0 - accuracy
        belief[bo + k] = belief[bo + k] * w / total

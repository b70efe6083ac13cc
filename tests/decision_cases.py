"""Random situations for the decision-layer tests, and their translation to the compiled layout.

Every generator takes an explicit ``numpy.random.Generator``: no global random state.
"""

from __future__ import annotations

import numpy as np
import reference_model as ref

from escalation_sim.model import decision as dc
from escalation_sim.model import params, signals
from escalation_sim.model.params import PARAM_INDEX, SPEC


def random_vector(rng: np.random.Generator) -> np.ndarray:
    """A parameter vector: every free parameter drawn in its robustness box, the rest at defaults.

    Precision mostly in its box [5, 60], sometimes 0 (uniform choice) or 1000 (near best
    response); gain_weight sometimes 0 (the inverse utility is then infinite above the
    reference share); general deterrence (standing readiness, policy commitment) in 30%.

    The ally (issue 12): present in 40% (its effort strengthens the defender in every war; the ally's
    parameters, the instrument costs and the tripwire's effects are already drawn in their boxes); then a
    tripwire in half of those (deployed, it cuts the ally's effort: see ``random_situation``), with the no-exit
    rule in half of those. These draws come after the original ones, so the original vectors are unchanged.
    """
    values = {sp.key: rng.uniform(*sp.box) for sp in SPEC if sp.illustrative and sp.box}
    r = rng.random()
    values["decision.precision"] = 0.0 if r < 0.05 else (1000.0 if r < 0.12 else rng.uniform(5.0, 60.0))
    if rng.random() < 0.15:
        values["intent.gain_weight"] = 0.0
    if rng.random() < 0.15:
        values["intent.fear_loss"] = 0.0
    strategies = ("general_deterrence",) if rng.random() < 0.3 else ()
    if rng.random() < 0.4:
        values["ally.present"] = 1.0
        if rng.random() < 0.5:
            strategies = (*strategies, "tripwire")
            values["effects.tripwire_no_exit"] = float(rng.random() < 0.5)
    p = params.vector_from(values, strategies)
    signals.derive(p)
    return p


def random_situation(rng: np.random.Generator, q0: float, p: np.ndarray | None = None) -> ref.Situation:
    """A decision situation with every field varied (levels 0-5, menus, offers, commitments, caps...).

    With the parameter vector ``p``: the ally's effort of the replication (0 without an ally), the tripwire of the
    mix deployed or, in 30% of the cases with one, withheld (then the effort is not cut).
    """
    side = int(rng.integers(2))
    q = q0 if rng.random() < 0.5 else min(0.95, q0 + rng.uniform(0.0, 0.15))
    d = q + 0.015 if rng.random() < 0.05 else q + rng.uniform(0.0, 1.0) * (1.0 - q)
    menu = frozenset(m for m in ref.MOVES if rng.random() < 0.6) or frozenset({ref.WAR})
    caps = [2.0, 3.0, 4.0, 5.0, 5.0, 5.0]
    sit = ref.Situation(
        side=side,
        type=int(rng.integers(4)),
        own=float(rng.integers(6)),
        adv=float(rng.integers(6)),
        q=q,
        demand=d,
        adv_offer=-1.0 if rng.random() < 0.4 else rng.uniform(q, d),
        own_offer=-1.0 if rng.random() < 0.5 else rng.uniform(q, d),
        need_own=rng.uniform(0.0, 0.3) if (side == ref.CHALLENGER and rng.random() < 0.5) else 0.0,
        need_adv=rng.uniform(0.0, 0.2) if rng.random() < 0.3 else 0.0,
        adv_p_greedy=float(rng.choice([0.0, 1.0, rng.random()])),
        committed=float(rng.integers(2)),
        policy_own=float(rng.integers(2)),
        policy_adv=float(rng.integers(2)),
        pressure=rng.uniform(0.0, 0.2) if rng.random() < 0.5 else 0.0,
        ready_own=float(rng.choice([0.0, 0.5, 0.75, 1.0, rng.random()])),
        own_cap=float(rng.choice(caps)),
        adv_cap=float(rng.choice(caps)),
        menu=menu,
        yield_accepts=bool(rng.random() < 0.2),
    )
    # issue 12, drawn after the original fields (the original situations are unchanged): the decider's stake
    # value (1 in half the cases, else an uncommitted defender's value in [0, 1)), and the no-exit rule in 30%
    # (it matters where the defender faces, or models, a challenger at limited force)
    sit.stake_value = 1.0 if rng.random() < 0.5 else float(rng.uniform(0.0, 1.0))
    sit.no_exit = float(rng.random() < 0.3)
    if p is not None:
        P = params_of(p)
        deployed = set(ref.deployed_by_policy(P))
        if ref.TRIPWIRE in deployed and rng.random() < 0.3:
            deployed.discard(ref.TRIPWIRE)
        sit.ally_effort = ref.ally_effort(P, frozenset(deployed))
    return sit


def random_belief(rng: np.random.Generator) -> np.ndarray:
    """A belief over the four types: 10% point masses, 20% with a zero, the rest interior."""
    r = rng.random()
    if r < 0.1:
        b = np.zeros(4)
        b[rng.integers(4)] = 1.0
        return b
    b = rng.dirichlet(np.ones(4))
    if r < 0.3:
        b[rng.integers(4)] = 0.0
        b /= b.sum()
    return b


def to_scratch(sit: ref.Situation) -> np.ndarray:
    """The compiled layout: ``ws[SCR_SIT + SIT_*]``."""
    ws = np.zeros(dc.SCRATCH_SIZE)
    s = dc.SCR_SIT
    fields = {
        dc.SIT_SIDE: sit.side,
        dc.SIT_TYPE: sit.type,
        dc.SIT_OWN_LEVEL: sit.own,
        dc.SIT_ADV_LEVEL: sit.adv,
        dc.SIT_Q: sit.q,
        dc.SIT_DEMAND: sit.demand,
        dc.SIT_ADV_OFFER: sit.adv_offer,
        dc.SIT_OWN_OFFER: sit.own_offer,
        dc.SIT_NEED_OWN: sit.need_own,
        dc.SIT_NEED_ADV: sit.need_adv,
        dc.SIT_ADV_P_GREEDY: sit.adv_p_greedy,
        dc.SIT_COMMITTED: sit.committed,
        dc.SIT_POLICY_OWN: sit.policy_own,
        dc.SIT_POLICY_ADV: sit.policy_adv,
        dc.SIT_PRESSURE_OWN: sit.pressure,
        dc.SIT_READY_OWN: sit.ready_own,
        dc.SIT_OWN_CAP: sit.own_cap,
        dc.SIT_ADV_CAP: sit.adv_cap,
        dc.SIT_ALLOW: sum(1 << m for m in sit.menu),
        dc.SIT_YIELD_ACCEPTS: 1.0 if sit.yield_accepts else 0.0,
        dc.SIT_BEST_OFFER: -1.0,
        dc.SIT_STAKE_VALUE: sit.stake_value,
        dc.SIT_NO_EXIT: sit.no_exit,
        dc.SIT_ALLY_EFFORT: sit.ally_effort,
    }
    for f, v in fields.items():
        ws[s + f] = v
    return ws


def compiled_evaluate(p: np.ndarray, sit: ref.Situation, belief: np.ndarray, offset: int = 3):
    """Run ``decision.evaluate``; the belief sits at a nonzero offset of a larger array (checks ``bo``)."""
    ws = to_scratch(sit)
    arr = np.concatenate([np.full(offset, 7.0), belief, np.full(2, 7.0)])
    dc.evaluate(p, ws, arr, offset)
    ev = [None if ws[dc.SCR_EV + m] <= dc.NEG else float(ws[dc.SCR_EV + m]) for m in ref.MOVES]
    return ev, float(ws[dc.SCR_SIT + dc.SIT_BEST_OFFER]), float(ws[dc.SCR_SIT + dc.SIT_P_ADV_GREEDY])


def params_of(p: np.ndarray) -> ref.Params:
    return ref.Params(p, PARAM_INDEX)

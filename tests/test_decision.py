"""The decision layer (``model/decision.py``) against an independent reference written from docs/model.md.

The reference (``tests/reference_model.py``) re-implements payoffs, the look-ahead, offers,
the screening demand and the logit rule in plain Python (a memoised recursion instead of the
compiled backward loop over arrays). The compiled functions must agree with it on a few
hundred random situations drawn with explicit seeds.

Tolerance of the comparisons of values: ``|code - ref| <= 1e-12 * max(1, |ref|)``. Both
compute the same real numbers by the same formulas, with the floating-point operations in a
different order. Values are O(1) (shares of the stake, costs, probabilities) and each is a
few hundred operations deep, so the rounding differences are a few units of 1e-16 (the
largest seen is 1.1e-16); the logit weights amplify an error in a value by ``lambda * |error|``
(<= 1e3 * 1e-16 here). 1e-12 is four orders of magnitude above that and six below the smallest
modelling difference of interest (a mobilisation cost, an audience cost, a step of 0.01 in
terms): ``test_reference_detects_mutations`` shows that plausible mistakes exceed it.

Issue 12 (the ally as a player) added three things the random situations now vary: the decider's value of the
stake (an uncommitted defender of an ally values it at ``ally.uncommitted_value``), the no-exit rule of a
tripwire (the defender cannot yield where the challenger holds limited force) and the ally's own effort, which
strengthens the defender in every war probability. Each has a mutant that the comparison detects.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import reference_model as ref
from decision_cases import compiled_evaluate, params_of, random_belief, random_situation, random_vector, to_scratch
from scipy import stats

from escalation_sim.model import decision as dc
from escalation_sim.model import doctrine, params, signals
from escalation_sim.model.constants import CHALLENGER, DEFENDER, N_MOVES
from escalation_sim.model.params import PARAM_INDEX
from escalation_sim.model.scenario import Scenario

RTOL = 1e-12
SEEDS = list(range(20250601, 20250609))  # 8 blocks of 50 random situations = 400
PER_SEED = 50


def close(a: float, b: float, rtol: float = RTOL) -> bool:
    return abs(a - b) <= rtol * max(1.0, abs(b))


def default_vector(values=None, strategies=()):
    p = params.vector_from(values or {}, tuple(strategies))
    signals.derive(p)
    return p


# --- 0. payoff primitives ------------------------------------------------------------------------
class TestPayoffs:
    """Hand-computed values from the formulas of "Payoffs" (defaults: q = 0.5, g = 0.3, F = 0.1)."""

    def test_hand_values(self):
        p = default_vector()
        pay = ref.Payoffs(params_of(p))
        # security seeker: u(1) = ref + g (1 - ref) = 0.5 + 0.3 * 0.5
        assert dc.utility(p, CHALLENGER, 1, 1.0) == pytest.approx(0.65, abs=1e-15)
        assert pay.u(CHALLENGER, 1, 1.0) == pytest.approx(0.65, abs=1e-15)
        assert dc.utility(p, CHALLENGER, 3, 1.0) == 1.0  # greedy: linear
        assert dc.utility(p, DEFENDER, 0, 0.4) == 0.4  # below the reference share: linear
        # first strike by the challenger, no readiness: 0.5 * 1.2 / (0.5 * 1.2 + 0.5)
        assert dc.win_probability(p, 0.0, 0.0, CHALLENGER, 0.0) == pytest.approx(0.6 / 1.1, abs=1e-15)
        # mobilised readiness 1 on the defender's side (gain 0.5), nobody strikes first
        assert dc.win_probability(p, 0.0, 1.0, -1, 0.0) == pytest.approx(0.5 / (0.5 + 0.75), abs=1e-15)
        # greedy resolved challenger striking first: 0.6/1.1 - 0.1
        assert dc.war_value(p, CHALLENGER, 3, 0.6 / 1.1) == pytest.approx(0.6 / 1.1 - 0.1, abs=1e-15)
        # defender security seeker, unresolved, pi_C = 0.5: 0.5 * 0.65 - 0.35
        assert dc.war_value(p, DEFENDER, 0, 0.5) == pytest.approx(-0.025, abs=1e-15)
        # peace: u(share) - F * P(adversary greedy)
        assert dc.peace_value(p, DEFENDER, 2, 0.3, 0.5) == pytest.approx(0.7 - 0.05, abs=1e-15)
        # climbing 0 -> 5 orders show of force, mobilization, limited force: 3 rungs
        assert dc.mobilization_cost(p, 0.0, 5.0) == pytest.approx(0.03, abs=1e-15)
        assert dc.mobilization_cost(p, 1.0, 2.0) == 0.0
        assert dc.mobilization_cost(p, 3.0, 4.0) == pytest.approx(0.01, abs=1e-15)
        # yielding: audience cost if committed, plus the pressure
        assert dc.audience_cost(p, 1.0, 0.02) == pytest.approx(0.07, abs=1e-15)
        assert dc.audience_cost(p, 0.0, 0.02) == pytest.approx(0.02, abs=1e-15)
        # readiness: 0.5, 0.75, 1 at rungs 3-5; 0 below; the standing posture under general deterrence
        assert [dc.readiness_at(p, CHALLENGER, float(L)) for L in range(6)] == [0, 0, 0, 0.5, 0.75, 1.0]
        pg = default_vector(strategies=["general_deterrence"])
        assert [dc.readiness_at(pg, DEFENDER, float(L)) for L in range(6)] == [0.5, 0.5, 0.5, 0.5, 0.75, 1.0]

    def test_hand_values_with_an_ally(self):
        """Issue 12: the ally's own effort (default 0.2) multiplies the defender's strength; a *deployed* tripwire
        force replaces half of it (effects.tripwire_effort_cut = 0.5), a withheld one nothing (docs "The ally":
        "one that is withheld has no effect at all"); an uncommitted defender values the stake at
        ally.uncommitted_value = 0.3. ``doctrine.ally_effort`` reads the deployment (X_DEPLOYED bits), and
        ``decision.win_probability`` takes the effort it is given."""
        pa = default_vector({"ally.present": True})
        pt = default_vector({"ally.present": True}, ["tripwire"])
        pn = default_vector({}, ["tripwire"])
        trip = frozenset({ref.TRIPWIRE})
        for p, bits, want in ((pa, 0, 0.2), (pt, doctrine.DEPLOYED_TRIPWIRE, 0.1), (pt, 0, 0.2),
                              (pt, doctrine.DEPLOYED_TERMS, 0.2), (pn, doctrine.DEPLOYED_TRIPWIRE, 0.0)):
            assert doctrine.ally_effort(p, bits) == pytest.approx(want, abs=1e-15), (bits, want)
            deployed = frozenset(k for k, bit in ((ref.TRIPWIRE, doctrine.DEPLOYED_TRIPWIRE),
                                                  (ref.ALLIANCE_TERMS, doctrine.DEPLOYED_TERMS)) if bits & bit)
            assert ref.ally_effort(params_of(p), deployed) == pytest.approx(want, abs=1e-15)
        assert dc.win_probability(pa, 0.0, 0.0, -1, 0.2) == pytest.approx(0.5 / (0.5 + 0.5 * 1.2), abs=1e-15)
        assert dc.win_probability(pt, 0.0, 0.0, -1, 0.1) == pytest.approx(0.5 / (0.5 + 0.5 * 1.1), abs=1e-15)
        assert ref.Payoffs(params_of(pt)).pi_c(0.0, 0.0, -1, ref.ally_effort(params_of(pt), trip)) == pytest.approx(
            0.5 / 1.05, abs=1e-15)
        # the effort is the argument, not a property of the vector: no ally and effort 0 is the plain balance
        assert dc.win_probability(pn, 0.0, 0.0, -1, 0.0) == 0.5
        # the receivers' model of a sender takes the mix (doctrine.deployed_by_policy)
        assert doctrine.deployed_by_policy(pt) == doctrine.DEPLOYED_TRIPWIRE and doctrine.deployed_by_policy(pn) == 0
        assert ref.deployed_by_policy(params_of(pt)) == trip and ref.deployed_by_policy(params_of(pn)) == frozenset()
        # stake value: an uncommitted unresolved security seeker (u(1) = 0.5 + 0.3 * 0.5), pi_D = 0.5
        assert dc.war_value(pa, DEFENDER, 0, 0.5, 0.3) == pytest.approx(0.3 * 0.5 * 0.65 - 0.35, abs=1e-15)
        assert dc.peace_value(pa, DEFENDER, 0, 0.7, 0.2, 0.3) == pytest.approx(0.3 * 0.3 - 0.1 * 0.2, abs=1e-15)

    @pytest.mark.parametrize("seed", [11, 12])
    def test_primitives_match_reference(self, seed):
        """Each primitive at random arguments; 1e-15 relative (a handful of operations)."""
        rng = np.random.default_rng(seed)
        for _ in range(200):
            p = random_vector(rng)
            pay = ref.Payoffs(params_of(p))
            side, k = int(rng.integers(2)), int(rng.integers(4))
            x = rng.random()
            assert close(dc.utility(p, side, k, x), pay.u(side, k, x), 1e-15)
            v = rng.uniform(-0.5, 1.5)
            a, b = dc.utility_inverse(p, side, k, v), pay.u_inv(side, k, v)
            assert (math.isinf(a) and math.isinf(b)) or close(a, b, 1e-15)
            if not math.isinf(b):  # u(u_inv(v)) = v where the inverse exists
                assert close(pay.u(side, k, b), v, 1e-14)
            rc, rd, first = rng.random(), rng.random(), int(rng.integers(-1, 2))
            effort = float(rng.choice([0.0, rng.uniform(0.0, 0.5)]))
            pi = pay.pi_c(rc, rd, first, effort)
            assert close(dc.win_probability(p, rc, rd, first, effort), pi, 1e-15)
            assert close(dc.war_value(p, side, k, pi), pay.war(side, k, pi), 1e-15)
            fear = rng.random()
            assert close(dc.peace_value(p, side, k, x, fear), pay.peace(side, k, x, fear), 1e-15)
            lv_a, lv_b = float(rng.integers(6)), float(rng.integers(6))
            assert close(dc.mobilization_cost(p, lv_a, lv_b), pay.mobilization(lv_a, lv_b), 1e-15)
            assert close(dc.readiness_at(p, side, lv_a), pay.readiness(side, lv_a), 1e-15)


# --- 1. the look-ahead: every move's EV at the root, the best offer -------------------------------------
def _compare(p, sit, belief):
    """Mismatches between the compiled evaluate and the reference (empty list = agreement)."""
    ev, offer, pag = compiled_evaluate(p, sit, belief)
    r = ref.evaluate(params_of(p), sit, belief)
    bad = []
    for m in ref.MOVES:
        if (ev[m] is None) != (r.ev[m] is None):
            bad.append((ref.MOVES[m], "menu", ev[m], r.ev[m]))
        elif ev[m] is not None and not close(ev[m], r.ev[m]):
            bad.append((m, "value", ev[m], r.ev[m]))
    if r.best_offer >= 0.0:
        # the chosen terms must be a candidate whose value is (within tolerance) the best:
        # two candidates may tie and then either is right
        best = r.ev[ref.OFFER]
        ties = [t for t, v in r.offer_candidates.items() if close(v, best)]
        if not any(close(offer, t) for t in ties):
            bad.append(("offer terms", offer, r.best_offer, r.offer_candidates))
    elif ev[ref.OFFER] is not None:
        bad.append(("offer where the reference has none", offer))
    if not close(pag, belief[2] + belief[3]):
        bad.append(("SIT_P_ADV_GREEDY", pag))
    return bad, r


@pytest.mark.parametrize("seed", SEEDS)
def test_evaluate_matches_reference(seed):
    """50 random situations per seed: parameters in their boxes, types, levels 0-5, beliefs, menus, offers..."""
    rng = np.random.default_rng(seed)
    failures = []
    for i in range(PER_SEED):
        p = random_vector(rng)
        sit = random_situation(rng, p[PARAM_INDEX["stake.status_quo"]], p)
        belief = random_belief(rng)
        bad, _ = _compare(p, sit, belief)
        if bad:
            failures.append((i, sit, belief.tolist(), bad))
    assert not failures, failures[:3]


def test_random_situations_cover_the_layer():
    """The random situations exercise every move, offers with distinct candidates, every rung, both sides."""
    seen = {m: 0 for m in ref.MOVES}
    offers = distinct = 0
    tops = set()
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        for _ in range(PER_SEED):
            p = random_vector(rng)
            sit = random_situation(rng, p[PARAM_INDEX["stake.status_quo"]], p)
            r = ref.evaluate(params_of(p), sit, random_belief(rng))
            for m in ref.MOVES:
                seen[m] += r.ev[m] is not None
            if r.best_offer >= 0:
                offers += 1
                distinct += len(r.offer_candidates) > 1
            tops.add(int(max(sit.own, sit.adv)))
    assert min(seen.values()) >= 60, seen
    assert offers >= 60 and distinct >= 30, (offers, distinct)
    assert tops == set(range(6))


def test_evaluate_on_default_crisis_situations():
    """The situations a defender meets right after a challenge, for each type, at several precisions."""
    for lam in (0.0, 5.0, 25.0, 60.0, 1e3, 1e6):
        p = default_vector({"decision.precision": lam})
        P = params_of(p)
        for k in range(4):
            for side in (CHALLENGER, DEFENDER):
                sit = ref.start_situation(P, side, k, 0.0 if side == DEFENDER else 1.0, 1.0 if side == DEFENDER else 2.0,
                                          0.7, (ref.WAR, ref.YIELD, ref.ESCALATE, ref.OFFER, ref.ACCEPT))
                sit.adv_offer = 0.55 if side == CHALLENGER else -1.0
                bad, _ = _compare(p, sit, np.array(ref.side_prior(P, 1 - side)))
                assert not bad, (lam, k, side, bad)


class _NoPressureLater(ref.LookAhead):
    """Mutant: the leader's later yields cost no audience pressure (only the root's does)."""

    def node_me(self, rung):
        saved = self.sit.pressure
        self.sit.pressure = 0.0
        try:
            return super().node_me(rung)
        finally:
            self.sit.pressure = saved


class _NoFirstStrikeInLookahead(ref.LookAhead):
    """Mutant: wars inside the look-ahead have no first striker."""

    def pi_c_at(self, my_level, adv_level, first):
        return super().pi_c_at(my_level, adv_level, -1)


class _AdversaryIgnoresFear(ref.LookAhead):
    """Mutant: the modelled adversary's peaceful outcomes carry no fear term."""

    def __init__(self, pay, sit, belief):
        super().__init__(pay, sit, belief)
        self.fear_adv = 0.0


class _StakeValueIgnored(ref.LookAhead):
    """Mutant (issue 12): the decider values the stake at 1 whatever its commitment."""

    def __init__(self, pay, sit, belief):
        super().__init__(pay, sit, belief)
        self.v = 1.0


class _NoAllyEffortLookAhead(ref.LookAhead):
    """Mutant (issue 12): the ally's own effort does not strengthen the defender."""

    def __init__(self, pay, sit, belief):
        sit.ally_effort = 0.0
        super().__init__(pay, sit, belief)


class _EffortOfTheMix(ref.LookAhead):
    """Mutant (issue 12): the ally's effort of the mix (a tripwire in the mix always cuts it), not of the
    situation's deployment."""

    def __init__(self, pay, sit, belief):
        sit.ally_effort = ref.ally_effort(pay.P, ref.deployed_by_policy(pay.P))
        super().__init__(pay, sit, belief)


@pytest.mark.parametrize("mutant", [_NoPressureLater, _NoFirstStrikeInLookahead, _AdversaryIgnoresFear,
                                    _StakeValueIgnored, _NoAllyEffortLookAhead])
def test_reference_detects_mutations(mutant):
    """The comparison can fail: small plausible mistakes in the look-ahead exceed the tolerance in at
    least 10% of the random situations (they only matter where pressure, a first strike or fear enter)."""
    rng = np.random.default_rng(99)
    differ = total = 0
    for _ in range(150):
        p = random_vector(rng)
        sit = random_situation(rng, p[PARAM_INDEX["stake.status_quo"]], p)
        belief = random_belief(rng)
        ev, _, _ = compiled_evaluate(p, sit, belief)
        r = mutant(ref.Payoffs(params_of(p)), ref.Situation(**sit.__dict__), list(belief)).evaluate()
        total += 1
        differ += any(a is not None and b is not None and not close(a, b) for a, b in zip(ev, r.ev, strict=True))
    assert differ >= 0.1 * total, (differ, total)


def test_the_allys_effort_is_that_of_the_deployment():
    """Docs "The ally": a withheld tripwire cuts nothing of the ally's effort. 200 situations with an ally and a
    tripwire in the mix that was withheld (``SIT_ALLY_EFFORT`` = the full ``ally.defence_effort``): the compiled
    values equal the reference's (1e-12), and a look-ahead that cuts the effort because the tripwire is in the mix
    (``_EffortOfTheMix``) differs in at least 10% of them (the comparison can fail)."""
    rng = np.random.default_rng(4141)
    differ = 0
    for _ in range(200):
        p = random_vector(rng)
        p[PARAM_INDEX["ally.present"]] = 1.0
        p[PARAM_INDEX["mix.tripwire"]] = 1.0
        signals.derive(p)
        P = params_of(p)
        sit = random_situation(rng, P["stake.status_quo"])
        sit.ally_effort = ref.ally_effort(P, frozenset())  # withheld: the full effort
        assert sit.ally_effort == P["ally.defence_effort"]
        belief = random_belief(rng)
        bad, _ = _compare(p, sit, belief)
        assert not bad, (sit, bad)
        ev, _, _ = compiled_evaluate(p, sit, belief)
        r = _EffortOfTheMix(ref.Payoffs(P), ref.Situation(**sit.__dict__), list(belief)).evaluate()
        differ += _differs(ev, r.ev)
    assert differ >= 20, differ


# --- no exit (issue 12): situations where it can bind -----------------------------------------------------
class _NoExitIgnored(ref.LookAhead):
    """Mutant: the defender can always yield."""

    def trapped_at(self, side, challenger_level):
        return False


class _NoExitAtTheRootOnly(ref.LookAhead):
    """Mutant: the rule binds the decision itself but not the nodes of the look-ahead."""

    def _without_rule(self, node, rung):
        saved, self.sit.no_exit = self.sit.no_exit, 0.0
        try:
            return node(rung)
        finally:
            self.sit.no_exit = saved

    def node_adv(self, rung):
        return self._without_rule(super().node_adv, rung)

    def node_me(self, rung):
        return self._without_rule(super().node_me, rung)


def _no_exit_situations(rng, n):
    """Random situations in which the rule can bind: no exit on, ally present with a tripwire, the top rung at
    3 or higher (so limited force is at most two rungs away), both sides, every menu."""
    cases = []
    while len(cases) < n:
        p = random_vector(rng)
        p[PARAM_INDEX["ally.present"]] = 1.0
        p[PARAM_INDEX["mix.tripwire"]] = 1.0
        p[PARAM_INDEX["effects.tripwire_no_exit"]] = 1.0
        signals.derive(p)
        sit = random_situation(rng, p[PARAM_INDEX["stake.status_quo"]], p)
        sit.no_exit = 1.0
        if max(sit.own, sit.adv) < 3:
            continue
        cases.append((p, sit, random_belief(rng)))
    return cases


def _differs(ev, r_ev):
    return any((a is None) != (b is None) or (a is not None and not close(a, b)) for a, b in zip(ev, r_ev, strict=True))


def test_no_exit_matches_reference():
    """300 situations where the no-exit rule can bind (tolerance as above, 1e-12): the root loses yielding when
    the defender faces limited force (unless its "yield" accepts a challenger's offer), and the nodes where the
    challenger holds rung 5 lose the defender's yield (its own, or the modelled defender's)."""
    rng = np.random.default_rng(7070)
    trapped_roots = 0
    for p, sit, belief in _no_exit_situations(rng, 300):
        bad, r = _compare(p, sit, belief)
        assert not bad, (sit, belief, bad)
        trapped_roots += sit.side == DEFENDER and sit.adv >= 5 and ref.YIELD in sit.menu
    assert trapped_roots >= 10  # 20 in this sample: the root rule itself is exercised, not only the nodes


@pytest.mark.parametrize("mutant,min_share", [(_NoExitIgnored, 0.08), (_NoExitAtTheRootOnly, 0.05)])
def test_no_exit_mutations_are_detected(mutant, min_share):
    """The comparison above can fail: ignoring the rule, or applying it at the root only, changes a value or the
    menu in a share of those situations (seen: 0.19 and 0.15 of 300; the thresholds are under half of that, so
    that the test checks detection rather than the exact mix of random menus)."""
    rng = np.random.default_rng(7070)
    cases = _no_exit_situations(rng, 300)
    differ = 0
    for p, sit, belief in cases:
        ev, _, _ = compiled_evaluate(p, sit, belief)
        r = mutant(ref.Payoffs(params_of(p)), ref.Situation(**sit.__dict__), list(belief)).evaluate()
        differ += _differs(ev, r.ev)
    assert differ >= min_share * len(cases), differ


class _NoExitBlocksAccepting(ref.LookAhead):
    """Mutant: the old rule -- no exit also takes away accepting a challenger's offer (the defender's "yield")."""

    def evaluate(self):
        e = super().evaluate()
        if self.trapped_at(self.me, self.sit.adv):
            e.ev[ref.YIELD] = None
        return e


def test_no_exit_leaves_accepting_an_offer_in_random_situations():
    """Docs "The ally": "Under no exit the defender can still accept a challenger's offer (accepting is not
    yielding)". In the no-exit situations above, every trapped defender whose "yield" accepts an offer
    (``SIT_YIELD_ACCEPTS`` = 1) keeps it, valued at the accepted terms with no audience cost (the reference,
    1e-12); every trapped defender without an offer loses it; the old rule (``_NoExitBlocksAccepting``) differs
    on each accepting case (7 of 300 here)."""
    rng = np.random.default_rng(7070)
    accepting = refusing = 0
    for p, sit, belief in _no_exit_situations(rng, 300):
        if not (sit.side == DEFENDER and sit.adv >= 5 and ref.YIELD in sit.menu):
            continue
        ev, _, _ = compiled_evaluate(p, sit, belief)
        r = ref.evaluate(params_of(p), sit, belief)
        if sit.yield_accepts:
            accepting += 1
            la = ref.LookAhead(ref.Payoffs(params_of(p)), sit, belief)
            assert ev[ref.YIELD] is not None and close(ev[ref.YIELD], la.my_yield_base())
            assert close(r.ev[ref.YIELD], ev[ref.YIELD])
            old = _NoExitBlocksAccepting(ref.Payoffs(params_of(p)), ref.Situation(**sit.__dict__), list(belief)).evaluate()
            assert _differs(ev, old.ev)
        else:
            refusing += 1
            assert ev[ref.YIELD] is None and r.ev[ref.YIELD] is None
    assert accepting >= 5 and refusing >= 5, (accepting, refusing)


# --- the demand ------------------------------------------------------------------------------------
def _screening(p, k, q, ready, belief, effort=0.0):
    ws = np.zeros(dc.SCRATCH_SIZE)
    ws[dc.SCR_SIT + dc.SIT_SIDE] = CHALLENGER
    ws[dc.SCR_SIT + dc.SIT_TYPE] = k
    ws[dc.SCR_SIT + dc.SIT_Q] = q
    ws[dc.SCR_SIT + dc.SIT_READY_OWN] = ready
    ws[dc.SCR_SIT + dc.SIT_ALLY_EFFORT] = effort
    arr = np.concatenate([np.zeros(5), belief])
    return dc.screening_demand(p, ws, arr, 5)


@pytest.mark.parametrize("seed", [31, 32, 33])
def test_screening_demand_matches_reference(seed):
    """The screening demand, accepted demands valued as peaceful outcomes (with the fear term); 300 cases per seed.
    With an ally, the refusal's war has the ally's effort of the challenger's situation (SIT_ALLY_EFFORT: that of
    the deployment; 30% of the cases with no tripwire deployed).

    The demand is one of the defender types' limits: compared with 1e-12 (a chain of four
    operations); when two limits give values within 1e-12 either may be chosen.
    """
    rng = np.random.default_rng(seed)
    for _ in range(300):
        p = random_vector(rng)
        P = params_of(p)
        k = int(rng.integers(4))
        q = P["stake.status_quo"] + (0.0 if rng.random() < 0.5 else rng.uniform(0.0, 0.1))
        ready = float(rng.choice([0.0, 0.5, rng.random()]))
        belief = random_belief(rng)
        effort = ref.ally_effort(P, ref.deployed_by_policy(P)) if rng.random() < 0.7 else ref.ally_effort(P, frozenset())
        got = _screening(p, k, q, ready, belief, effort)
        want, values = ref.screening_demand(P, k, q, ready, belief, fear_in_peace=True, effort=effort)
        if want < 0:
            assert got == -1.0
            continue
        ties = [x for x, v in values.items() if close(v, values[want])]
        assert any(close(got, x) for x in ties), (got, want, values)


def test_screening_demand_hand_example():
    """Defaults, prior belief (0.35, 0.35, 0.15, 0.15), q = 0.5: the defender types' limits are
    1 - u_D^{-1}(war value) = 1 (capped), 0.775, 0.85, 0.6; a greedy resolved challenger (type 3,
    war value 0.4; an accepted demand costs the fear term F * P(greedy) = 0.1 * 0.3 = 0.03) compares
    0.6 (all accept: 0.57), 0.775 (0.85 * 0.745 + 0.15 * 0.4 = 0.69325), 0.85 (0.5 * 0.82 + 0.5 * 0.4
    = 0.61) and 1 (0.35 * 0.97 + 0.65 * 0.4 = 0.5995): it demands 0.775."""
    p = default_vector()
    assert _screening(p, 3, 0.5, 0.0, np.array([0.35, 0.35, 0.15, 0.15])) == pytest.approx(0.775, abs=1e-12)
    want, values = ref.screening_demand(params_of(p), 3, 0.5, 0.0, [0.35, 0.35, 0.15, 0.15], fear_in_peace=True)
    assert values == pytest.approx({1.0: 0.5995, 0.775: 0.69325, 0.85: 0.61, 0.6: 0.57})
    # no limit above the status quo: no demand (type 0's limit is capped at the whole stake, 1)
    assert _screening(p, 3, 1.0, 0.0, np.array([0.35, 0.35, 0.15, 0.15])) == -1.0
    assert ref.screening_demand(params_of(p), 3, 1.0, 0.0, [0.35, 0.35, 0.15, 0.15])[0] == -1.0


def test_screening_demand_counts_fear_in_the_accepted_demand():
    """Every peaceful outcome costs the fear term, an accepted demand too (it once did not: a resolved security
    seeker then demanded 0.6 instead of 0.775)."""
    p = default_vector()
    prior = [0.35, 0.35, 0.15, 0.15]
    # doc reading: 0.6 -> 0.53 - 0.1 * 0.3 = 0.5 (all accept); 0.775 -> 0.85 * (0.5825 - 0.03) + 0.15 * 0.225 = 0.5034
    want, values = ref.screening_demand(params_of(p), 1, 0.5, 0.0, prior, fear_in_peace=True)
    assert want == pytest.approx(0.775) and values[0.6] == pytest.approx(0.5)
    assert _screening(p, 1, 0.5, 0.0, np.array(prior)) == pytest.approx(want, abs=1e-12)


# --- 2. the logit rule ------------------------------------------------------------------------------------
def _probs(lam, values):
    vals = np.array([dc.NEG if v is None else v for v in values], dtype=float)
    out = np.zeros(len(values))
    dc.logit_probabilities(lam, vals, 0, len(values), out, 0)
    return out


@pytest.mark.parametrize("lam", [0.0, 1.0, 5.0, 25.0, 60.0, 1e3, 1e6])
def test_logit_probabilities_match_reference(lam):
    """P(m) = exp(lam EV(m)) / sum over the menu; off-menu moves get 0. 1e-12 absolute (probabilities)."""
    rng = np.random.default_rng(int(lam) + 5)
    for _ in range(200):
        n = N_MOVES
        values = [None if rng.random() < 0.3 else rng.uniform(-0.5, 1.0) for _ in range(n)]
        if all(v is None for v in values):
            values[0] = 0.1
        got = _probs(lam, values)
        want = ref.logit(lam, values)
        assert np.allclose(got, want, rtol=0, atol=1e-12), (values, got, want)
        assert abs(got.sum() - 1.0) < 1e-12
        assert all(got[i] == 0.0 for i, v in enumerate(values) if v is None)


def _choose(lam, values, u):
    vals = np.array([dc.NEG if v is None else v for v in values], dtype=float)
    probs = np.zeros(len(values))
    return dc.choose(lam, vals, 0, len(values), u, probs, 0)


ALPHA = 1e-3  # significance level of every goodness-of-fit test below
N_DRAWS = 40_000


def _chi2_against(counts, probs):
    on = probs > 0
    expected = probs[on] * counts.sum()
    stat = float(((counts[on] - expected) ** 2 / expected).sum())
    df = int(on.sum()) - 1
    return stat, df, float(stats.chi2.ppf(1 - ALPHA, df))


def _power_two_points(probs, n):
    """Power of the chi-square test against the least detectable 2-percentage-point error
    (2 points moved from one move to another), from the noncentral chi-square distribution."""
    on = [p for p in probs if p > 0]
    df = len(on) - 1
    crit = stats.chi2.ppf(1 - ALPHA, df)
    worst = min(n * (0.02**2 / a + 0.02**2 / b) for i, a in enumerate(on) for j, b in enumerate(on) if i != j)
    return float(stats.ncx2.sf(crit, df, worst))


CHOICE_CASES = [
    (10.0, [0.1, 0.3, None, 0.25, 0.2, None]),  # a crisis menu
    (25.0, [0.40, 0.38, 0.45, None, 0.41, None]),  # with an offer to accept
    (5.0, [0.0, None, None, 0.1, None, 0.05]),  # an opportunity: war, escalate (challenge), wait
]


@pytest.mark.parametrize("lam,values", CHOICE_CASES)
def test_choose_frequencies_match_logit(lam, values):
    """Chi-square goodness of fit of 40,000 choices (uniforms from a seeded Generator) to the logit
    probabilities of the reference, at alpha = 1e-3. The power against a 2-point error in any pair
    of moves is computed (>= 0.99 required) and demonstrated on the same sample."""
    rng = np.random.default_rng(777)
    probs = np.array(ref.logit(lam, values))
    us = rng.random(N_DRAWS)
    counts = np.bincount([_choose(lam, values, u) for u in us], minlength=len(values))
    assert all(counts[i] == 0 for i, v in enumerate(values) if v is None)
    stat, df, crit = _chi2_against(counts, probs)
    assert stat < crit, (stat, crit, counts, probs)
    assert _power_two_points(probs, N_DRAWS) >= 0.99
    # the same sample rejects every 2-point error between two moves on the menu
    on = [i for i, v in enumerate(values) if v is not None]
    for a in on:
        for b in on:
            if a != b and probs[b] > 0.02:
                wrong = probs.copy()
                wrong[a] += 0.02
                wrong[b] -= 0.02
                assert _chi2_against(counts, wrong)[0] > crit, (a, b)


def test_choose_inverse_cdf_order():
    """The first move, in the order war, yield, accept, escalate, offer, wait, whose cumulative probability exceeds u."""
    values = [0.1, 0.3, None, 0.25, 0.2, 0.0]
    probs = ref.logit(10.0, values)
    cum = np.cumsum(probs)
    for i, c in enumerate(cum[:-1]):
        if probs[i] == 0:
            continue
        assert _choose(10.0, values, np.nextafter(c, 0.0)) == i
    assert _choose(10.0, values, 0.0) == 0
    assert _choose(10.0, values, 1.0 - 2**-53) == 5


def test_choose_precision_zero_is_uniform_on_the_menu():
    rng = np.random.default_rng(4242)
    values = [0.9, None, -0.3, 0.2, None, 0.0]
    assert np.allclose(_probs(0.0, values), [0.25, 0, 0.25, 0.25, 0, 0.25], atol=0)
    counts = np.bincount([_choose(0.0, values, u) for u in rng.random(N_DRAWS)], minlength=6)
    stat, df, crit = _chi2_against(counts, np.array([0.25, 0, 0.25, 0.25, 0, 0.25]))
    assert counts[1] == counts[4] == 0 and stat < crit


def test_choose_high_precision_picks_the_best():
    rng = np.random.default_rng(4343)
    values = [0.30, 0.301, None, 0.2999, 0.3, None]  # the best beats the next by 1e-3
    us = np.concatenate([rng.random(5000), [0.0, 1.0 - 2**-53]])
    assert {_choose(1e6, values, u) for u in us} == {1}


def test_choose_ties_share_the_probability():
    rng = np.random.default_rng(4444)
    values = [0.2, 0.5, None, 0.5, 0.1, 0.5]
    assert np.allclose(_probs(1e6, values), [0, 1 / 3, 0, 1 / 3, 0, 1 / 3], atol=1e-15)
    counts = np.bincount([_choose(1e6, values, u) for u in rng.random(N_DRAWS)], minlength=6)
    stat, df, crit = _chi2_against(counts, np.array([0, 1 / 3, 0, 1 / 3, 0, 1 / 3]))
    assert counts[0] == counts[4] == 0 and stat < crit


def test_evaluate_then_choose_on_a_scenario_situation():
    """End of the pipeline: a defender right after a challenge, logit over the compiled EVs = reference."""
    s = Scenario.build(values={"decision.precision": 40.0})
    p = s.vectors()[0][0]
    P = params_of(p)
    sit = ref.start_situation(P, DEFENDER, 1, 0.0, 1.0, 0.775, (ref.WAR, ref.YIELD, ref.ESCALATE, ref.OFFER))
    belief = np.array(ref.side_prior(P, CHALLENGER))
    ws = to_scratch(sit)
    dc.evaluate(p, ws, belief, 0)
    dc.logit_probabilities(40.0, ws, dc.SCR_EV, N_MOVES, ws, dc.SCR_PROBS)
    want = ref.logit(40.0, ref.evaluate(P, sit, belief).ev)
    assert np.allclose(ws[dc.SCR_PROBS : dc.SCR_PROBS + N_MOVES], want, rtol=0, atol=1e-12)


def test_scratch_reuse_does_not_leak():
    """The engines reuse one scratch array for every decision: evaluating a situation after others
    (with lower and higher tops, other menus) gives exactly what a fresh array gives."""
    rng = np.random.default_rng(5150)
    ws = np.zeros(dc.SCRATCH_SIZE)
    for _ in range(300):
        p = random_vector(rng)
        sit = random_situation(rng, p[PARAM_INDEX["stake.status_quo"]], p)
        belief = random_belief(rng)
        fresh = to_scratch(sit)
        dc.evaluate(p, fresh, belief, 0)
        ws[dc.SCR_SIT : dc.SCR_SIT + dc.SIT_SIZE] = fresh[dc.SCR_SIT : dc.SCR_SIT + dc.SIT_SIZE]
        ws[dc.SCR_SIT + dc.SIT_BEST_OFFER] = -1.0
        dc.evaluate(p, ws, belief, 0)
        assert np.array_equal(ws[dc.SCR_EV : dc.SCR_EV + N_MOVES], fresh[dc.SCR_EV : dc.SCR_EV + N_MOVES])
        assert ws[dc.SCR_SIT + dc.SIT_BEST_OFFER] == fresh[dc.SCR_SIT + dc.SIT_BEST_OFFER]

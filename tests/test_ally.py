"""The ally as a player (issue 12): tests that can fail.

The rules checked here are those of docs/model.md ("The ally", "Random numbers"), of issue 12 and of the code's
own docstrings (``rules.switch_wait``, ``committed_now``, ``ally_belief_now``, ``ally_update``,
``absorb_conduct``, ``ally_attack_risk``, ``ally_review``, ``ally_military``, ``send_reassurance``,
``carry_out``; ``signals.derive`` for ``A_SEND`` and ``A_YIELD``). Every expectation is computed independently:
``tests/reference_model.py`` (the commitment chain from stream 10 alone, the forward algorithm with
``scipy.linalg.expm`` or an eigendecomposition, ``A_SEND``/``A_YIELD`` from the reference look-ahead, the review
values) and ``tests/replay_tools.AllyTracker`` (a draw-by-draw replay of the ally and of the defender's
reassurance on recorded SimPy crises).

Tolerances, each argued where it is used:

* beliefs and probabilities compared with a computation of the same real number by another route: ``1e-12``
  absolute (numbers in [0, 1], chains of at most a few hundred operations, rounding ~1e-15; the eigen and Pade
  matrix exponentials agree to ~1e-14);
* frequencies of the compiled engine against closed forms: two-sided Wilson intervals at ``alpha = 1e-3``
  (z = 3.29), with the power shown on the same sample against a plausible error;
* distributions: Kolmogorov-Smirnov at ``alpha = 1e-3``, with the power shown the same way;
* "never": zero in a sample large enough that the event is frequent (hundreds) once the protecting switch is
  off, on the same replications (common random numbers);
* the two engines: bit for bit (``numpy.array_equal`` of final state vectors).

Section 8 tests the fixes of what an earlier version of this file found (standing instruments deployed or
withheld at set-up, a provocation that acts on arrival, the tripwire's evidence discounted by motivated bias,
no exit that leaves accepting an offer, a challenger's war as an attack, the rarity of reversed conduct, the
docs on streams and motivated bias, renewals at least a day apart), each with a check that the old behaviour
would fail. Strict ``xfail`` tests at the end (section 9) document the disagreements found since.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import reference_model as ref
from decision_cases import compiled_evaluate, params_of, random_vector
from replay_tools import AllyTracker, Tally, Tracker, bel, code_tables, deployed_bits, reference_tables, run_recorded
from scipy import stats

from escalation_sim.engines import montecarlo
from escalation_sim.engines.simpy_engine import Crisis, simulate
from escalation_sim.errors import ConfigError
from escalation_sim.model import constants as C
from escalation_sim.model import decision as dc
from escalation_sim.model import rules, signals
from escalation_sim.model.params import ALLY_INSTRUMENTS, PARAM_INDEX, RESPONSE_RULES
from escalation_sim.model.scenario import Scenario

ATOL = 1e-12
ALPHA = 1e-3
Z = stats.norm.ppf(1 - ALPHA / 2)  # 3.29
ALL_INSTRUMENTS = list(ALLY_INSTRUMENTS)
ALLY_LEADER = 3 * C.ALLY + C.LEADER
CONF = C.GLOBAL_FIELDS + C.ALLY * C.STATE_FIELDS + C.S_CONFIDENCE
DOCS = Path(__file__).resolve().parents[1] / "docs" / "model.md"


def scenario(values, strategies=()):
    return Scenario.build(values={"ally.present": True, **values}, strategies=list(strategies))


def vector(values, strategies=()):
    return scenario(values, strategies).vectors()[0][0]


def wilson(x, n, z=Z):
    """Two-sided Wilson score interval for a binomial proportion."""
    ph = x / n
    centre = (ph + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def cell(values, strategies=(), n=20000, seed=5):
    """A compiled cell (serial: the machine's two cores are shared)."""
    return montecarlo.run_cell(scenario(values, strategies), n, seed, threads=1)


# --- 0. the ally's model of the defender, by hand ---------------------------------------------------------------
def test_send_table_by_hand():
    """A_SEND[z][k] = 1 / (1 + exp(-lambda (v_z - cost_k))) with lambda = 25, v_1 = 0.15, v_0 = 0.15 * 0.3 = 0.045;
    an uncommitted defender's public statement also risks the audience cost 0.05 (1e-15: one logistic)."""
    t = code_tables(vector({}))["a_send"]
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert t[1][ref.TRIPWIRE] == pytest.approx(sig(25 * (0.15 - 0.05)), abs=1e-15)
    assert t[0][ref.TRIPWIRE] == pytest.approx(sig(25 * (0.045 - 0.05)), abs=1e-15)
    assert t[1][ref.PUBLIC_STATEMENT] == pytest.approx(sig(25 * (0.15 - 0.005)), abs=1e-15)
    assert t[0][ref.PUBLIC_STATEMENT] == pytest.approx(sig(25 * (0.045 - 0.005 - 0.05)), abs=1e-15)
    assert t[0][ref.PRIVATE_STATEMENT] == pytest.approx(sig(25 * (0.045 - 0.002)), abs=1e-15)


# --- 1. the ally's filter is the forward algorithm of a two-state HMM ---------------------------------------------
FILTER_CASES = {
    # every instrument renewed every 20 days, commitment that lapses and returns
    "all instruments, lapsing": ({"ally.lapse_rate": 1 / 150, "ally.recommit_rate": 1 / 100, "ally.p_committed": 0.6,
                                  "defender.renewal_interval": 20.0, "ally.review_interval": 45.0}, ALL_INSTRUMENTS),
    # switching hazard 0: the filter is plain Bayes' rule (prediction is the identity)
    "no hazard": ({"ally.lapse_rate": 0.0, "ally.recommit_rate": 0.0, "defender.renewal_interval": 30.0}, ALL_INSTRUMENTS),
    # strong signals (an uncommitted defender values its ally at 0) and a slow renewal: long predictions
    "strong signals, slow renewal": ({"ally.uncommitted_value": 0.0, "ally.p_committed": 0.5, "ally.lapse_rate": 1 / 60,
                                      "defender.renewal_interval": 100.0}, ["tripwire", "public_statement", "aid"]),
    # one-way hazard (no recommitment): the prediction drifts to 0
    "lapse only": ({"ally.recommit_rate": 0.0, "ally.lapse_rate": 1 / 200, "defender.renewal_interval": 15.0},
                   ["private_statement", "exercises"]),
}
NO_CRISIS = {"crisis.opportunity_rate": 0.0, "crisis.horizon": 730.0}
BELIEF_EVENTS = ("support", "reassurance_withheld", "review", "hedge_start", "hedge_stop", "stay", "provoke")


def _ally_rows(trace):
    """The ally leader's rows that report its belief (``value``), in the order handled."""
    rows = trace[(trace.actor == "ally.leader") & trace.event.isin(BELIEF_EVENTS)]
    return list(rows.itertuples(index=False))


def forward(P, rows, tables, predict="expm", withheld_as_sent=False, lam_override=None):
    """The normalised forward algorithm over the ally's rows; returns the filtered P(committed) after each row.

    alpha <- alpha expm(Q dt) (states uncommitted, committed), then times the likelihoods of what was perceived:
    an instrument k sent, (A_SEND[0][k], A_SEND[1][k]); withheld, one minus those; a review, no evidence.
    The mutants (``predict=None``: no prediction; ``withheld_as_sent``; ``lam_override``: the send table with
    another precision) show that the comparison can fail.
    """
    a = np.array([1.0 - P["ally.p_committed"], P["ally.p_committed"]])
    t_prev, out = 0.0, []
    a_send = tables.a_send
    if lam_override is not None:
        q = ref.Params(list(P._v), P._i)
        q._v[q._i["decision.precision"]] = lam_override
        a_send = [[ref.send_probability(q, z, k) for k in range(ref.N_INSTRUMENTS)] for z in (0, 1)]
    for r in rows:
        if predict is not None:
            a = a @ ref.hmm_transition(P["ally.lapse_rate"], P["ally.recommit_rate"], r.time - t_prev, predict)
        t_prev = r.time
        if r.event in ("support", "reassurance_withheld"):
            k = int(r.level)
            like = np.array([a_send[0][k], a_send[1][k]])
            if r.event == "reassurance_withheld" and not withheld_as_sent:
                like = 1.0 - like
            a = a * like
        a = a / a.sum()
        out.append(float(a[1]))
    return out


@pytest.fixture(scope="module")
def filter_runs():
    """20 SimPy replications of each filter case (no crisis: the instruments and the reviews are the evidence)."""
    runs = {}
    for name, (values, strategies) in FILTER_CASES.items():
        s = scenario({**NO_CRISIS, **values}, strategies)
        P = params_of(s.vectors()[0][0])
        runs[name] = (P, [_ally_rows(simulate(s, 31, rep).trace) for rep in range(20)])
    return runs


@pytest.mark.parametrize("name", list(FILTER_CASES))
def test_filter_equals_forward_algorithm(name, filter_runs):
    """The belief in the trace after every instrument received or withheld and at every review equals the
    forward algorithm with scipy's expm and the reference A_SEND (1e-12 absolute)."""
    P, runs = filter_runs[name]
    tables = reference_tables(P)
    seen = {"support": 0, "reassurance_withheld": 0, "review": 0}
    for rows in runs:
        want = forward(P, rows, tables)
        for r, w in zip(rows, want, strict=True):
            assert abs(r.value - w) <= ATOL, (name, r.time, r.event, r.value, w)
            seen[r.event if r.event in seen else "review"] += 1
    assert min(seen.values()) >= 10, seen


@pytest.mark.parametrize("mutant", ["no prediction", "withheld read as sent", "ally precision in A_SEND"])
def test_filter_comparison_can_fail(mutant, filter_runs):
    """A forward algorithm that forgets the switching hazard, reads a withheld renewal as a sent one, or takes the
    send table at the ally's precision (50) instead of the defender's (25) misses the trace by more than 1e-6."""
    P, runs = filter_runs["all instruments, lapsing"]
    tables = reference_tables(P)
    kwargs = {"no prediction": {"predict": None}, "withheld read as sent": {"withheld_as_sent": True, "predict": "eig"},
              "ally precision in A_SEND": {"lam_override": P["ally.precision"], "predict": "eig"}}[mutant]
    worst = max(abs(r.value - w) for rows in runs for r, w in zip(rows, forward(P, rows, tables, **kwargs), strict=True))
    assert worst > 1e-6


def _ally_handler(p, seed=3):
    """State, streams and scratch of one replication (set-up done), to drive ``rules.handle`` for the ally."""
    st = np.zeros(C.STATE_SIZE)
    keys = np.zeros(C.N_STREAMS, dtype=np.uint64)
    ctr = np.zeros(C.N_STREAMS, dtype=np.uint64)
    rules.setup(p[None, :].copy(), np.array([1.0]), seed, 0, st, keys, ctr, 0)
    return st, keys, ctr, np.zeros(dc.SCRATCH_SIZE), np.zeros((C.MAX_OUT, C.OUT_FIELDS)), np.zeros(C.INFO_FIELDS)


def _msg(kind, aux=0.0, flags=0):
    m = np.zeros(C.MSG_FIELDS)
    m[C.M_KIND], m[C.M_SENDER], m[C.M_FLAGS], m[C.M_AUX] = kind, 3 * C.DEFENDER + C.LEADER, flags, aux
    return m


def test_filter_fixed_sequence_through_the_handler():
    """A fixed sequence of perceptions handed to the ally's leader (``rules.handle``): instruments sent and withheld
    at irregular times (two at the same instant, a gap of 700 days), a review, and the defender's concession once a
    crisis has ended (read at the ally's next message). After each message the stored belief equals the forward
    algorithm (scipy expm; reference A_SEND and A_YIELD), 1e-12."""
    values = {"ally.lapse_rate": 1 / 90, "ally.recommit_rate": 1 / 300, "ally.p_committed": 0.7}
    p = vector(values)
    P = params_of(p)
    T = reference_tables(P)
    st, keys, ctr, ws, out, info = _ally_handler(p)
    W = C.F_WITHHELD
    seq = [(3.0, C.MK_SUPPORT, ref.TRIPWIRE, 0), (3.0, C.MK_SUPPORT, ref.PUBLIC_STATEMENT, 0),
           (17.5, C.MK_SUPPORT, ref.PRIVATE_STATEMENT, W), (45.0, C.MK_REVIEW, 0, 0), (46.0, C.MK_SUPPORT, ref.AID, 0),
           (746.0, C.MK_SUPPORT, ref.EXERCISES, W), (750.0, "concession", 0, 0), (751.0, C.MK_SUPPORT, ref.AID, W),
           (751.0, C.MK_SUPPORT, ref.ALLIANCE_TERMS, 0)]
    a = np.array([1 - P["ally.p_committed"], P["ally.p_committed"]])
    t_prev = 0.0
    for t, kind, k, flags in seq:
        if kind == "concession":  # a crisis that ended in a concession: the ally reads it at its next message
            st[C.X_CHALLENGE_TIME], st[C.X_OUTCOME] = 700.0, C.DEFENDER_CONCEDES
            a = a @ ref.hmm_transition(P["ally.lapse_rate"], P["ally.recommit_rate"], 751.0 - t_prev, "expm")
            a = a * np.array(T.a_yield)
            a, t_prev = a / a.sum(), 751.0
            continue
        rules.handle(ALLY_LEADER, _msg(kind, k, flags), t, st, p, keys, ctr, ws, out, info)
        a = a @ ref.hmm_transition(P["ally.lapse_rate"], P["ally.recommit_rate"], t - t_prev, "expm")
        t_prev = t
        if kind == C.MK_SUPPORT:
            like = np.array([T.a_send[0][k], T.a_send[1][k]])
            a = a * (1 - like if flags else like)
        a = a / a.sum()
        stored = rules.ally_belief_now(st, p, t)
        assert abs(stored - a[1]) <= ATOL, (t, kind, k, stored, a[1])
        assert abs(info[C.I_VALUE] - a[1]) <= ATOL
    assert st[C.X_CONDUCT_SEEN] == 1.0


def test_belief_stays_at_the_prior_without_hazard_and_signals():
    """Switching hazard 0, no instrument, no crisis: every review reports exactly the prior (bit for bit), and the
    stored belief is the prior at the horizon."""
    for prior in (0.8, 0.35, 1.0, 0.0):
        s = scenario({**NO_CRISIS, "ally.lapse_rate": 0.0, "ally.recommit_rate": 0.0, "ally.p_committed": prior,
                      "ally.review_interval": 30.0})
        for rep in range(5):
            r = simulate(s, 8, rep)
            rows = _ally_rows(r.trace)
            assert len(rows) == 24
            assert all(row.value == prior for row in rows)
            assert r.state[CONF] == prior


def test_belief_without_signals_decays_to_the_stationary_share():
    """With no signal old reassurance loses weight at the rate the hazard sets: at review t the belief is
    b_inf + (b0 - b_inf) exp(-(lapse + recommit) t), b_inf = recommit / (lapse + recommit) -- the stationary
    share of committed defenders, whatever the prior (1e-12; also the forward algorithm above)."""
    lapse, recommit = 1 / 200, 1 / 600
    b_inf = recommit / (lapse + recommit)
    for b0 in (0.95, 0.1):
        s = scenario({**NO_CRISIS, "ally.lapse_rate": lapse, "ally.recommit_rate": recommit, "ally.p_committed": b0,
                      "crisis.horizon": 3000.0, "ally.review_interval": 90.0})
        rows = _ally_rows(simulate(s, 8, 0).trace)
        for row in rows:
            assert abs(row.value - (b_inf + (b0 - b_inf) * math.exp(-(lapse + recommit) * row.time))) <= ATOL
        assert abs(rows[-1].value - b_inf) < 1e-6  # the last review at 2970 days: ~20 time constants


# --- 2. the programme: its start probability in closed form ----------------------------------------------------------
PROGRAMME = {**NO_CRISIS, "ally.p_committed": 0.8, "ally.lapse_rate": 1 / 200, "ally.recommit_rate": 1 / 400,
             "ally.review_interval": 90.0, "ally.programme_cost": 0.08, "ally.risk_gain": 0.15}
N_PROGRAMME = 40000


def programme_closed_form(P, horizon):
    """P(the ally starts a programme by ``horizon``) with no instrument and no crisis.

    Reviews at R, 2R, ... (each due before the horizon); the belief at review t is the filter's prediction from the
    prior (no evidence: ``hmm_predict`` with scipy's expm), the attack risk ``ally.threat``. At each review an ally
    that has not started chooses by the logit rule among stay, hedge and (if it may take risks and has not yet)
    take risks; once it has provoked, between stay and hedge. So with ``f`` = P(not started, not provoked) and
    ``g`` = P(not started, provoked): ``f' = f p3(stay)``, ``g' = g p2(stay) + f p3(risk)``; the answer is
    ``1 - f - g`` after the last review.
    """
    R, lam, a = P["ally.review_interval"], P["ally.precision"], P["ally.threat"]
    risk = P["ally.risk_taking"] > 0
    f, g, t = 1.0, 0.0, 0.0
    while True:
        t = t + R
        if t >= horizon:
            break
        b = ref.hmm_predict(P["ally.p_committed"], P["ally.lapse_rate"], P["ally.recommit_rate"], t, "expm")
        p3 = ref.logit(lam, ref.ally_review_values(P, b, a, True, risk))
        p2 = ref.logit(lam, ref.ally_review_values(P, b, a, True, False))
        f, g = f * p3[0], g * p2[0] + f * (p3[2] if risk else 0.0)
    return 1.0 - f - g


@pytest.mark.parametrize("risk_taking", [False, True])
def test_programme_start_matches_closed_form(risk_taking):
    """The compiled engine's share of replications with a programme started (the ``programme`` measure) after 1, 2,
    3 and 4 reviews (horizons 100, 190, 280, 365 days: the same replications, cut earlier) lies in the Wilson
    interval (alpha = 1e-3, n = 40,000) of the closed form; the closed form with the review precision off by 10%
    (45 or 55 instead of 50) lies outside every interval from the second review on (the test can fail)."""
    values = {**PROGRAMME, "ally.risk_taking": risk_taking}
    for i, horizon in enumerate((100.0, 190.0, 280.0, 365.0)):
        v = {**values, "crisis.horizon": horizon}
        P = params_of(vector(v))
        tot = cell(v, n=N_PROGRAMME, seed=12)
        x = int(tot.programme.sum())
        lo, hi = wilson(x, tot.n)
        want = programme_closed_form(P, horizon)
        assert lo <= want <= hi, (horizon, x / tot.n, want, lo, hi)
        if i >= 1:
            for f in (0.9, 1.1):
                wrong = programme_closed_form(params_of(vector({**v, "ally.precision": 50.0 * f})), horizon)
                assert not lo <= wrong <= hi, (horizon, f, wrong, lo, hi)
    assert 0.3 < want < 0.7  # a sensitive region, not a certainty


# --- 3. entrapment and abandonment ------------------------------------------------------------------------------------
ENTRAPMENT = {"ally.risk_gain": 0.06, "ally.review_interval": 45.0, "ally.provocation_loss": 0.1}


@pytest.mark.parametrize("strategies", [[], ["tripwire", "public_statement"], ["immediate_deterrence", "aid"]],
                         ids=lambda s: "+".join(s) or "none")
def test_no_entrapment_without_risk_taking(strategies):
    """ally.risk_taking = 0: no replication of 20,000 has an ally provocation, a crisis opened by the ally or an
    entrapment war; with risk taking on, the same replications have hundreds of each (the test can fail)."""
    off = cell({**ENTRAPMENT, "ally.risk_taking": False, "defender.renewal_interval": 30.0}, strategies)
    on = cell({**ENTRAPMENT, "ally.risk_taking": True, "defender.renewal_interval": 30.0}, strategies)
    assert off.ally_opened.sum() == 0 and off.entrapment.sum() == 0
    states = montecarlo.final_states(scenario({**ENTRAPMENT, "ally.risk_taking": False}, strategies), 5, range(2000))
    assert (states[:, C.X_PROVOKED] == -1.0).all() and (states[:, C.X_ALLY_RISK] == -1.0).all()
    assert on.ally_opened.sum() >= 1000 and on.entrapment.sum() >= 100, (on.ally_opened, on.entrapment)


# resolved challengers, unresolved defenders and noisy choices: force is used even against a trapped defender
COMMITTED = {"ally.p_committed": 1.0, "ally.lapse_rate": 0.0, "channel.misperception": 0.2, "military.incident_rate": 0.06,
             "decision.precision": 10.0, "defender.p_resolved": 0.1, "challenger.p_resolved": 0.9}


@pytest.mark.parametrize("strategies", [["tripwire"], ["tripwire", "immediate_deterrence"], ["tripwire", "tit_for_tat"],
                                        ["tripwire", "public_statement", "reciprocal_concessions"]],
                         ids=lambda s: "+".join(s))
def test_no_abandonment_when_committed_with_no_exit(strategies):
    """A defender committed by type (p_committed = 1, lapse 0) with a deployed tripwire and no exit never concedes
    after the challenger attacked the ally: abandonment 0 among the replications of 40,000 whose tripwire was
    deployed at set-up (A_SEND[1][tripwire] = 0.73 at precision 10: the share deployed lies in its Wilson interval).
    Without the no-exit rule the same replications have 100 or more abandonments (170-900 seen; the test can fail).
    A tripwire withheld at set-up traps nobody: with the rule on, those replications have abandonments too (50-230
    seen; at least 20 required)."""
    p = vector({**COMMITTED, "effects.tripwire_no_exit": True}, strategies)
    trapped = montecarlo.final_states(scenario({**COMMITTED, "effects.tripwire_no_exit": True}, strategies), 5, range(40000))
    free = montecarlo.final_states(scenario({**COMMITTED, "effects.tripwire_no_exit": False}, strategies), 5, range(40000))
    deployed = (trapped[:, C.X_DEPLOYED].astype(int) & 1) > 0
    assert np.array_equal(deployed, (free[:, C.X_DEPLOYED].astype(int) & 1) > 0)  # common random numbers
    lo, hi = wilson(int(deployed.sum()), deployed.size)
    assert lo <= code_tables(p)["a_send"][1][ref.TRIPWIRE] <= hi
    abandoned = trapped[:, C.X_ABANDONED] > 0
    assert abandoned[deployed].sum() == 0
    assert (free[deployed, C.X_ABANDONED] > 0).sum() >= 100
    assert abandoned[~deployed].sum() >= 20, abandoned[~deployed].sum()


# --- 4. both engines, bit for bit --------------------------------------------------------------------------------------
IDENTITY_BASE = {"ally.lapse_rate": 1 / 120, "ally.recommit_rate": 1 / 120, "ally.p_committed": 0.6,
                 "defender.renewal_interval": 30.0, "ally.review_interval": 45.0, "ally.detection_rate": 1 / 60,
                 "ally.programme_cost": 0.05, "ally.risk_gain": 0.06, "channel.misperception": 0.2,
                 "military.incident_rate": 0.06, "effects.tripwire_no_exit": True}
STYLES = ("probing", "firm", "reciprocating")
RULES = ("none", *RESPONSE_RULES)
N_IDENTITY = 200


def _identical(s, seed, reps, twin):
    compiled = montecarlo.final_states(s, seed, reps, twin=twin)
    p_mixes, cum = s.vectors()
    bad = []
    for i, rep in enumerate(reps):
        st = Crisis(p_mixes, cum, seed, rep, record=False, twin=twin).run().state
        if not np.array_equal(st, compiled[i]):
            bad.append((rep, np.flatnonzero(st != compiled[i]).tolist()))
    return bad, compiled


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("instrument", ALL_INSTRUMENTS)
def test_engines_identical_on_ally_scenarios(instrument, rule):
    """Every instrument with every response rule (the challenger's style rotating), 200 replications and their
    complete-information twins: the SimPy and compiled final states are equal bit for bit."""
    i = ALL_INSTRUMENTS.index(instrument) + RULES.index(rule)
    strategies = [instrument] + ([rule] if rule != "none" else [])
    s = scenario({**IDENTITY_BASE, "challenger.strategy": STYLES[i % 3]}, strategies)
    reps = list(range(N_IDENTITY))
    for twin in (False, True):
        bad, states = _identical(s, 17, reps, twin)
        assert not bad, (twin, len(bad), bad[:3])
    assert (states[:, C.X_OUTCOME] != C.NO_CHALLENGE).sum() > 50  # crises, not empty years


def test_engines_identical_on_an_ally_population(extended):
    """A population of mixes (every instrument in some mix) and the shipped extended-deterrence scenario."""
    pop = [(1, ["tripwire", "alliance_terms", "immediate_deterrence"]), (1, ["public_statement", "private_statement", "tit_for_tat"]),
           (2, ["aid", "exercises", "grit", "reciprocal_concessions"]), (1, [])]
    s = Scenario.build(values={"ally.present": True, **IDENTITY_BASE}, population=pop)
    for twin in (False, True):
        assert not _identical(s, 23, list(range(N_IDENTITY)), twin)[0]
    for twin in (False, True):
        assert not _identical(extended, 29, list(range(N_IDENTITY)), twin)[0]


# --- 5. the commitment chain ----------------------------------------------------------------------------------------------
CHAIN = {"ally.p_committed": 0.6, "ally.lapse_rate": 1 / 40, "ally.recommit_rate": 1 / 25}


def _setup_state(p, seed, rep):
    st = np.zeros(C.STATE_SIZE)
    keys = np.zeros(C.N_STREAMS, dtype=np.uint64)
    ctr = np.zeros(C.N_STREAMS, dtype=np.uint64)
    rules.setup(p[None, :].copy(), np.array([1.0]), seed, rep, st, keys, ctr, 0)
    return st, keys, ctr


def test_chain_path_does_not_depend_on_the_query_times():
    """Three copies of the same replication's state are queried on different grids (every day; 25 random times;
    once at the end). Every answer equals the path generated from stream 10 alone (reference CommitmentChain), and
    after a last query at day 1000 the three states and stream counters are identical."""
    p = vector(CHAIN)
    P = params_of(p)
    rng = np.random.default_rng(77)
    grids = [np.arange(0.0, 1000.0, 1.0), np.sort(rng.uniform(0.0, 1000.0, 25)), np.array([])]
    switches = 0
    for rep in range(20):
        base = _setup_state(p, 41, rep)
        finals = []
        for grid in grids:
            st, keys, ctr = (x.copy() for x in base)
            truth = ref.CommitmentChain(P, ref.stream_keys(41, rep)[ref.STREAM_COMMITMENT])
            for t in grid:
                assert rules.committed_now(st, p, keys, ctr, t) == truth.at(t)
                assert st[C.X_NEXT_SWITCH] == truth.next
            rules.committed_now(st, p, keys, ctr, 1000.0)
            truth.at(1000.0)
            finals.append((st.copy(), ctr.copy()))
            switches = max(switches, len(truth.switches))
        for st, c in finals[1:]:
            assert np.array_equal(st, finals[0][0]) and np.array_equal(c, finals[0][1])
        assert int(finals[0][1][ref.STREAM_COMMITMENT]) == len(truth.switches) + 2  # initial state, then one per sojourn
    assert switches >= 20  # ~31 expected in 1000 days


N_KS = 20000


def test_chain_sojourns_are_exponential_with_the_stated_rates():
    """Over 20,000 replications: the initial state is committed with probability p_committed (Wilson, alpha 1e-3);
    the first sojourn of a committed chain is Exp(lapse_rate), of an uncommitted one Exp(recommit_rate), and the
    next sojourn likewise (KS at alpha = 1e-3). Power: the same samples reject a rate 10% off."""
    p = vector(CHAIN)
    lapse, recommit = 1 / 40, 1 / 25
    first = {1: [], 0: []}
    second = {1: [], 0: []}
    for rep in range(N_KS):
        st, keys, ctr = _setup_state(p, 5, rep)
        z = int(st[C.X_COMMITTED])
        t1 = st[C.X_NEXT_SWITCH]
        first[z].append(t1)
        rules.committed_now(st, p, keys, ctr, t1)
        assert st[C.X_COMMITTED] == 1 - z
        second[1 - z].append(st[C.X_NEXT_SWITCH] - t1)
    n1 = len(first[1])
    lo, hi = wilson(n1, N_KS)
    assert lo <= 0.6 <= hi
    for sample in (first, second):
        for z, rate in ((1, lapse), (0, recommit)):
            x = np.array(sample[z])
            assert stats.kstest(x, "expon", args=(0, 1 / rate)).pvalue > ALPHA, (z, rate)
            for f in (0.9, 1.1):
                assert stats.kstest(x, "expon", args=(0, 1 / (rate * f))).pvalue < ALPHA, (z, f)


def test_chain_never_switches_without_hazard():
    """Rates 0: no draw after the initial state (stream 10 drawn once), the state never changes."""
    p = vector({"ally.p_committed": 0.5, "ally.lapse_rate": 0.0, "ally.recommit_rate": 0.0})
    for rep in range(50):
        st, keys, ctr = _setup_state(p, 6, rep)
        z = st[C.X_COMMITTED]
        assert st[C.X_NEXT_SWITCH] == math.inf
        assert rules.committed_now(st, p, keys, ctr, 1e9) == z and int(ctr[ref.STREAM_COMMITMENT]) == 1


# --- 6. what a scholar of alliances would check --------------------------------------------------------------------------
def test_costlier_instruments_are_more_informative():
    """In the ally's model of its defender, the likelihood ratio of an instrument *sent*, A_SEND[1][k] / A_SEND[0][k],
    rises with its cost to an uncommitted defender (cost, plus the audience cost for a public statement): costly
    signals weigh more than cheap talk. The ratio of an instrument *withheld* rises towards 1 with the cost:
    withholding cheap talk is the worse news. Checked on 300 vectors of the robustness box, for every pair of
    instruments whose costs are ordered (orderings of table entries, 1e-12 relative for ties at precision 0)."""
    rng = np.random.default_rng(2718)
    informative = 0
    for _ in range(300):
        p = random_vector(rng)
        P = params_of(p)
        t = code_tables(p)["a_send"]
        cost0 = [P[ref.COST_KEYS[k]] + (P["audience.cost"] if k == ref.PUBLIC_STATEMENT else 0.0) for k in range(6)]
        cost1 = [P[ref.COST_KEYS[k]] for k in range(6)]
        for i in range(6):
            for j in range(6):
                d0, d1 = cost0[j] - cost0[i], cost1[j] - cost1[i]
                # j costs an uncommitted defender more than i, and at least as much more as a committed one
                if not (d0 > 0 and d0 >= d1 >= 0) or min(t[0][i], t[0][j]) <= 0:
                    continue
                assert t[1][i] / t[0][i] <= t[1][j] / t[0][j] * (1 + 1e-12), (i, j, P["decision.precision"])
                informative += 1
                # withheld: comparable when the cost differs equally for both (not the public statement's extra
                # audience cost, which makes its withholding worse news)
                if d0 == d1 and max(t[0][i], t[0][j]) < 1.0:
                    assert (1 - t[1][i]) / (1 - t[0][i]) <= (1 - t[1][j]) / (1 - t[0][j]) * (1 + 1e-12), (i, j)
    assert informative > 1000


def test_tripwire_moves_the_ally_more_than_a_private_statement():
    """In the engine: from the same prior, a tripwire sent raises the ally's belief more than a private statement
    sent (defaults: 0.8 -> about 0.89 vs 0.84), and a private statement withheld lowers it more than a tripwire withheld
    (about 0.28 vs 0.36)."""
    after = {}
    for k in ("tripwire", "private_statement"):
        s = scenario({**NO_CRISIS, "crisis.horizon": 20.0}, [k])
        vals = {}
        for rep in range(200):
            rows = _ally_rows(simulate(s, 4, rep).trace)
            vals.setdefault(rows[0].event, set()).add(round(rows[0].value, 12))
        after[k] = vals
    # every arrival time (the prior drifts from 0.8 to 0.79 in 20 days): the orderings hold case by case
    assert min(after["tripwire"]["support"]) > max(after["private_statement"]["support"]) > 0.8
    assert max(after["private_statement"]["reassurance_withheld"]) < min(after["tripwire"]["reassurance_withheld"]) < 0.79


def test_renewals_sent_raise_and_withheld_lower_the_belief(filter_runs):
    """Against the prediction just before it (what the ally expected), every instrument received raises the belief
    and every renewal withheld lowers it (the trace's beliefs; hazard on, all instruments)."""
    P, runs = filter_runs["all instruments, lapsing"]
    ups = downs = 0
    for rows in runs:
        b, t = P["ally.p_committed"], 0.0
        for r in rows:
            prior = ref.hmm_predict(b, P["ally.lapse_rate"], P["ally.recommit_rate"], r.time - t)
            if r.event == "support":
                assert r.value > prior
                ups += 1
            elif r.event == "reassurance_withheld":
                assert r.value < prior
                downs += 1
            b, t = r.value, r.time
    assert ups > 100 and downs > 20


def test_repeated_identical_signals_carry_less_news():
    """Issue 12: "repeated identical signals carry less news than the first". With hazard 0 and a prior of 0.8 the
    same instrument received five times at once raises the belief by less each time (a constant likelihood ratio:
    the log odds rise by the same step, the probability by less and less above 1/2)."""
    p = vector({"ally.lapse_rate": 0.0, "ally.recommit_rate": 0.0})
    st, keys, ctr, ws, out, info = _ally_handler(p)
    b = [st[CONF]]
    for _ in range(5):
        rules.handle(ALLY_LEADER, _msg(C.MK_SUPPORT, ref.PUBLIC_STATEMENT), 10.0, st, p, keys, ctr, ws, out, info)
        b.append(info[C.I_VALUE])
    steps = np.diff(b)
    assert (steps > 0).all() and (np.diff(steps) < 0).all(), b
    logodds = np.diff(np.log(np.array(b) / (1 - np.array(b))))
    assert np.allclose(logodds, logodds[0], rtol=0, atol=1e-9)


def test_conduct_moves_the_belief_the_right_way():
    """At the defaults A_YIELD[1] < A_YIELD[0]: a committed defender yields less at its first answer. So in the
    engine, the instrument that first reaches the ally after a crisis leaves its belief lower, after a concession,
    and higher, after the defender stood firm, than that instrument alone would have (hazard 0: no prediction)."""
    y0, y1 = code_tables(vector({}))["a_yield"]
    assert y1 < y0
    s = scenario({"defender.renewal_interval": 10.0, "ally.lapse_rate": 0.0, "ally.recommit_rate": 0.0,
                  "ally.review_interval": 1000.0}, ["public_statement", "immediate_deterrence"])
    T = reference_tables(params_of(s.vectors()[0][0]))
    moved = {"conceded": 0, "stood firm": 0}
    for rep in range(80):
        crisis, result = run_recorded(s, 13, rep)
        for h in crisis.handled:
            if h.actor == ALLY_LEADER and h.before[C.X_CONDUCT_SEEN] == 0 and h.after[C.X_CONDUCT_SEEN] == 1:
                k = int(h.msg[C.M_AUX])
                s1, s0 = T.a_send[1][k], T.a_send[0][k]
                withheld = int(h.msg[C.M_FLAGS]) & C.F_WITHHELD
                alone = ref.hmm_update(h.before[CONF], 1 - s1, 1 - s0) if withheld else ref.hmm_update(h.before[CONF], s1, s0)
                conceded = h.before[C.X_OUTCOME] == C.DEFENDER_CONCEDES
                assert (h.after[CONF] < alone) if conceded else (h.after[CONF] > alone)
                moved["conceded" if conceded else "stood firm"] += 1
    assert min(moved.values()) > 0, moved


def test_reassurance_cost_per_cell_is_the_cost_of_what_was_sent():
    """The cell's ``reassurance_cost_sum`` (compiled) equals the sum, over the same replications run by the SimPy
    engine, of the costs of the instruments the ally received as sent (trace ``support`` rows; instruments still in
    flight at the horizon counted by the replay's expectation) -- relative 1e-12: sums of ~5,000 terms of 0.002-0.05
    in another order. Withheld instruments cost nothing."""
    strategies = ALL_INSTRUMENTS
    values = {"defender.renewal_interval": 30.0, "ally.p_committed": 0.5, "ally.lapse_rate": 1 / 100}
    s = scenario(values, strategies)
    P = params_of(s.vectors()[0][0])
    tot = montecarlo.run_cell(s, 300, 19, block_size=100, threads=1)
    total = withheld_cost = 0.0
    for rep in range(300):
        crisis, result = run_recorded(s, 19, rep)
        tracker = AllyTracker(crisis, result, P).run()  # checks X_REASSURANCE_COST = cost of what was sent
        total += tracker.cost
        tr = result.trace
        for k in range(len(ALL_INSTRUMENTS)):
            n_withheld = ((tr.actor == "ally.leader") & (tr.event == "reassurance_withheld") & (tr.level == k)).sum()
            withheld_cost += n_withheld * P[ref.COST_KEYS[k]]
    assert tot.reassurance_cost_sum == pytest.approx(total, rel=1e-12)
    assert withheld_cost > 0  # withheld instruments existed, and were not charged
    # a full-cost reading (every instrument charged, sent or not) would be off by the withheld cost
    assert abs(tot.reassurance_cost_sum - (total + withheld_cost)) > 1e-3


def test_cell_measures_count_the_final_states():
    """The kernel's per-block ally measures count the final states: programme, detected, ally_opened, entrapment,
    attacked, abandonment (by motive), and the sums of reassurance and audience costs (relative 1e-12)."""
    values = {**IDENTITY_BASE, "challenger.p_need": 0.5}
    strategies = ["tripwire", "public_statement", "exercises", "immediate_deterrence"]
    values["effects.tripwire_no_exit"] = False
    s = scenario(values, strategies)
    n = 3000
    tot = montecarlo.run_cell(s, n, 37, block_size=500, threads=1)
    st = montecarlo.final_states(s, 37, range(n))
    need = st[:, C.X_NEED].astype(int)
    war = st[:, C.X_OUTCOME] == C.WAR_OUTCOME

    def by_motive(mask):
        return np.array([(mask & (need == m)).sum() for m in (0, 1)])

    assert np.array_equal(tot.programme, by_motive(st[:, C.X_PROGRAMME_STARTED] > 0))
    assert np.array_equal(tot.detected, by_motive(st[:, C.X_DETECTED] >= 0))
    assert np.array_equal(tot.ally_opened, by_motive(st[:, C.X_ALLY_OPENED] > 0))
    assert np.array_equal(tot.entrapment, by_motive((st[:, C.X_ALLY_OPENED] > 0) & war))
    assert np.array_equal(tot.attacked, by_motive(st[:, C.X_C_FORCE] > 0))
    assert np.array_equal(tot.abandonment, by_motive(st[:, C.X_ABANDONED] > 0))
    assert tot.reassurance_cost_sum == pytest.approx(math.fsum(st[:, C.X_REASSURANCE_COST]), rel=1e-12)
    assert tot.audience_paid_sum == pytest.approx(math.fsum(st[:, C.X_AUDIENCE_PAID]), rel=1e-12)
    for name in ("programme", "detected", "ally_opened", "entrapment", "attacked", "abandonment"):
        assert getattr(tot, name).sum() > 0, name
    assert tot.audience_paid_sum > 0
    # an audience cost is paid only by a defender that conceded while publicly committed
    paid = st[:, C.X_AUDIENCE_PAID] > 0
    committed = st[:, C.GLOBAL_FIELDS + C.DEFENDER * C.STATE_FIELDS + C.S_COMMITTED] > 0
    assert (st[paid, C.X_OUTCOME] == C.DEFENDER_CONCEDES).all() and committed[paid].all()
    assert (st[paid, C.X_AUDIENCE_PAID] >= params_of(s.vectors()[0][0])["audience.cost"]).all()


def test_snyders_trade_off_in_the_review():
    """Snyder (1984): fear of abandonment drives hedging, over-reassurance drives risk taking. Through the ally's
    review handler (``rules.handle``) at beliefs 0, 0.05, ..., 1: the choice probabilities equal the reference
    logit (1e-12); P(hedge) falls and P(take risks) rises with the belief that the defender is committed."""
    values = {"ally.risk_gain": 0.1, "ally.threat": 0.3, "ally.programme_cost": 0.05, "ally.precision": 30.0}
    p = vector(values)
    P = params_of(p)
    hedge, risk = [], []
    for b in np.linspace(0.0, 1.0, 21):
        st, keys, ctr, ws, out, info = _ally_handler(p)
        rules.set_ally_belief(st, b, 10.0)
        rules.handle(ALLY_LEADER, _msg(C.MK_REVIEW), 10.0, st, p, keys, ctr, ws, out, info)
        probs = ws[dc.SCR_PROBS : dc.SCR_PROBS + 3]
        want = ref.logit(P["ally.precision"], ref.ally_review_values(P, b, P["ally.threat"], True, True))
        assert np.allclose(probs, want, rtol=0, atol=ATOL), (b, probs, want)
        hedge.append(probs[1])
        risk.append(probs[2])
    assert (np.diff(hedge) < 0).all() and (np.diff(risk) > 0).all()
    assert hedge[0] > 0.5 > hedge[-1] and risk[-1] > 0.5 > risk[0]  # both ends of the trade-off are reached


@pytest.mark.parametrize("loss", ["challenger.prevention_loss", "ally.provocation_loss"])
def test_the_challenger_reacts_to_the_allys_programme_and_provocations(loss):
    """Issue 12, feedback: a detected programme (a preventive motive) and an ally's provocation add to the
    challenger's costs of inaction, so waiting is worth less at each opportunity. With the same random numbers
    (everything before the first challenge is the same in both cells, and a lower value of waiting -- the last
    move in the inverse CDF -- can only turn a wait into a challenge), every replication is challenged no later
    with the loss at 0.25 than at 0, and earlier in many (about 700 and 1,200 of 3,000 seen; none later)."""
    values = {"ally.detection_rate": 1 / 30, "ally.programme_cost": 0.03, "ally.risk_gain": 0.08,
              "ally.review_interval": 30.0, "crisis.opportunity_rate": 1 / 30, "challenger.p_need": 0.0}
    t = {}
    for x in (0.0, 0.25):
        st = montecarlo.final_states(scenario({**values, loss: x}), 7, range(3000))
        ct = st[:, C.X_CHALLENGE_TIME]
        t[x] = np.where(ct >= 0, ct, np.inf)
    assert (t[0.25] <= t[0.0]).all()
    assert (t[0.25] < t[0.0]).sum() >= 100


def test_tripwire_evidence_is_its_likelihood_ratio():
    """At t = 0 a deployed tripwire multiplies an opportunity-driven challenger's odds that the defender is resolved
    by effects.tripwire_lr (defaults: prior odds 1, lr 1.1: P(resolved) 0.5 -> 1.1 / 2.1) and leaves its belief
    about greed alone (the first of 10 replications whose tripwire was deployed)."""
    for lr in (1.1, 3.0):
        s = scenario({"crisis.horizon": 0.5, "effects.tripwire_lr": lr, "crisis.opportunity_rate": 0.0,
                      "challenger.p_need": 0.0}, ["tripwire"])
        st = next(st for st in (simulate(s, 1, rep).state for rep in range(10)) if st[C.X_DEPLOYED] == 1.0)
        b = bel(st, C.CHALLENGER)
        assert b[1] + b[3] == pytest.approx(lr / (1 + lr), abs=ATOL)
        assert b[2] + b[3] == pytest.approx(0.3, abs=ATOL)


# --- 7. the whole ally, replayed draw by draw -------------------------------------------------------------------------------
ALLY_REPLAY = {
    "extended deterrence": ({"defender.renewal_interval": 60.0}, ["immediate_deterrence", "tripwire", "public_statement"]),
    "every instrument, lapsing": ({"defender.renewal_interval": 25.0, "ally.lapse_rate": 1 / 90, "ally.recommit_rate": 1 / 90,
                                   "ally.p_committed": 0.5, "ally.review_interval": 30.0, "ally.detection_rate": 1 / 40,
                                   "ally.programme_cost": 0.04, "ally.risk_gain": 0.06},
                                  [*ALL_INSTRUMENTS, "tit_for_tat", "limited_security_regime", "grit"]),
    "no exit, crises": ({"effects.tripwire_no_exit": True, "channel.misperception": 0.2, "military.incident_rate": 0.06,
                         "ally.review_interval": 20.0, "ally.threat": 0.3, "ally.programme_time": 60.0},
                        ["tripwire", "exercises", "reciprocal_concessions"]),
}


@pytest.fixture(scope="module")
def ally_tally():
    return Tally()


@pytest.mark.parametrize("name", list(ALLY_REPLAY))
def test_ally_replayed_draw_by_draw(name, ally_tally):
    """AllyTracker (tests/replay_tools.py) on 40 recorded crises: the defender's send draws and delays, every belief
    of the ally (1e-12), every review's choice, the programme's clocks, the final flags and the reassurance cost;
    the crisis Tracker on the same crises (decisions with the commitment chain)."""
    values, strategies = ALLY_REPLAY[name]
    s = scenario(values, strategies)
    P = params_of(s.vectors()[0][0])
    for rep in range(40):
        crisis, result = run_recorded(s, 3, rep)
        AllyTracker(crisis, result, P, ally_tally).run()
        Tracker(crisis, result, P, tally=ally_tally, decisions=True).run()


def test_ally_replays_exercised_every_branch(ally_tally):
    if not ally_tally:
        pytest.skip("run with the replay tests")
    for key in ("review: stay", "review: hedge_start", "review: review", "review: hedge_stop", "review: provoke",
                "proliferated", "matured after shelving", "detected", "detection of a shelved programme ignored",
                "conduct: conceded", "conduct: stood firm", "sent tripwire (committed)", "withheld tripwire (uncommitted)",
                "sent public_statement (uncommitted)", "withheld aid (committed)", "uncommitted defender decides",
                "tripwire deployed", "tripwire withheld", "alliance_terms deployed", "alliance_terms withheld",
                "provocation reached the challenger", "provoked challenger decides"):
        assert ally_tally.get(key, 0) > 0, (key, dict(ally_tally))


@pytest.mark.parametrize("variant", ["no lapse in the filter", "always sent", "standing sent at start"])
def test_ally_replay_can_fail(variant):
    """A replay whose filter ignores the switching hazard, whose defender always sends its instruments, or that
    decides the tripwire and alliance terms by a draw at the defender's start (the old rule), disagrees with the
    engine on crises where the correct replay agrees."""
    values, strategies = ALLY_REPLAY["every instrument, lapsing"]
    s = scenario(values, strategies)
    P = params_of(s.vectors()[0][0])
    failed = 0
    for rep in range(10):
        crisis, result = run_recorded(s, 3, rep)
        AllyTracker(crisis, result, P).run()
        try:
            AllyTracker(crisis, result, P, variant=variant).run()
        except AssertionError:
            failed += 1
    assert failed >= 5


# --- 8. the fixed findings, as tests of the new behaviour ------------------------------------------------------------------
def _withheld_tripwire_reps(s, n=60):
    out = []
    for rep in range(n):
        r = simulate(s, 2, rep)
        tr = r.trace
        if ((tr.actor == "ally.leader") & (tr.event == "reassurance_withheld") & (tr.level == ref.TRIPWIRE)).any():
            out.append(r)
    return out


WITHHELD_TRIPWIRE = {"ally.p_committed": 0.0, "ally.recommit_rate": 0.0, "crisis.opportunity_rate": 0.0,
                     "crisis.horizon": 30.0, "effects.tripwire_lr": 3.0}


def test_an_uncommitted_defender_often_withholds_its_tripwire():
    """The precondition of the next test: A_SEND[0][tripwire] = 0.47 at the defaults, so about half of these
    uncommitted defenders withhold the tripwire (the ally is told)."""
    s = scenario(WITHHELD_TRIPWIRE, ["tripwire"])
    assert 15 <= len(_withheld_tripwire_reps(s)) <= 45


N_DEPLOY = 20000


def test_standing_instruments_are_deployed_at_setup():
    """Docs "Random numbers", K3: at set-up, after the commitment chain's draws, one uniform each from the defender
    leader's stream (3) for the tripwire, then alliance terms; deployed iff ``u < A_SEND[z][k]``, ``z`` the initial
    commitment. Over 20,000 set-ups (``rules.setup``; p_committed 0.5): ``X_DEPLOYED`` equals the reference's draw
    (``reference_model.deploy_standing``) in every replication, stream 3 has been drawn exactly twice, the defender
    is committed by policy iff something was deployed, and each instrument's share deployed given ``z`` lies in the
    Wilson interval of ``A_SEND[z][k]`` (alpha 1e-3). A replay with the other commitment's table, or with the set-up
    stream 9, disagrees in hundreds of replications (the test can fail)."""
    values = {"ally.p_committed": 0.5, "ally.lapse_rate": 1 / 100}
    p = vector(values, ["tripwire", "alliance_terms", "public_statement"])
    P = params_of(p)
    a_send = reference_tables(P).a_send
    counts = {(z, k): [0, 0] for z in (0, 1) for k in (ref.TRIPWIRE, ref.ALLIANCE_TERMS)}
    wrong = {"other z": 0, "stream 9": 0}
    for rep in range(N_DEPLOY):
        st, keys, ctr = _setup_state(p, 8, rep)
        z = int(st[C.X_COMMITTED])
        keys_ref = ref.stream_keys(8, rep)
        deployed, n = ref.deploy_standing(P, keys_ref[ref.STREAM_DEFENDER_LEADER], z, a_send)
        assert st[C.X_DEPLOYED] == deployed_bits(deployed) and n == 2 == int(ctr[3 * C.DEFENDER + C.LEADER]), rep
        assert st[C.GLOBAL_FIELDS + C.DEFENDER * C.STATE_FIELDS + C.S_COMMITTED] == float(bool(deployed))
        for k in (ref.TRIPWIRE, ref.ALLIANCE_TERMS):
            counts[(z, k)][0] += k in deployed
            counts[(z, k)][1] += 1
        wrong["other z"] += deployed_bits(ref.deploy_standing(P, keys_ref[ref.STREAM_DEFENDER_LEADER], 1 - z, a_send)[0]) != st[C.X_DEPLOYED]
        wrong["stream 9"] += deployed_bits(ref.deploy_standing(P, keys_ref[C.STREAM_SETUP], z, a_send)[0]) != st[C.X_DEPLOYED]
    for (z, k), (x, n) in counts.items():
        lo, hi = wilson(x, n)
        assert lo <= a_send[z][k] <= hi, (z, k, x / n, a_send[z][k])
    assert min(wrong.values()) > 500, wrong


def _defender_situation(st, p, now):
    ws = np.zeros(dc.SCRATCH_SIZE)
    rules.fill_situation(st, p, ws, C.DEFENDER, now, 1 << C.MV_YIELD)
    return ws[dc.SCR_SIT + dc.SIT_NO_EXIT], ws[dc.SCR_SIT + dc.SIT_ALLY_EFFORT], ws[dc.SCR_SIT + dc.SIT_POLICY_OWN]


def test_a_withheld_tripwire_has_no_effect():
    """Docs "The ally": "one that is withheld has no effect at all (no commitment, no evidence for the challenger,
    no cut of the ally's effort, no exit rule), and the ally is told". For each of 60 replications of uncommitted
    defenders (about half withhold; tripwire_lr 3, no exit on), by the trace's ``support`` or
    ``reassurance_withheld`` row: a withheld tripwire leaves ``X_DEPLOYED`` without its bit, the challenger's
    belief in a resolved defender at the prior 0.5, the defender uncommitted, and -- in the defender's situation
    (``rules.fill_situation``) -- no exit rule and the ally's full effort 0.2; a deployed one commits the defender,
    gives the challenger the evidence (lr 3, discounted by motivated bias if need-driven: the reference's
    ``bayes``), the exit rule and the cut effort 0.1 (the test can fail); a withheld tripwire costs nothing."""
    s = scenario({**WITHHELD_TRIPWIRE, "effects.tripwire_no_exit": True}, ["tripwire"])
    p = s.vectors()[0][0]
    P = params_of(p)
    seen = {True: 0, False: 0}
    for rep in range(60):
        r = simulate(s, 2, rep)
        tr = r.trace
        row = tr[(tr.actor == "ally.leader") & (tr.level == ref.TRIPWIRE)]
        assert len(row) == 1 and row.event.iloc[0] in ("support", "reassurance_withheld")
        deployed = row.event.iloc[0] == "support"
        seen[deployed] += 1
        st = r.state
        b = bel(st, C.CHALLENGER)
        bias = P["challenger.motivated_bias"] if st[C.X_NEED] > 0 else 0.0
        want = ref.bayes([0.35, 0.35, 0.15, 0.15], [1.0, 3.0, 1.0, 3.0], bias) if deployed else [0.35, 0.35, 0.15, 0.15]
        assert np.allclose(b, want, rtol=0, atol=ATOL), (rep, deployed, b, want)
        assert st[C.X_DEPLOYED] == (1.0 if deployed else 0.0)
        assert st[C.GLOBAL_FIELDS + C.DEFENDER * C.STATE_FIELDS + C.S_COMMITTED] == float(deployed)
        no_exit, effort, policy = _defender_situation(st, p, 30.0)
        assert (no_exit, policy) == (float(deployed), float(deployed))
        assert effort == pytest.approx(0.1 if deployed else 0.2, abs=1e-15)
        assert st[C.X_REASSURANCE_COST] == (P["effects.cost_tripwire"] if deployed else 0.0)
    assert min(seen.values()) >= 15, seen


PROVOCATION = {"ally.risk_gain": 0.3, "ally.review_interval": 20.0, "channel.delay_min": 10.0,
               "channel.delay_mean": 30.0, "crisis.opportunity_rate": 0.2, "ally.provocation_loss": 0.15}


def test_a_provocation_acts_only_once_it_has_arrived():
    """Docs "The ally": "When the provocation reaches the challenger (after a channel delay) it adds
    ally.provocation_loss to the challenger's costs of inaction ... A crisis opened after a provocation has arrived
    is opened by the ally". In 100 replications (a provocation takes 10 + Exp(30) days; an opportunity every 5
    days): ``X_ALLY_RISK`` is the day of the ally's ``provoke`` review, ``X_PROVOKED`` the day of the challenger
    leader's ``provoke`` row (its audience hears of it at the same time), at least 10 days later; every crisis
    opened by the ally was challenged at or after that arrival, and every crisis challenged while the provocation
    was on its way is *not* opened by the ally -- the old rule counted those (seen here: 28, against 7 opened by
    the ally; the test can fail). The costs of inaction themselves are replayed decision by decision in ``test_decision_replay.py``."""
    s = scenario(PROVOCATION)
    opened = in_flight = 0
    for rep in range(100):
        r = simulate(s, 1, rep)
        st, tr = r.state, r.trace
        decided = tr[(tr.actor == "ally.leader") & (tr.event == "provoke")].time
        if decided.empty:
            assert st[C.X_ALLY_RISK] == -1.0 and st[C.X_PROVOKED] == -1.0 and st[C.X_ALLY_OPENED] == 0.0
            continue
        assert len(decided) == 1 and st[C.X_ALLY_RISK] == decided.iloc[0]  # the ally takes risks once
        arrived = tr[(tr.actor == "challenger.leader") & (tr.event == "provoke")].time
        heard = tr[(tr.actor == "challenger.audience") & (tr.sender == "ally.leader")].time
        if arrived.empty:  # still on its way at the horizon
            assert st[C.X_PROVOKED] == -1.0 and heard.empty
        else:
            assert len(arrived) == 1 and st[C.X_PROVOKED] == arrived.iloc[0] == heard.iloc[0]
            assert st[C.X_PROVOKED] >= st[C.X_ALLY_RISK] + 10.0
        challenge = st[C.X_CHALLENGE_TIME]
        if st[C.X_ALLY_OPENED] > 0:
            assert 0 <= st[C.X_PROVOKED] <= challenge, (rep, st[C.X_PROVOKED], challenge)
            opened += 1
        if st[C.X_ALLY_RISK] <= challenge and not (0 <= st[C.X_PROVOKED] <= challenge):
            assert st[C.X_ALLY_OPENED] == 0.0
            in_flight += 1
    assert opened > 0 and in_flight > 0, (opened, in_flight)


def test_tripwire_evidence_is_discounted_by_motivated_bias():
    """Docs "Beliefs and signals": "The tripwire's evidence of resolve at t = 0 is discounted the same way" (a
    need-driven challenger moves 1 - bias of the way to Bayes' posterior). Prior P(resolved) 0.5, lr 3 (Bayes:
    0.75), bias 0.9: a need-driven challenger ends at 0.5 + 0.1 * 0.25 = 0.525, an opportunity-driven one at 0.75
    (both seen, in replications whose tripwire was deployed; the old rule gave 0.75 to both)."""
    got = {}
    for need in (1.0, 0.0):
        s = scenario({"challenger.p_need": need, "challenger.motivated_bias": 0.9, "effects.tripwire_lr": 3.0,
                      "crisis.opportunity_rate": 0.0, "crisis.horizon": 0.5}, ["tripwire"])
        vals = set()
        for rep in range(10):
            st = simulate(s, 1, rep).state
            if st[C.X_DEPLOYED] == 1.0:
                b = bel(st, C.CHALLENGER)
                vals.add(round(b[1] + b[3], 12))
                assert b[2] + b[3] == pytest.approx(0.3, abs=ATOL)  # greed untouched
        got[need] = vals
    assert got[1.0] == {round(0.5 + (1 - 0.9) * (0.75 - 0.5), 12)}
    assert got[0.0] == {0.75}


def test_no_exit_leaves_accepting_an_offer():
    """Docs "The ally": "Under no exit the defender can still accept a challenger's offer (accepting is not
    yielding)". A trapped defender (no exit, the challenger at limited force) whose "yield" accepts a challenger's
    offer keeps the move, valued at the accepted terms with no audience cost (its ``my_yield_base``; 1e-12); without
    an offer on the table (a real concession) the move is still taken away."""
    p = vector({"effects.tripwire_no_exit": True}, ["tripwire"])
    P = params_of(p)
    belief = np.array([0.25, 0.25, 0.25, 0.25])
    for accepts in (True, False):
        sit = ref.Situation(side=ref.DEFENDER, type=1, own=4.0, adv=5.0, q=0.5, demand=0.8, committed=1.0,
                            policy_own=1.0, pressure=0.05, menu=frozenset({ref.WAR, ref.YIELD}), yield_accepts=accepts,
                            no_exit=1.0, ally_effort=ref.ally_effort(P, frozenset({ref.TRIPWIRE})))
        ev, _, _ = compiled_evaluate(p, sit, belief)
        if accepts:
            want = ref.LookAhead(ref.Payoffs(P), sit, list(belief)).my_yield_base()
            assert ev[ref.YIELD] == pytest.approx(want, abs=ATOL)  # no audience cost, no pressure
            assert ref.evaluate(P, sit, belief).ev[ref.YIELD] == pytest.approx(ev[ref.YIELD], abs=ATOL)
        else:
            assert ev[ref.YIELD] is None and ref.evaluate(P, sit, belief).ev[ref.YIELD] is None


def test_a_war_the_challenger_starts_counts_as_an_attack():
    """Docs "The ally": "a war the challenger starts is an attack too". In 200 replications every war the
    challenger's leader starts (at an opportunity or in a crisis) sets ``X_C_FORCE``; a war the defender starts
    before any limited force of the challenger's military does not (the test can tell them apart). The cell
    measure ``attacked`` counts them (``test_cell_measures_count_the_final_states``)."""
    s = scenario({})
    by_challenger = by_defender = 0
    for rep in range(200):
        r = simulate(s, 2, rep)
        tr = r.trace
        if r.outcome != "war":
            continue
        if ((tr.actor == "challenger.leader") & (tr.event == "war")).any():
            by_challenger += 1
            assert r.state[C.X_C_FORCE] == 1.0, rep
        elif ((tr.actor == "defender.leader") & (tr.event == "war")).any():
            limited = ((tr.actor == "challenger.military") & (tr.event == "executed") & (tr.level >= C.LIMITED_FORCE)).any()
            by_defender += not limited
            assert r.state[C.X_C_FORCE] == float(limited), rep
    assert by_challenger > 0 and by_defender > 0, (by_challenger, by_defender)


# found by random vectors of the robustness box, rounded to 4 digits (A_YIELD = [0.0225, 0.0273])
REVERSED_CONDUCT = {"stake.status_quo": 0.5562, "war.balance": 0.4274, "war.mobilization_gain": 0.7203,
                    "defender.cost_unresolved": 0.2384, "defender.p_resolved": 0.2688, "defender.p_greedy": 0.584,
                    "intent.gain_weight": 0.0342, "intent.fear_loss": 0.2067, "audience.cost": 0.1385,
                    "ally.defence_effort": 0.0858}


def test_reversed_conduct_is_rare_in_the_box():
    """``rules.absorb_conduct``: "Yielding is usually evidence that the defender is not committed; where a committed
    defender yields more often (rare in the box ...)". In 2,000 random vectors of the robustness box (ally present)
    A_YIELD[1] > A_YIELD[0] happens rarely (1 seen; at most 1%); the reference agrees with the code on the
    counterexample (1e-12)."""
    rng = np.random.default_rng(5)
    reversed_ = 0
    for _ in range(2000):
        p = random_vector(rng)
        p[PARAM_INDEX["ally.present"]] = 1.0
        signals.derive(p)
        y0, y1 = code_tables(p)["a_yield"]
        reversed_ += y1 > y0
    assert 1 <= reversed_ <= 20
    p = vector(REVERSED_CONDUCT, ["general_deterrence"])
    assert np.allclose(code_tables(p)["a_yield"], ref.tables(params_of(p)).a_yield, rtol=0, atol=ATOL)


def test_a_concession_is_read_by_the_allys_model_of_conduct():
    """``rules.absorb_conduct``: "where a committed defender yields more often ... the ally's model says so and a
    concession raises its belief". Through the ally's handler, a crisis that ended in a concession moves the belief
    by Bayes' rule on A_YIELD (1e-12): down at the defaults (A_YIELD[1] < A_YIELD[0], the usual case), up on the
    rare counterexample above (A_YIELD = [0.0225, 0.0273]); standing firm moves it the other way in both."""
    for values, strategies, usual in (({}, [], True), (REVERSED_CONDUCT, ["general_deterrence"], False)):
        p = vector({**values, "ally.lapse_rate": 0.0, "ally.recommit_rate": 0.0}, strategies)
        y0, y1 = code_tables(p)["a_yield"]
        assert (y1 < y0) == usual
        for outcome in (C.DEFENDER_CONCEDES, C.SETTLEMENT):
            st, keys, ctr, ws, out, info = _ally_handler(p)
            b0 = st[CONF]
            st[C.X_CHALLENGE_TIME], st[C.X_OUTCOME] = 5.0, outcome
            rules.handle(ALLY_LEADER, _msg(C.MK_PRESSURE, 1.0), 10.0, st, p, keys, ctr, ws, out, info)
            assert st[C.X_CONDUCT_SEEN] == 1.0
            conceded = outcome == C.DEFENDER_CONCEDES
            want = ref.hmm_update(b0, y1, y0) if conceded else ref.hmm_update(b0, 1 - y1, 1 - y0)
            assert abs(st[CONF] - want) <= ATOL
            assert (st[CONF] < b0) == (conceded == usual), (values, outcome, b0, st[CONF])


def test_docs_state_the_motivated_bias_rule_the_code_uses():
    """Docs "Beliefs and signals" give the rule of ``beliefs.bayes`` (1 - bias of the way to Bayes' posterior), not the
    old tempered likelihood ``L(j) ** (1 - b)``."""
    text = DOCS.read_text()
    assert "** (1 - challenger.motivated_bias)" not in text
    assert "it moves only `1 - b` of the way from\nits prior to the Bayesian posterior" in text


def test_docs_random_numbers_section_lists_the_streams():
    """Docs "Random numbers": the number of streams is the code's, the streams said never to be drawn are not drawn
    in a busy ally scenario, and every stream that is drawn appears in the draw table."""
    text = DOCS.read_text()
    n = int(re.search(r"Each replication has (\d+) streams", text).group(1))
    never = [int(x) for x in re.findall(r"\d+", re.search(r"Streams ([\d, and]+) \(", text).group(1))]
    section = text[text.index("## Random numbers"):text.index("## Order of events")]
    listed = set()
    for row in re.findall(r"^\| [A-Z]\d(?:-[A-Z]\d)? \|[^|]*\| ([\d /]+) \|", section, flags=re.M):
        listed |= {int(x) for x in re.findall(r"\d+", row)}
    s = scenario({"ally.review_interval": 10.0, "ally.programme_cost": 0.0, "defender.renewal_interval": 10.0,
                  "channel.misperception": 0.2, "military.incident_rate": 0.06},
                 ["tripwire", "public_statement", "immediate_deterrence"])
    p_mixes, cum = s.vectors()
    crisis = Crisis(p_mixes, cum, 1, 0, record=False)
    crisis.run()
    assert n == len(crisis.counters) == C.N_STREAMS
    assert all(int(crisis.counters[k]) == 0 for k in never), crisis.counters
    drawn = {k for k in range(n) if int(crisis.counters[k]) > 0}
    assert drawn >= {0, 3, 6, 9, 10}, crisis.counters
    assert drawn <= listed, (drawn, listed)


def test_generator_description_counts_the_streams():
    assert f"{C.N_STREAMS} streams per replication" in montecarlo.GENERATOR


def test_validation_refuses_renewals_under_a_day():
    """``defender.renewal_interval`` must be 0 or at least 1 day: 0.1 and 0.5 are refused, 0 and 1 accepted."""
    for bad in (0.1, 0.5, 0.999):
        with pytest.raises(ConfigError, match="renewal_interval"):
            scenario({"defender.renewal_interval": bad}, ["public_statement"])
    for good in (0.0, 1.0):
        scenario({"defender.renewal_interval": good}, ["public_statement"])


def test_every_validated_renewal_runs_in_the_compiled_engine():
    """The shortest validated renewal, 1 day, with four renewable instruments and channel.delay_mean = 6 (the top of
    its box; delay_min 2, the top of its box too) over a year: the compiled engine runs it (about 4 * 8 = 32 support
    messages in flight, well within its pool of 256) and equals the SimPy engine bit for bit."""
    s = scenario({"defender.renewal_interval": 1.0, "channel.delay_mean": 6.0, "channel.delay_min": 2.0},
                 ["public_statement", "private_statement", "aid", "exercises"])
    reps = [0, 1, 2]
    compiled = montecarlo.final_states(s, 1, reps)
    p_mixes, cum = s.vectors()
    for i, rep in enumerate(reps):
        res = Crisis(p_mixes, cum, 1, rep, record=False).run()
        assert res.events > 1500  # a renewal a day, and four instruments arriving
        assert np.array_equal(res.state, compiled[i])


# --- 9. disagreements found after the fixes (strict xfail) ---------------------------------------------------------------
@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "DOCUMENTED SIMPLIFICATION (docs/model.md, 'The ally': the leaders' level-1 models are computed once per "
    "scenario for the posture the mix declares): signals.derive models the sender with the mix's posture, so in a "
    "replication whose tripwire was withheld, effects.tripwire_no_exit and effects.tripwire_effort_cut still "
    "enter the tables (4% and 2% of the withheld replications seen change outcome). This xfail keeps the size of "
    "that simplification visible; it passes if the tables ever follow the deployment."))
@pytest.mark.parametrize("change", [{"effects.tripwire_no_exit": False}, {"effects.tripwire_effort_cut": 0.0}],
                         ids=["no exit", "effort cut"])
def test_a_withheld_tripwires_parameters_do_not_matter(change):
    base = {**COMMITTED, "effects.tripwire_no_exit": True}
    strategies = ["tripwire", "immediate_deterrence"]
    a = montecarlo.final_states(scenario(base, strategies), 5, range(2000))
    b = montecarlo.final_states(scenario({**base, **change}, strategies), 5, range(2000))
    withheld = (a[:, C.X_DEPLOYED].astype(int) & 1) == 0
    assert withheld.sum() > 300 and np.array_equal(a[withheld, C.X_DEPLOYED], b[withheld, C.X_DEPLOYED])
    # the same random numbers, and the withheld tripwire's parameters only: the replications must be identical
    assert np.array_equal(a[withheld], b[withheld]), int((a[withheld] != b[withheld]).any(axis=1).sum())


def test_withheld_tripwires_parameters_act_only_through_the_tables():
    """Companion of the xfail above (its mechanism): with the derived part (the level-1 tables) of the first vector
    copied into the second, the withheld replications are identical bit for bit."""
    from escalation_sim.engines import _kernel
    from escalation_sim.model.params import DERIVED0, N_DERIVED

    base = {**COMMITTED, "effects.tripwire_no_exit": True}
    strategies = ["tripwire", "immediate_deterrence"]
    pa, cum = scenario(base, strategies).vectors()
    pb, _ = scenario({**base, "effects.tripwire_no_exit": False, "effects.tripwire_effort_cut": 0.0}, strategies).vectors()
    pb = pb.copy()
    pb[:, DERIVED0:DERIVED0 + N_DERIVED] = pa[:, DERIVED0:DERIVED0 + N_DERIVED]
    reps = np.arange(2000, dtype=np.int64)
    out = []
    for pm in (pa, pb):
        st, err = np.zeros((reps.size, C.STATE_SIZE)), np.zeros(reps.size, dtype=np.int64)
        _kernel.final_states(pm, cum, np.int64(5), reps, np.int64(0), st, err)
        assert not err.any()
        out.append(st)
    withheld = (out[0][:, C.X_DEPLOYED].astype(int) & 1) == 0
    assert withheld.sum() > 300
    assert np.array_equal(out[0][withheld], out[1][withheld])
    assert not np.array_equal(out[0][~withheld], out[1][~withheld])  # deployed: the rule and the cut act


def test_docs_reassurance_paragraph_counts_the_start_draws():
    text = DOCS.read_text()
    para = text[text.index("**Reassurance** of the ally"):]
    para = " ".join(para[:para.index("\n\n")].split())
    # what the paragraph says the start draws per instrument of the mix (uniform + delay, delay_mean > 0)
    per_instrument = 2 if "one uniform: send or withhold; one channel delay" in para else 1
    s = scenario({"crisis.opportunity_rate": 0.0, "crisis.horizon": 5.0}, ["tripwire", "alliance_terms"])
    crisis, _ = run_recorded(s, 1, 0)
    i = next(i for i, h in enumerate(crisis.handled)
             if h.actor == 3 * C.DEFENDER + C.LEADER and h.msg[C.M_KIND] == C.MK_START)
    d = 3 * C.DEFENDER + C.LEADER  # the counters before the next handler are those after the start handler
    drawn = int(crisis.handled[i + 1].counters[d]) - int(crisis.handled[i].counters[d])
    assert drawn == 2 * per_instrument, (drawn, per_instrument)


@pytest.mark.parametrize("key,values,message", [
    ("defender.renewal_interval", {"defender.renewal_interval": 0.5}, "at least 1 day"),
    ("ally.review_interval", {"ally.review_interval": 0.01, "crisis.horizon": 20000.0}, "million reviews")],
    ids=["renewal", "review"])
def test_docs_list_every_validation_rule(key, values, message):
    with pytest.raises(ConfigError, match=message):  # each value is inside the allowed range of the table
        scenario(values, ["public_statement"])
    text = DOCS.read_text()
    para = text[text.index("Validation across fields"):]
    para = para[:para.index("\n\n")]
    assert key.split(".")[1] in para or key in para, para


def test_no_ally_no_attack():
    s = Scenario.build(values={"channel.misperception": 0.2, "decision.precision": 10.0, "challenger.p_resolved": 0.9,
                               "defender.p_resolved": 0.1})
    st = montecarlo.final_states(s, 5, range(3000))
    assert (st[:, C.X_OUTCOME] == C.WAR_OUTCOME).sum() > 100 and (st[:, C.X_FORCE] > 0).sum() > 50  # force, wars
    tot = montecarlo.run_cell(s, 3000, 5, threads=1)
    assert tot.attacked.sum() == 0 and tot.abandonment.sum() == 0, tot.attacked

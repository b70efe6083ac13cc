"""The SimPy reference engine: determinism, invariants of a crisis, the ally."""

from __future__ import annotations

import math

import numpy as np
import pandas.testing as pdt
import pytest
from conftest import EXTENDED_TOML
from hypothesis import given
from hypothesis import strategies as st

from escalation_sim.engines.simpy_engine import TRACE_COLUMNS, Crisis, simulate
from escalation_sim.model import params, strategies
from escalation_sim.model.constants import (
    ACTOR_NAMES,
    M_SENT,
    OUTCOME_NAMES,
    X_END_TIME,
    X_EVENTS,
    X_OUTCOME,
    X_PROLIF_TIME,
)
from escalation_sim.model.validation import load_scenario

TERMINAL = {
    "no_challenge": {"no_challenge"},
    "back_down": {"challenger_backs_down"},
    "concede": {"defender_concedes"},
    "settle": {"settlement"},
    "war": {"war_deliberate", "war_miscalculation"},
}


class RecordingCrisis(Crisis):
    """A Crisis that also keeps every handled message (for its send time)."""

    def __init__(self, *args, **kwargs):
        self.msgs: list[np.ndarray] = []
        super().__init__(*args, **kwargs)

    def _record(self, actor, msg, now):
        self.msgs.append(msg.copy())
        super()._record(actor, msg, now)


def run_recorded(scenario, seed, replication=0):
    p_mixes, cum = scenario.vectors()
    c = RecordingCrisis(p_mixes, cum, seed, replication)
    res = c.run()
    return res, c.msgs, c.p


# --- invariants, checked on every run below -----------------------------------------------
def check_invariants(scenario, seed, replication=0):
    res, msgs, p = run_recorded(scenario, seed, replication)
    tr = res.trace
    horizon = scenario.value("crisis.horizon")
    ally = scenario.value("ally.present") > 0

    assert list(tr.columns) == list(TRACE_COLUMNS)
    assert len(tr) == len(msgs) == res.events == int(res.state[X_EVENTS])

    # time runs forward and stays inside the window
    assert tr.time.is_monotonic_increasing
    assert tr.time.min() >= 0.0 and tr.time.max() < horizon
    assert 0.0 <= res.end_time <= horizon
    assert res.end_time == res.state[X_END_TIME]

    # ladder levels
    assert set(tr.level_sent) <= set(range(-1, 7))
    assert set(tr.level_perceived) <= set(range(-1, 7))
    assert set(tr.actor) <= set(ACTOR_NAMES)

    # causality: every message was sent, by its sender, no later than it was received
    regime = "limited_security_regime" in scenario.mixes[res.mix].strategies
    min_delay = scenario.value("channel.delay_min") * (1 - regime * scenario.value("effects.regime_delay_cut"))
    times = tr.time.to_numpy()
    actors = tr.actor.to_numpy()
    for i, (m, row) in enumerate(zip(msgs, tr.itertuples(index=False), strict=True)):
        sent = m[M_SENT]
        assert sent <= row.time
        if row.sender:  # the sender handled a message at the send time, before this one
            earlier = (actors[:i] == row.sender) & (times[:i] == sent)
            assert earlier.any(), (i, row)
        if row.message == "signal":  # every signal travels through the channel
            assert row.time - sent >= min_delay - 1e-9

    # exactly one outcome
    assert res.outcome in OUTCOME_NAMES
    assert OUTCOME_NAMES[int(res.state[X_OUTCOME])] == res.outcome
    terminal = tr[tr.event.isin(list(TERMINAL)) & tr.actor.isin(["challenger.leader", "defender.leader"])]
    if res.outcome == "unresolved":
        assert len(terminal) == 0
        assert res.end_time == horizon
    else:
        assert len(terminal) == 1
        row = terminal.iloc[0]
        assert res.outcome in TERMINAL[row.event]
        assert row.time == res.end_time
        if row.event == "war":
            assert (res.outcome == "war_miscalculation") == bool(row.misperceived or row.incident)

    # no_challenge iff the crisis ends at 0 by the challenger's first decision
    first_challenger = tr[tr.actor == "challenger.leader"].iloc[0]
    assert first_challenger.message == "start" and first_challenger.time == 0.0
    is_nc = res.end_time == 0.0 and first_challenger.event == "no_challenge"
    assert (res.outcome == "no_challenge") == is_nc
    if res.outcome != "no_challenge":
        assert first_challenger.event == "challenge"

    # where the run stops
    if not ally:
        if res.outcome != "unresolved":
            assert tr.index[-1] == terminal.index[0]  # nothing after the outcome
            assert tr.time.iloc[-1] == res.end_time
        assert not (tr.actor.str.startswith("ally")).any()
    else:
        reviews = tr.time[tr.message == "review"].to_numpy()
        interval = scenario.value("ally.review_interval")
        expected = interval * np.arange(1, math.ceil(horizon / interval))
        np.testing.assert_allclose(reviews, expected[expected < horizon], rtol=1e-12)
        if res.outcome != "unresolved":
            # after the outcome the crisis actors only ignore what still arrives; the defender's
            # reassurance and the ally go on
            after = tr.loc[terminal.index[0] + 1 :]
            crisis_actor = ~after.actor.str.startswith("ally") & (after.actor != "defender.leader")
            assert set(after.event[crisis_actor]) <= {"ignored"}
            assert set(after.event[after.actor == "defender.leader"]) <= {"ignored", "start", "renew"}
            assert set(after.event[after.actor == "ally.audience"]) <= {"ignored"}
    return res


# --- determinism ------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [8, 15, 17])
def test_same_seed_same_trace_and_state(direct, seed):
    a = simulate(direct, seed)
    b = simulate(direct, seed)
    assert len(a.trace) > 10  # these seeds open a crisis
    pdt.assert_frame_equal(a.trace, b.trace)
    np.testing.assert_array_equal(a.state, b.state)
    assert (a.outcome, a.end_time, a.need_driven, a.mix) == (b.outcome, b.end_time, b.need_driven, b.mix)


def test_same_seed_same_trace_with_ally(extended):
    a = simulate(extended, 8, replication=3)
    b = simulate(extended, 8, replication=3)
    pdt.assert_frame_equal(a.trace, b.trace)
    np.testing.assert_array_equal(a.state, b.state)


def test_record_false_gives_same_crisis(extended):
    for seed in range(5):
        a = simulate(extended, seed, record=True)
        b = simulate(extended, seed, record=False)
        np.testing.assert_array_equal(a.state, b.state)
        assert b.trace.empty and list(b.trace.columns) == list(TRACE_COLUMNS)


def test_different_seeds_differ(direct):
    runs = [simulate(direct, s) for s in range(10)]
    assert len({(r.outcome, r.end_time) for r in runs}) >= 3
    assert len({r.need_driven for r in runs}) == 2
    crises = [r for r in runs if r.outcome != "no_challenge"]
    assert len(crises) >= 2
    assert any(not r.trace.equals(crises[0].trace) for r in crises[1:])


def test_replications_differ(direct):
    runs = [simulate(direct, 0, replication=k) for k in range(10)]
    assert len({(r.outcome, r.end_time) for r in runs}) >= 3


def test_negative_seed_rejected(direct):
    with pytest.raises(ValueError):
        simulate(direct, -1)
    with pytest.raises(ValueError):
        simulate(direct, 0, replication=-1)


# --- invariants on the shipped scenarios and on random valid scenarios ----------------------
@pytest.mark.parametrize("seed", range(20))
def test_invariants_shipped(direct, extended, seed):
    check_invariants(direct, seed)
    check_invariants(extended, seed)


@given(seed=st.integers(0, 2**32 - 1), replication=st.integers(0, 10**6))
def test_invariants_over_seeds(direct, extended, seed, replication):
    check_invariants(direct, seed, replication)
    check_invariants(extended, seed, replication)


RESPONSES = [s.name for s in strategies.response_rules]
MODIFIERS = [s.name for s in strategies.defender_strategies if s.kind == "modifier"]
INSTRUMENTS = [s.name for s in strategies.ally_instruments]


@st.composite
def valid_scenarios(draw):
    ally = draw(st.booleans())
    mix = []
    rule = draw(st.sampled_from([None, *RESPONSES]))
    if rule:
        mix.append(rule)
    mix += draw(st.lists(st.sampled_from(MODIFIERS), unique=True))
    if ally:
        mix += draw(st.lists(st.sampled_from(INSTRUMENTS), unique=True))
    values = {
        "channel.misperception": draw(st.sampled_from([0.0, 0.1, 0.5, 1.0])),
        "challenger.p_need": draw(st.sampled_from([0.0, 0.5, 1.0])),
        "challenger.strategy": draw(st.sampled_from(params.CHALLENGER_STRATEGIES)),
        "challenger.challenge_threshold": draw(st.sampled_from([-1.0, 0.35])),
        "crisis.horizon": draw(st.sampled_from([60.0, 365.0])),
        "ally.present": ally,
    }
    if ally:
        values["defender.renewal_interval"] = draw(st.sampled_from([0.0, 25.0]))
    from escalation_sim.model.scenario import Scenario

    return Scenario.build(values=values, strategies=mix)


@given(scenario=valid_scenarios(), seed=st.integers(0, 2**32 - 1), replication=st.integers(0, 1000))
def test_invariants_over_parameters(scenario, seed, replication):
    res = check_invariants(scenario, seed, replication)
    if scenario.value("challenger.p_need") in (0.0, 1.0):
        assert res.need_driven == (scenario.value("challenger.p_need") == 1.0)


@pytest.mark.parametrize("p_need", [0.0, 1.0])
def test_p_need_extremes(build, p_need):
    s = build({"challenger.p_need": p_need})
    assert {simulate(s, k).need_driven for k in range(20)} == {bool(p_need)}


def test_always_challenge_never_no_challenge(build):
    s = build({"challenger.challenge_threshold": -10.0}, ["tit_for_tat"])
    for k in range(10):
        r = simulate(s, k)
        assert r.outcome != "no_challenge"
        assert r.trace.event.iloc[0] == "challenge"


def test_never_challenge(build):
    s = build({"challenger.challenge_threshold": 10.0})
    for k in range(10):
        r = simulate(s, k)
        assert (r.outcome, r.end_time, len(r.trace)) == ("no_challenge", 0.0, 1)


def test_population_mix_frequencies(build):
    # weights 1:3 -> mix 1 with probability 0.75; n = 1000, SE = sqrt(0.75 * 0.25 / n) = 0.0137,
    # 99.9% two-sided tolerance 3.29 * SE = 0.045.
    s = build({"challenger.challenge_threshold": 10.0}, population=[(1, ["tit_for_tat"]), (3, ["grit"])])
    n = 1000
    mixes = [simulate(s, 4, replication=k, record=False).mix for k in range(n)]
    assert set(mixes) == {0, 1}
    assert abs(sum(mixes) / n - 0.75) < 3.29 * math.sqrt(0.75 * 0.25 / n)


# --- the ally: the run goes on to the horizon ---------------------------------------------------
def test_without_ally_run_stops_at_outcome(direct):
    seen = set()
    for seed in range(30):
        r = simulate(direct, seed)
        seen.add(r.outcome)
        if r.outcome == "unresolved":
            assert r.end_time == 365.0 and r.trace.time.max() < 365.0
        else:
            assert r.trace.time.iloc[-1] == r.end_time
            assert r.trace.event.iloc[-1] in TERMINAL
    assert {"no_challenge", "challenger_backs_down", "war_miscalculation"} <= seen


def test_with_ally_run_continues_to_horizon(extended):
    ended_early = 0
    for seed in range(20):
        r = simulate(extended, seed)
        tr = r.trace
        if r.outcome == "unresolved":
            continue
        ended_early += 1
        reviews = tr.time[tr.message == "review"].tolist()
        assert reviews == [30.0 * k for k in range(1, 13)]
        renews = tr.time[tr.event == "renew"].tolist()
        assert renews == [60.0 * k for k in range(1, 7)]
        after = tr[tr.time > r.end_time]
        assert (after.message == "review").sum() >= 12 - int(r.end_time // 30)
        assert (after.event == "support").sum() >= 1
        assert (after.event == "renew").sum() >= 1
    assert ended_early >= 10


def _reviews(res):
    tr = res.trace
    return tr[tr.message == "review"].set_index("time").value


@pytest.mark.parametrize("seed", range(5))
def test_one_off_vs_renewed_reassurance(seed):
    one_off = simulate(load_scenario(EXTENDED_TOML, {"defender.renewal_interval": 0.0}), seed)
    renewed = simulate(load_scenario(EXTENDED_TOML, {"defender.renewal_interval": 30.0}), seed)
    a, b = _reviews(one_off), _reviews(renewed)
    assert list(a.index) == list(b.index) == [30.0 * k for k in range(1, 13)]
    late = [t for t in a.index if t >= 120.0]
    assert all(a[t] < b[t] for t in late), (a, b)
    # a one-off reassurance lets confidence fall below the hedging threshold by the end of the year
    assert a.iloc[-1] < 0.4 < b.iloc[-1]


def test_one_off_reassurance_decays_exactly(build):
    """No challenge, one-off: after the last support, reviews follow exp(-decay * cut * t)."""
    s = build(
        {"ally.present": True, "challenger.challenge_threshold": 10.0, "defender.renewal_interval": 0.0},
        ["tripwire", "public_statement"],
    )
    r = simulate(s, 3)
    tr = r.trace
    assert r.outcome == "no_challenge"
    last_support = tr.time[tr.event == "support"].max()
    assert (tr.event == "support").sum() == 2 and last_support < 30.0
    v = _reviews(r)
    rate = 0.008 * (1 - 0.5)  # tripwire cuts the decay by effects.tripwire_decay_cut
    ratios = v.iloc[1:].to_numpy() / v.iloc[:-1].to_numpy()
    np.testing.assert_allclose(ratios, math.exp(-rate * 30.0), rtol=1e-12)
    # the ally starts hedging at the first review below ally.hedge_threshold = 0.4, once;
    # the programme (180 days) cannot mature before the horizon
    first_below = v.index[v.to_numpy() < 0.4][0]
    assert tr.time[tr.event == "hedge_start"].tolist() == [first_below]
    assert tr.time[(tr.actor == "ally.military") & (tr.message == "order")].tolist() == [first_below]
    assert first_below + 180.0 >= 365.0 and not r.ally_proliferated


def test_weak_reassurance_leads_to_proliferation(build):
    s = build(
        {"ally.present": True, "challenger.challenge_threshold": 10.0, "defender.renewal_interval": 0.0},
        ["private_statement"],
    )
    r = simulate(s, 3)
    tr = r.trace
    v = _reviews(r)
    first_below = v.index[v.to_numpy() < 0.4][0]
    assert tr.time[tr.event == "hedge_start"].tolist() == [first_below]
    assert first_below + 180.0 < 365.0
    assert r.ally_proliferated
    assert r.state[X_PROLIF_TIME] == first_below + 180.0
    assert tr.time[tr.event == "proliferate"].tolist() == [first_below + 180.0]


def test_support_stops_hedging_and_shelves_the_programme(build):
    """Confidence back above the threshold stops hedging; the programme's clock is then stale."""
    s = build(
        {
            "ally.present": True,
            "challenger.challenge_threshold": 10.0,
            "ally.initial_confidence": 0.3,
            "ally.decay": 0.0,
            "ally.review_interval": 10.0,
            "channel.delay_min": 15.0,
            "effects.boost_private_statement": 0.5,
        },
        ["private_statement"],
    )
    r = simulate(s, 0)
    tr = r.trace
    v = _reviews(r)
    support_t = tr.time[tr.event == "support"].tolist()
    assert len(support_t) == 1 and 15.0 <= support_t[0]
    # review at 10: 0.3 < 0.4 -> hedge; support: 0.3 + 0.5 * 0.7 = 0.65; next review: stop
    assert v[10.0] == pytest.approx(0.3)
    assert tr.time[tr.event == "hedge_start"].tolist() == [10.0]
    stop = tr.time[tr.event == "hedge_stop"].tolist()
    assert len(stop) == 1 and stop[0] == 10.0 * math.ceil(support_t[0] / 10.0)
    assert v[stop[0]] == pytest.approx(0.65)
    assert tr.time[tr.event == "programme_shelved"].tolist() == [190.0]
    assert not r.ally_proliferated

"""The SimPy reference engine: determinism, what the trace records, the order of events, every draw.

The expectations come from docs/model.md: the trace's perceived levels and misread flags from "Moves,
perception and war", audience pressure from "Audiences", the order of events and ties from "Order of events",
the draws per stream from the "Every draw" table (recounted here from the trace, handler by handler, and compared
with the streams' counters), the ally's reviews and belief from "The ally".
"""

from __future__ import annotations

import math

import numpy as np
import pandas.testing as pdt
import pytest
from conftest import DIRECT_TOML, EXTENDED_TOML, SCHELLING_TOML, build_scenario
from hypothesis import given
from hypothesis import strategies as hst

from escalation_sim.engines import montecarlo as mc
from escalation_sim.engines.simpy_engine import TRACE_COLUMNS, Crisis, simulate
from escalation_sim.model import strategies
from escalation_sim.model.constants import (
    ACTOR_NAMES,
    F_OFFER,
    M_FLAGS,
    M_SENT,
    N_STREAMS,
    OUTCOME_NAMES,
    STREAM_COMMITMENT,
    STREAM_SETUP,
    X_CHALLENGE_TIME,
    X_END_TIME,
    X_EVENTS,
    X_OUTCOME,
    X_WINNER,
)
from escalation_sim.model.rng import exponential, init_streams, uniform
from escalation_sim.model.validation import load_scenario

TERMINAL = {"back_down": "challenger_backs_down", "concede": "defender_concedes", "settle": "settlement", "war": "war"}
LEADERS = ("challenger.leader", "defender.leader")


class RecordingCrisis(Crisis):
    """A Crisis that also keeps every handled message (its flags and send time are not in the trace)."""

    def __init__(self, *args, **kwargs):
        self.msgs: list[np.ndarray] = []
        super().__init__(*args, **kwargs)

    def _record(self, actor, msg, now):
        self.msgs.append(msg.copy())
        super()._record(actor, msg, now)


def run_recorded(scenario, seed, rep=0, twin=False):
    """``(result, messages handled, draws per stream, parameter vector)`` of one SimPy crisis."""
    p_mixes, cum = scenario.vectors()
    c = RecordingCrisis(p_mixes, cum, seed, rep, True, twin)
    res = c.run()
    return res, c.msgs, c.counters.astype(np.int64), c.p


# --- determinism ---------------------------------------------------------------------------------------------
def test_same_seed_same_crisis(direct, extended):
    for scen, seed, rep in ((direct, 8, 0), (direct, 15, 2), (extended, 8, 3)):
        a, b = simulate(scen, seed, rep), simulate(scen, seed, rep)
        pdt.assert_frame_equal(a.trace, b.trace)
        np.testing.assert_array_equal(a.state, b.state)


def test_record_false_gives_the_same_crisis(extended):
    for seed in range(5):
        a, b = simulate(extended, seed, record=True), simulate(extended, seed, record=False)
        np.testing.assert_array_equal(a.state, b.state)
        assert b.trace.empty and list(b.trace.columns) == list(TRACE_COLUMNS)


def test_seeds_and_replications_differ(direct):
    by_seed = [simulate(direct, s) for s in range(12)]
    by_rep = [simulate(direct, 0, r) for r in range(12)]
    for runs in (by_seed, by_rep):
        assert len({(r.outcome, r.end_time) for r in runs}) >= 4
        assert len({r.challenger_type for r in runs}) >= 2


def test_negative_seed_rejected(direct):
    with pytest.raises(ValueError):
        simulate(direct, -1)
    with pytest.raises(ValueError):
        simulate(direct, 0, replication=-1)


def test_result_fields_mirror_the_state(direct):
    for seed in range(30):
        r = simulate(direct, seed)
        st = r.state
        assert r.outcome == OUTCOME_NAMES[int(st[X_OUTCOME])] and r.end_time == st[X_END_TIME]
        assert r.challenge_time == st[X_CHALLENGE_TIME] and r.events == st[X_EVENTS] == len(r.trace)
        assert r.winner == ("" if st[X_WINNER] < 0 else ("challenger", "defender")[int(st[X_WINNER])])
        assert (r.winner != "") == (r.outcome == "war")
        if r.outcome == "war":
            assert r.terms == (1.0 if r.winner == "challenger" else 0.0)


# --- invariants of a crisis and of its trace ----------------------------------------------------------------
def check_crisis(scenario, seed, rep=0):
    """Every invariant docs/model.md states about one replication, checked on its trace."""
    res, msgs, _, p = run_recorded(scenario, seed, rep)
    tr = res.trace
    horizon = scenario.value("crisis.horizon")
    ally = scenario.value("ally.present") > 0
    assert list(tr.columns) == list(TRACE_COLUMNS) and len(tr) == len(msgs) == res.events
    assert tr["time"].is_monotonic_increasing and tr["time"].min() >= 0.0 and tr["time"].max() < horizon
    assert set(tr["actor"]) <= set(ACTOR_NAMES)
    if len(tr):  # the start messages, in the documented order, at t = 0
        starts = tr[tr["message"] == "start"]
        assert starts["time"].eq(0.0).all()
        assert list(starts["actor"]) == ["challenger.leader", "defender.leader"] + (["ally.leader"] if ally else [])
        assert list(tr["actor"].iloc[:len(starts)]) == list(starts["actor"])

    # causality: each message was sent no later than it was handled, by an actor busy at that instant
    sent = np.array([m[M_SENT] for m in msgs])
    assert (sent <= tr["time"].to_numpy()).all()
    for i, row in enumerate(tr.itertuples(index=False)):
        if row.sender:
            assert ((tr["actor"].iloc[:i] == row.sender) & (tr["time"].iloc[:i] == sent[i])).any(), (i, row)

    # perception: levels 1-4 are read as sent or one rung higher (then flagged), 0 and 5 as sent, an incident as
    # limited force unless recognised (then no perceived level)
    sig = tr[tr["actor"].isin(LEADERS) & (tr["message"] == "signal") & (tr["event"] != "ignored")]
    for row in sig.itertuples(index=False):
        if row.incident:
            assert row.level_perceived == (-1 if row.event == "incident_recognised" else 5) and not row.misperceived
        elif row.misperceived:
            assert 1 <= row.level_sent <= 4 and row.level_perceived == row.level_sent + 1
        else:
            assert row.level_perceived == row.level_sent

    # exactly one outcome, recorded by one terminal row at the end time
    challenge = tr[(tr["actor"] == "challenger.leader") & tr["event"].isin(["challenge", "war"]) & (tr["message"] == "opportunity")]
    terminal = tr[tr["actor"].isin(LEADERS) & tr["event"].isin(list(TERMINAL))]
    if res.outcome in ("no_challenge", "unresolved"):
        assert len(terminal) == 0 and res.end_time == horizon
        assert (len(challenge) == 0) == (res.outcome == "no_challenge")
    else:
        assert len(terminal) == 1 and TERMINAL[terminal["event"].iloc[0]] == res.outcome
        assert terminal["time"].iloc[0] == res.end_time
        assert len(challenge) == 1 and challenge["time"].iloc[0] == res.challenge_time

    # where the run stops: right after the outcome without an ally; with one, reviews to the horizon
    if not ally:
        assert not tr["actor"].str.startswith("ally").any()
        if len(terminal):
            assert tr.index[-1] == terminal.index[0]
    else:
        interval = scenario.value("ally.review_interval")
        reviews = tr.loc[tr["message"] == "review", "time"].to_numpy()
        expected = interval * np.arange(1, math.ceil(horizon / interval) + 1)
        np.testing.assert_allclose(reviews, expected[expected < horizon], rtol=1e-12)
        if len(terminal):
            after = tr.loc[terminal.index[0] + 1:]
            crisis = after[after["actor"].isin(["challenger.audience", "challenger.military", "defender.audience",
                                                "defender.military"])]
            assert crisis["event"].eq("ignored").all()
    return res


@pytest.mark.parametrize("seed", range(12))
def test_invariants_on_the_shipped_scenarios(direct, extended, seed):
    check_crisis(direct, seed)
    check_crisis(extended, seed)
    check_crisis(load_scenario(SCHELLING_TOML), seed)


RESPONSES = list(strategies.RESPONSE_RULES)
MODIFIERS = [s.name for s in strategies.STRATEGIES if s.kind == "modifier"]
INSTRUMENTS = list(strategies.ALLY_INSTRUMENTS)


@hst.composite
def scenarios(draw):
    ally = draw(hst.booleans())
    mix = [r] if (r := draw(hst.sampled_from([None, *RESPONSES]))) else []
    mix += draw(hst.lists(hst.sampled_from(MODIFIERS), unique=True))
    if ally:
        mix += draw(hst.lists(hst.sampled_from(INSTRUMENTS), unique=True))
    values = {
        "channel.misperception": draw(hst.sampled_from([0.0, 0.1, 0.5, 1.0])),
        "challenger.p_need": draw(hst.sampled_from([0.0, 0.5, 1.0])),
        "challenger.strategy": draw(hst.sampled_from(strategies.CHALLENGER_STRATEGIES)),
        "crisis.opportunity_rate": draw(hst.sampled_from([0.0, 1 / 60, 0.5])),
        "crisis.horizon": draw(hst.sampled_from([60.0, 365.0])),
        "decision.precision": draw(hst.sampled_from([0.0, 25.0, 1e4])),
        "military.incident_rate": draw(hst.sampled_from([0.0, 0.02, 0.2])),
        "ally.present": ally,
    }
    if ally:
        values["defender.renewal_interval"] = draw(hst.sampled_from([0.0, 25.0]))
    return build_scenario(values, mix)


@given(scenario=scenarios(), seed=hst.integers(0, 2**32 - 1), rep=hst.integers(0, 10**6))
def test_invariants_over_parameters(scenario, seed, rep):
    res = check_crisis(scenario, seed, rep)
    if scenario.value("crisis.opportunity_rate") == 0.0:
        assert res.outcome == "no_challenge"
    if scenario.value("challenger.p_need") in (0.0, 1.0):
        assert res.need_driven == (scenario.value("challenger.p_need") == 1.0)


# --- trace values ------------------------------------------------------------------------------------------
def test_audience_pressure_recomputed_from_the_moves_it_saw():
    """Each crisis audience's trace value is its pressure after the move, recomputed here from docs/model.md
    ("Audiences"): decay since the last update, then relief after an offer or a concession, else the gain
    ``pressure_gain * L / 5`` (times ``1 - restraint_pressure_cut`` for a restrained defender's moves)."""
    gain, decay, relief, cut = 0.03, 0.02, 0.5, 0.5
    checked = 0
    for mix in (["tit_for_tat", "grit"], ["immediate_deterrence", "self_restraint"], ["reciprocal_concessions"]):
        scen = build_scenario({"crisis.opportunity_rate": 0.1}, mix)
        restrained = "self_restraint" in mix
        for seed in range(25):
            res, msgs, _, _ = run_recorded(scen, seed)
            tr = res.trace
            for aud in ("challenger.audience", "defender.audience"):
                pr, t0 = 0.0, 0.0
                for i in np.flatnonzero((tr["actor"] == aud).to_numpy()):
                    row = tr.iloc[i]
                    if row["event"] == "ignored":
                        continue
                    pr *= math.exp(-decay * (row["time"] - t0))
                    t0 = row["time"]
                    if int(msgs[i][M_FLAGS]) & F_OFFER or row["level_sent"] == 0:
                        pr *= 1 - relief
                    else:
                        g = gain * row["level_sent"] / 5
                        if restrained and row["sender"].startswith("defender"):
                            g *= 1 - cut
                        pr += g
                    assert row["value"] == pytest.approx(pr, rel=1e-12, abs=1e-15)
                    checked += 1
    assert checked > 100


def test_decision_rows_record_levels_and_terms(direct):
    """An escalation row gives the new level (one rung above the top, at least a threat under immediate
    deterrence); an offer row its terms (between the status quo and the demand); a challenge row the demand."""
    scen = build_scenario({"crisis.opportunity_rate": 0.1}, ["reciprocal_concessions"])
    seen = set()
    for seed in range(60):
        res = simulate(scen, seed)
        tr = res.trace
        for row in tr[tr["actor"].isin(LEADERS)].itertuples(index=False):
            if row.event == "escalate":
                assert 1 < row.level <= 5
            elif row.event == "offer":
                assert 0.5 < row.value < 1.0
            elif row.event == "challenge":
                assert 0.5 < row.value <= 1.0 and row.level == 1
            seen.add(row.event)
    assert {"escalate", "offer", "challenge"} <= seen


# --- order of events ------------------------------------------------------------------------------------------
def test_a_deliverys_zero_delay_cascade_runs_before_the_next_delivery(extended):
    """A leader that orders its military (an immediate put) has the order handled at once, before the audience's
    copy of the move it was answering, although that copy was delivered at the same instant."""
    found = 0
    for seed in range(60):
        tr = simulate(extended, seed).trace
        rows = tr.reset_index(drop=True)
        for i in np.flatnonzero((rows["actor"].isin(LEADERS) & (rows["event"] == "escalate") & (rows["level"] >= 3)).to_numpy()):
            side = rows.loc[i, "actor"].split(".")[0]
            nxt = rows.loc[i + 1]
            assert (nxt["actor"], nxt["message"], nxt["time"]) == (f"{side}.military", "order", rows.loc[i, "time"])
            same = rows[(rows["time"] == rows.loc[i, "time"]) & (rows["actor"] == f"{side}.audience")]
            assert (same.index > i + 1).all()
            found += len(same)
    assert found > 5


def test_ties_by_kind_then_send_order():
    """Zero channel delay: a GRIT transfer (kind 12) and its observed copy (kind 1) arrive together; the copy,
    sent second, is handled first (priority 2 + kind). Two copies of one move (same kind) go in send order: the
    leader's before its audience's."""
    scen = build_scenario({"channel.delay_mean": 0.0, "channel.delay_min": 0.0, "crisis.opportunity_rate": 0.0}, ["grit"])
    tr = simulate(scen, 1).trace
    at0 = tr[tr["time"] == 0.0]
    assert list(zip(at0["actor"], at0["message"], strict=True))[:4] == [
        ("challenger.leader", "start"), ("defender.leader", "start"), ("challenger.audience", "signal"),
        ("challenger.leader", "transfer")]
    scen = build_scenario({"channel.delay_mean": 0.0, "channel.delay_min": 1.0, "crisis.opportunity_rate": 1.0},
                          ["tit_for_tat"])
    pairs = 0
    for seed in range(20):
        tr = simulate(scen, seed).trace.reset_index(drop=True)
        for i in np.flatnonzero((tr["actor"] == "defender.audience").to_numpy()):
            lead = tr[(tr["actor"] == "defender.leader") & (tr["time"] == tr.loc[i, "time"]) & (tr["message"] == "signal")]
            assert len(lead) >= 1 and lead.index.min() < i
            pairs += 1
    assert pairs > 10


def test_nothing_is_delivered_at_or_after_the_horizon():
    """A GRIT step due exactly at the horizon, and an ally review due exactly at it, are not handled."""
    scen = build_scenario({"crisis.horizon": 60.0, "crisis.opportunity_rate": 0.0, "defender.grit_interval": 30.0,
                           "defender.grit_steps": 5, "ally.present": True, "ally.review_interval": 20.0}, ["grit"])
    res = simulate(scen, 2)
    tr = res.trace
    assert tr.loc[tr["message"] == "grit_step", "time"].tolist() == [30.0]
    assert tr.loc[tr["message"] == "review", "time"].tolist() == [20.0, 40.0]
    assert res.outcome == "no_challenge" and res.end_time == 60.0


# --- every draw, recounted from the trace ---------------------------------------------------------------------
def commitment_draws(p, seed, rep, last_read):
    """Draws on stream 10: the initial state, then one exponential per switch drawn up to the last read."""
    from escalation_sim.model.rules import ALLY_LAPSE, ALLY_P_COMMITTED, ALLY_RECOMMIT

    keys = np.zeros(N_STREAMS, dtype=np.uint64)
    ctr = np.zeros(N_STREAMS, dtype=np.uint64)
    init_streams(seed, rep, keys, ctr)
    n = 1
    committed = uniform(keys, ctr, STREAM_COMMITMENT) < p[ALLY_P_COMMITTED]

    def rate(c):
        return p[ALLY_LAPSE] if c else p[ALLY_RECOMMIT]

    nxt = math.inf
    if rate(committed) > 0:
        n += 1
        nxt = exponential(keys, ctr, STREAM_COMMITMENT, 1 / rate(committed))
    while nxt <= last_read:
        committed = not committed
        if rate(committed) > 0:
            n += 1
            nxt += exponential(keys, ctr, STREAM_COMMITMENT, 1 / rate(committed))
        else:
            nxt = math.inf
    return n


def expected_draws(scenario, res, msgs, seed, rep, mix):
    """Draws per stream of one crisis, from the "Every draw" table of docs/model.md and the trace."""
    v = scenario.value
    delay = 1 if v("channel.delay_mean") > 0 else 0  # exponential(mean <= 0) draws nothing
    rate = 1 if v("crisis.opportunity_rate") > 0 else 0
    lsr = "limited_security_regime" in mix
    nc = "norms_of_competition" in mix
    grit = "grit" in mix and v("defender.grit_steps") > 0
    gtft = "generous_tit_for_tat" in mix
    ally = v("ally.present") > 0
    instruments = [k for k in INSTRUMENTS if k in mix]
    renewable = [k for k in instruments if k not in ("tripwire", "alliance_terms")]
    n = np.zeros(N_STREAMS, dtype=np.int64)
    n[STREAM_SETUP] = 6  # S1-S6
    decisions = 0
    last_read = -1.0
    clock_on = {"challenger.military": False, "defender.military": False}
    tr = res.trace
    for i, row in enumerate(tr.itertuples(index=False)):
        ev, msg, actor = row.event, row.message, row.actor
        if ev == "ignored":
            continue
        flags = int(msgs[i][M_FLAGS])
        if actor in LEADERS:
            s = 0 if actor == "challenger.leader" else 3
            if msg == "start":
                n[s] += 2 * lsr + (nc if s == 0 else 0)  # R1, R2
                if s == 0:
                    n[0] += rate  # O1
                else:
                    n[3] += grit * delay  # G1
                    n[3] += sum(1 + delay for _ in instruments)  # A2, A1
                    if ally:
                        last_read = row.time
            elif msg == "opportunity":
                n[0] += 1  # O2
                n[0] += {"wait": rate, "challenge": delay, "war": 1}[ev]  # O1 / L5 / W1
            elif msg == "grit_step":
                n[3] += delay  # G1
            elif msg == "renew":
                n[3] += sum(1 + delay for _ in renewable)
                last_read = row.time
            elif msg == "signal":
                n[s] += 1  # L1
                if s == 3 and ally and ev != "incident_recognised":
                    last_read = row.time
                if row.incident:
                    if ev != "incident_recognised":
                        n[s] += 1 + (ev == "war")  # L2, W1
                    continue
                offered = bool(flags & F_OFFER) and not row.misperceived
                if s == 3 and gtft and decisions > 0 and not offered:
                    n[3] += 1  # L3
                n[s] += 1 + (ev == "war")  # L4, W1
                if ev == "offer" or (ev == "escalate" and row.level < 3):
                    n[s] += delay  # L5
                if s == 3:
                    decisions += 1
        elif actor in clock_on:
            s = 2 if actor.startswith("challenger") else 5
            if msg == "order":
                n[s] += 1 if v("military.execution_delay_mean") * (row.level - 2) > 0 else 0  # M1
            elif msg == "executed":
                n[s] += delay + (0 if clock_on[actor] else 1)  # M2, M3
                clock_on[actor] = True
            elif msg == "incident_tick":
                n[s] += 2 + (delay if ev == "incident" else 0)  # M4, M6, M5
        elif actor == "ally.leader" and msg == "review":
            n[6] += 1 + (delay if ev == "provoke" else 0)  # Y1, Y2
        elif actor == "ally.military" and msg == "order":
            n[8] += (v("ally.programme_time") > 0) + (v("ally.detection_rate") > 0)  # Y3
    if ally:
        n[STREAM_COMMITMENT] = commitment_draws(scenario.vectors()[0][res.mix], seed, rep, last_read)
    return n


DRAW_CASES = {
    "direct": (load_scenario(DIRECT_TOML), {}),
    "extended": (load_scenario(EXTENDED_TOML), {}),
    "schelling": (load_scenario(SCHELLING_TOML), {}),
    "regime-norms-grit-gtft": (None, ({"crisis.opportunity_rate": 0.05, "military.incident_rate": 0.1},
                                      ["generous_tit_for_tat", "grit", "norms_of_competition", "limited_security_regime"])),
    "ally-all-instruments": (None, ({"ally.present": True, "defender.renewal_interval": 40.0, "ally.lapse_rate": 0.01,
                                     "ally.recommit_rate": 0.01, "ally.review_interval": 20.0},
                                    ["reciprocal_concessions", "general_deterrence", *INSTRUMENTS])),
    "no-delays": (None, ({"channel.delay_mean": 0.0, "military.execution_delay_mean": 0.0, "ally.present": True},
                         ["tit_for_tat", "grit", "aid"])),
}


@pytest.mark.parametrize("case", list(DRAW_CASES))
def test_draws_per_stream_follow_the_every_draw_table(case):
    """For 60 crises per case, the draws each stream made (its counter) equal the count from the table: every
    handler's rows, their conditions (a regime's reports, GRIT, instruments, generous tit for tat's draw, war's
    lottery, a move's delay, the first execution's clock, a provocation's delay, the commitment chain), and the
    rule that an exponential with mean 0 draws nothing. Streams 1, 4 and 7 (audiences) never draw."""
    scen, built = DRAW_CASES[case]
    if scen is None:
        scen = build_scenario(*built)
    for rep in range(60):
        res, msgs, counters, _ = run_recorded(scen, 3, rep)
        mix = scen.mixes[res.mix].strategies
        expected = expected_draws(scen, res, msgs, 3, rep, mix)
        np.testing.assert_array_equal(counters, expected, err_msg=f"replication {rep}")
        assert counters[[1, 4, 7]].sum() == 0


# --- the compiled engine's workspace ---------------------------------------------------------------------------
def test_workspace_overflow_is_an_error_not_a_different_crisis():
    """A valid scenario that keeps more than 256 messages in flight (four renewable instruments renewed every
    day, the shortest interval allowed, with very slow delivery: ~4 x 150 in flight): the SimPy engine has no limit
    and runs it; the compiled engine raises."""
    scen = build_scenario({"ally.present": True, "defender.renewal_interval": 1.0, "channel.delay_mean": 150.0},
                          ["public_statement", "private_statement", "aid", "exercises"])
    res = simulate(scen, 1, record=False)
    assert res.events > 4 * 300  # four renewals a day
    with pytest.raises(RuntimeError, match="overflowed"):
        mc.final_states(scen, 1, [0])
    pm, cum = scen.vectors()
    with pytest.raises(RuntimeError, match="overflowed"):
        mc.run_blocks(pm, cum, 1, np.array([0]), 2, 2, parallel=False)


# --- the ally: reviews and its belief between signals ------------------------------------------------------
def test_reviews_read_the_filters_prediction_without_news():
    """No instruments, no challenge: the ally's belief at each review is the two-state filter's prediction from its
    prior, ``b_inf + (p0 - b_inf) exp(-(lapse + recommit) t)`` (docs/model.md, "The ally"); with no switching it
    stays at its prior."""
    for lapse, recommit in ((1 / 300, 1 / 150), (0.0, 0.0)):
        scen = build_scenario({"ally.present": True, "crisis.opportunity_rate": 0.0, "ally.lapse_rate": lapse,
                               "ally.recommit_rate": recommit, "ally.p_committed": 0.9, "ally.risk_taking": False})
        tr = simulate(scen, 4).trace
        rows = tr[(tr["actor"] == "ally.leader") & (tr["message"] == "review")]
        h = lapse + recommit
        b_inf = recommit / h if h else 0.9
        expected = b_inf + (0.9 - b_inf) * np.exp(-h * rows["time"].to_numpy())
        np.testing.assert_allclose(rows["value"].to_numpy(), expected, rtol=1e-12)
        assert len(rows) == 4  # reviews at 90, 180, 270, 360


def test_a_programme_matures_or_is_shelved_and_can_be_detected():
    """An ally that hedges orders a programme: it matures after its exponential time if still running (then
    ``proliferate``), or its clock finds it shelved; the challenger detects it only while it runs."""
    scen = build_scenario({"ally.present": True, "crisis.opportunity_rate": 0.0, "ally.p_committed": 0.2,
                           "ally.programme_cost": 0.0, "ally.review_interval": 30.0, "ally.programme_time": 60.0,
                           "ally.detection_rate": 1 / 30})
    outcomes = set()
    for seed in range(30):
        res = simulate(scen, seed)
        tr = res.trace
        starts = tr[tr["event"] == "hedge_start"]
        done = tr[(tr["actor"] == "ally.military") & (tr["message"] == "hedge_done")]
        assert len(done) <= len(starts)
        for row in done.itertuples(index=False):
            outcomes.add(row.event)
            assert row.event in ("proliferate", "programme_shelved")
        if res.ally_proliferated:
            assert (done["event"] == "proliferate").sum() == 1
        detected = tr[tr["event"] == "programme_detected"]
        assert len(detected) <= 1 and (len(detected) == 0 or detected["actor"].iloc[0] == "challenger.leader")
    assert "proliferate" in outcomes

"""The compiled engine's per-block measures and the tables built from them.

Every measure declared in ``engines/outputs.py`` is recounted here, replication by replication, from the final
states of the same replications (``montecarlo.final_states``; twins for wars; the SimPy engine's stream counters
for the draws), with the categories written again from docs/model.md ("Outcomes and outputs") rather than read
from ``model/measures.py``. Float sums are compared exactly: the kernel adds in replication order within a block,
and so does the recount. Then the outcome and cell tables (``pipeline/summary.py``): each measure's count and
``n`` (replications, crises, or two parties per crisis), and its Wilson interval against SciPy's.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from conftest import build_scenario, simpy_run
from scipy.stats import binomtest

from escalation_sim.engines import montecarlo as mc
from escalation_sim.engines.outputs import MEASURES, N_BINS
from escalation_sim.model.constants import (
    CHALLENGER_BACKS_DOWN,
    DEFENDER_CONCEDES,
    N_OUTCOMES,
    N_TYPES,
    NO_CHALLENGE,
    SETTLEMENT,
    UNRESOLVED,
    WAR_OUTCOME,
    X_ABANDONED,
    X_ALLY_OPENED,
    X_AUDIENCE_PAID,
    X_C_FORCE,
    X_C_TYPE,
    X_CHALLENGE_TIME,
    X_DETECTED,
    X_END_TIME,
    X_EVENTS,
    X_FINAL_TERMS,
    X_INADVERTENT,
    X_INCIDENTS,
    X_NEED,
    X_OUTCOME,
    X_PEAK,
    X_PROGRAMME_STARTED,
    X_PROLIFERATED,
    X_REASSURANCE_COST,
    X_WINNER,
)
from escalation_sim.model.measures import ACTOR_OUTCOME_NAMES, HOSTILITY_NAMES, VIOLENCE_NAMES
from escalation_sim.pipeline.summary import MOTIVES, summarize
from escalation_sim.stats import CI_METHOD

SEED = 17
N = 1500
BLOCK = 250


@pytest.fixture(scope="module")
def scenario():
    """An ally that can be attacked, abandoned, provoke, hedge; incidents; a population of two mixes."""
    return build_scenario(
        {"ally.present": True, "defender.renewal_interval": 60.0, "military.incident_rate": 0.05,
         "ally.p_committed": 0.6, "ally.programme_cost": 0.03, "crisis.opportunity_rate": 0.03},
        population=[(1, ["immediate_deterrence", "tripwire", "public_statement"]), (1, ["reciprocal_concessions", "aid"])],
    )


@pytest.fixture(scope="module")
def run(scenario):
    """The kernel's blocks, and the final state, twin and draws of every replication."""
    pm, cum = scenario.vectors()
    res = mc.run_blocks(pm, cum, SEED, np.arange(N // BLOCK), BLOCK, N, parallel=False)
    states = mc.final_states(scenario, SEED, range(N))
    war = np.flatnonzero(states[:, X_OUTCOME] == WAR_OUTCOME)
    twins = np.full(N, -1.0)
    twins[war] = mc.final_states(scenario, SEED, war, twin=True)[:, X_OUTCOME]
    draws = np.array([simpy_run(scenario, SEED, r, record=False)[1].sum() for r in range(N)])
    return SimpleNamespace(res=res, states=states, twins=twins, draws=draws, q0=scenario.value("stake.status_quo"),
                           width=scenario.value("crisis.horizon") / N_BINS)


def violence(s):
    """ICB crisis violence: full-scale war, serious clashes (deliberate limited force), minor clashes (an incident)."""
    if s[X_OUTCOME] == WAR_OUTCOME:
        return 3
    return 2 if s[X_PEAK] >= 5 else 1 if s[X_INCIDENTS] > 0 else 0


def hostility(s):
    """MID hostility: war, use of force (limited force or an incident), display (show of force or mobilization),
    threat (a threat at most); a demand alone is not militarized (0)."""
    if s[X_OUTCOME] == WAR_OUTCOME:
        return 4
    if s[X_PEAK] >= 5 or s[X_INCIDENTS] > 0:
        return 3
    return 2 if s[X_PEAK] >= 3 else 1 if s[X_PEAK] >= 2 else 0


def actor(s, side):
    """ICB actor outcome of ``side``: victory, compromise, stalemate, defeat."""
    o = s[X_OUTCOME]
    if o == SETTLEMENT:
        return 1
    if o == UNRESOLVED:
        return 2
    if o == WAR_OUTCOME:
        return 0 if s[X_WINNER] == side else 3
    winner = 0 if o == DEFENDER_CONCEDES else 1
    assert o in (DEFENDER_CONCEDES, CHALLENGER_BACKS_DOWN)
    return 0 if side == winner else 3


def recount(run, b):
    """Every measure of block ``b``, from the replications' final states."""
    shapes = {m.name: m.shape for m in MEASURES}
    out = {m.name: np.zeros(m.shape, dtype=m.dtype) if m.shape else (0 if m.exact else 0.0) for m in MEASURES}
    for r in range(b * BLOCK, min((b + 1) * BLOCK, N)):
        s = run.states[r]
        need, o = int(s[X_NEED]), int(s[X_OUTCOME])
        out["counts"][need, o] += 1
        out["by_type"][int(s[X_C_TYPE]), o] += 1
        out["prolif"][need] += s[X_PROLIFERATED] > 0
        out["programme"][need] += s[X_PROGRAMME_STARTED] > 0
        out["detected"][need] += s[X_DETECTED] >= 0
        out["ally_opened"][need] += s[X_ALLY_OPENED] > 0
        out["entrapment"][need] += s[X_ALLY_OPENED] > 0 and o == WAR_OUTCOME
        out["attacked"][need] += s[X_C_FORCE] > 0
        out["abandonment"][need] += s[X_ABANDONED] > 0
        out["reassurance_cost_sum"] += s[X_REASSURANCE_COST]
        out["audience_paid_sum"] += s[X_AUDIENCE_PAID]
        out["terms_sum"] += s[X_FINAL_TERMS]
        out["events"] += int(s[X_EVENTS])
        out["draws"] += int(run.draws[r])
        if o != NO_CHALLENGE:
            assert s[X_CHALLENGE_TIME] >= 0
            out["gain_sum"] += s[X_FINAL_TERMS] - run.q0
            ct = s[X_CHALLENGE_TIME]
            out["challenge_sum"] += ct
            out["challenge_sumsq"] += ct * ct
            out["challenge_hist"][min(int(ct / run.width), N_BINS - 1)] += 1
            d = s[X_END_TIME] - ct
            out["dur_sum"] += d
            out["dur_sumsq"] += d * d
            out["hist"][min(int(d / run.width), N_BINS - 1)] += 1
            out["violence"][need, violence(s)] += 1
            out["hostility"][need, hostility(s)] += 1
            out["actor"][need, actor(s, 0)] += 1
            out["actor"][need, actor(s, 1)] += 1
        if o == WAR_OUTCOME:
            out["war_inadvertent"][need] += s[X_INADVERTENT] > 0
            out["war_miscalculation"][need] += run.twins[r] != WAR_OUTCOME
            out["twin_runs"] += 1
    assert set(out) == set(shapes)
    return out


@pytest.mark.parametrize("measure", [m.name for m in MEASURES])
def test_every_block_measure_equals_the_recount(run, measure):
    for b in range(N // BLOCK):
        got = getattr(run.res, measure)[b]
        want = recount(run, b)[measure]
        np.testing.assert_array_equal(got, want, err_msg=f"{measure}, block {b}")


def test_the_recount_is_not_vacuous(run):
    """The scenario reaches every outcome and every category the measures distinguish."""
    total = {m.name: sum(np.asarray(recount(run, b)[m.name]) for b in range(N // BLOCK)) for m in MEASURES}
    assert (total["counts"].sum(axis=0) > 0).all() and (total["counts"].sum(axis=1) > 0).all()
    assert (total["violence"].sum(axis=0) > 0).all() and (total["hostility"].sum(axis=0) > 0).all()
    assert (total["actor"].sum(axis=0) > 0).all()
    for name in ("war_miscalculation", "war_inadvertent", "prolif", "programme", "detected", "ally_opened",
                 "entrapment", "attacked", "abandonment"):
        assert total[name].sum() > 0, name


# --- the tables ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tables(scenario, run):
    tot = mc.CellTotals()
    tot.add(run.res)
    cell = SimpleNamespace(index=0, label="c", scenario=scenario, overrides={})
    cells, outcomes = summarize([cell], [tot])
    return cells, outcomes


def _motive(states, motive):
    if motive == "all":
        return states
    return states[states[:, X_NEED] == (1 if motive == "need" else 0)]


def test_outcome_table_counts_and_denominators(run, tables):
    """Outcomes and the ally's measures over replications, violence and hostility over crises, actor outcomes over
    the two parties of each crisis; for every motive."""
    _, out = tables
    for motive in MOTIVES:
        st = _motive(run.states, motive)
        crises = st[st[:, X_OUTCOME] != NO_CHALLENGE]
        rows = out[out["motive"] == motive].set_index("measure")
        expect = {}
        for k, name in enumerate(("no_challenge", "challenger_backs_down", "defender_concedes", "settlement", "war",
                                  "unresolved")):
            expect[name] = ((st[:, X_OUTCOME] == k).sum(), len(st))
        war = st[:, X_OUTCOME] == WAR_OUTCOME
        twin = _motive(np.column_stack([run.states, run.twins]), motive)[:, -1]
        expect["war_miscalculation"] = ((war & (twin != WAR_OUTCOME)).sum(), len(st))
        expect["war_inadvertent"] = ((war & (st[:, X_INADVERTENT] > 0)).sum(), len(st))
        expect["entrapment"] = ((war & (st[:, X_ALLY_OPENED] > 0)).sum(), len(st))
        expect["abandonment"] = ((st[:, X_ABANDONED] > 0).sum(), len(st))
        expect["ally_attacked"] = ((st[:, X_C_FORCE] > 0).sum(), len(st))
        expect["ally_proliferation"] = ((st[:, X_PROLIFERATED] > 0).sum(), len(st))
        for names, fn, n in ((VIOLENCE_NAMES, violence, len(crises)), (HOSTILITY_NAMES, hostility, len(crises))):
            prefix = "violence" if names is VIOLENCE_NAMES else "hostility"
            cats = [fn(s) for s in crises]
            for i, name in enumerate(names):
                expect[f"{prefix}:{name}"] = (cats.count(i), n)
        parties = [actor(s, side) for s in crises for side in (0, 1)]
        for i, name in enumerate(ACTOR_OUTCOME_NAMES):
            expect[f"actor:{name}"] = (parties.count(i), 2 * len(crises))
        for name, (count, n) in expect.items():
            assert (rows.loc[name, "count"], rows.loc[name, "n"]) == (count, n), (motive, name)
    assert len(out) == len(MOTIVES) * len(out["measure"].unique())


def test_outcome_table_intervals_are_wilson(tables):
    _, out = tables
    assert (out["ci_method"] == CI_METHOD).all() and CI_METHOD == "wilson" and (out["ci_level"] == 0.95).all()
    for r in out.itertuples(index=False):
        if r.n == 0:
            continue
        ci = binomtest(int(r.count), int(r.n)).proportion_ci(0.95, method="wilson")
        assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high), abs=1e-12)
        assert r.p == r.count / r.n and r.ci_low - 1e-15 <= r.p <= r.ci_high


def test_wilson_interval_contains_its_estimate_at_zero_and_n():
    from escalation_sim.stats import wilson

    for n in (1, 7, 726, 10_000, 123_457):
        assert wilson(0, n)[0] == 0.0 and wilson(n, n)[1] == 1.0


def test_cell_table(run, tables):
    cells, out = tables
    (c,) = cells.to_dict("records")
    st = run.states
    crises = st[st[:, X_OUTCOME] != NO_CHALLENGE]
    war = (st[:, X_OUTCOME] == WAR_OUTCOME).sum()
    assert c["n"] == N and c["crises"] == len(crises)
    assert c["p_war"] == war / N and c["p_war_given_crisis"] == war / len(crises)
    for k in range(N_OUTCOMES):
        assert c[f"p_{('no_challenge', 'challenger_backs_down', 'defender_concedes', 'settlement', 'war', 'unresolved')[k]}"] == (st[:, X_OUTCOME] == k).sum() / N
    allrows = out[out["motive"] == "all"].set_index("measure")
    for col, measure in (("war", "war"), ("war_miscalculation", "war_miscalculation"),
                         ("war_inadvertent", "war_inadvertent")):
        assert c[f"p_{col}"] == allrows.loc[measure, "p"]
        lo = c["war_ci_low"] if col == "war" else c[f"{col}_ci_low"]
        assert lo == allrows.loc[measure, "ci_low"]
    assert c["duration_mean"] == pytest.approx((crises[:, X_END_TIME] - crises[:, X_CHALLENGE_TIME]).mean(), rel=1e-12)
    assert c["challenge_day_mean"] == pytest.approx(crises[:, X_CHALLENGE_TIME].mean(), rel=1e-12)
    assert c["gain_given_crisis"] == pytest.approx((crises[:, X_FINAL_TERMS] - run.q0).mean(), rel=1e-12)
    assert c["reassurance_cost_mean"] == pytest.approx(st[:, X_REASSURANCE_COST].mean(), rel=1e-12)
    assert c["draws_per_replication"] == run.draws.sum() / N
    assert c["twin_runs_per_replication"] == war / N
    q = np.quantile(crises[:, X_END_TIME] - crises[:, X_CHALLENGE_TIME], 0.5)
    assert abs(c["duration_q50"] - q) <= run.width + 1e-9  # the histogram's resolution
    for motive in ("opportunity", "need"):
        sub = _motive(st, motive)
        assert c[f"p_war_{motive}"] == (sub[:, X_OUTCOME] == WAR_OUTCOME).sum() / len(sub)


def test_by_type_totals_cover_the_types(run):
    assert run.res.by_type.sum(axis=(0, 2)).shape == (N_TYPES,) and (run.res.by_type.sum(axis=(0, 2)) > 0).all()


# --- cells grow by blocks -------------------------------------------------------------------------------------
def test_extending_a_cell_equals_running_it_at_once(extended):
    """Sequential stopping adds blocks; it never recomputes or changes earlier ones."""
    tot = mc.run_cell(extended, 1000, 3, block_size=250)
    mc.run_cell(extended, 2000, 3, block_size=250, totals=tot)
    once = mc.run_cell(extended, 2000, 3, block_size=250)
    for m in MEASURES:
        np.testing.assert_array_equal(getattr(tot, m.name), getattr(once, m.name), err_msg=m.name)


def test_partial_last_block_cannot_be_extended(extended):
    tot = mc.run_cell(extended, 1100, 3, block_size=250)
    with pytest.raises(ValueError, match="partial"):
        mc.run_cell(extended, 2000, 3, block_size=250, totals=tot)


def test_a_block_is_never_counted_twice(extended):
    pm, cum = extended.vectors()
    tot = mc.CellTotals()
    res = mc.run_blocks(pm, cum, 1, np.array([0, 1]), 10, 20)
    tot.add(res)
    with pytest.raises(ValueError, match="twice"):
        tot.add(res)

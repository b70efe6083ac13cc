"""Stylized facts of the new model (issues 11 and 12), as regression tests with stated margins.

Each test states the mechanism of docs/model.md that produces its fact, so a failure says which mechanism broke.
Comparisons of two settings run them on the same seed (common random numbers) and are decided by Newcombe's
hybrid score interval of the difference at 99.9% (``conftest.newcombe_ci``, from SciPy's Wilson intervals): the
fact holds when the whole interval has the claimed sign. Newcombe's interval assumes independent samples; under
common random numbers the two arms are positively correlated, so it is wider than the true interval and the test
is conservative. Facts that are structural (a quantity that must be exactly 0) are checked as such, next to a
setting where the same quantity is positive, so that the test can fail.

Sizes: the contrasts by motive use 200,000 replications per cell (about 100,000 per motive: at P(war) ~ 0.2 the
99.9% half-width of a difference is about 0.006, against effects of 0.02-0.03 at the defaults); they are marked
slow. The quick loop keeps the large effects at 20,000 replications.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from conftest import SCHELLING_TOML, build_scenario, newcombe_ci, wilson_ci

from escalation_sim.engines import montecarlo as mc
from escalation_sim.model.constants import (
    NO_CHALLENGE,
    WAR_OUTCOME,
    X_ABANDONED,
    X_ALLY_OPENED,
    X_C_FORCE,
    X_DEPLOYED,
    X_OUTCOME,
)
from escalation_sim.model.doctrine import DEPLOYED_TRIPWIRE
from escalation_sim.model.validation import load_scenario

SEED = 7


@cache
def _totals(values: tuple, mix: tuple, n: int) -> mc.CellTotals:
    return mc.run_cell(build_scenario(dict(values), list(mix)), n, SEED, block_size=4096)


def totals(values: dict, mix, n: int) -> mc.CellTotals:
    return _totals(tuple(sorted(values.items())), tuple(mix), n)


def count(tot: mc.CellTotals, what: str, motive: str = "all") -> tuple[int, int]:
    """``(count, replications)`` of a measure for one motive."""
    rows = {"all": slice(None), "opportunity": 0, "need": 1}[motive]
    c = np.atleast_2d(tot.counts[rows])
    n = int(c.sum())
    if what == "war":
        return int(c[:, WAR_OUTCOME].sum()), n
    if what == "challenge":
        return n - int(c[:, NO_CHALLENGE].sum()), n
    if what == "inadvertent":
        return int(np.atleast_1d(tot.war_inadvertent[rows]).sum()), n
    if what == "miscalculation":
        return int(np.atleast_1d(tot.war_miscalculation[rows]).sum()), n
    raise ValueError(what)


def assert_lower(a: tuple[int, int], b: tuple[int, int]):
    """The share ``a`` is below the share ``b``: the 99.9% Newcombe interval of ``a - b`` lies below 0."""
    lo, hi = newcombe_ci(a[0], a[1], b[0], b[1])
    assert hi < 0, f"{a[0]}/{a[1]} - {b[0]}/{b[1]}: 99.9% interval [{lo:.4f}, {hi:.4f}] does not lie below 0"


# --- Lebow & Stein's contrasts at the defaults --------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("other", [[], ["self_restraint"], ["grit"]], ids=["none", "self_restraint", "grit"])
def test_immediate_deterrence_works_on_opportunity_and_provokes_need(other):
    """Against an opportunity-driven challenger, immediate deterrence gives less war than no strategy,
    self-restraint or GRIT; against a need-driven one, more (Lebow & Stein 1990).

    Mechanism: the forced public threat ties the defender's hands (audience cost) and, read as a free choice,
    raises the challenger's belief that the defender is resolved, so an opportunist backs down; a need-driven
    challenger's costs of inaction grow with time and its updates discount evidence of resolve, so backing down
    stays costly, it climbs instead, and deterrence, which never offers terms, leaves war as the way out.
    """
    n = 200_000
    deterrence = totals({}, ["immediate_deterrence"], n)
    alternative = totals({}, other, n)
    assert_lower(count(deterrence, "war", "opportunity"), count(alternative, "war", "opportunity"))
    assert_lower(count(alternative, "war", "need"), count(deterrence, "war", "need"))


# --- information ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("cg", "cr", "dg", "dr"), [(0, 0, 0, 0), (1, 1, 0, 1), (1, 0, 1, 0), (0, 1, 1, 1)])
def test_degenerate_priors_give_no_war_by_miscalculation(cg, cr, dg, dr):
    """Priors that put all weight on one type leave nothing to learn: every belief is already the truth, the
    complete-information twin is the same run, and no war is by miscalculation (while wars happen)."""
    values = {"challenger.p_greedy": cg, "challenger.p_resolved": cr, "defender.p_greedy": dg,
              "defender.p_resolved": dr, "challenger.motivated_bias": 0.0}
    tot = totals(values, ["immediate_deterrence"], 20_000)
    assert count(tot, "miscalculation")[0] == 0
    assert count(tot, "war")[0] > 0 or (cg, cr, dg, dr) == (0, 0, 0, 0)


def test_complete_information_gives_no_war_by_miscalculation():
    """With ``belief.complete_information`` every run is its own twin; with private information, under the same
    seed, some wars are by miscalculation (so the measure can be positive)."""
    full = totals({"belief.complete_information": True}, ["immediate_deterrence"], 20_000)
    private = totals({}, ["immediate_deterrence"], 20_000)
    assert count(full, "miscalculation")[0] == 0 and count(full, "war")[0] > 0
    lo, _ = wilson_ci(*count(private, "miscalculation"))
    assert lo > 0.01


@pytest.mark.slow
@pytest.mark.parametrize("mix", [[], ["immediate_deterrence"]], ids=["none", "immediate_deterrence"])
def test_more_misperception_raises_inadvertent_war(mix):
    """Raising the channel's misperception from 0 to 0.25 raises inadvertent war (started right after a misread
    move): a move read one rung higher than sent is taken as hostile, the receiver's own escalation or first
    strike answers a move that was never made (Jervis 1976)."""
    low = totals({"channel.misperception": 0.0}, mix, 100_000)
    high = totals({"channel.misperception": 0.25}, mix, 100_000)
    assert_lower(count(low, "inadvertent"), count(high, "inadvertent"))


@pytest.mark.slow
def test_more_misperception_raises_war_under_deterrence():
    """Under immediate deterrence, misperception 0.25 gives more war than 0: misread demands are answered by a
    forced climb to a show of force (the threat is one rung above the misread level), which brings militaries into
    the field, readiness (strength in war, first-strike stakes) and incidents."""
    low = totals({"channel.misperception": 0.0}, ["immediate_deterrence"], 100_000)
    high = totals({"channel.misperception": 0.25}, ["immediate_deterrence"], 100_000)
    assert_lower(count(low, "war"), count(high, "war"))


@pytest.mark.slow
@pytest.mark.parametrize("modifier", ["norms_of_competition", "limited_security_regime"])
@pytest.mark.parametrize("mix", [[], ["immediate_deterrence"]], ids=["none", "immediate_deterrence"])
def test_norms_and_regimes_cut_inadvertent_war(modifier, mix):
    """Norms of competition and a limited security regime lower inadvertent war: fewer misread moves (the
    misperception cuts), incidents recognised as incidents (no update, no reply), and with a regime fewer
    incidents at all (George 1983; Jervis 1982)."""
    n = 200_000
    base = totals({}, mix, n)
    cut = totals({}, [*mix, modifier], n)
    assert_lower(count(cut, "inadvertent"), count(base, "inadvertent"))


# --- challenges ------------------------------------------------------------------------------------------------
def test_a_higher_opportunity_rate_raises_the_challenge_share():
    """Challenge opportunities are a Poisson process: more opportunities within the year give a challenger that
    would challenge at some of them more chances to do so (1/180 vs 1/20 per day)."""
    rare = totals({"crisis.opportunity_rate": 1 / 180}, ["immediate_deterrence"], 20_000)
    often = totals({"crisis.opportunity_rate": 1 / 20}, ["immediate_deterrence"], 20_000)
    assert_lower(count(rare, "challenge"), count(often, "challenge"))


def test_general_deterrence_lowers_the_challenge_share():
    """General deterrence commits the defender from t = 0 (audience cost of yielding) and keeps standing
    readiness (strength in war); the challenger knows the posture and values a challenge lower at every
    opportunity (Morgan 1977; Huth 1988)."""
    plain = totals({}, ["immediate_deterrence"], 20_000)
    posture = totals({}, ["general_deterrence", "immediate_deterrence"], 20_000)
    assert_lower(count(posture, "challenge"), count(plain, "challenge"))


def test_grit_lowers_the_challenge_share():
    """GRIT's transfers move the status quo towards the challenger (less to gain by a demand) and, read as
    costly signals, lower its belief that the defender is greedy (less fear in every peaceful outcome)."""
    plain = totals({}, [], 20_000)
    grit = totals({}, ["grit"], 20_000)
    assert_lower(count(grit, "challenge"), count(plain, "challenge"))


# --- the ally: entrapment and abandonment -------------------------------------------------------------------
def _ally_states(path_or_values, n=20_000, overrides=None):
    scen = (load_scenario(path_or_values, overrides) if not isinstance(path_or_values, dict)
            else build_scenario(path_or_values, ["immediate_deterrence", "tripwire", "public_statement"]))
    return mc.final_states(scen, SEED, range(n))


def test_no_entrapment_without_the_allys_risk_taking():
    """Entrapment is a war in a crisis opened after the ally took risks; with ``ally.risk_taking`` off the ally
    never provokes, so no crisis is opened by it and none ends in entrapment. With it on (same seed), some do."""
    base = {"ally.present": True, "defender.renewal_interval": 60.0}
    for risk, positive in ((False, False), (True, True)):
        st = _ally_states({**base, "ally.risk_taking": risk})
        trapped = int(((st[:, X_ALLY_OPENED] > 0) & (st[:, X_OUTCOME] == WAR_OUTCOME)).sum())
        assert (trapped > 0) == positive and ((st[:, X_ALLY_OPENED] > 0).any()) == positive


def test_no_abandonment_by_a_committed_defender_with_no_exit():
    """Schelling's tripwire (no exit once the challenger has used force) and a defender committed by type
    (committed at t = 0, commitment never lapses), in the replications that deployed the tripwire: it cannot yield after the attack, so it never abandons the
    ally, although the ally is attacked. The same scenario with an exit has abandonment (same seed)."""
    committed = {"ally.p_committed": 1.0, "ally.lapse_rate": 0.0}
    st = _ally_states(SCHELLING_TOML, 40_000, committed)
    st = st[(st[:, X_DEPLOYED].astype(int) & DEPLOYED_TRIPWIRE) > 0]  # where set-up deployed it (its logit)
    assert st[:, X_ABANDONED].sum() == 0 and st[:, X_C_FORCE].sum() > 20
    st = _ally_states(SCHELLING_TOML, 40_000, {**committed, "effects.tripwire_no_exit": False})
    assert st[:, X_ABANDONED].sum() > 0

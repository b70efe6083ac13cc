"""Strategies: one table from which everything else is derived.

Each strategy is a small documented unit (Axelrod's convention): a name, the
side that uses it, its family in Lebow & Stein's typology, its *kind*, a
one-line summary, the mechanism by which it acts in this model, a classifier
and literature references. From :data:`STRATEGIES`:

* :mod:`escalation_sim.model.params` derives the parameter names
  (``mix.<name>`` flags for modifiers and instruments, the codes of
  ``mix.response`` for response rules, the choices of ``challenger.strategy``);
* :mod:`escalation_sim.model.rules` takes the rule codes (``RESPONSE_CODE``,
  ``CHALLENGER_CODE``) and has one explicit branch per code; an unknown code is
  an error, never another strategy's behaviour;
* ``escalation-sim strategies`` prints the catalogue, and a test checks that
  ``docs/model.md`` describes every strategy.

Kinds (defender):

``response``
    How the defender's leader answers the challenger's moves in a crisis: it
    shapes the menu of moves the leader chooses from. At most one per mix; with
    none the leader chooses freely among all moves.
``modifier``
    Acts alongside any response rule (posture, schedules, restraint, regimes):
    "they can be used separately or in conjunction with deterrence" (Lebow &
    Stein).
``instrument``
    Reassurance of an ally (needs ``ally.present``).

Challenger strategies (``challenger.strategy``) have kind ``style``.

Citation keys resolve in :data:`escalation_sim.model.bibliography.REFERENCES`.
See ``docs/model.md`` ("Strategies", "Adding a strategy").
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFENDER = "defender"
CHALLENGER = "challenger"
KINDS = ("response", "modifier", "instrument", "style")
FAMILIES = ("deterrence", "general reassurance", "immediate reassurance", "reassurance of allies", "challenger")


@dataclass(frozen=True)
class Strategy:
    """One strategy.

    Attributes
    ----------
    name : str
        Identifier used in scenario files.
    side : str
        ``"defender"`` or ``"challenger"``.
    family : str
        One of :data:`FAMILIES`.
    kind : str
        One of :data:`KINDS`.
    summary : str
        One line: what it is.
    mechanism : str
        What it does in this model, in terms of the decision layer (menus,
        payoffs, information); the full statement is in ``docs/model.md``.
    references : tuple of str
        Citation keys.
    classifier : dict
        ``{"stochastic", "needs_ally", "bilateral", "signals_type", "changes_stake"}``:
        whether it draws random numbers itself, needs an ally, acts on both
        sides, sends moves whose likelihood differs by the sender's type, moves
        the stake.
    parameters : tuple of str
        The parameters only this strategy reads (its effect sizes): an analysis
        of mixes without it holds them fixed.
    """

    name: str
    side: str
    family: str
    kind: str
    summary: str
    mechanism: str
    references: tuple[str, ...]
    classifier: dict = field(default_factory=dict)
    parameters: tuple[str, ...] = ()


def _c(stochastic=False, needs_ally=False, bilateral=False, signals_type=False, changes_stake=False):
    return {"stochastic": stochastic, "needs_ally": needs_ally, "bilateral": bilateral,
            "signals_type": signals_type, "changes_stake": changes_stake}


STRATEGIES: tuple[Strategy, ...] = (
    # --- deterrence ---------------------------------------------------------------------
    Strategy(
        "general_deterrence", DEFENDER, "deterrence", "modifier",
        "A standing military posture and a declared commitment, before any crisis.",
        "The defender's military keeps standing readiness effects.general_deterrence_readiness (strength in war, "
        "and incidents once the challenger's forces are out) and its leader is committed from t = 0 (audience "
        "cost of yielding). The challenger knows the posture, so it enters every expected value it computes, "
        "at challenge opportunities too: it changes the hazard of a challenge.",
        ("lebow_stein_1990", "morgan_1977", "huth_1988"), _c(), ("effects.general_deterrence_readiness",),
    ),
    Strategy(
        "immediate_deterrence", DEFENDER, "deterrence", "response",
        "Answers a challenge with a public threat one rung above it, and never offers terms.",
        "First response forced: a public escalation to max(perceived + 1, threat), at most mobilization "
        "(commits the leader: tying hands). Afterwards the menu is war, yield or escalate: no offers. Whether "
        "the defender finally fights or yields is still its type's expected-value choice.",
        ("lebow_stein_1990", "schelling_1966", "fearon_1994"), _c(),
    ),
    # --- general reassurance ---------------------------------------------------------------
    Strategy(
        "tit_for_tat", DEFENDER, "general reassurance", "response",
        "Cooperates first (an offer), then mirrors the challenger's last move.",
        "First response: an offer. Afterwards, after a challenger offer the menu is accept or counter-offer; "
        "after an escalation it is escalate (in kind); war and yielding stay available.",
        ("axelrod_1984", "keohane_1986", "lebow_stein_1990"), _c(),
    ),
    Strategy(
        "generous_tit_for_tat", DEFENDER, "general reassurance", "response",
        "Tit for tat that answers an escalation with an offer with probability defender.generosity.",
        "As tit_for_tat, but when it would have to escalate it draws once: with probability generosity the "
        "cooperative menu (offer, accept) is used instead, which breaks echoes of misperception.",
        ("molander_1985", "nowak_sigmund_1992", "axelrod_1984"), _c(stochastic=True), ("defender.generosity",),
    ),
    Strategy(
        "reciprocal_concessions", DEFENDER, "general reassurance", "response",
        "Opens negotiation with a concession and keeps offers on the menu whatever the challenger does.",
        "First response: an offer (the best offer under the defender's belief). Afterwards the full menu "
        "(war, yield, escalate, offer), so concessions can be reciprocated and negotiation stays open after "
        "an escalation.",
        ("lebow_stein_1990", "larson_1988", "stein_1989"), _c(),
    ),
    Strategy(
        "grit", DEFENDER, "general reassurance", "modifier",
        "Osgood's GRIT: announced, irrevocable unilateral transfers of part of the stake.",
        "At t = 0 and every defender.grit_interval days, defender.grit_steps times in all, the defender "
        "transfers defender.grit_transfer of the stake to the challenger whatever it does (the status quo "
        "moves). The challenger sees each transfer after a channel delay and updates its belief about the "
        "defender's intention: a transfer costs a greedy defender more than a security seeker (Kydd 2005), so "
        "under dispositional attribution it is evidence of benign intent. Combines with any response rule "
        "(Osgood kept deterrence).",
        ("osgood_1962", "lebow_stein_1990", "kydd_2005", "larson_1987"), _c(signals_type=True, changes_stake=True), ("defender.grit_steps", "defender.grit_transfer", "defender.grit_interval"),
    ),
    # --- immediate reassurance ----------------------------------------------------------------
    Strategy(
        "self_restraint", DEFENDER, "immediate reassurance", "modifier",
        "Avoids adding to the adversary's costs of inaction.",
        "The defender does not escalate above a threat unless it perceived force (no show of force or "
        "mobilization: less strength in war, fewer incidents), and each of its public moves adds "
        "1 - effects.restraint_pressure_cut as much pressure to the challenger's audience, so backing down "
        "costs the challenger's leader less.",
        ("lebow_stein_1990", "stein_1991"), _c(), ("effects.restraint_pressure_cut",),
    ),
    Strategy(
        "norms_of_competition", DEFENDER, "immediate reassurance", "modifier",
        "Informal norms that signal the limits of the defender's intentions.",
        "At t = 0 the challenger receives a report of the defender's intention that is right with probability "
        "effects.norms_accuracy (less uncertainty); the defender's moves are misread "
        "1 - effects.norms_misperception_cut as often; incidents are recognised as incidents with probability "
        "effects.norms_clarify.",
        ("lebow_stein_1990", "george_1983"), _c(), ("effects.norms_accuracy", "effects.norms_misperception_cut", "effects.norms_clarify"),
    ),
    Strategy(
        "limited_security_regime", DEFENDER, "immediate reassurance", "modifier",
        "Formal or informal rules to build confidence and reduce uncertainty (hotline, incidents-at-sea).",
        "Bilateral. At t = 0 each side receives a report of the other's intention and resolve, each right with "
        "probability effects.regime_accuracy; all misperception times 1 - effects.regime_misperception_cut; "
        "delays between the adversaries times 1 - effects.regime_delay_cut; both militaries' incident rate "
        "times 1 - effects.regime_incident_cut; incidents recognised with probability effects.regime_clarify.",
        ("lebow_stein_1990", "jervis_1982", "george_farley_dallin_1988"), _c(bilateral=True), ("effects.regime_accuracy", "effects.regime_misperception_cut", "effects.regime_delay_cut", "effects.regime_incident_cut", "effects.regime_clarify"),
    ),
    # --- reassurance of allies (Poast's list) ---------------------------------------------------
    Strategy(
        "tripwire", DEFENDER, "reassurance of allies", "instrument",
        "Troops on the ally's soil.",
        "Deployed at t = 0 or withheld, with the logit probability of its cost to a committed or uncommitted "
        "defender (costly and irreversible: strong evidence for the ally); once deployed it commits the defender "
        "(audience cost of yielding), gives the challenger evidence of resolve with likelihood ratio "
        "effects.tripwire_lr (small by default, as the evidence Poast cites finds), and stands in for part of the "
        "ally's own defence effort (effects.tripwire_effort_cut). With effects.tripwire_no_exit the defender cannot "
        "yield once the challenger has used force (Schelling's 'no graceful way out').",
        ("schelling_1966", "poast_2021", "musgrave_ward_2018", "fuhrmann_sechser_2014"), _c(needs_ally=True, signals_type=True), ("effects.cost_tripwire", "effects.tripwire_lr", "effects.tripwire_no_exit", "effects.tripwire_effort_cut"),
    ),
    Strategy(
        "alliance_terms", DEFENDER, "reassurance of allies", "instrument",
        "Precise alliance terms.",
        "Deployed at t = 0 or withheld by the same logit of its cost; once deployed it commits the defender "
        "(audience cost of yielding) and tells the ally that the defender is more likely committed.",
        ("mattes_2012", "poast_2021"), _c(needs_ally=True, signals_type=True), ("effects.cost_terms",),
    ),
    Strategy(
        "public_statement", DEFENDER, "reassurance of allies", "instrument",
        "Public statements of support, renewable.",
        "Sent or withheld at t = 0 and at each renewal by the logit of its cost (for an uncommitted defender the "
        "cost includes the audience cost it risks, so a public statement separates more than a private one); "
        "during a crisis it commits the defender and raises the challenger's audience pressure as a threat would.",
        ("blankenship_2020", "fearon_1997", "poast_2021"), _c(needs_ally=True, signals_type=True), ("effects.cost_public_statement",),
    ),
    Strategy(
        "private_statement", DEFENDER, "reassurance of allies", "instrument",
        "Private statements of support, renewable.",
        "Sent or withheld by the logit of a small cost: nearly cheap talk, so it moves the ally's belief little; "
        "unseen by the challenger; no commitment.",
        ("yarhi_milo_mcmanus_2016", "poast_2021"), _c(needs_ally=True, signals_type=True), ("effects.cost_private_statement",),
    ),
    Strategy(
        "aid", DEFENDER, "reassurance of allies", "instrument",
        "Aid and cooperation agreements, renewable.",
        "Sent or withheld by the logit of its cost; unseen by the challenger.",
        ("lanoszka_2018", "poast_2021"), _c(needs_ally=True, signals_type=True), ("effects.cost_aid",),
    ),
    Strategy(
        "exercises", DEFENDER, "reassurance of allies", "instrument",
        "Joint military exercises, renewable.",
        "Sent or withheld by the logit of its cost; during a crisis the challenger's audience sees it as a show of "
        "force (pressure).",
        ("poast_2021", "jervis_1976"), _c(needs_ally=True, signals_type=True), ("effects.cost_exercises",),
    ),
    # --- challenger styles ----------------------------------------------------------------------
    Strategy(
        "probing", CHALLENGER, "challenger", "style",
        "Chooses among every move by expected value (the default).",
        "Full menu at every decision: war, back down, accept an offer, escalate one rung, offer lower terms.",
        ("george_smoke_1974", "lebow_stein_1990"), _c(),
    ),
    Strategy(
        "firm", CHALLENGER, "challenger", "style",
        "Never offers lower terms.",
        "Menu without offers: war, back down, accept a defender offer, escalate.",
        ("lebow_stein_1990",), _c(),
    ),
    Strategy(
        "reciprocating", CHALLENGER, "challenger", "style",
        "Mirrors the defender: offers after an offer, escalates after an escalation.",
        "After a defender offer the menu is accept or counter-offer; after a defender escalation it is "
        "escalate; war and backing down stay available.",
        ("axelrod_1984", "keohane_1986"), _c(),
    ),
)

BY_NAME: dict[str, Strategy] = {s.name: s for s in STRATEGIES}

#: defender strategy names in table order (what scenario files may list)
DEFENDER_STRATEGY_NAMES: tuple[str, ...] = tuple(s.name for s in STRATEGIES if s.side == DEFENDER)
#: response rules; ``mix.response`` holds 1 + the position here (0: no response rule)
RESPONSE_RULES: tuple[str, ...] = tuple(s.name for s in STRATEGIES if s.side == DEFENDER and s.kind == "response")
#: modifiers and instruments: one ``mix.<name>`` flag each
FLAG_STRATEGIES: tuple[str, ...] = tuple(s.name for s in STRATEGIES if s.side == DEFENDER and s.kind != "response")
ALLY_INSTRUMENTS: tuple[str, ...] = tuple(s.name for s in STRATEGIES if s.kind == "instrument")
CHALLENGER_STRATEGIES: tuple[str, ...] = tuple(s.name for s in STRATEGIES if s.side == CHALLENGER)

RESPONSE_CODE: dict[str, int] = {name: i + 1 for i, name in enumerate(RESPONSE_RULES)}
RESPONSE_CODE["none"] = 0
CHALLENGER_CODE: dict[str, int] = {name: i for i, name in enumerate(CHALLENGER_STRATEGIES)}

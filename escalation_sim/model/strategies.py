"""Strategies: named, documented units with a classifier and references.

A defender *strategy mix* combines units: at most one **response rule** (how
the defender answers each challenger move) with any **modifiers** (posture,
restraint, regimes) and **instruments** of ally reassurance. The rules that
implement each unit are in :mod:`escalation_sim.model.rules` (the function
named in ``rule``); this module is the catalogue the CLI, the docs and the
tests read. Challenger strategies are listed too.

Citation keys resolve in :data:`escalation_sim.model.bibliography.REFERENCES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .params import DEFENDER_STRATEGY_NAMES


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
        deterrence, general reassurance, immediate reassurance, reassurance of allies, challenger.
    kind : str
        ``"response"`` (at most one per mix), ``"modifier"`` or ``"instrument"``.
    summary : str
        One line: what it does in the model.
    references : tuple of str
        Citation keys.
    rule : str
        The function of :mod:`escalation_sim.model.rules` that implements it.
    classifier : dict
        ``{"stochastic": bool, "memory": int | None, "needs_ally": bool, "bilateral": bool}``:
        whether it draws random numbers itself, how many past moves it reads
        (None: a counter of all its moves), whether it needs an ally, whether
        it changes both sides' behaviour.
    """

    name: str
    side: str
    family: str
    kind: str
    summary: str
    references: tuple[str, ...]
    rule: str
    classifier: dict = field(default_factory=dict)


def _c(stochastic=False, memory=0, needs_ally=False, bilateral=False):
    return {"stochastic": stochastic, "memory": memory, "needs_ally": needs_ally, "bilateral": bilateral}


STRATEGIES: tuple[Strategy, ...] = (
    Strategy(
        "general_deterrence", "defender", "deterrence", "modifier",
        "Standing military posture: raises the challenger's initial belief that the defender will fight, "
        "raises its hostility a little (security dilemma) and keeps the defender's military at standing readiness.",
        ("lebow_stein_1990", "morgan_1977", "jervis_1976"), "setup", _c(),
    ),
    Strategy(
        "immediate_deterrence", "defender", "deterrence", "response",
        "Answers every challenge with a public threat at least, one rung above the challenger's move, "
        "up to mobilization; answers force with limited force. Public threats commit the leader (audience costs).",
        ("lebow_stein_1990", "schelling_1966", "fearon_1994"), "defender_response", _c(memory=1),
    ),
    Strategy(
        "tit_for_tat", "defender", "general reassurance", "response",
        "Answers each move with the level it perceived: cooperates after a concession, retaliates in kind.",
        ("axelrod_1984", "keohane_1986", "lebow_stein_1990"), "defender_response", _c(memory=1),
    ),
    Strategy(
        "generous_tit_for_tat", "defender", "general reassurance", "response",
        "Tit-for-tat that answers a hostile move one rung lower with probability `defender.generosity`, "
        "to break echoes of misperception.",
        ("molander_1985", "nowak_sigmund_1992", "axelrod_1984"), "defender_response", _c(stochastic=True, memory=1),
    ),
    Strategy(
        "grit", "defender", "general reassurance", "response",
        "Graduated reciprocation in tension-reduction: announced, unilateral, public concessions for "
        "`defender.grit_steps` decisions whatever the challenger does, then tit-for-tat.",
        ("osgood_1962", "lebow_stein_1990", "larson_1987"), "defender_response", _c(memory=None),
    ),
    Strategy(
        "self_restraint", "defender", "immediate reassurance", "modifier",
        "Caps the defender's moves at a show of force unless force was used, and halves the domestic pressure "
        "its public moves create in the challenger: reduces the adversary's pressures to act.",
        ("lebow_stein_1990", "stein_1991"), "defender_response, audience", _c(),
    ),
    Strategy(
        "norms_of_competition", "defender", "immediate reassurance", "modifier",
        "Informal rules that signal the limits of intentions: the defender's moves are misread less often and "
        "incidents may be read as a show of force rather than an attack.",
        ("lebow_stein_1990", "george_1983"), "perceive", _c(),
    ),
    Strategy(
        "limited_security_regime", "defender", "immediate reassurance", "modifier",
        "A confidence-building regime (hotline, incidents-at-sea rules): less misperception both ways, "
        "shorter delays, fewer incidents, incidents more often read as a show of force.",
        ("lebow_stein_1990", "jervis_1982", "george_farley_dallin_1988"), "perceive, channel_delay, military",
        _c(bilateral=True),
    ),
    Strategy(
        "tripwire", "defender", "reassurance of allies", "instrument",
        "Troops on the ally's soil: the challenger starts with more belief that the defender will fight, the "
        "defender is committed from the start, the ally's confidence gets a boost and decays more slowly. Not renewed.",
        ("schelling_1966", "poast_2021", "musgrave_ward_2018"), "setup, send_reassurance, ally_leader", _c(needs_ally=True),
    ),
    Strategy(
        "alliance_terms", "defender", "reassurance of allies", "instrument",
        "Precise alliance terms: a credibility gain with the challenger, a boost and slower decay of the ally's "
        "confidence. Not renewed.",
        ("mattes_2012", "poast_2021"), "setup, send_reassurance, ally_leader", _c(needs_ally=True),
    ),
    Strategy(
        "public_statement", "defender", "reassurance of allies", "instrument",
        "Public statement of support: boosts the ally's confidence, is seen by the challenger as a public threat "
        "and commits the defender (audience costs). Renewed every `defender.renewal_interval` days.",
        ("blankenship_2020", "fearon_1997", "poast_2021"), "send_reassurance", _c(needs_ally=True),
    ),
    Strategy(
        "private_statement", "defender", "reassurance of allies", "instrument",
        "Private statement of support: a smaller boost to the ally's confidence, unseen by the challenger and "
        "without audience costs. Renewable.",
        ("yarhi_milo_mcmanus_2016", "poast_2021"), "send_reassurance", _c(needs_ally=True),
    ),
    Strategy(
        "aid", "defender", "reassurance of allies", "instrument",
        "Aid to the ally: boosts its confidence; unseen by the challenger. Renewable.",
        ("lanoszka_2018", "poast_2021"), "send_reassurance", _c(needs_ally=True),
    ),
    Strategy(
        "exercises", "defender", "reassurance of allies", "instrument",
        "Joint military exercise: boosts the ally's confidence and is seen by the challenger as a show of force "
        "(raises its hostility: the security dilemma). Renewable.",
        ("poast_2021", "jervis_1976"), "send_reassurance", _c(needs_ally=True),
    ),
    Strategy(
        "probing", "challenger", "challenger", "response",
        "Tests the defender: climbs a rung when the defender backs off (unless ready to settle) or when its "
        "motivation is high; otherwise holds.",
        ("george_smoke_1974", "lebow_stein_1990"), "challenger_response", _c(memory=1),
    ),
    Strategy(
        "firm", "challenger", "challenger", "response",
        "Climbs a rung at every move and never stays below the defender's level.",
        ("lebow_stein_1990",), "challenger_response", _c(memory=1),
    ),
    Strategy(
        "reciprocating", "challenger", "challenger", "response",
        "Mirrors the defender (concession for concession), a rung above it when its motivation is high.",
        ("axelrod_1984", "keohane_1986"), "challenger_response", _c(memory=1),
    ),
)

REGISTRY: dict[str, Strategy] = {s.name: s for s in STRATEGIES}
defender_strategies = tuple(s for s in STRATEGIES if s.side == "defender")
challenger_strategies = tuple(s for s in STRATEGIES if s.side == "challenger")
response_rules = tuple(s for s in defender_strategies if s.kind == "response")
ally_instruments = tuple(s for s in STRATEGIES if s.kind == "instrument")

assert tuple(s.name for s in defender_strategies) == DEFENDER_STRATEGY_NAMES

"""The model's parameters: one table, one flat vector.

Every parameter is declared once in :data:`SPEC` with its default, its type,
its allowed range, its unit and the literature it comes from. From that table:

* scenario files are validated (:mod:`escalation_sim.io.config`),
* ``docs/model.md``'s parameter table is checked against it (tests),
* a scenario becomes a ``float64`` vector, indexed through :data:`PARAM_INDEX`,
  that both engines read.

Strategy *flags* (``mix.<strategy>``) live in the same vector: a defender
strategy mix is the set of flags equal to 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Param:
    """One model parameter.

    Attributes
    ----------
    key : str
        ``section.name`` as written in scenario files.
    default : float
        Default value.
    kind : str
        ``"float"``, ``"prob"`` (in [0, 1]), ``"int"``, ``"bool"`` or ``"choice"``.
    lo, hi : float
        Inclusive bounds (``hi`` may be ``inf``).
    unit : str
        Unit, e.g. ``"days"``, ``"1/day"``, ``""``.
    doc : str
        One-line meaning and source.
    choices : tuple of str
        For ``kind == "choice"``: the allowed names, coded 0, 1, ...
    """

    key: str
    default: float
    kind: str
    lo: float
    hi: float
    unit: str
    doc: str
    choices: tuple[str, ...] = ()


INF = float("inf")

CHALLENGER_STRATEGIES = ("probing", "firm", "reciprocating")

_P = Param
SPEC: tuple[Param, ...] = (
    # crisis
    _P("crisis.horizon", 365.0, "float", 1e-9, 36500.0, "days", "length of the observation window; a crisis still open then is unresolved"),
    # channel: delays and misperception (Jervis 1976; Lebow & Stein 1990)
    _P("channel.delay_min", 1.0, "float", 0.0, INF, "days", "shortest time a signal takes to arrive"),
    _P("channel.delay_mean", 3.0, "float", 0.0, INF, "days", "mean of the exponential part of a signal's delay"),
    _P("channel.misperception", 0.10, "prob", 0.0, 1.0, "", "probability a signal is misread: one rung higher, or a concession read as weakness (Jervis 1976)"),
    # beliefs
    _P("belief.hostility_rate", 0.40, "prob", 0.0, 1.0, "", "weight of a new perceived move in the hostility belief (exponential smoothing)"),
    _P("belief.credibility_rate", 0.30, "prob", 0.0, 1.0, "", "weight of a new perceived move in the credibility belief"),
    _P("belief.commitment_bonus", 0.20, "float", 0.0, 1.0, "", "extra credibility of a public threat: a costly signal (Fearon 1994)"),
    _P("belief.weakness_penalty", 0.20, "float", 0.0, 1.0, "", "credibility lost when a concession is read as weakness (Lebow & Stein 1990)"),
    # challenger (revisionist)
    _P("challenger.p_need", 0.5, "prob", 0.0, 1.0, "", "probability the challenger is need-driven rather than opportunity-driven (Lebow & Stein 1990)"),
    _P("challenger.resolve_low", 0.0, "float", -INF, INF, "", "lower bound of the challenger's uniform private resolve"),
    _P("challenger.resolve_high", 1.0, "float", -INF, INF, "", "upper bound of the challenger's uniform private resolve"),
    _P("challenger.cost_of_war", 1.0, "float", 0.0, INF, "", "weight of the defender's credibility in the challenger's motivation"),
    _P("challenger.fear_weight", 0.6, "float", 0.0, INF, "", "weight of hostility (fear) in a need-driven challenger's motivation"),
    _P("challenger.pressure_weight", 0.4, "float", 0.0, INF, "", "weight of domestic pressure in a need-driven challenger's motivation"),
    _P("challenger.threat_discount", 0.5, "prob", 0.0, 1.0, "", "share of the defender's credibility a need-driven leader ignores (motivated bias)"),
    _P("challenger.fatigue", 0.03, "float", 0.0, INF, "", "motivation lost per decision taken in the crisis"),
    _P("challenger.initial_hostility", 0.3, "prob", 0.0, 1.0, "", "challenger's initial belief that the defender intends harm"),
    _P("challenger.initial_credibility", 0.4, "prob", 0.0, 1.0, "", "challenger's initial belief that the defender will fight"),
    _P("challenger.challenge_threshold", 0.35, "float", -INF, INF, "", "motivation above which the challenger opens a crisis at t = 0"),
    _P("challenger.backdown_threshold", 0.0, "float", -INF, INF, "", "motivation (plus audience cost) below which the challenger backs down"),
    _P("challenger.settle_threshold", 0.45, "float", -INF, INF, "", "motivation below which the challenger settles at low tension"),
    _P("challenger.escalate_threshold", 0.7, "float", -INF, INF, "", "motivation above which the challenger climbs a rung even when resisted (costs of inaction)"),
    _P("challenger.war_threshold", 1.0, "float", -INF, INF, "", "motivation above which the challenger starts a war when facing mobilization or force"),
    _P("challenger.noise", 0.25, "float", 0.0, INF, "", "half-width of the uniform noise on each decision's motivation"),
    _P("challenger.strategy", 0.0, "choice", 0.0, 2.0, "", "challenger's response rule", CHALLENGER_STRATEGIES),
    # defender (status quo)
    _P("defender.resolve_low", 0.0, "float", -INF, INF, "", "lower bound of the defender's uniform private resolve"),
    _P("defender.resolve_high", 1.0, "float", -INF, INF, "", "upper bound of the defender's uniform private resolve"),
    _P("defender.cost_of_war", 0.6, "float", 0.0, INF, "", "weight of the challenger's credibility in the defender's motivation"),
    _P("defender.initial_hostility", 0.3, "prob", 0.0, 1.0, "", "defender's initial belief that the challenger intends harm"),
    _P("defender.initial_credibility", 0.4, "prob", 0.0, 1.0, "", "defender's initial belief that the challenger will fight"),
    _P("defender.concede_threshold", -0.1, "float", -INF, INF, "", "motivation (plus audience costs) below which the defender concedes"),
    _P("defender.war_threshold", 0.5, "float", -INF, INF, "", "motivation above which the defender fights back after force is used"),
    _P("defender.noise", 0.25, "float", 0.0, INF, "", "half-width of the uniform noise on each decision's motivation"),
    _P("defender.grit_steps", 3.0, "int", 0.0, 1000.0, "", "unilateral concessions GRIT makes before reciprocating (Osgood 1962)"),
    _P("defender.generosity", 0.3, "prob", 0.0, 1.0, "", "probability generous tit-for-tat answers a move one rung lower (Molander 1985)"),
    _P("defender.renewal_interval", 0.0, "float", 0.0, INF, "days", "interval at which reassurance of the ally is renewed; 0 = one-off (Poast)"),
    # domestic audiences (Fearon 1994)
    _P("audience.pressure_gain", 0.30, "float", 0.0, INF, "", "pressure added by an adversary public move, times level / 6"),
    _P("audience.pressure_decay", 0.02, "float", 0.0, INF, "1/day", "exponential decay rate of audience pressure"),
    _P("audience.concession_relief", 0.5, "prob", 0.0, 1.0, "", "share of pressure removed by an adversary's public concession"),
    _P("audience.demand_threshold", 0.5, "float", 0.0, INF, "", "pressure at which the audience demands action from its leader"),
    _P("audience.demand_weight", 0.3, "float", 0.0, INF, "", "motivation added once the audience has demanded action"),
    _P("audience.cost", 0.5, "float", 0.0, INF, "", "audience cost of backing down from a public commitment (Fearon 1994)"),
    # militaries
    _P("military.execution_delay_mean", 4.0, "float", 0.0, INF, "days", "mean delay per rung above threat to carry out a military move (mobilization takes time)"),
    _P("military.incident_tick_mean", 5.0, "float", 0.01, INF, "days", "mean interval between candidate incidents (thinning)"),
    _P("military.incident_rate", 0.08, "float", 0.0, INF, "1/day", "incidents per day caused by one military that has taken the field, both sides at full readiness (each such military runs its own clock)"),
    # the ally (extended deterrence; Schelling 1966; Poast)
    _P("ally.present", 0.0, "bool", 0.0, 1.0, "", "whether the scenario has an ally protected by the defender"),
    _P("ally.initial_confidence", 0.7, "prob", 0.0, 1.0, "", "ally's initial confidence in the defender's guarantee"),
    _P("ally.decay", 0.008, "float", 0.0, INF, "1/day", "rate at which confidence decays unless renewed (reassurance is a process)"),
    _P("ally.hedge_threshold", 0.4, "prob", 0.0, 1.0, "", "confidence below which the ally starts a proliferation programme"),
    _P("ally.review_interval", 30.0, "float", 0.01, INF, "days", "interval at which the ally reviews its confidence"),
    _P("ally.proliferation_time", 180.0, "float", 0.0, INF, "days", "time a proliferation programme takes to mature"),
    _P("ally.fear_gain", 0.15, "prob", 0.0, 1.0, "", "share of confidence lost per challenger public move, times level / 6"),
    # instruments: size of each strategy's effect
    _P("effects.general_deterrence_credibility", 0.2, "float", 0.0, 1.0, "", "challenger credibility belief added by a general-deterrence posture"),
    _P("effects.general_deterrence_hostility", 0.1, "float", 0.0, 1.0, "", "challenger hostility belief added by that posture (security dilemma)"),
    _P("effects.general_deterrence_readiness", 0.3, "prob", 0.0, 1.0, "", "defender's standing readiness under general deterrence"),
    _P("effects.tripwire_credibility", 0.2, "float", 0.0, 1.0, "", "challenger credibility belief added by a tripwire force (Schelling 1966)"),
    _P("effects.tripwire_decay_cut", 0.5, "prob", 0.0, 1.0, "", "share of the ally's confidence decay removed by a tripwire"),
    _P("effects.terms_credibility", 0.1, "float", 0.0, 1.0, "", "challenger credibility belief added by precise alliance terms (Mattes 2012)"),
    _P("effects.terms_decay_cut", 0.3, "prob", 0.0, 1.0, "", "share of the ally's confidence decay removed by precise terms"),
    _P("effects.boost_tripwire", 0.35, "prob", 0.0, 1.0, "", "share of the ally's missing confidence restored by a tripwire deployment"),
    _P("effects.boost_terms", 0.30, "prob", 0.0, 1.0, "", "... by alliance terms"),
    _P("effects.boost_public_statement", 0.25, "prob", 0.0, 1.0, "", "... by a public statement of support (Blankenship 2020)"),
    _P("effects.boost_private_statement", 0.15, "prob", 0.0, 1.0, "", "... by a private statement (Yarhi-Milo & McManus)"),
    _P("effects.boost_aid", 0.20, "prob", 0.0, 1.0, "", "... by aid (Lanoszka, Yarhi-Milo & Cooper)"),
    _P("effects.boost_exercises", 0.20, "prob", 0.0, 1.0, "", "... by a joint military exercise"),
    _P("effects.restraint_pressure_cut", 0.5, "prob", 0.0, 1.0, "", "share of adversary audience pressure a self-restrained move avoids"),
    _P("effects.norms_misperception_cut", 0.5, "prob", 0.0, 1.0, "", "share of misperception of the defender's moves removed by norms of competition"),
    _P("effects.norms_clarify", 0.3, "prob", 0.0, 1.0, "", "probability norms of competition let an incident be read as a show of force"),
    _P("effects.regime_misperception_cut", 0.5, "prob", 0.0, 1.0, "", "share of all misperception removed by a limited security regime"),
    _P("effects.regime_delay_cut", 0.5, "prob", 0.0, 1.0, "", "share of signal delay removed by a regime (hotline)"),
    _P("effects.regime_incident_cut", 0.5, "prob", 0.0, 1.0, "", "share of incidents prevented by a regime (incidents-at-sea style rules)"),
    _P("effects.regime_clarify", 0.5, "prob", 0.0, 1.0, "", "probability a regime lets an incident be read as a show of force"),
)

# Defender strategies are flags in the vector, in this order (see strategies.py).
DEFENDER_STRATEGY_NAMES = (
    "general_deterrence",
    "immediate_deterrence",
    "tit_for_tat",
    "generous_tit_for_tat",
    "grit",
    "self_restraint",
    "norms_of_competition",
    "limited_security_regime",
    "tripwire",
    "alliance_terms",
    "public_statement",
    "private_statement",
    "aid",
    "exercises",
)
RESPONSE_RULES = ("immediate_deterrence", "tit_for_tat", "generous_tit_for_tat", "grit")
ALLY_INSTRUMENTS = ("tripwire", "alliance_terms", "public_statement", "private_statement", "aid", "exercises")

SPEC_BY_KEY: dict[str, Param] = {p.key: p for p in SPEC}
N_SCENARIO_PARAMS = len(SPEC)
N_PARAMS = N_SCENARIO_PARAMS + len(DEFENDER_STRATEGY_NAMES)

#: position of every parameter (``section.name``) and strategy flag (``mix.<name>``)
PARAM_INDEX: dict[str, int] = {p.key: i for i, p in enumerate(SPEC)}
PARAM_INDEX.update({"mix." + s: N_SCENARIO_PARAMS + j for j, s in enumerate(DEFENDER_STRATEGY_NAMES)})


def default_vector() -> np.ndarray:
    """Return the default parameter vector (no strategy flag set)."""
    v = np.zeros(N_PARAMS)
    for i, p in enumerate(SPEC):
        v[i] = p.default
    return v


def vector_from(values: dict[str, float], strategies: tuple[str, ...] = ()) -> np.ndarray:
    """Build a parameter vector.

    Parameters
    ----------
    values : dict
        ``section.name -> value`` overrides of the defaults (choices already coded).
    strategies : tuple of str
        Defender strategies whose flags are set.

    Returns
    -------
    numpy.ndarray
        ``float64`` vector of length :data:`N_PARAMS`.
    """
    v = default_vector()
    for key, val in values.items():
        v[PARAM_INDEX[key]] = float(val)
    for s in strategies:
        v[PARAM_INDEX["mix." + s]] = 1.0
    return v

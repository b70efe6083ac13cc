"""The model's parameters: one table, one flat vector.

Every parameter is declared once in :data:`SPEC` with its default, its type,
its allowed range, its unit, its meaning and source, whether its default is
**illustrative** (not pinned by the sources: a free parameter that calibration
and the robustness analysis vary) and the **box** over which the robustness
analysis draws it. From that table:

* scenario files are validated (:mod:`escalation_sim.model.validation`),
* ``docs/model.md``'s parameter table is checked against it (``tests/test_docs.py``),
* a scenario becomes a ``float64`` vector, indexed through :data:`PARAM_INDEX`,
  that both engines read.

The strategy mix lives in the same vector: ``mix.response`` holds the code of
the defender's response rule (0: none) and every modifier and instrument has a
``mix.<name>`` flag (1 = in the mix). Both are derived from
:data:`escalation_sim.model.strategies.STRATEGIES`. After them come the
*derived* quantities of a parameter vector (likelihood tables of the
signalling model, :mod:`escalation_sim.model.signals`), computed once per
scenario by :func:`escalation_sim.model.signals.derive`.

Units: shares of the stake are in [0, 1] (the stake is worth 1); times are
days; rates are per day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .strategies import (  # noqa: F401  (re-exported: the names scenario files may use)
    ALLY_INSTRUMENTS,
    CHALLENGER_STRATEGIES,
    DEFENDER_STRATEGY_NAMES,
    FLAG_STRATEGIES,
    RESPONSE_CODE,
    RESPONSE_RULES,
)


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
        Unit, e.g. ``"days"``, ``"1/day"``, ``"stake"``.
    doc : str
        One-line meaning and source.
    choices : tuple of str
        For ``kind == "choice"``: the allowed names, coded 0, 1, ...
    illustrative : bool
        The default is illustrative: not pinned by a source (a free parameter).
    box : tuple of float
        ``(low, high)`` range drawn by the robustness analysis; empty for
        parameters it does not vary (switches, structure).
    """

    key: str
    default: float
    kind: str
    lo: float
    hi: float
    unit: str
    doc: str
    choices: tuple[str, ...] = ()
    illustrative: bool = False
    box: tuple[float, ...] = ()


INF = float("inf")


def _f(key, default, lo, hi, unit, doc, box=(), illustrative=True, kind="float"):
    return Param(key, default, kind, lo, hi, unit, doc, illustrative=illustrative, box=tuple(box))


def _p(key, default, unit, doc, box=(), illustrative=True):
    return Param(key, default, "prob", 0.0, 1.0, unit, doc, illustrative=illustrative, box=tuple(box))


SPEC: tuple[Param, ...] = (
    # crisis
    _f("crisis.horizon", 365.0, 1e-9, 36500.0, "days", "length of the observation window; a crisis still open then is unresolved", illustrative=False),
    _f("crisis.opportunity_rate", 1 / 60, 0.0, 10.0, "1/day", "rate of the Poisson process of challenge opportunities (repeated challenge chances)", (1 / 180, 1 / 20)),
    # the stake and war (Fearon 1995; Powell 1999)
    _p("stake.status_quo", 0.5, "stake", "the challenger's share of the stake under the status quo (the defender holds the rest)", (0.3, 0.7)),
    _p("war.balance", 0.5, "", "probability the challenger wins a war when neither side is mobilised and neither strikes first", (0.3, 0.7)),
    _f("war.mobilization_gain", 0.5, 0.0, 10.0, "", "strength gained at full military readiness (x (1 + gain * readiness)): mobilisation has military value", (0.0, 1.0)),
    _f("war.first_strike", 0.2, 0.0, 10.0, "", "strength bonus of the side that starts the war (x (1 + first_strike)): the security dilemma", (0.0, 0.5)),
    _f("war.mobilization_cost", 0.01, 0.0, 1.0, "stake", "cost of each rung a leader orders at show of force and above, sunk when ordered (Fearon 1997)", (0.0, 0.03)),
    # the challenger (revisionist)
    _f("challenger.cost_resolved", 0.10, 0.0, 10.0, "stake", "cost of war to a resolved challenger type", (0.02, 0.2)),
    _f("challenger.cost_unresolved", 0.35, 0.0, 10.0, "stake", "cost of war to an unresolved challenger type", (0.2, 0.6)),
    _p("challenger.p_resolved", 0.5, "", "prior probability the challenger's type is resolved (low cost of war)", (0.2, 0.8)),
    _p("challenger.p_greedy", 0.5, "", "prior probability the challenger is greedy rather than a security seeker (Kydd 2005)", (0.2, 0.8)),
    _p("challenger.p_need", 0.5, "", "probability the challenger is need-driven rather than opportunity-driven (Lebow & Stein 1990)", illustrative=False),
    _f("challenger.need_rate", 0.001, 0.0, 1.0, "stake/day", "decline per day of a need-driven challenger's value of the status quo: its costs of inaction (Lebow & Stein 1990)", (0.0, 0.003)),
    _p("challenger.motivated_bias", 0.5, "", "share of the weight of evidence of the defender's resolve a need-driven leader discounts (Lebow & Stein 1990); 0 switches it off", (0.0, 0.9)),
    Param("challenger.strategy", 0.0, "choice", 0.0, float(len(CHALLENGER_STRATEGIES) - 1), "", "the challenger's style (menu of moves)", CHALLENGER_STRATEGIES),
    # the defender (status quo)
    _f("defender.cost_resolved", 0.10, 0.0, 10.0, "stake", "cost of war to a resolved defender type", (0.02, 0.2)),
    _f("defender.cost_unresolved", 0.35, 0.0, 10.0, "stake", "cost of war to an unresolved defender type", (0.2, 0.6)),
    _p("defender.p_resolved", 0.5, "", "prior probability the defender's type is resolved", (0.2, 0.8)),
    _p("defender.p_greedy", 0.3, "", "prior probability the defender is greedy rather than a security seeker (Kydd 2005)", (0.1, 0.6)),
    _f("defender.grit_steps", 3.0, 0.0, 1000.0, "", "number of GRIT transfers (Osgood 1962)", illustrative=True, kind="int"),
    _p("defender.grit_transfer", 0.03, "stake", "share of the stake each GRIT transfer hands to the challenger", (0.01, 0.06)),
    _f("defender.grit_interval", 30.0, 0.0, INF, "days", "days between GRIT transfers (the first at t = 0)", (10.0, 60.0)),
    _p("defender.generosity", 0.3, "", "probability generous tit-for-tat answers an escalation with an offer (Molander 1985)", (0.1, 0.5)),
    _f("defender.renewal_interval", 0.0, 0.0, INF, "days", "interval at which reassurance of the ally is renewed; 0 = one-off (Poast)"),
    # intentions (Kydd 2005; Jervis 1976)
    _p("intent.gain_weight", 0.3, "", "value a security seeker puts on each unit of the stake beyond its status-quo share (greedy types: 1)", (0.0, 0.8)),
    _f("intent.fear_loss", 0.1, 0.0, 1.0, "stake", "expected loss, in any peaceful outcome, from an adversary that is greedy (the spiral/security dilemma term)", (0.0, 0.25)),
    # decisions (McKelvey & Palfrey 1995; Signorino 1999)
    _f("decision.precision", 25.0, 0.0, 1e6, "1/stake", "logit precision of every choice: 0 = uniform among the moves, large = best response", (5.0, 60.0)),
    _f("belief.attribution", 1.0, 0.0, 1.0, "", "1: receivers read every move as the sender's free choice (dispositional attribution, Jervis 1976); 0: moves forced by a known doctrine carry no information", illustrative=False, kind="bool"),
    _f("belief.complete_information", 0.0, 0.0, 1.0, "", "1: each side knows the other's type (the counterfactual twin; for experiments on information)", illustrative=False, kind="bool"),
    # signals
    _f("channel.delay_min", 1.0, 0.0, INF, "days", "shortest time a signal takes to arrive", (0.5, 2.0)),
    _f("channel.delay_mean", 3.0, 0.0, INF, "days", "mean of the exponential part of a signal's delay", (1.0, 6.0)),
    _p("channel.misperception", 0.10, "", "probability a move is read one rung higher than sent (Jervis 1976)", (0.0, 0.25)),
    # domestic audiences (Fearon 1994)
    _f("audience.cost", 0.05, 0.0, 1.0, "stake", "audience cost of yielding once publicly committed (a threat or higher, or a standing commitment)", (0.0, 0.15)),
    _f("audience.pressure_gain", 0.03, 0.0, 1.0, "stake", "pressure added by an adversary public move at limited force (times level / 5); pressure adds to the cost of yielding", (0.0, 0.08)),
    _f("audience.pressure_decay", 0.02, 0.0, INF, "1/day", "exponential decay rate of audience pressure", (0.005, 0.05)),
    _p("audience.concession_relief", 0.5, "", "share of pressure removed by an adversary's offer or transfer", (0.2, 0.8)),
    # militaries
    _f("military.execution_delay_mean", 4.0, 0.0, INF, "days", "mean delay per rung above threat to carry out a military move", (2.0, 8.0)),
    _f("military.incident_tick_mean", 5.0, 0.01, INF, "days", "mean interval between candidate incidents (thinning)", illustrative=False),
    _f("military.incident_rate", 0.02, 0.0, INF, "1/day", "incidents per day caused by one military in the field, both sides at full readiness", (0.0, 0.06)),
    # the ally (extended deterrence; Snyder 1984; Schelling 1966; Poast)
    _f("ally.present", 0.0, 0.0, 1.0, "", "whether the scenario has an ally protected by the defender; the stake is then the ally's", illustrative=False, kind="bool"),
    _p("ally.p_committed", 0.8, "", "probability the defender is committed to the ally at t = 0 (the ally's prior)", (0.5, 0.95)),
    _f("ally.lapse_rate", 1 / 730, 0.0, 1.0, "1/day", "hazard that a committed defender's commitment lapses (new government, shifting priorities)", (1 / 3650, 1 / 180)),
    _f("ally.recommit_rate", 1 / 365, 0.0, 1.0, "1/day", "hazard that an uncommitted defender becomes committed again", (1 / 3650, 1 / 180)),
    _p("ally.uncommitted_value", 0.3, "", "value an uncommitted defender puts on the ally's stake, relative to a committed one", (0.0, 0.6)),
    _f("ally.reassurance_value", 0.15, 0.0, 1.0, "stake", "value to a committed defender of keeping its ally reassured (an uncommitted one: times uncommitted_value)", (0.05, 0.3)),
    _f("ally.review_interval", 90.0, 0.01, INF, "days", "interval at which the ally reconsiders: stay, hedge or take risks", (30.0, 180.0)),
    _f("ally.precision", 50.0, 0.0, 1e6, "1/stake", "logit precision of the ally's choices (a state deciding on a programme: less noisy than crisis moves)", (20.0, 100.0)),
    _f("ally.exposure", 1.0, 0.0, 10.0, "stake", "the ally's loss if it is attacked and abandoned (its threat exposure; the stake is the ally's)", (0.5, 2.0)),
    _p("ally.threat", 0.1, "", "the ally's probability per year of being attacked outside a crisis", (0.02, 0.3)),
    _f("ally.programme_cost", 0.1, 0.0, 10.0, "stake/year", "cost to the ally of running a proliferation programme, per year", (0.03, 0.3)),
    _f("ally.programme_time", 180.0, 0.0, INF, "days", "mean time a programme takes to mature (exponential: it can be shelved at any review)", (90.0, 720.0)),
    _f("ally.detection_rate", 1 / 180, 0.0, 1.0, "1/day", "hazard that the challenger detects a running programme", (1 / 720, 1 / 60)),
    _p("ally.protection", 0.8, "", "share of its exposure a programme protects the ally from", (0.5, 1.0)),
    _f("ally.risk_gain", 0.02, 0.0, 10.0, "stake", "what the ally gains by pressing its own claims against the challenger when the defender backs it", (0.0, 0.06)),
    _p("ally.provocation_attack", 0.3, "", "added probability of being attacked that taking risks brings (of the remaining 1 - threat)", (0.1, 0.6)),
    _f("ally.risk_taking", 1.0, 0.0, 1.0, "", "1: the ally may take risks against the challenger (moral hazard); 0 switches it off", illustrative=False, kind="bool"),
    _f("ally.provocation_loss", 0.05, 0.0, 1.0, "stake", "costs of inaction an ally's provocation adds to the challenger (it can open a crisis: entrapment)", (0.0, 0.15)),
    _p("ally.defence_effort", 0.2, "", "the ally's own effort: the defender's strength in a war over the ally times (1 + effort)", (0.0, 0.5)),
    _f("challenger.prevention_loss", 0.1, 0.0, 1.0, "stake", "costs of inaction a detected ally programme adds to the challenger (a preventive motive)", (0.0, 0.25)),
    # strategy effects
    _p("effects.general_deterrence_readiness", 0.5, "", "defender's standing readiness under general deterrence", (0.25, 0.75)),
    _f("effects.cost_tripwire", 0.05, 0.0, 1.0, "stake", "cost to the defender of a tripwire deployment (costly and irreversible)", (0.02, 0.1)),
    _f("effects.cost_terms", 0.03, 0.0, 1.0, "stake", "cost of precise alliance terms (Mattes 2012)", (0.01, 0.06)),
    _f("effects.cost_public_statement", 0.005, 0.0, 1.0, "stake", "cost of a public statement of support; an uncommitted defender also risks the audience cost (Blankenship 2020)", (0.0, 0.02)),
    _f("effects.cost_private_statement", 0.002, 0.0, 1.0, "stake", "cost of a private statement (Yarhi-Milo & McManus): nearly cheap talk", (0.0, 0.01)),
    _f("effects.cost_aid", 0.02, 0.0, 1.0, "stake", "cost of aid or a cooperation agreement (Lanoszka, Yarhi-Milo & Cooper)", (0.005, 0.05)),
    _f("effects.cost_exercises", 0.01, 0.0, 1.0, "stake", "cost of a joint military exercise", (0.002, 0.03)),
    _f("effects.tripwire_lr", 1.1, 1.0, 100.0, "", "likelihood ratio with which a tripwire raises the challenger's belief that the defender is resolved (evidence: little effect; Schelling: large)", (1.0, 2.0)),
    _f("effects.tripwire_no_exit", 0.0, 0.0, 1.0, "", "1: once the challenger has used force, a defender with a tripwire cannot yield (Schelling's 'no graceful way out')", illustrative=False, kind="bool"),
    _p("effects.tripwire_effort_cut", 0.5, "", "share of the ally's own defence effort a tripwire force replaces (free riding)", (0.0, 0.8)),
    _p("effects.restraint_pressure_cut", 0.5, "", "share of the challenger's audience pressure a self-restrained defender move avoids", (0.2, 0.8)),
    _p("effects.norms_accuracy", 0.7, "", "probability the norms' report of the defender's intention is right", (0.55, 0.9)),
    _p("effects.norms_misperception_cut", 0.5, "", "share of misperception of the defender's moves removed by norms of competition", (0.2, 0.8)),
    _p("effects.norms_clarify", 0.3, "", "probability norms let an incident be recognised as an incident", (0.1, 0.6)),
    _p("effects.regime_accuracy", 0.7, "", "probability each of a regime's reports (intention, resolve) is right", (0.55, 0.9)),
    _p("effects.regime_misperception_cut", 0.5, "", "share of all misperception removed by a limited security regime", (0.2, 0.8)),
    _p("effects.regime_delay_cut", 0.5, "", "share of signal delay between the adversaries removed by a regime (hotline)", (0.2, 0.8)),
    _p("effects.regime_incident_cut", 0.5, "", "share of incidents prevented by a regime (incidents-at-sea rules)", (0.2, 0.8)),
    _p("effects.regime_clarify", 0.5, "", "probability a regime lets an incident be recognised as an incident", (0.2, 0.8)),
)

SPEC_BY_KEY: dict[str, Param] = {p.key: p for p in SPEC}
N_SCENARIO_PARAMS = len(SPEC)

#: the mix part of the vector: the response-rule code, then one flag per modifier/instrument
MIX_KEYS: tuple[str, ...] = ("mix.response", *("mix." + s for s in FLAG_STRATEGIES))
N_MIX = len(MIX_KEYS)

#: derived quantities (filled by signals.derive); their layout is declared in signals.py
N_DERIVED = 160
N_PARAMS = N_SCENARIO_PARAMS + N_MIX + N_DERIVED
DERIVED0 = N_SCENARIO_PARAMS + N_MIX

#: position of every parameter (``section.name``) and mix entry (``mix.response``, ``mix.<name>``)
PARAM_INDEX: dict[str, int] = {p.key: i for i, p in enumerate(SPEC)}
PARAM_INDEX.update({k: N_SCENARIO_PARAMS + j for j, k in enumerate(MIX_KEYS)})

#: the free parameters (illustrative defaults with a robustness box)
FREE_PARAMETERS: tuple[str, ...] = tuple(p.key for p in SPEC if p.illustrative and p.box)


def default_vector() -> np.ndarray:
    """Return the default parameter vector (empty mix, derived part zero)."""
    v = np.zeros(N_PARAMS)
    for i, p in enumerate(SPEC):
        v[i] = p.default
    return v


def vector_from(values: dict[str, float], strategies: tuple[str, ...] = ()) -> np.ndarray:
    """Build a parameter vector (without its derived part).

    Parameters
    ----------
    values : dict
        ``section.name -> value`` overrides of the defaults (choices already coded).
    strategies : tuple of str
        The defender's mix: at most one response rule, any modifiers and instruments.

    Returns
    -------
    numpy.ndarray
        ``float64`` vector of length :data:`N_PARAMS`; call
        :func:`escalation_sim.model.signals.derive` to fill the derived part.
    """
    v = default_vector()
    for key, val in values.items():
        v[PARAM_INDEX[key]] = float(val)
    for s in strategies:
        if s in RESPONSE_RULES:
            v[PARAM_INDEX["mix.response"]] = RESPONSE_CODE[s]
        else:
            v[PARAM_INDEX["mix." + s]] = 1.0
    return v


def markdown_table() -> str:
    """The parameter table of ``docs/model.md`` ("Parameters"), generated from :data:`SPEC` (a test keeps them equal)."""
    import math

    def num(x: float) -> str:
        return "inf" if math.isinf(x) else ("-inf" if x == -INF else f"{x:g}")

    lines = ["| key | default | unit | allowed | illustrative | robustness box | meaning |", "|---|---|---|---|---|---|---|"]
    for p in SPEC:
        if p.kind == "choice":
            default, allowed = f"`{p.choices[int(p.default)]}`", " / ".join(f"`{c}`" for c in p.choices)
        elif p.kind == "bool":
            default, allowed = ("true" if p.default else "false"), "true / false"
        else:
            default = num(p.default)
            allowed = f"whole number in [{num(p.lo)}, {num(p.hi)}]" if p.kind == "int" else f"[{num(p.lo)}, {num(p.hi)}]"
        box = f"[{num(p.box[0])}, {num(p.box[1])}]" if p.box else ""
        lines.append(f"| `{p.key}` | {default} | {p.unit or '-'} | {allowed} | {'yes' if p.illustrative else 'no'} | {box} | {p.doc} |")
    return "\n".join(lines)

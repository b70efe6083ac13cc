"""What a contrast is: two arms, one outcome, one motive, and the sign the literature claims.

An *arm* is a defender mix, with optional fixed settings (``defender.renewal_interval = 15``), run on an
experiment's base scenario. A *contrast* is the difference of one outcome's probability between two arms,
``P(outcome | arm a) - P(outcome | arm b)``, against challengers of one motive (or all of them), with the sign the
literature claims and the claim written out with its source (``claim_text``).

Every arm of a set of contrasts runs the same replications with the same seed (common random numbers: the arms
meet the same challengers, types and draws), so a contrast's Monte Carlo error is much smaller than that of either
probability. Its standard error is estimated by paired batch means over the run's blocks (block ``b`` holds the
same replications in both arms; :func:`contrast_stats`), which keeps that correlation; with fewer than
:data:`MIN_BLOCKS` blocks it falls back to the independent-binomial error, which overstates it.

The named sets (:data:`CONTRAST_SETS`), the seeds' key contrasts:

* ``lebow-stein``: immediate deterrence against no strategy, self-restraint and GRIT, against opportunity- and
  need-driven challengers (Lebow & Stein 1990);
* ``ally-instruments``: a tripwire against public and private statements of support, and public against private
  statements (the Poast thread: Schelling 1966, Blankenship 2020, Yarhi-Milo & McManus 2016), on war and on the
  ally's outcomes the alliance literature cares about: abandonment, a proliferation programme, entrapment
  (Snyder 1984);
* ``renewal``: public statements renewed every 15 days against every 120 days ("reassurance is a process, not an
  objective", Poast 2021), on the same four outcomes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..engines import montecarlo as mc
from ..errors import ConfigError
from ..model.constants import WAR_OUTCOME
from ..model.scenario import Mix, Scenario
from ..pipeline.schedule import run_cells
from ..pipeline.settings import RunSettings
from .batch import t975

Z = 1.959963984540054

#: Outcomes a contrast may compare: what the compiled engine counts per replication, by challenger motive.
OUTCOMES: dict[str, str] = {
    "war": "war (deliberate or by miscalculation)",
    "abandonment": "abandonment: the defender yielded after the ally was attacked",
    "programme": "the ally started a proliferation programme (it hedged)",
    "proliferation": "the ally's programme matured",
    "entrapment": "entrapment: war in a crisis opened after the ally provoked the challenger",
}
ALLY_OUTCOMES = ("abandonment", "programme", "proliferation", "entrapment")
INSTRUMENTS = ("tripwire", "alliance_terms", "public_statement", "private_statement", "aid", "exercises")
MOTIVES = ("opportunity", "need", "all")

#: ``counts[arm][outcome] = (events by motive, replications by motive)``, each an array of 2 (opportunity, need).
Counts = Mapping["Arm", Mapping[str, tuple[np.ndarray, np.ndarray]]]


def _mix_label(mix: tuple[str, ...]) -> str:
    return "+".join(mix) if mix else "none"


@dataclass(frozen=True)
class Arm:
    """A defender mix and fixed settings (``(("defender.renewal_interval", 15.0),)``) on the base scenario."""

    mix: tuple[str, ...]
    settings: tuple[tuple[str, float], ...] = ()

    @property
    def label(self) -> str:
        """``immediate_deterrence+public_statement [defender.renewal_interval=15]`` (the mix alone without settings)."""
        extra = ", ".join(f"{k}={v:g}" for k, v in self.settings)
        return _mix_label(self.mix) + (f" [{extra}]" if extra else "")

    def scenario(self, base: Scenario, values: Mapping[str, float]) -> Scenario:
        """``base`` with ``values`` and then this arm's settings, its defender mix the arm's alone."""
        return replace(base.with_values({**values, **dict(self.settings)}), mixes=(Mix(tuple(self.mix)),))


@dataclass(frozen=True)
class Contrast:
    """``P(outcome | arm a) - P(outcome | arm b)`` against challengers of one motive, and the claimed sign.

    ``claim = -1``: the literature says arm a gives *less* of the outcome than arm b; ``+1``: more.
    ``claim_text`` states the claim with its source. The arms are ``(mix_a, set_a)`` and ``(mix_b, set_b)``.
    """

    name: str
    mix_a: tuple[str, ...]
    mix_b: tuple[str, ...]
    motive: str  # "opportunity", "need" or "all"
    claim: int
    claim_text: str
    outcome: str = "war"
    set_a: tuple[tuple[str, float], ...] = ()
    set_b: tuple[tuple[str, float], ...] = ()

    @property
    def arm_a(self) -> Arm:
        """The first arm."""
        return Arm(tuple(self.mix_a), tuple(self.set_a))

    @property
    def arm_b(self) -> Arm:
        """The second arm."""
        return Arm(tuple(self.mix_b), tuple(self.set_b))

    @property
    def needs_ally(self) -> bool:
        """True if the contrast reads an ally's outcome or an arm uses an instrument of ally reassurance."""
        return self.outcome in ALLY_OUTCOMES or any(s in INSTRUMENTS for s in (*self.mix_a, *self.mix_b))


# --- the named sets ----------------------------------------------------------------------------------------------
ID = ("immediate_deterrence",)
LS = "Lebow & Stein 1990"

#: Lebow & Stein's central contrasts (the seed's typology), as this model states them.
DEFAULT_CONTRASTS: tuple[Contrast, ...] = tuple(
    Contrast(
        name=f"immediate deterrence vs {_mix_label(other).replace('_', ' ')}, {motive}-driven",
        mix_a=ID, mix_b=other, motive=motive, claim=claim,
        claim_text=("deterrence works against an opportunity-driven challenger: less war than "
                    if claim < 0 else "deterrence provokes a need-driven challenger: more war than ")
        + _mix_label(other).replace("_", " ") + f" ({LS})",
    )
    for motive, claim in (("opportunity", -1), ("need", 1))
    for other in ((), ("self_restraint",), ("grit",))
)

_TRIPWIRE, _PUBLIC, _PRIVATE = (*ID, "tripwire"), (*ID, "public_statement"), (*ID, "private_statement")

# For each pair of instruments and each outcome: the claimed sign and the claim with its source.
_INSTRUMENT_CLAIMS: dict[tuple[str, str], dict[str, tuple[int, str]]] = {
    ("tripwire", "public statement"): {
        "war": (-1, "a tripwire deters more than a statement: troops that 'can die ... in a manner that guarantees "
                    "that the action cannot stop there' (Schelling 1966, quoted in the Poast thread): less war"),
        "abandonment": (-1, "a tripwire leaves 'no graceful way out' (Schelling 1966): less abandonment"),
        "programme": (-1, "a costly, irreversible signal reassures the ally, and credible guarantees are 'a strong "
                          "barrier to the spread of nuclear weapons' (Poast thread): fewer proliferation programmes"),
        "entrapment": (+1, "a firmer commitment emboldens the ally (the alliance security dilemma, Snyder 1984): "
                           "more entrapment"),
    },
    ("public statement", "private statement"): {
        "war": (-1, "public statements tie hands (audience costs, Fearon 1997; Blankenship 2020 in the Poast "
                    "thread): less war than private ones"),
        "abandonment": (-1, "a public statement costs the defender its audience's approval if it yields (Fearon "
                            "1997; Blankenship 2020): less abandonment than a private one"),
        "programme": (-1, "public statements reassure more than private ones, which 'have some merit too' "
                          "(Yarhi-Milo & McManus 2016, Blankenship 2020, in the Poast thread): fewer programmes"),
        "entrapment": (+1, "more reassurance emboldens the ally (Snyder 1984): more entrapment"),
    },
}
_INSTRUMENT_CLAIMS = {  # in the order tripwire vs public, tripwire vs private, public vs private
    ("tripwire", "public statement"): _INSTRUMENT_CLAIMS[("tripwire", "public statement")],
    ("tripwire", "private statement"): {
        k: (s, t.replace("a statement", "a private statement").replace("public statements", "private statements"))
        for k, (s, t) in _INSTRUMENT_CLAIMS[("tripwire", "public statement")].items()
    },
    ("public statement", "private statement"): _INSTRUMENT_CLAIMS[("public statement", "private statement")],
}
_ARMS_BY_TEXT = {"tripwire": _TRIPWIRE, "public statement": _PUBLIC, "private statement": _PRIVATE}
ALLY_SET_OUTCOMES = ("war", "abandonment", "programme", "entrapment")

#: Tripwire vs public vs private statements (the ally instruments of the Poast thread), with immediate deterrence,
#: in the base scenario (statements renewed at its ``defender.renewal_interval``; the tripwire is standing).
ALLY_INSTRUMENT_CONTRASTS: tuple[Contrast, ...] = tuple(
    Contrast(name=f"{a} vs {b}: {outcome}", mix_a=_ARMS_BY_TEXT[a], mix_b=_ARMS_BY_TEXT[b], motive="all",
             claim=claims[outcome][0], claim_text=claims[outcome][1], outcome=outcome)
    for (a, b), claims in _INSTRUMENT_CLAIMS.items()
    for outcome in ALLY_SET_OUTCOMES
)

RENEWAL_SHORT, RENEWAL_LONG = 15.0, 120.0
_RENEWAL_CLAIMS = {
    "war": (-1, "reassurance is a process (Poast 2021): a steadily reassured ally hedges less, leaving the "
                "challenger less to prevent: less war (implied by the thread, not stated in it)"),
    "abandonment": (-1, "'stating publicly your commitment' again and again (Poast 2021) keeps the defender "
                        "publicly committed (Fearon 1997): less abandonment"),
    "programme": (-1, "'you can never give ENOUGH of such statements ... Reassurance is a process, not an "
                      "objective' (Poast 2021): fewer proliferation programmes"),
    "entrapment": (+1, "an over-reassured ally takes risks (Snyder 1984): more entrapment"),
}
#: Public statements renewed every 15 days against every 120 days (with immediate deterrence).
RENEWAL_CONTRASTS: tuple[Contrast, ...] = tuple(
    Contrast(name=f"renewal every {RENEWAL_SHORT:g} vs {RENEWAL_LONG:g} days: {outcome}", mix_a=_PUBLIC,
             mix_b=_PUBLIC, motive="all", claim=claim, claim_text=text, outcome=outcome,
             set_a=(("defender.renewal_interval", RENEWAL_SHORT),),
             set_b=(("defender.renewal_interval", RENEWAL_LONG),))
    for outcome, (claim, text) in _RENEWAL_CLAIMS.items()
)

#: The named sets a ``[robustness]`` table or ``--contrasts`` may select.
CONTRAST_SETS: dict[str, tuple[Contrast, ...]] = {
    "lebow-stein": DEFAULT_CONTRASTS,
    "ally-instruments": ALLY_INSTRUMENT_CONTRASTS,
    "renewal": RENEWAL_CONTRASTS,
}
CONTRAST_SET_TITLES = {
    "lebow-stein": "Lebow & Stein's contrasts (deterrence vs reassurance by motive)",
    "ally-instruments": "tripwire vs public vs private statements (the ally's reassurance)",
    "renewal": f"renewal of public statements every {RENEWAL_SHORT:g} vs {RENEWAL_LONG:g} days",
}


def select_contrasts(names: Sequence[str], base: Scenario, source: str, field: str) -> tuple[Contrast, ...]:
    """The contrasts of the named sets, in order; a :class:`ConfigError` naming ``source`` and ``field`` if a name
    is unknown or a set needs an ally that ``base`` does not have."""
    if not names:
        raise ConfigError(source, field, f"no contrast set named; allowed: {', '.join(CONTRAST_SETS)}")
    out: list[Contrast] = []
    for name in names:
        if name not in CONTRAST_SETS:
            raise ConfigError(source, field, f"unknown contrast set {name!r}; allowed: {', '.join(CONTRAST_SETS)}")
        cs = CONTRAST_SETS[name]
        if any(c.needs_ally for c in cs) and base.value("ally.present") == 0.0:
            raise ConfigError(source, field, f"{name!r} compares the ally's reassurance, but the scenario "
                              f"{base.name!r} has no ally; allowed: a scenario with ally.present = true, e.g. "
                              "experiments/extended-deterrence.toml")
        out += [c for c in cs if c not in out]
    return tuple(out)


# --- evaluation --------------------------------------------------------------------------------------------------
MIN_BLOCKS = 10  # fewer blocks: the batch-means variance is too rough, the independent-binomial one is used
BLOCKS_PER_POINT = 32


def point_block_size(replications: int) -> int:
    """Block size of one point: about :data:`BLOCKS_PER_POINT` blocks (at least 64 replications each).

    The counts do not depend on it (replication ``r`` always uses the streams of ``(seed, r)``); the paired
    standard error of a contrast is estimated from the spread of its block values, so it needs enough blocks.
    """
    return max(64, -(-replications // BLOCKS_PER_POINT))


def contrast_arms(contrasts: Sequence[Contrast]) -> list[Arm]:
    """The arms a set of contrasts compares, in a fixed order (by mix, then settings)."""
    return sorted({a for c in contrasts for a in (c.arm_a, c.arm_b)}, key=lambda a: (a.mix, a.settings))


def _outcome_arrays(c: np.ndarray, res) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    n = c.sum(axis=-1).astype(np.int64)
    return {
        "war": (c[..., WAR_OUTCOME].astype(np.int64), n),
        "abandonment": (np.asarray(res.abandonment, dtype=np.int64), n),
        "programme": (np.asarray(res.programme, dtype=np.int64), n),
        "proliferation": (np.asarray(res.prolif, dtype=np.int64), n),
        "entrapment": (np.asarray(res.entrapment, dtype=np.int64), n),
    }


def outcome_counts(totals: mc.CellTotals) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Events and replications by motive (0 opportunity, 1 need) of every outcome of a finished cell."""
    return _outcome_arrays(np.asarray(totals.counts), totals)


def run_arms(base: Scenario, values: Mapping[str, float], arms: Sequence[Arm], replications: int, seed: int,
             block_size: int, threads: int, executor) -> dict[Arm, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Every arm at one parameter vector, each on the same ``seed`` (common random numbers), block by block.

    Returns ``counts[arm][outcome] = (events, replications)``, arrays of shape ``(blocks, 2)`` (block, motive),
    blocks in order. Runs through the one scheduling path (:func:`escalation_sim.pipeline.schedule.run_cells`);
    the counts do not depend on ``threads`` or on the order in which blocks finish.
    """
    scenarios = [arm.scenario(base, values) for arm in arms]
    n_blocks = mc.n_blocks(replications, block_size)
    found: list[dict] = [{} for _ in arms]

    def keep(cell: int, res, _n: int) -> None:
        d = _outcome_arrays(np.asarray(res.counts), res)
        for i, b in enumerate(res.blocks.tolist()):
            found[cell][b] = {k: (e[i], n[i]) for k, (e, n) in d.items()}

    run_cells(scenarios, RunSettings(replications=replications, seed=seed, block_size=block_size, threads=threads),
              executor, on_result=keep)
    out = {}
    for arm, blocks in zip(arms, found, strict=True):
        if sorted(blocks) != list(range(n_blocks)):  # pragma: no cover - the scheduler runs every block once
            raise RuntimeError("a block is missing from the results")
        out[arm] = {k: (np.stack([blocks[b][k][0] for b in range(n_blocks)]),
                        np.stack([blocks[b][k][1] for b in range(n_blocks)])) for k in OUTCOMES}
    return out


def _by_motive(x: np.ndarray, motive: str) -> np.ndarray:
    """Per block (a 1-D array; one block if ``x`` has no block axis) the count of one motive, or of both."""
    x = np.atleast_2d(np.asarray(x))
    return x.sum(axis=1) if motive == "all" else x[:, 1 if motive == "need" else 0]


def probability(counts: Counts, arm: Arm, outcome: str, motive: str) -> float:
    """``P(outcome | arm, motive)`` from ``counts`` (nan without replications of that motive)."""
    e, n = (_by_motive(x, motive).sum() for x in counts[arm][outcome])
    return e / n if n else float("nan")


def contrast_stats(c: Contrast, counts: Counts) -> tuple[float, float, float, str]:
    """The contrast, its standard error, the half-width of its 95% interval, and how the error was estimated.

    With at least :data:`MIN_BLOCKS` blocks the error is **paired batch means**: block ``b`` holds the same
    replications in both arms, different blocks hold independent replications, so the linearized block
    contributions ``u_b = (E_ab - p_a N_ab) / N_a - (E_bb - p_b N_bb) / N_b`` are independent, and
    ``Var = B / (B - 1) sum u_b^2`` keeps the positive correlation common random numbers give the two arms; the
    half-width uses Student's t with ``B - 1`` degrees of freedom. With fewer blocks it is the independent-binomial
    error (which overstates it) and 1.96.
    """
    ea, na = (_by_motive(x, c.motive) for x in counts[c.arm_a][c.outcome])
    eb, nb = (_by_motive(x, c.motive) for x in counts[c.arm_b][c.outcome])
    Na, Nb = int(na.sum()), int(nb.sum())
    if Na == 0 or Nb == 0:
        return float("nan"), float("nan"), float("nan"), "none"
    pa, pb = ea.sum() / Na, eb.sum() / Nb
    B = len(ea)
    if B >= MIN_BLOCKS and len(eb) == B:
        u = (ea - pa * na) / Na - (eb - pb * nb) / Nb
        se = float(np.sqrt(B / (B - 1) * np.sum(u * u)))
        return float(pa - pb), se, t975(B - 1) * se, f"paired batch means over {B} blocks (t, {B - 1} df)"
    se = float((pa * (1 - pa) / Na + pb * (1 - pb) / Nb) ** 0.5)
    return float(pa - pb), se, Z * se, "independent binomial (conservative under common random numbers)"


def independent_se(c: Contrast, counts: Counts) -> float:
    """The contrast's standard error as if the two arms ran on independent random numbers (binomial)."""
    pa = probability(counts, c.arm_a, c.outcome, c.motive)
    pb = probability(counts, c.arm_b, c.outcome, c.motive)
    na = int(_by_motive(counts[c.arm_a][c.outcome][1], c.motive).sum())
    nb = int(_by_motive(counts[c.arm_b][c.outcome][1], c.motive).sum())
    if not (na and nb):
        return float("nan")
    return float((pa * (1 - pa) / na + pb * (1 - pb) / nb) ** 0.5)


def contrast_value(c: Contrast, counts: Counts) -> tuple[float, float]:
    """The contrast and its standard error (:func:`contrast_stats`)."""
    v, se, _, _ = contrast_stats(c, counts)
    return v, se


def verdict(value: float, se: float, claim: int, z: float = Z) -> str:
    """``holds``, ``fails`` or ``indeterminate`` (within ``z`` standard errors of 0)."""
    if not np.isfinite(value) or abs(value) <= z * se:
        return "indeterminate"
    return "holds" if np.sign(value) == claim else "fails"


def contrast_row(contrasts: Sequence[Contrast], counts: Counts) -> dict:
    """One row of a points table: ``p_<outcome>[<arm>|<motive>]`` for every arm and outcome the contrasts read,
    and per contrast ``c<j>``, ``c<j>_se``, ``c<j>_halfwidth`` (95%) and ``c<j>_verdict`` (from the half-width)."""
    row: dict = {}
    for arm in contrast_arms(contrasts):
        for outcome in dict.fromkeys(c.outcome for c in contrasts if arm in (c.arm_a, c.arm_b)):
            for motive in MOTIVES:
                row[f"p_{outcome}[{arm.label}|{motive}]"] = probability(counts, arm, outcome, motive)
    for j, c in enumerate(contrasts):
        v, se, hw, _ = contrast_stats(c, counts)
        row[f"c{j}"] = v
        row[f"c{j}_se"] = se
        row[f"c{j}_halfwidth"] = hw
        row[f"c{j}_verdict"] = verdict(v, hw, c.claim, z=1.0)
    return row


def contrast_table(contrasts: Sequence[Contrast]) -> list[dict]:
    """The contrasts as records (index, name, arms, outcome, motive, claimed sign, claim with its source)."""
    return [{"index": j, "contrast": c.name, "arm_a": c.arm_a.label, "arm_b": c.arm_b.label, "outcome": c.outcome,
             "motive": c.motive, "claimed_sign": c.claim, "claim": c.claim_text} for j, c in enumerate(contrasts)]


__all__ = [
    "OUTCOMES", "Arm", "Contrast", "DEFAULT_CONTRASTS", "ALLY_INSTRUMENT_CONTRASTS", "RENEWAL_CONTRASTS",
    "CONTRAST_SETS", "CONTRAST_SET_TITLES", "select_contrasts", "contrast_arms", "outcome_counts", "run_arms",
    "probability", "independent_se", "contrast_stats", "contrast_value", "verdict", "contrast_row", "contrast_table",
    "point_block_size",
]

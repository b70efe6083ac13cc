"""What every block of the compiled engine must satisfy, whatever its parameters: checked on every block file.

A checksum shows that a file is the one that was written; these relations
show that what was written is a possible block at all. They are checked when
a block is checkpointed (a failure there is a bug in the engine: the run stops
rather than write it) and when it is read back (a failure there means a file
that does not belong: it is moved aside and its blocks are run again).

For block ``b`` of ``reps`` replications, with ``counts[m, outcome]`` (motive
``m``: 0 opportunity, 1 need) and a crisis horizon ``H``:

* every integer measure is >= 0 and every float measure is finite;
* ``counts`` sums to ``reps``; ``by_type`` sums to ``reps`` and has the same outcome totals as ``counts``;
* crises of motive ``m`` (``violence[m]`` summed) are at most the replications of motive ``m`` that were
  challenged; ``hostility[m]`` sums to the same number and ``actor[m]`` to twice it (two parties per crisis);
  the duration and challenge-day histograms each count every crisis once;
* wars by miscalculation and inadvertent wars of motive ``m`` are at most its wars; one complete-information twin
  per war (``twin_runs``); entrapment is at most the crises the ally opened and at most the wars;
* the per-replication flags (proliferation, programme, detection, ally-opened crises, attacks, abandonment) of
  motive ``m`` are at most its replications;
* crisis durations and challenge days lie in ``[0, H]``: their sums in ``[0, H x crises]``, their sums of
  squares in ``[sum^2 / crises, H^2 x crises]`` (Cauchy-Schwarz);
* the challenger's final share of the stake lies in ``[0, 1]`` (``terms_sum`` in ``[0, reps]``), its gain in
  ``[-1, 1]`` per crisis; costs are >= 0.

A measure added to :data:`escalation_sim.engines.outputs.MEASURES` gets the first rule (non-negative or finite)
at once; ``tests/test_checkpoints.py`` asks for a rule of its own here (:data:`COVERED`).
"""

from __future__ import annotations

import math

import numpy as np

from ..engines.outputs import MEASURES, BlockResults
from ..model.constants import NO_CHALLENGE, WAR_OUTCOME

#: Measures with a rule of their own above (beyond the sign and finiteness every measure gets).
COVERED = frozenset({
    "counts", "by_type", "war_miscalculation", "war_inadvertent", "violence", "hostility", "actor", "prolif",
    "programme", "detected", "ally_opened", "entrapment", "attacked", "abandonment", "reassurance_cost_sum",
    "audience_paid_sum", "terms_sum", "gain_sum", "challenge_sum", "challenge_sumsq", "challenge_hist", "dur_sum",
    "dur_sumsq", "hist", "events", "draws", "twin_runs",
})
REL = 1e-9  # relative slack of the float bounds (sums of many terms round)


def _within(x: float, lo: float, hi: float) -> bool:
    slack = REL * max(abs(lo), abs(hi), 1.0)
    return lo - slack <= x <= hi + slack


def _moments(name: str, s: float, s2: float, k: int, horizon: float) -> str | None:
    """Bounds of a sum and a sum of squares of ``k`` values in [0, horizon]."""
    if not _within(s, 0.0, horizon * k):
        return f"{name} sum {s!r} outside [0, {horizon:g} x {k} crises]"
    if not _within(s2, (s * s / k) if k else 0.0, horizon * horizon * k):
        return f"{name} sum of squares {s2!r} outside [sum^2/crises, horizon^2 x crises] for {k} crises"
    return None


def block_problem(res: BlockResults, i: int, reps: int, horizon: float) -> str | None:
    """The first relation that row ``i`` of ``res`` (a block of ``reps`` replications) breaks, or None."""
    v = {m.name: getattr(res, m.name)[i] for m in MEASURES}
    for m in MEASURES:
        x = np.asarray(v[m.name])
        if m.exact and (x < 0).any():
            return f"{m.name} has a negative count"
        if not m.exact and not np.isfinite(x).all():
            return f"{m.name} is not finite"
    counts = v["counts"]
    if int(counts.sum()) != reps:
        return f"counts sum to {int(counts.sum())}, not to the block's {reps} replications"
    by_type = v["by_type"]
    if int(by_type.sum()) != reps or (by_type.sum(axis=0) != counts.sum(axis=0)).any():
        return "by_type does not have the outcome totals of counts"
    reps_m = counts.sum(axis=1)
    challenged_m = reps_m - counts[:, NO_CHALLENGE]
    wars_m = counts[:, WAR_OUTCOME]
    crises_m = v["violence"].sum(axis=1)
    if (crises_m > challenged_m).any():
        return "violence counts more crises than challenges"
    if (v["hostility"].sum(axis=1) != crises_m).any():
        return "hostility does not count every crisis once"
    if (v["actor"].sum(axis=1) != 2 * crises_m).any():
        return "actor does not count two parties per crisis"
    crises = int(crises_m.sum())
    for name in ("hist", "challenge_hist"):
        if int(v[name].sum()) != crises:
            return f"{name} counts {int(v[name].sum())} crises, violence {crises}"
    for name in ("war_miscalculation", "war_inadvertent", "entrapment"):
        if (v[name] > wars_m).any():
            return f"{name} exceeds the wars"
    if int(v["twin_runs"]) != int(wars_m.sum()):
        return f"twin_runs {int(v['twin_runs'])} is not one per war ({int(wars_m.sum())})"
    if (v["entrapment"] > v["ally_opened"]).any():
        return "entrapment exceeds the crises the ally opened"
    for name in ("prolif", "programme", "detected", "ally_opened", "attacked", "abandonment"):
        if (v[name] > reps_m).any():
            return f"{name} exceeds the replications"
    for name in ("dur", "challenge"):
        p = _moments(name, float(v[f"{name}_sum"]), float(v[f"{name}_sumsq"]), crises, horizon)
        if p:
            return p
    if not _within(float(v["terms_sum"]), 0.0, float(reps)):
        return f"terms_sum {float(v['terms_sum'])!r} outside [0, {reps}]"
    if not _within(float(v["gain_sum"]), -float(crises), float(crises)):
        return f"gain_sum {float(v['gain_sum'])!r} outside [-crises, crises]"
    for name in ("reassurance_cost_sum", "audience_paid_sum"):
        if float(v[name]) < 0.0:
            return f"{name} is negative"
    return None


def check_results(res: BlockResults, reps_of, horizon: float) -> str | None:
    """The first problem of any block of ``res`` (``reps_of(block)``: its replications), naming the block."""
    if not math.isfinite(horizon) or horizon <= 0:
        return f"horizon {horizon!r} is not a positive number"
    for i, b in enumerate(res.blocks.tolist()):
        p = block_problem(res, i, reps_of(b), horizon)
        if p:
            return f"block {b}: {p}"
    return None

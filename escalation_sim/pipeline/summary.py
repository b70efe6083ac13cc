"""The tables of a crisis run, from its cells' totals: one row per cell, one per cell x motive x measure.

Results are flat records that become DataFrames, each row carrying its cell's
label and parameters. Every share has a Wilson 95% interval (the method is
named in the ``ci_method`` column). ``docs/model.md`` ("Outcomes and outputs")
defines every measure.

Measures of the outcome table (``measure`` column), for each motive (``all``,
``opportunity``, ``need``):

* ``<outcome>`` for every outcome, over all replications (``n`` = replications);
* ``war_miscalculation`` and ``war_inadvertent``, over all replications;
* ``ally_proliferation``, ``ally_programme``, ``ally_programme_detected``, ``crisis_opened_by_ally``,
  ``entrapment`` (war in a crisis the ally opened), ``ally_attacked`` and ``abandonment``, over all replications;
* ``violence:<category>`` (ICB) and ``hostility:<category>`` (MID), over crises
  (``n`` = crises);
* ``actor:<category>`` (ICB actor outcomes), over crisis parties (``n`` = 2 x crises).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..engines.outputs import N_BINS, CellTotals
from ..model.constants import NO_CHALLENGE, OUTCOME_NAMES, WAR_OUTCOME
from ..model.measures import ACTOR_OUTCOME_NAMES, HOSTILITY_NAMES, VIOLENCE_NAMES
from ..stats import CI_LEVEL, CI_METHOD, hist_quantile, wilson

MOTIVES = ("all", "opportunity", "need")


def _by_motive(a: np.ndarray, motive: str) -> np.ndarray:
    """Rows of a (motive, ...) array summed for ``all``, or the motive's row."""
    a = np.asarray(a)
    if motive == "all":
        return a.sum(axis=0)
    return a[1 if motive == "need" else 0]


def outcome_measures(tot: CellTotals, motive: str) -> list[tuple[str, int, int]]:
    """``(measure, count, n)`` for every measure of the outcome table, for one motive."""
    counts = _by_motive(tot.counts, motive)
    n = int(counts.sum())
    crises = int(n - counts[NO_CHALLENGE])
    rows = [(OUTCOME_NAMES[k], int(counts[k]), n) for k in range(len(OUTCOME_NAMES))]
    rows.append(("war_miscalculation", int(_by_motive(tot.war_miscalculation, motive)), n))
    rows.append(("war_inadvertent", int(_by_motive(tot.war_inadvertent, motive)), n))
    rows.append(("ally_proliferation", int(_by_motive(tot.prolif, motive)), n))
    for name, arr in (("ally_programme", tot.programme), ("ally_programme_detected", tot.detected),
                      ("crisis_opened_by_ally", tot.ally_opened), ("entrapment", tot.entrapment),
                      ("ally_attacked", tot.attacked), ("abandonment", tot.abandonment)):
        rows.append((name, int(_by_motive(arr, motive)), n))
    for prefix, names, arr, m in (("violence", VIOLENCE_NAMES, tot.violence, crises),
                                  ("hostility", HOSTILITY_NAMES, tot.hostility, crises),
                                  ("actor", ACTOR_OUTCOME_NAMES, tot.actor, 2 * crises)):
        v = _by_motive(arr, motive)
        rows += [(f"{prefix}:{name}", int(v[i]), m) for i, name in enumerate(names)]
    return rows


def summarize(cells, totals: list[CellTotals]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cell table (one row per cell) and outcome table (cell x motive x measure).

    ``cells`` are an experiment's cells (index, label, scenario, overrides).
    """
    cell_rows = []
    out_rows = []
    for cell, tot in zip(cells, totals, strict=True):
        horizon = cell.scenario.value("crisis.horizon")
        width = horizon / N_BINS
        for motive in MOTIVES:
            for name, c, n in outcome_measures(tot, motive):
                lo, hi = wilson(c, n)
                out_rows.append({
                    "cell": cell.index, "label": cell.label, "motive": motive, "measure": name, "count": c, "n": n,
                    "p": c / n if n else float("nan"), "ci_low": lo, "ci_high": hi,
                    "ci_method": CI_METHOD, "ci_level": CI_LEVEL,
                })
        counts = tot.counts.sum(axis=0)
        n = tot.n
        war = int(counts[WAR_OUTCOME])
        crises = int(n - counts[NO_CHALLENGE])
        misc = int(tot.war_miscalculation.sum())
        inadv = int(tot.war_inadvertent.sum())
        lo, hi = wilson(war, n)
        mlo, mhi = wilson(misc, n)
        ilo, ihi = wilson(inadv, n)
        row = {
            "cell": cell.index,
            "label": cell.label,
            "defender_mix": cell.scenario.mix_label,
            "n": n,
            "p_war": war / n,
            "war_ci_low": lo,
            "war_ci_high": hi,
            "p_war_miscalculation": misc / n,
            "war_miscalculation_ci_low": mlo,
            "war_miscalculation_ci_high": mhi,
            "p_war_inadvertent": inadv / n,
            "war_inadvertent_ci_low": ilo,
            "war_inadvertent_ci_high": ihi,
            "p_war_given_crisis": war / crises if crises else float("nan"),
            "ci_method": CI_METHOD,
        }
        for k, name in enumerate(OUTCOME_NAMES):
            row[f"p_{name}"] = counts[k] / n
        for motive in ("opportunity", "need"):
            c = _by_motive(tot.counts, motive)
            m = int(c.sum())
            row[f"p_war_{motive}"] = c[WAR_OUTCOME] / m if m else float("nan")
        row["p_ally_proliferation"] = int(tot.prolif.sum()) / n
        for name, arr in (("ally_programme", tot.programme), ("ally_programme_detected", tot.detected),
                          ("crisis_opened_by_ally", tot.ally_opened), ("entrapment", tot.entrapment),
                          ("ally_attacked", tot.attacked), ("abandonment", tot.abandonment)):
            row[f"p_{name}"] = int(arr.sum()) / n
        row["reassurance_cost_mean"] = tot.reassurance_cost_sum / n
        row["audience_cost_paid_mean"] = tot.audience_paid_sum / n
        row["crises"] = crises
        violence = tot.violence.sum(axis=0)
        for i, name in enumerate(VIOLENCE_NAMES):
            row[f"violence_{name}"] = violence[i] / crises if crises else float("nan")
        row["terms_mean"] = tot.terms_sum / n
        row["gain_given_crisis"] = tot.gain_sum / crises if crises else float("nan")
        cmean = tot.challenge_sum / crises if crises else float("nan")
        row["challenge_day_mean"] = cmean
        row["challenge_day_q50"] = hist_quantile(tot.challenge_hist, width, 0.5)
        mean = tot.dur_sum / crises if crises else float("nan")
        var = tot.dur_sumsq / crises - mean * mean if crises else float("nan")
        row["duration_mean"] = mean
        row["duration_sd"] = max(var, 0.0) ** 0.5 if crises else float("nan")
        for q in (0.1, 0.5, 0.9):
            row[f"duration_q{int(q * 100)}"] = hist_quantile(tot.hist, width, q)
        row["duration_resolution"] = width
        row["events_per_replication"] = tot.events / n
        row["draws_per_replication"] = tot.draws / n
        row["twin_runs_per_replication"] = tot.twin_runs / n
        row["overrides"] = json.dumps(cell.overrides, sort_keys=True)
        cell_rows.append(row)
    return pd.DataFrame(cell_rows), pd.DataFrame(out_rows)

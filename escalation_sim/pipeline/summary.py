"""The tables of a crisis run, from its cells' totals: one row per cell, one per cell x motive x measure.

Results are flat records that become DataFrames, each row carrying its cell's
label and parameters.
"""

from __future__ import annotations

import json

import pandas as pd

from ..engines.outputs import N_BINS, CellTotals
from ..model.constants import N_OUTCOMES, OUTCOME_NAMES, WAR_DELIBERATE, WAR_MISCALCULATION
from ..stats import CI_LEVEL, CI_METHOD, hist_quantile, wilson

MOTIVES = ("all", "opportunity", "need")


def _counts(totals: CellTotals, motive: str):
    if motive == "all":
        return totals.counts.sum(axis=0), int(totals.prolif.sum())
    k = 1 if motive == "need" else 0
    return totals.counts[k], int(totals.prolif[k])


def summarize(cells, totals: list[CellTotals]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cell table (one row per cell) and outcome table (cell x motive x measure).

    ``cells`` are an experiment's cells (index, label, scenario, overrides).
    Measures: every outcome, ``war`` (deliberate + miscalculation) and
    ``ally_proliferation`` (a flag, not an outcome). Durations are those of
    crises that happened (every outcome but ``no_challenge``), in days.
    """
    cell_rows = []
    out_rows = []
    for cell, tot in zip(cells, totals, strict=True):
        horizon = cell.scenario.value("crisis.horizon")
        width = horizon / N_BINS
        for motive in MOTIVES:
            counts, prolif = _counts(tot, motive)
            n = int(counts.sum())
            measures = [(OUTCOME_NAMES[k], int(counts[k])) for k in range(N_OUTCOMES)]
            measures.append(("war", int(counts[WAR_DELIBERATE] + counts[WAR_MISCALCULATION])))
            measures.append(("ally_proliferation", prolif))
            for name, c in measures:
                lo, hi = wilson(c, n)
                out_rows.append(
                    {
                        "cell": cell.index,
                        "label": cell.label,
                        "motive": motive,
                        "measure": name,
                        "count": c,
                        "n": n,
                        "p": c / n if n else float("nan"),
                        "ci_low": lo,
                        "ci_high": hi,
                        "ci_method": CI_METHOD,
                        "ci_level": CI_LEVEL,
                    }
                )
        counts = tot.counts.sum(axis=0)
        n = tot.n
        war = int(counts[WAR_DELIBERATE] + counts[WAR_MISCALCULATION])
        crises = int(n - counts[0])
        mean = tot.dur_sum / crises if crises else float("nan")
        var = tot.dur_sumsq / crises - mean * mean if crises else float("nan")
        lo, hi = wilson(war, n)
        row = {
            "cell": cell.index,
            "label": cell.label,
            "defender_mix": cell.scenario.mix_label,
            "n": n,
            "p_war": war / n,
            "war_ci_low": lo,
            "war_ci_high": hi,
            "p_war_miscalculation": counts[WAR_MISCALCULATION] / n,
            "p_war_given_crisis": war / crises if crises else float("nan"),
            "ci_method": CI_METHOD,
        }
        for k in range(N_OUTCOMES):
            row[f"p_{OUTCOME_NAMES[k]}"] = counts[k] / n
        row["p_ally_proliferation"] = int(tot.prolif.sum()) / n
        row["crises"] = crises
        row["duration_mean"] = mean
        row["duration_sd"] = max(var, 0.0) ** 0.5 if crises else float("nan")
        for q in (0.1, 0.5, 0.9):
            row[f"duration_q{int(q * 100)}"] = hist_quantile(tot.hist, width, q)
        row["duration_resolution"] = width
        row["events_per_replication"] = tot.events / n
        row["draws_per_replication"] = tot.draws / n
        row["overrides"] = json.dumps(cell.overrides, sort_keys=True)
        cell_rows.append(row)
    return pd.DataFrame(cell_rows), pd.DataFrame(out_rows)

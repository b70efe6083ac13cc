"""What a finished crisis run prints on the terminal: one line per cell, its full label last (never cut)."""

from __future__ import annotations

import pandas as pd


def summary_table(cells: pd.DataFrame, n: int, seconds: float) -> str:
    """P(war) with its interval, war by miscalculation, no challenge, ally proliferation and median days per cell.

    Each row starts with the cell's index (the ``cell`` column of the tables, and ``--cell`` of ``simulate
    --from``) and ends with its full label, so rows stay distinct however long their labels are.
    """
    lines = [
        f"{'cell':>4} {'P(war)':>8} {'95% CI (Wilson)':>18} {'miscalc':>8} {'no chal.':>8} {'ally prolif':>11} "
        f"{'median days':>11}  label"
    ]
    for _, r in cells.iterrows():
        label = str(r["label"]).replace("defender.strategy=", "")
        lines.append(
            f"{int(r['cell']):>4} {r['p_war']:8.4f} [{r['war_ci_low']:.4f}, {r['war_ci_high']:.4f}] "
            f"{r['p_war_miscalculation']:8.4f} {r['p_no_challenge']:8.4f} {r['p_ally_proliferation']:11.4f} "
            f"{r['duration_q50']:11.1f}  {label}"
        )
    lines.append(f"\n{n:,} replications per cell, {seconds:.1f} s. P(war) counts deliberate war and war by miscalculation.")
    return "\n".join(lines)

"""What a finished crisis run prints on the terminal: one line per cell."""

from __future__ import annotations

import pandas as pd


def summary_table(cells: pd.DataFrame, n: int, seconds: float) -> str:
    """P(war) with its interval, war by miscalculation, no challenge, ally proliferation and median days per cell."""
    lines = [
        f"{'cell':<48} {'P(war)':>8} {'95% CI (Wilson)':>19} {'miscalc':>8} {'no chal.':>8} {'ally prolif':>11} {'median days':>11}"
    ]
    for _, r in cells.iterrows():
        label = r["label"].replace("defender.strategy=", "")
        label = label if len(label) <= 47 else label[:22] + "..." + label[-22:]
        lines.append(
            f"{label:<48} {r['p_war']:8.4f} [{r['war_ci_low']:.4f}, {r['war_ci_high']:.4f}] "
            f"{r['p_war_miscalculation']:8.4f} {r['p_no_challenge']:8.4f} {r['p_ally_proliferation']:11.4f} {r['duration_q50']:11.1f}"
        )
    lines.append(f"\n{n:,} replications per cell, {seconds:.1f} s. P(war) counts deliberate war and war by miscalculation.")
    return "\n".join(lines)

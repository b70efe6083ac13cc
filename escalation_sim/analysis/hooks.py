"""Which extra outputs an experiment asks for: the one place that maps an experiment file to an analysis.

A crisis experiment gets, after its tables, figures and report, the outputs
of the analysis its file names: ``analysis = "selection_bias"``
(:mod:`.selection`), ``analysis = "ally_decay"`` (:mod:`.ally_decay`), a
``[tournament]`` table (:mod:`.tournament`); a sweep (:mod:`.sweep`) gets its
line plot; a ``[robustness]`` table adds :mod:`.flip` (the box of
:mod:`.robustness`, and Sobol indices of the contrasts if it asks). The run pipeline calls the writer chosen here
(:func:`escalation_sim.pipeline.run.execute_run`, ``extra_outputs``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..pipeline.run import ExtraOutputs
from .ally_decay import ally_decay_analysis
from .flip import robustness_outputs
from .selection import selection_figure, selection_text
from .sweep import sweep_figure
from .tournament import ranking_text, tournament_figure


def extra_outputs(config: dict) -> ExtraOutputs | None:
    """The writer of the extra outputs an experiment's file content (``config``) asks for, or None.

    A ``[robustness]`` table adds the robustness analysis after any other analysis.
    """
    first = _analysis_outputs(config)
    if "robustness" not in config:
        return first
    if first is None:
        return robustness_outputs

    def both(out_dir, cells, outcomes, manifest):
        return first(out_dir, cells, outcomes, manifest) + robustness_outputs(out_dir, cells, outcomes, manifest)

    return both


def _analysis_outputs(config: dict) -> ExtraOutputs | None:
    analysis = config.get("experiment", {}).get("analysis")
    if "sweep" in config:
        return sweep_figure
    if analysis == "selection_bias":
        return selection_figure
    if analysis == "ally_decay":
        return ally_decay_analysis
    if "tournament" in config:
        return tournament_figure
    return None


def extra_text(config: dict, out_dir: Path) -> str:
    """What the analysis an experiment asks for prints on a terminal after the cell table ("" for none).

    Read back from the tables the analysis wrote (``tournament_ranking.csv``, ``selection_bias.csv``).
    """
    out_dir = Path(out_dir)
    analysis = config.get("experiment", {}).get("analysis")
    try:
        if "sweep" not in config and analysis == "selection_bias" and (out_dir / "selection_bias.csv").is_file():
            return selection_text(pd.read_csv(out_dir / "selection_bias.csv"))
        if "sweep" not in config and analysis is None and "tournament" in config \
                and (out_dir / "tournament_ranking.csv").is_file():
            rank = pd.read_csv(out_dir / "tournament_ranking.csv")
            rank["distinct_from_next"] = rank["distinct_from_next"].astype(str).str.lower().eq("true")
            return ranking_text(rank)
    except (OSError, KeyError, ValueError):
        return ""
    return ""

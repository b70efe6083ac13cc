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

from ..pipeline.run import ExtraOutputs
from .ally_decay import ally_decay_analysis
from .flip import robustness_outputs
from .selection import selection_figure
from .sweep import sweep_figure
from .tournament import tournament_figure


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

"""Model-agnostic calibration to the crisis record by ABC-SMC (issue 13).

The model side supplies:

* ``known_outputs``: ``{output name: tuple of categories}`` for categorical outputs, ``None`` for scalars;
* a batched simulator ``simulate(theta: ndarray (n, d), seed: int) -> {output: ndarray (n, k) or (n,)}``
  whose row ``i`` depends only on ``theta[i]`` and ``seed`` (common random numbers within a generation);
* priors: uniform boxes (:class:`Prior`, or ``[parameters.NAME]`` tables with ``low`` and ``high``);
* for predictions, ``evaluate(theta: ndarray (d,), replications: int, seed: int) -> {output: shares}``.

Modules: :mod:`.targets` (file format, validation), :mod:`.distance` (multinomial deviance),
:mod:`.abc` (the sampler), :mod:`.parallel` (serial / threads / Dask mapping of batches),
:mod:`.posterior` (predictive intervals, option comparisons), :mod:`.report` (check, figures, report,
files), :mod:`.run` (end to end), :mod:`.toy` (a toy simulator). Documentation: docs/calibration-abc.md.
"""

from .abc import ABCConfig, ABCResult, Generation, run_abc_smc
from .distance import Distance, SimulatorOutputError
from .parallel import dask_map, serial_map, thread_map
from .posterior import combined_share, compare_options, posterior_predictive, prob_less, wilson_interval
from .run import CalibrationRun, calibrate
from .targets import (
    CalibrationError,
    Prior,
    Source,
    Target,
    TargetSet,
    default_targets_path,
    load_priors,
    load_targets,
    parse_priors,
    parse_targets,
)

__all__ = [
    "ABCConfig", "ABCResult", "Generation", "run_abc_smc", "Distance", "SimulatorOutputError", "dask_map",
    "serial_map", "thread_map", "combined_share", "compare_options", "posterior_predictive", "prob_less",
    "wilson_interval", "CalibrationRun", "calibrate", "CalibrationError", "Prior", "Source", "Target", "TargetSet",
    "default_targets_path", "load_priors", "load_targets", "parse_priors", "parse_targets",
]

"""escalation-sim: when do crises end in war under deterrence and reassurance?

A discrete-event model of an international crisis (SimPy reference engine) and
a compiled Monte Carlo core that reproduces it replication for replication.

The public API: :func:`simulate` one crisis, :func:`run` an experiment (the
``escalation-sim run`` command from Python, ``docs/api.md``), load and build
scenarios and experiments. The packages, from the top layer down: ``cli``,
``analysis``, ``pipeline``, ``report`` / ``scale`` / ``ipd``, ``engines``,
``model``, ``io`` (README, "Layout").
"""

from __future__ import annotations

from . import _cache

_cache.configure()  # before any compiled module is imported

from ._version import __version__  # noqa: E402
from .api import PosteriorResult, merge, run, run_posterior  # noqa: E402
from .engines.simpy_engine import CrisisResult, simulate  # noqa: E402
from .errors import ConfigError, OptionError, UserError  # noqa: E402
from .model.scenario import Mix, Scenario  # noqa: E402
from .model.validation import load_scenario  # noqa: E402
from .pipeline.experiment import Experiment, load_experiment  # noqa: E402
from .pipeline.run import RunResult  # noqa: E402

__all__ = [
    "ConfigError",
    "CrisisResult",
    "Experiment",
    "Mix",
    "OptionError",
    "PosteriorResult",
    "RunResult",
    "Scenario",
    "UserError",
    "__version__",
    "load_experiment",
    "load_scenario",
    "merge",
    "run",
    "run_posterior",
    "simulate",
]

"""escalation-sim: when do crises end in war under deterrence and reassurance?

A discrete-event model of an international crisis (SimPy reference engine) and
a compiled Monte Carlo core that reproduces it replication for replication.
"""

from __future__ import annotations

from . import _cache

_cache.configure()  # before any compiled module is imported

from .engines.simpy_engine import CrisisResult, simulate  # noqa: E402
from .io.config import ConfigError, load_experiment, load_scenario  # noqa: E402
from .model.scenario import Mix, Scenario  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "CrisisResult",
    "Mix",
    "Scenario",
    "__version__",
    "load_experiment",
    "load_scenario",
    "simulate",
]

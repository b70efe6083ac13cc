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

import importlib

from ._version import __version__ as __version__

# Public names and the modules that define them, imported on first use (PEP 562): ``import escalation_sim`` stays
# light, so the command line can start, and answer Ctrl-C, before numba, pandas and the kernels are loaded.
_PUBLIC = {
    "merge": "api", "run": "api", "run_posterior": "api", "PosteriorResult": "api",
    "CrisisResult": "engines.simpy_engine", "simulate": "engines.simpy_engine",
    "ConfigError": "errors", "OptionError": "errors", "UserError": "errors",
    "Mix": "model.scenario", "Scenario": "model.scenario",
    "load_scenario": "model.validation",
    "Experiment": "pipeline.experiment", "load_experiment": "pipeline.experiment",
    "RunResult": "pipeline.run",
}

__all__ = sorted([*_PUBLIC, "__version__"])


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])

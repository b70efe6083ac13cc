"""The iterated prisoner's dilemma form, all of it: rules, both engines, configuration and runs.

``model.py`` (the rules and strategies both engines call), ``simpy_engine.py``
(one match, round by round), ``_kernel.py`` and ``montecarlo.py`` (compiled
matches in blocks, exact totals), ``config.py`` (scenario and experiment
files), ``run.py`` (tables, standings, report of a run; one match as text).
The run pipeline decides which form an experiment is, once
(:func:`escalation_sim.pipeline.experiment.load_experiment`). Specification:
``docs/model.md``, "The iterated prisoner's dilemma form".
"""

from .. import _cache

_cache.configure()  # before any kernel of this package is defined: one cache per version of the sources

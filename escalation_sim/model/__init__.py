"""The crisis model, written once for both engines.

Parameters (``params.py``), the compiled rules (``rules.py``), the layout of
states and messages (``constants.py``), counter-based random streams
(``rng.py``), the strategy catalogue (``strategies.py``) and its references
(``bibliography.py``), scenarios (``scenario.py``) and the validation of
scenario values and files (``validation.py``). Specification: ``docs/model.md``.
"""

from .. import _cache

_cache.configure()  # before any kernel of this package is defined: one cache per version of the sources

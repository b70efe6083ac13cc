"""A scenario: parameter values and the defender's strategy mix(es).

A :class:`Scenario` is plain data. Files become scenarios through
:func:`escalation_sim.io.config.load_scenario`, which validates them; code can
build one directly with :meth:`Scenario.build`, which validates the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .params import vector_from


@dataclass(frozen=True)
class Mix:
    """A defender strategy mix: instruments used together, and its weight.

    A scenario with several mixes describes a *population* of defender
    leaders: each replication draws one mix with probability ``weight``.
    """

    strategies: tuple[str, ...]
    weight: float = 1.0

    @property
    def label(self) -> str:
        """``"a+b"``, or ``"none"`` for the empty mix."""
        return "+".join(self.strategies) if self.strategies else "none"


@dataclass(frozen=True)
class Scenario:
    """Validated parameter values (``section.name -> value``) and defender mixes."""

    name: str
    values: dict[str, float] = field(default_factory=dict)
    mixes: tuple[Mix, ...] = (Mix(()),)
    description: str = ""
    source: str = "<code>"

    @classmethod
    def build(cls, name: str = "custom", values: dict | None = None, strategies=None, population=None) -> Scenario:
        """Build and validate a scenario from Python values (same rules as files).

        Parameters
        ----------
        values : dict, optional
            ``{"channel.misperception": 0.2, "challenger.strategy": "firm", ...}``.
        strategies : list of str, optional
            The defender's mix.
        population : list of (weight, list of str), optional
            Several mixes drawn per replication, instead of ``strategies``.
        """
        from .validation import scenario_from_mapping

        data: dict = {}
        for key, val in (values or {}).items():
            section, name_ = key.split(".", 1)
            data.setdefault(section, {})[name_] = val
        if strategies is not None:
            data.setdefault("defender", {})["strategy"] = list(strategies)
        if population is not None:
            data.setdefault("defender", {})["population"] = [
                {"weight": w, "strategy": list(s)} for w, s in population
            ]
        data["scenario"] = {"name": name}
        return scenario_from_mapping(data, "<code>")

    def with_values(self, changes: dict[str, float]) -> Scenario:
        """Copy with coded values replaced (keys ``section.name``, already validated)."""
        return replace(self, values={**self.values, **changes})

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Parameter matrix (one row per mix, derived part filled) and cumulative mix weights."""
        from .signals import derive

        rows = np.stack([vector_from(self.values, m.strategies) for m in self.mixes])
        for row in rows:
            derive(row)
        w = np.array([m.weight for m in self.mixes], dtype=float)
        cum = np.cumsum(w / w.sum())
        cum[-1] = 1.0
        return rows, cum

    def value(self, key: str) -> float:
        """Coded value of a parameter (default if not set)."""
        from .params import SPEC_BY_KEY

        return float(self.values.get(key, SPEC_BY_KEY[key].default))

    @property
    def mix_label(self) -> str:
        """Readable label of the defender's mix or population."""
        if len(self.mixes) == 1:
            return self.mixes[0].label
        return " | ".join(f"{m.weight:g}:{m.label}" for m in self.mixes)

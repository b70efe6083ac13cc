"""What the compiled engine reports per block: one declaration, everything else derived from it.

:data:`MEASURES` lists every output of a block of replications: its name,
its shape per block, its type, and hence how blocks combine. Integer measures
(counts) are summed: exact, in any order. Float measures (sums of durations)
are summed serially inside a block by the kernel; the per-block values are
kept and combined with :func:`math.fsum` (exactly rounded), so the total does
not depend on the order in which blocks arrive, on threads, chunks or shards.

Derived from the declaration:

* :class:`Arrays`, the bundle the kernel fills (one namedtuple of arrays, one
  row per block; made by :func:`allocate`);
* :class:`BlockResults`, those arrays for a set of blocks (``res.counts`` ...);
* :class:`CellTotals`, the running totals of one cell (``totals.counts``,
  ``totals.dur_sum`` ...);
* the row format of the block store (:mod:`escalation_sim.scale.blocks`), used
  to checkpoint, resume and merge shards.

Adding a measure touches three places: declare it here, fill row ``b`` of
``out.<name>`` in ``_kernel.run_block``, and use ``totals.<name>`` in
``escalation_sim/pipeline/summary.py``.
"""

from __future__ import annotations

import math
from collections import namedtuple
from dataclasses import dataclass

import numpy as np

from ..model.constants import N_OUTCOMES, N_TYPES
from ..model.measures import N_HOSTILITY, N_SCALE

N_BINS = 1000  # duration histogram bins over [0, horizon]


@dataclass(frozen=True)
class Measure:
    """One output of a block."""

    name: str
    shape: tuple[int, ...]  # per block
    dtype: type  # np.int64: summed exactly; np.float64: per-block values combined with math.fsum
    doc: str
    sparse: bool = False  # stored in the block store as its nonzero entries (histograms)

    @property
    def exact(self) -> bool:
        """Integer measure (blocks are summed), as opposed to a float one (combined with math.fsum)."""
        return np.dtype(self.dtype).kind == "i"


MEASURES: tuple[Measure, ...] = (
    Measure("counts", (2, N_OUTCOMES), np.int64, "replications by challenger motive (0 opportunity, 1 need) and outcome"),
    Measure("by_type", (N_TYPES, N_OUTCOMES), np.int64, "replications by the challenger's private type and outcome"),
    Measure("war_miscalculation", (2,), np.int64, "wars whose complete-information twin has no war, by motive"),
    Measure("war_inadvertent", (2,), np.int64, "wars started right after a misread move or an unrecognised incident, by motive"),
    Measure("violence", (2, N_SCALE), np.int64, "crises by motive and ICB crisis-violence category"),
    Measure("hostility", (2, N_HOSTILITY), np.int64, "crises by motive and MID hostility level (0: not militarized)"),
    Measure("actor", (2, N_SCALE), np.int64, "crisis parties (two per crisis) by motive and ICB actor outcome"),
    Measure("prolif", (2,), np.int64, "replications whose ally proliferated, by challenger motive"),
    Measure("programme", (2,), np.int64, "replications in which the ally started a proliferation programme, by motive"),
    Measure("detected", (2,), np.int64, "replications in which the challenger detected the ally's programme, by motive"),
    Measure("ally_opened", (2,), np.int64, "crises opened after the ally provoked the challenger, by motive"),
    Measure("entrapment", (2,), np.int64, "wars in crises opened after an ally provocation (entrapment), by motive"),
    Measure("attacked", (2,), np.int64, "replications in which the challenger used force against the ally, by motive"),
    Measure("abandonment", (2,), np.int64, "replications in which the defender yielded after the ally was attacked, by motive"),
    Measure("reassurance_cost_sum", (), np.float64, "sum of the defender's reassurance costs (stake units)"),
    Measure("audience_paid_sum", (), np.float64, "sum of the audience costs the defender paid for unhonoured commitments"),
    Measure("terms_sum", (), np.float64, "sum over replications of the challenger's final share of the stake"),
    Measure("gain_sum", (), np.float64, "sum over crises of the challenger's final share minus the original status quo"),
    Measure("challenge_sum", (), np.float64, "sum of the days of the challenge, over crises"),
    Measure("challenge_sumsq", (), np.float64, "sum of their squares"),
    Measure("challenge_hist", (N_BINS,), np.int64, "histogram of the day of the challenge, N_BINS bins over [0, horizon]", sparse=True),
    Measure("dur_sum", (), np.float64, "sum of the durations (days from challenge to outcome) of the crises"),
    Measure("dur_sumsq", (), np.float64, "sum of their squares"),
    Measure("hist", (N_BINS,), np.int64, "histogram of those durations, N_BINS bins over [0, horizon]", sparse=True),
    Measure("events", (), np.int64, "events handled (twins not included)"),
    Measure("draws", (), np.int64, "random numbers drawn (twins not included)"),
    Measure("twin_runs", (), np.int64, "complete-information twins run (one per war)"),
)
BY_NAME = {m.name: m for m in MEASURES}
if any(not m.exact and m.shape for m in MEASURES):  # pragma: no cover - a mistake in the declaration
    raise TypeError("a float measure must be one number per block: block values are combined with math.fsum")

#: The bundle the kernel fills: one array per measure, shape ``(blocks, *measure.shape)``.
Arrays = namedtuple("Arrays", [m.name for m in MEASURES])


def allocate(n_blocks: int) -> Arrays:
    """Zeroed output arrays for ``n_blocks`` blocks."""
    return Arrays(*(np.zeros((n_blocks, *m.shape), dtype=m.dtype) for m in MEASURES))


class BlockResults:
    """The outputs of a set of blocks: ``blocks`` (their indices) and, per measure, one row per block.

    Each measure is an attribute (``res.counts``, ``res.hist`` ...), a view of
    :attr:`arrays`, the bundle the kernel filled.
    """

    def __init__(self, blocks: np.ndarray, arrays: Arrays):
        self.blocks = blocks
        self.arrays = arrays

    @classmethod
    def empty(cls, blocks: np.ndarray) -> BlockResults:
        """Zeroed outputs for ``blocks``."""
        blocks = np.asarray(blocks, dtype=np.int64)
        return cls(blocks, allocate(blocks.shape[0]))


for _i, _m in enumerate(MEASURES):
    setattr(BlockResults, _m.name, property(lambda self, _i=_i: self.arrays[_i], doc=_m.doc))


class CellTotals:
    """Running totals of one cell; combine blocks in any order, get the same numbers.

    Attributes named after the measures: an integer measure is its sum over
    blocks (an array, or an ``int`` for a scalar measure); a float measure is
    :func:`math.fsum` of its per-block values. ``blocks_done`` holds the blocks
    folded in; ``n`` is the number of replications.
    """

    def __init__(self):
        self.blocks_done: set[int] = set()
        self._sums = {m.name: np.zeros(m.shape, dtype=np.int64) for m in MEASURES if m.exact}
        self._blocks = {m.name: [] for m in MEASURES if not m.exact}

    def add(self, res: BlockResults) -> None:
        """Fold in a set of blocks (each block at most once)."""
        for b in res.blocks.tolist():
            if b in self.blocks_done:
                raise ValueError(f"block {b} counted twice")
            self.blocks_done.add(b)
        for m in MEASURES:
            values = getattr(res, m.name)
            if m.exact:
                self._sums[m.name] += values.sum(axis=0)
            else:
                self._blocks[m.name].extend(values.tolist())

    def total(self, name: str):
        """Total of measure ``name`` over the blocks folded in."""
        if name in self._sums:
            s = self._sums[name]
            return int(s) if s.ndim == 0 else s
        return math.fsum(self._blocks[name])

    @property
    def n(self) -> int:
        """Replications folded in."""
        return int(self._sums["counts"].sum())


for _m in MEASURES:
    setattr(CellTotals, _m.name, property(lambda self, _name=_m.name: self.total(_name), doc=_m.doc))
del _i, _m

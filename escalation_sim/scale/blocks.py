"""The block store: finished blocks on disk, for resume, shards and merge.

Every chunk of finished blocks of one cell is written as one small Parquet
file (one row per block) atomically: temporary name, fsync, rename. A run
killed at any point (SIGKILL included) leaves only whole files; starting it
again reads them back and runs only the missing blocks. Because replication
``r`` always uses the streams of ``(seed, r)`` and blocks are reduced exactly
(integers, :func:`math.fsum`), the result equals an uninterrupted run bit for
bit.

Row layout, derived from :data:`escalation_sim.engines.outputs.MEASURES`:
``cell, block``, then one column per measure in declaration order: a number
for a scalar measure, a flat list for an array (row-major: for ``counts``,
opportunity then need), and for a sparse measure (the duration histogram) two
lists, ``<name>_bins`` and ``<name>_counts``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..engines.outputs import MEASURES, BlockResults, CellTotals
from ..io.files import write_parquet

BLOCK_DIR = "blocks"


def to_frame(cell: int, res: BlockResults) -> pd.DataFrame:
    """One row per block of ``res``."""
    rows = []
    for i, b in enumerate(res.blocks.tolist()):
        row = {"cell": cell, "block": b}
        for m in MEASURES:
            v = getattr(res, m.name)[i]
            if m.sparse:
                nz = np.flatnonzero(v)
                row[f"{m.name}_bins"] = nz.astype(np.int32).tolist()
                row[f"{m.name}_counts"] = v[nz].tolist()
            elif m.shape:
                row[m.name] = v.ravel().tolist()
            else:
                row[m.name] = int(v) if m.exact else float(v)
        rows.append(row)
    return pd.DataFrame(rows)


def from_frame(df: pd.DataFrame) -> dict[int, BlockResults]:
    """Block rows back to :class:`BlockResults`, one per cell."""
    out = {}
    for cell, g in df.groupby("cell", sort=True):
        g = g.sort_values("block")
        res = BlockResults.empty(g["block"].to_numpy(dtype=np.int64))
        for i, row in enumerate(g.itertuples(index=False)):
            for m in MEASURES:
                target = getattr(res, m.name)
                if m.sparse:
                    bins = np.asarray(getattr(row, f"{m.name}_bins"), dtype=np.int64)
                    target[i, bins] = np.asarray(getattr(row, f"{m.name}_counts"), dtype=m.dtype)
                elif m.shape:
                    target[i] = np.asarray(getattr(row, m.name), dtype=m.dtype).reshape(m.shape)
                else:
                    target[i] = getattr(row, m.name)
        out[int(cell)] = res
    return out


def save_chunk(run_dir: Path, tag: str, cell: int, res: BlockResults) -> Path:
    """Checkpoint a chunk of finished blocks of ``cell``."""
    d = run_dir / BLOCK_DIR
    d.mkdir(exist_ok=True)
    b = res.blocks
    path = d / f"{tag}cell{cell:04d}-b{int(b.min()):09d}-{int(b.max()):09d}-{len(b)}.parquet"
    write_parquet(to_frame(cell, res), path)
    return path


def read_blocks(paths: list[Path]) -> pd.DataFrame:
    """All block rows of the given files (empty frame if none)."""
    frames = [pq.read_table(p).to_pandas() for p in sorted(paths)]
    if not frames:
        return pd.DataFrame(columns=["cell", "block"])
    return pd.concat(frames, ignore_index=True)


def load_totals(run_dir: Path, n_cells: int, tag: str = "") -> list[CellTotals]:
    """Totals rebuilt from a run's checkpoints (files starting with ``tag``)."""
    d = run_dir / BLOCK_DIR
    if not d.is_dir():
        return [CellTotals() for _ in range(n_cells)]
    return totals_from_frame(read_blocks(list(d.glob(f"{tag}cell*.parquet"))), n_cells)


def totals_from_frame(df: pd.DataFrame, n_cells: int) -> list[CellTotals]:
    """Totals of every cell from block rows (raises on a block counted twice)."""
    totals = [CellTotals() for _ in range(n_cells)]
    for cell, res in from_frame(df).items():
        try:
            totals[cell].add(res)
        except ValueError as exc:  # name the cell: a block index alone is ambiguous
            raise ValueError(f"cell {cell}: {exc}") from None
    return totals

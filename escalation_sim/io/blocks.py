"""The block store: finished blocks on disk, for resume, shards and merge.

Every chunk of finished blocks of one cell is written as one small Parquet
file (one row per block) atomically: temporary name, fsync, rename. A run
killed at any point (SIGKILL included) leaves only whole files; starting it
again reads them back and runs only the missing blocks. Because replication
``r`` always uses the streams of ``(seed, r)`` and blocks are reduced exactly
(integers, :func:`math.fsum`), the result equals an uninterrupted run bit for
bit.

Row layout: ``cell, block, counts (2 x outcomes, flattened: opportunity then
need), prolif (2), dur_sum, dur_sumsq, events, draws, hist_bins, hist_counts``
(the duration histogram stored sparsely).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..engines.montecarlo import N_BINS, BlockResults, CellTotals
from ..model.constants import N_OUTCOMES
from .results import atomic_write_bytes

BLOCK_DIR = "blocks"


def to_frame(cell: int, res: BlockResults) -> pd.DataFrame:
    """One row per block of ``res``."""
    rows = []
    for i, b in enumerate(res.blocks.tolist()):
        nz = np.flatnonzero(res.hist[i])
        rows.append(
            {
                "cell": cell,
                "block": b,
                "counts": res.counts[i].ravel().tolist(),
                "prolif": res.prolif[i].tolist(),
                "dur_sum": float(res.dur_sum[i]),
                "dur_sumsq": float(res.dur_sumsq[i]),
                "events": int(res.events[i]),
                "draws": int(res.draws[i]),
                "hist_bins": nz.astype(np.int32).tolist(),
                "hist_counts": res.hist[i][nz].tolist(),
            }
        )
    return pd.DataFrame(rows)


def from_frame(df: pd.DataFrame) -> dict[int, BlockResults]:
    """Block rows back to :class:`BlockResults`, one per cell."""
    out = {}
    for cell, g in df.groupby("cell", sort=True):
        g = g.sort_values("block")
        res = BlockResults.empty(g["block"].to_numpy(dtype=np.int64))
        for i, row in enumerate(g.itertuples(index=False)):
            res.counts[i] = np.asarray(row.counts, dtype=np.int64).reshape(2, N_OUTCOMES)
            res.prolif[i] = np.asarray(row.prolif, dtype=np.int64)
            res.dur_sum[i] = row.dur_sum
            res.dur_sumsq[i] = row.dur_sumsq
            res.events[i] = row.events
            res.draws[i] = row.draws
            res.hist[i, np.asarray(row.hist_bins, dtype=np.int64)] = np.asarray(row.hist_counts, dtype=np.int64)
        out[int(cell)] = res
    return out


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` to ``path`` as Parquet, atomically."""
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), buf)
    atomic_write_bytes(path, buf.getvalue())


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


assert N_BINS > 0

"""Writing files atomically: bytes, JSON, tables (Parquet + CSV); claiming an output directory.

Every file is written to a temporary name in the same directory, flushed,
fsynced and renamed into place, so a reader never sees half a file. A results
directory that already holds results is never overwritten silently.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import ResultsExistError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json(path: Path, obj: dict) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n").encode())


def write_table(df: pd.DataFrame, directory: Path, stem: str) -> list[Path]:
    """Write ``df`` as ``stem.parquet`` and ``stem.csv``; return the paths."""
    paths = []
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    p = directory / f"{stem}.parquet"
    atomic_write_bytes(p, buf.getvalue())
    paths.append(p)
    p = directory / f"{stem}.csv"
    atomic_write_bytes(p, df.to_csv(index=False).encode())
    paths.append(p)
    return paths


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """Write ``df`` as CSV (no index) at ``path``, atomically."""
    atomic_write_bytes(path, df.to_csv(index=False).encode())
    return path


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` to ``path`` as Parquet through pyarrow (no index), atomically."""
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), buf)
    atomic_write_bytes(path, buf.getvalue())


def prepare_run_dir(path: Path, force: bool) -> Path:
    """Create ``path`` for a new run; refuse if it holds one, unless ``force``."""
    if path.exists() and any(path.iterdir()):
        if not force:
            raise ResultsExistError(
                f"{path} already holds results; pass --force to replace them or --out to write elsewhere"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path

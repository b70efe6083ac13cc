"""Writing files atomically: bytes, JSON, tables (Parquet + CSV); claiming an output directory.

Every file is written to a temporary name in the same directory, flushed,
fsynced and renamed into place, so a reader never sees half a file. A results
directory that already holds results is never overwritten silently. A path
that cannot be written (read-only, no space left, a file where a directory
should be) is a :class:`~escalation_sim.errors.WriteError` naming it, and the
temporary file is removed: nothing is left half-written.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import ResultsExistError, WriteError


def write_error(path, exc: OSError, doing: str = "cannot write") -> WriteError:
    """A :class:`WriteError` for ``exc`` naming the path it failed on (the deepest one known)."""
    where = exc.filename if getattr(exc, "filename", None) else path
    return WriteError(f"{doing} {where}: {exc.strerror or exc}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename); a WriteError if it cannot be written."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise write_error(path, exc) from None


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_dirs(path: Path) -> list[Path]:
    """Create ``path`` and its missing parents; return the directories created (outermost first).

    A WriteError names the directory that could not be created.
    """
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    created = []
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            if not d.is_dir():
                raise WriteError(f"cannot create {d}: a file of that name is in the way") from None
        except OSError as exc:
            remove_dirs(created)
            raise write_error(d, exc, "cannot create") from None
        created.append(d)
    if not path.is_dir():
        raise WriteError(f"cannot write in {path}: not a directory")
    return created


def remove_dirs(created: list[Path]) -> None:
    """Remove directories made by :func:`make_dirs` again, innermost first, if they are still empty."""
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:
            break


def check_writable(directory: Path) -> None:
    """A WriteError unless a file can be created (and removed) in ``directory``: before any work, not after."""
    probe = Path(directory) / f".write-test-{os.getpid()}"
    try:
        with open(probe, "wb"):
            pass
        probe.unlink()
    except OSError as exc:
        raise WriteError(f"cannot write in {directory}: {exc.strerror or exc}") from None


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


def parquet_bytes(df: pd.DataFrame, metadata: dict[str, str] | None = None) -> bytes:
    """``df`` as Parquet bytes through pyarrow (no index), with extra key-value ``metadata`` in its schema."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               **{k.encode(): v.encode() for k, v in metadata.items()}})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def write_parquet(df: pd.DataFrame, path: Path, metadata: dict[str, str] | None = None) -> None:
    """Write ``df`` to ``path`` as Parquet through pyarrow (no index), atomically."""
    atomic_write_bytes(path, parquet_bytes(df, metadata))


def prepare_run_dir(path: Path, force: bool) -> Path:
    """Create ``path`` for a new run; refuse if it holds one, unless ``force``; check that it can be written.

    Raises ResultsExistError (results there, no ``force``) or WriteError (the path, or a parent that
    must be created, cannot be written), before anything is computed.
    """
    path = Path(path)
    if path.is_dir() and any(path.iterdir()):
        if not force:
            raise ResultsExistError(
                f"{path} already holds results; pass --force to replace them or --out to write elsewhere"
            )
        check_writable(path)
        try:
            shutil.rmtree(path)
        except OSError as exc:
            raise write_error(path, exc, "cannot remove") from None
    created = make_dirs(path)
    try:
        check_writable(path)
    except WriteError:
        remove_dirs(created)
        raise
    return path

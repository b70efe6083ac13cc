"""Writing results: run directories, tables (Parquet + CSV) and the manifest.

Every file is written to a temporary name in the same directory, flushed,
fsynced and renamed into place, so a reader never sees half a file. A results
directory that already holds a run is never overwritten silently.
"""

from __future__ import annotations

import io
import json
import os
import platform
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pandas as pd

MANIFEST = "manifest.json"


class ResultsExistError(Exception):
    """The output directory already holds a run."""


def now_iso() -> str:
    """Current UTC time, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_figure(fig, directory: Path, stem: str, formats: tuple[str, ...] = ("png", "svg"), dpi: int = 150) -> list[Path]:
    """Save a matplotlib figure as ``directory/figures/<stem>.<format>``, each file atomically."""
    figdir = Path(directory) / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    written = []
    for ext in formats:
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=dpi)
        path = figdir / f"{stem}.{ext}"
        atomic_write_bytes(path, buf.getvalue())
        written.append(path)
    return written


def write_table(df: pd.DataFrame, directory: Path, stem: str) -> list[Path]:
    """Write ``df`` as ``stem.parquet`` and ``stem.csv``; return the paths."""
    import io

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


def write_json(path: Path, obj: dict) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n").encode())


def versions() -> dict[str, str]:
    """Versions of Python and of the libraries that shape the numbers."""
    out = {"python": platform.python_version()}
    for pkg in ("escalation-sim", "numpy", "numba", "simpy", "pandas", "pyarrow", "click"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def git_state() -> dict:
    """Commit and dirty flag of the source tree the package was imported from, if it is a git checkout."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=root, capture_output=True, text=True, timeout=10, check=True,
            ).stdout.strip()
        )
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def machine() -> dict:
    """Where the run happened."""
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "argv": sys.argv,
    }

"""Where compiled kernels are cached, keyed by the model's source.

Numba's ``cache=True`` checks only the timestamp of the file that defines a
function. A kernel that calls a rule in another module, or a rule that reads a
parameter index from ``params.py``, would be reloaded stale after that other
file changed, and give wrong numbers without a word. So the cache lives in a
directory named by a hash of every source file the kernels compile: any edit
to the model gives a fresh cache. ``NUMBA_CACHE_DIR``, if set, is respected
(the hash is appended to it).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_COMPILED = ("model", "engines", "ipd")


def source_hash() -> str:
    """Short SHA-256 of the sources of the compiled code (``model/``, ``engines/``, ``ipd/``)."""
    h = hashlib.sha256()
    for sub in _COMPILED:
        for f in sorted((_PACKAGE / sub).glob("*.py")):
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    """The cache directory for this version of the sources."""
    base = os.environ.get("NUMBA_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    if not os.environ.get("NUMBA_CACHE_DIR"):
        root = root / "escalation-sim"
    return root / f"kernels-{source_hash()}"


def configure() -> Path:
    """Point Numba's cache at :func:`cache_dir`; call before any kernel module is imported."""
    import numba

    path = cache_dir()
    numba.config.CACHE_DIR = str(path)
    return path

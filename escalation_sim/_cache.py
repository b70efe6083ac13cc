"""Where compiled kernels are cached: one cache per version of the model's source, wherever it is installed.

Numba's ``cache=True`` checks only the file that defines a function. A
kernel that calls a rule in another module, or a rule that reads a parameter
index from ``params.py``, would be reloaded stale after that other file
changed, and give wrong numbers without a word. So the cache lives in a
directory named by a hash of every source file the kernels compile
(:func:`source_hash`): any edit to the model gives a fresh cache.

Numba's own locators also key the cache by the *absolute path* of each source
file, so the same sources in two places (the repository, run as ``python -m
escalation_sim``, and the installed ``escalation-sim`` script in
``site-packages``) would compile twice. :class:`PackageCacheLocator` keys it
by the path inside the package instead: every copy of one version of the
sources shares one cache. It applies to this package's files only; other
numba code is left to numba's defaults.

The directory is ``$NUMBA_CACHE_DIR/kernels-<hash>/`` if ``NUMBA_CACHE_DIR`` is
set, else ``${XDG_CACHE_HOME:-~/.cache}/escalation-sim/kernels-<hash>/``.
:func:`configure` installs the locator; the compiled subpackages (``model``,
``engines``, ``ipd``) call it before they define any kernel.
:func:`compile_notice` says when the next call will compile (the first run
after installing or changing the model, or on another CPU type), and how long
that takes; :func:`mark_warm` records, in the cache, that it has compiled.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_COMPILED = ("model", "engines", "ipd")
_HASH: str | None = None

#: The cold compile of each compiled path, in seconds, as announced (2-core machine of README "Speed"; measured
#: idle at 3d9b90f: ``warm_up()`` 31-32 s for ``crisis``, the first ``simulate`` 26 s for ``simpy``, rounded up for
#: a busy machine; the first IPD run for ``ipd``).
COMPILE_SECONDS = {"crisis": 40, "simpy": 30, "ipd": 10}


def source_hash() -> str:
    """Short SHA-256 of the sources of the compiled code (``model/``, ``engines/``, ``ipd/``)."""
    global _HASH
    if _HASH is None:
        h = hashlib.sha256()
        for sub in _COMPILED:
            for f in sorted((_PACKAGE / sub).glob("*.py")):
                h.update(f.name.encode())
                h.update(f.read_bytes())
        _HASH = h.hexdigest()[:16]
    return _HASH


def cache_dir() -> Path:
    """The cache directory for this version of the sources."""
    base = os.environ.get("NUMBA_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    if not os.environ.get("NUMBA_CACHE_DIR"):
        root = root / "escalation-sim"
    return root / f"kernels-{source_hash()}"


def _subdir(py_file: str) -> str | None:
    """``engines`` for ``.../escalation_sim/engines/_kernel.py``; None for a file outside this package."""
    try:
        rel = Path(py_file).resolve().parent.relative_to(_PACKAGE)
    except (ValueError, OSError):
        return None
    return "_".join(rel.parts) or "escalation_sim"


def _locator_class():
    from numba.core import caching

    base = caching._CacheLocator
    mixin = caching._SourceFileBackedLocatorMixin

    class PackageCacheLocator(mixin, base):
        """Cache this package's kernels under :func:`cache_dir`, by their path inside the package."""

        def __init__(self, py_func, py_file):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            self._cache_path = str(cache_dir() / _subdir(py_file))

        def get_cache_path(self):
            return self._cache_path

        @classmethod
        def from_function(cls, py_func, py_file):
            if _subdir(py_file) is None:
                return None
            return super().from_function(py_func, py_file)

    return PackageCacheLocator


def configure() -> Path:
    """Install :class:`PackageCacheLocator` (once); call before any kernel module is imported."""
    from numba.core import caching

    impl = caching.CacheImpl if hasattr(caching, "CacheImpl") else caching._CacheImpl
    if not any(getattr(c, "__name__", "") == "PackageCacheLocator" for c in impl._locator_classes):
        impl._locator_classes.insert(0, _locator_class())
    return cache_dir()


def _machine_tag() -> str:
    """A short tag of what numba keys cached machine code by on this machine (CPU and code generator)."""
    try:
        from numba.core.registry import cpu_target

        magic = repr(cpu_target.target_context.codegen().magic_tuple())
    except Exception:  # noqa: BLE001 - numba internals: without them, one tag for every machine
        magic = "unknown"
    return hashlib.sha256(f"{magic} {sys.version_info[:2]}".encode()).hexdigest()[:12]


def _marker(path: str) -> Path:
    return cache_dir() / f".compiled-{path}-{_machine_tag()}"


def is_warm(path: str = "crisis") -> bool:
    """Whether the kernels of ``path`` (``crisis``, ``simpy``, ``ipd``) were compiled into this cache for this machine."""
    return _marker(path).exists()


def mark_warm(path: str = "crisis") -> None:
    """Record that the kernels of ``path`` are in the cache (after a call that compiled or loaded them)."""
    try:
        _marker(path).parent.mkdir(parents=True, exist_ok=True)
        _marker(path).touch()
    except OSError:
        pass  # a read-only cache: numba compiles in memory every time, and the notice says so every time


WHAT = {"crisis": "Monte Carlo kernels", "simpy": "model's rules for the SimPy engine",
        "ipd": "prisoner's dilemma kernels"}


def compile_notice(path: str = "crisis") -> str | None:
    """``compiling ... (first run only, ~N s)...`` when the next use of ``path``'s kernels compiles them, else None."""
    if is_warm(path):
        return None
    return (f"compiling the {WHAT[path]} (first run only, ~{COMPILE_SECONDS[path]} s; "
            f"cached in {cache_dir()})...")

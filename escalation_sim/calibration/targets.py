"""Calibration targets and parameter priors: the file format, its loader and its checks.

A target file (TOML; format in ``docs/calibration-abc.md``; the shipped one is
``escalation_sim/calibration/data/crisis-record.toml``) holds one table per target under ``[targets]``.
Each target names the model output it maps to, its role, its sample size, its source, and either a
categorical distribution (``shares``, optionally ``counts``) or a scalar (``value`` and ``se``).

Which outputs exist, and which categories they have, is not known here: the caller passes
``known_outputs``, a mapping from output name to its tuple of categories (a categorical output) or to
``None`` (a scalar output). So the model declares its own outputs, and a file that names an output the
model does not have is refused.

Parameter priors are uniform on a box: ``[parameters.NAME]`` tables with ``low`` and ``high``, in the
same file or in a file of their own.

Every problem raises :class:`CalibrationError` with the file, the field and what is allowed, in the
project's style ``file: field: what is allowed``; nothing is read half-way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..io.toml import read_toml as _read_toml

ROLES = ("fit", "check", "info")
"""``fit``: in the distance; ``check``: held out, compared with the posterior predictive distribution;
``info``: recorded for the reader only (e.g. a share the model has no output for)."""

DEFAULT_TOLERANCE = 0.005
FORMAT_VERSION = 1

KnownOutputs = Mapping[str, Sequence[str] | None]
"""Output name -> its categories in the model's order (categorical output) or None (scalar output)."""

_TOP_KEYS = ("format", "format_version", "tolerance", "targets", "parameters")
_TARGET_KEYS = (
    "description", "output", "role", "n", "shares", "counts", "partial", "excluded_share",
    "value", "se", "interval", "notes", "source",
)
_SOURCE_REQUIRED = ("dataset", "version", "unit", "codebook")
_SOURCE_OPTIONAL = ("variable", "reference", "url", "note")
_PRIOR_KEYS = ("low", "high", "description")


class CalibrationError(Exception):
    """A problem with a calibration input: ``file: field: what is allowed``.

    Attributes ``source`` (file name), ``field`` (dotted field) and ``message`` (what is allowed) are
    kept apart so that a CLI can print them and exit with code 2.
    """

    def __init__(self, source: str, field_: str, message: str):
        self.source = str(source)
        self.field = field_
        self.message = message
        super().__init__(f"{self.source}: {field_}: {message}" if field_ else f"{self.source}: {message}")


@dataclass(frozen=True)
class Source:
    """Where a target comes from."""

    dataset: str
    version: str
    unit: str
    codebook: str
    variable: str = ""
    reference: str = ""
    url: str = ""
    note: str = ""


@dataclass(frozen=True)
class Target:
    """One calibration target.

    ``kind`` is ``"categorical"`` (``categories`` and ``shares`` as printed in the file, optionally
    ``counts``) or ``"scalar"`` (``value``, ``se``). ``n`` is the sample size as the source gives it;
    :attr:`n_effective` is the number of cases behind the distribution the distance uses.
    """

    name: str
    output: str
    role: str
    n: int
    source: Source
    kind: str
    categories: tuple[str, ...] = ()
    shares: tuple[float, ...] = ()
    counts: tuple[int, ...] | None = None
    partial: bool = False
    excluded_share: float = 0.0
    value: float | None = None
    se: float | None = None
    interval: tuple[float, float] | None = None
    description: str = ""
    notes: str = ""

    @property
    def n_effective(self) -> int:
        """Cases behind the distribution used in the distance.

        With counts: their sum (plus the rest, for a partial target). Without: ``n`` less the excluded
        share, rounded.
        """
        if self.kind == "scalar" or self.partial:
            return self.n
        if self.counts is not None:
            return int(sum(self.counts))
        return max(1, int(round(self.n * (1.0 - self.excluded_share))))

    def observed(self) -> np.ndarray:
        """The observed distribution the distance compares with, summing to 1.

        For a full target: over ``categories`` (counts / their sum, or the shares renormalised, which
        drops the excluded remainder and the rounding residue). For a partial target: the listed
        categories followed by one ``rest`` cell. For a scalar: ``[value]``.
        """
        if self.kind == "scalar":
            return np.array([self.value], dtype=float)
        if self.partial:
            listed = (np.asarray(self.counts, float) / self.n if self.counts is not None
                      else np.asarray(self.shares, float))
            return np.append(listed, max(0.0, 1.0 - float(listed.sum())))
        v = np.asarray(self.counts if self.counts is not None else self.shares, dtype=float)
        return v / v.sum()

    def cells(self) -> tuple[str, ...]:
        """Labels of :meth:`observed`'s cells."""
        if self.kind == "scalar":
            return ("value",)
        return self.categories + (("rest",) if self.partial else ())


@dataclass(frozen=True)
class Prior:
    """A uniform prior on ``[low, high]``."""

    name: str
    low: float
    high: float
    description: str = ""


@dataclass(frozen=True)
class TargetSet:
    """The targets of one file, after validation."""

    path: str
    targets: tuple[Target, ...]
    tolerance: float = DEFAULT_TOLERANCE
    priors: tuple[Prior, ...] = field(default=())

    def by_role(self, role: str) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if t.role == role)

    @property
    def fit(self) -> tuple[Target, ...]:
        return self.by_role("fit")

    @property
    def check(self) -> tuple[Target, ...]:
        return self.by_role("check")

    @property
    def info(self) -> tuple[Target, ...]:
        return self.by_role("info")

    def get(self, name: str) -> Target:
        for t in self.targets:
            if t.name == name:
                return t
        raise KeyError(name)


# --- reading --------------------------------------------------------------------------------------------


def default_targets_path() -> Path:
    """The shipped target file (ICB v14 and MID 5.0 aggregates)."""
    return Path(str(resources.files("escalation_sim.calibration") / "data" / "crisis-record.toml"))


#: Posteriors shipped with the package, by the name experiment files and ``run --posterior`` use.
SHIPPED_POSTERIORS = {"crisis-record": "posterior-crisis-record.csv"}


def posterior_file(name_or_path: str | Path, relative_to: str | Path | None = None) -> Path:
    """The file of a posterior: a shipped one by name (:data:`SHIPPED_POSTERIORS`), else a path (relative to the
    directory of ``relative_to``, a file, when given and the path is relative)."""
    text = str(name_or_path)
    if text in SHIPPED_POSTERIORS:
        return Path(str(resources.files("escalation_sim.calibration") / "data" / SHIPPED_POSTERIORS[text]))
    path = Path(text)
    if relative_to is not None and not path.is_absolute():
        path = Path(relative_to).parent / path
    return path


def read_toml(path: str | Path) -> dict:
    """Read a TOML file (:func:`escalation_sim.io.toml.read_toml`); its errors become :class:`CalibrationError`."""
    try:
        return _read_toml(path)
    except ConfigError as exc:
        raise CalibrationError(exc.source, exc.field, exc.message) from None


def load_targets(path: str | Path, known_outputs: KnownOutputs, *, roles: Mapping[str, str] | None = None,
                 known_parameters: Sequence[str] | None = None) -> TargetSet:
    """Load and validate a target file.

    Parameters
    ----------
    path : str or Path
        The TOML file.
    known_outputs : mapping
        Output name -> categories (tuple of str, in the order the simulator returns them) or ``None``
        for a scalar output. ``fit`` and ``check`` targets must name one of these outputs and use its
        categories; ``info`` targets are checked for form only.
    roles : mapping, optional
        ``target name -> role`` overrides (e.g. fit MID and hold out ICB).
    known_parameters : sequence of str, optional
        If given, priors in the file must name one of these parameters.

    Raises
    ------
    CalibrationError
        With the file, the field and what is allowed.
    """
    return parse_targets(read_toml(path), str(path), known_outputs, roles=roles, known_parameters=known_parameters)


def load_priors(path: str | Path, known_parameters: Sequence[str] | None = None) -> tuple[Prior, ...]:
    """Load the ``[parameters]`` tables of a file (other top-level tables are ignored)."""
    data = read_toml(path)
    if "parameters" not in data:
        raise CalibrationError(str(path), "parameters", "missing; allowed: [parameters.NAME] tables with low and high")
    return parse_priors(data["parameters"], str(path), known_parameters)


# --- validation -------------------------------------------------------------------------------------------


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(float(v))


def _str_field(src: str, key: str, v: Any, *, required: bool = True) -> str:
    if v is None:
        if required:
            raise CalibrationError(src, key, "missing; allowed: a non-empty string")
        return ""
    if not isinstance(v, str) or (required and not v.strip()):
        raise CalibrationError(src, key, f"got {v!r}; allowed: a non-empty string")
    return v


def parse_priors(table: Any, source: str, known_parameters: Sequence[str] | None = None) -> tuple[Prior, ...]:
    """Validate ``[parameters]``: each ``NAME = {low, high[, description]}`` with finite ``low < high``."""
    if not isinstance(table, dict) or not table:
        raise CalibrationError(source, "parameters", "allowed: a non-empty set of [parameters.NAME] tables")
    known = list(known_parameters) if known_parameters is not None else None
    priors = []
    for name, spec in table.items():
        key = f"parameters.{name}"
        if known is not None and name not in known:
            raise CalibrationError(source, key, f"unknown parameter; allowed: {', '.join(known)}")
        if not isinstance(spec, dict):
            raise CalibrationError(source, key, "allowed: a table with low and high (a uniform prior on [low, high])")
        extra = sorted(set(spec) - set(_PRIOR_KEYS))
        if extra:
            raise CalibrationError(source, f"{key}.{extra[0]}", f"unknown field; allowed: {', '.join(_PRIOR_KEYS)}")
        for bound in ("low", "high"):
            if bound not in spec:
                raise CalibrationError(source, f"{key}.{bound}",
                                       "missing; allowed: a finite number (the prior is uniform on [low, high])")
            if not _is_number(spec[bound]):
                raise CalibrationError(source, f"{key}.{bound}", f"got {spec[bound]!r}; allowed: a finite number")
        lo, hi = float(spec["low"]), float(spec["high"])
        if not lo < hi:
            raise CalibrationError(source, f"{key}.high", f"got {hi:g}; allowed: a number greater than low ({lo:g})")
        priors.append(Prior(name, lo, hi, _str_field(source, f"{key}.description", spec.get("description"), required=False)))
    return tuple(priors)


def _parse_source(src: str, key: str, v: Any) -> Source:
    need = ", ".join(_SOURCE_REQUIRED)
    if v is None:
        raise CalibrationError(src, key, f"missing; allowed: a table with {need} (and optionally {', '.join(_SOURCE_OPTIONAL)})")
    if not isinstance(v, dict):
        raise CalibrationError(src, key, f"allowed: a table with {need}")
    extra = sorted(set(v) - set(_SOURCE_REQUIRED) - set(_SOURCE_OPTIONAL))
    if extra:
        raise CalibrationError(src, f"{key}.{extra[0]}",
                               f"unknown field; allowed: {', '.join(_SOURCE_REQUIRED + _SOURCE_OPTIONAL)}")
    values = {k: _str_field(src, f"{key}.{k}", v.get(k)) for k in _SOURCE_REQUIRED}
    values.update({k: _str_field(src, f"{key}.{k}", v.get(k), required=False) for k in _SOURCE_OPTIONAL})
    return Source(**values)


def _parse_target(src: str, name: str, spec: Any, tol: float, known_outputs: KnownOutputs,
                  role_override: str | None) -> Target:
    key = f"targets.{name}"
    if not isinstance(spec, dict):
        raise CalibrationError(src, key, "allowed: a table (output, role, n, source, and shares or value)")
    extra = sorted(set(spec) - set(_TARGET_KEYS))
    if extra:
        raise CalibrationError(src, f"{key}.{extra[0]}", f"unknown field; allowed: {', '.join(_TARGET_KEYS)}")

    role = role_override if role_override is not None else spec.get("role")
    if role is None:
        raise CalibrationError(src, f"{key}.role", f"missing; allowed: {', '.join(ROLES)}")
    if role not in ROLES:
        raise CalibrationError(src, f"{key}.role", f"got {role!r}; allowed: {', '.join(ROLES)}")

    output = _str_field(src, f"{key}.output", spec.get("output"))
    checked = role != "info"
    if checked and output not in known_outputs:
        allowed = ", ".join(sorted(known_outputs)) or "none (the model declares no outputs)"
        raise CalibrationError(src, f"{key}.output", f"unknown output {output!r}; allowed: {allowed}")
    model_cats = known_outputs.get(output) if checked else None

    n = spec.get("n")
    if n is None:
        raise CalibrationError(src, f"{key}.n", "missing; allowed: a positive integer (the number of cases)")
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise CalibrationError(src, f"{key}.n", f"got {n!r}; allowed: a positive integer (the number of cases)")

    source = _parse_source(src, f"{key}.source", spec.get("source"))
    description = _str_field(src, f"{key}.description", spec.get("description"), required=False)
    notes = _str_field(src, f"{key}.notes", spec.get("notes"), required=False)

    has_shares, has_value = "shares" in spec, "value" in spec
    if has_shares == has_value:
        raise CalibrationError(src, key, "give either shares (a categorical distribution) or value and se (a scalar), not "
                               + ("both" if has_shares else "neither"))

    if has_value:
        for k in ("counts", "partial", "excluded_share"):
            if k in spec:
                raise CalibrationError(src, f"{key}.{k}", "allowed only with shares, not with value")
        if checked and model_cats is not None:
            raise CalibrationError(src, f"{key}.value",
                                   f"output {output!r} is categorical ({', '.join(model_cats)}); allowed: shares")
        value = spec["value"]
        if not _is_number(value):
            raise CalibrationError(src, f"{key}.value", f"got {value!r}; allowed: a finite number")
        se = spec.get("se")
        if se is None:
            raise CalibrationError(src, f"{key}.se", "missing; allowed: a positive number (standard error of value)")
        if not _is_number(se) or se <= 0:
            raise CalibrationError(src, f"{key}.se", f"got {se!r}; allowed: a positive number (standard error of value)")
        interval = spec.get("interval")
        if interval is not None:
            if (not isinstance(interval, list) or len(interval) != 2 or not all(_is_number(x) for x in interval)
                    or not interval[0] <= value <= interval[1]):
                raise CalibrationError(src, f"{key}.interval",
                                       f"got {interval!r}; allowed: [low, high] with low <= value <= high")
            interval = (float(interval[0]), float(interval[1]))
        return Target(name=name, output=output, role=role, n=n, source=source, kind="scalar", value=float(value),
                      se=float(se), interval=interval, description=description, notes=notes)

    if checked and output in known_outputs and model_cats is None:
        raise CalibrationError(src, f"{key}.shares", f"output {output!r} is a scalar; allowed: value and se")
    if "se" in spec or "interval" in spec:
        bad = "se" if "se" in spec else "interval"
        raise CalibrationError(src, f"{key}.{bad}", "allowed only with value, not with shares")
    shares = spec["shares"]
    if not isinstance(shares, dict) or not shares:
        raise CalibrationError(src, f"{key}.shares", "allowed: a table {category = share, ...} with at least one category")
    partial = spec.get("partial", False)
    if not isinstance(partial, bool):
        raise CalibrationError(src, f"{key}.partial", f"got {partial!r}; allowed: true or false")
    cats = tuple(shares)
    for c, s in shares.items():
        if not _is_number(s) or not 0.0 <= float(s) <= 1.0:
            raise CalibrationError(src, f"{key}.shares.{c}", f"got {s!r}; allowed: a share in [0, 1]")
    if model_cats is not None:
        unknown = [c for c in cats if c not in model_cats]
        if unknown:
            raise CalibrationError(src, f"{key}.shares.{unknown[0]}",
                                   f"unknown category of output {output!r}; allowed: {', '.join(model_cats)}")
        missing = [c for c in model_cats if c not in cats]
        if missing and not partial:
            raise CalibrationError(src, f"{key}.shares", f"missing categories of output {output!r}: {', '.join(missing)};"
                                   " allowed: all of its categories, or partial = true")
    vals = np.array([float(shares[c]) for c in cats])
    excluded = spec.get("excluded_share", 0.0)
    if not _is_number(excluded) or not 0.0 <= float(excluded) < 1.0:
        raise CalibrationError(src, f"{key}.excluded_share", f"got {excluded!r}; allowed: a share in [0, 1)")
    excluded = float(excluded)
    total = float(vals.sum())
    if partial:
        if excluded:
            raise CalibrationError(src, f"{key}.excluded_share", "not allowed with partial = true (the rest is one cell)")
        if total > 1.0 + tol:
            raise CalibrationError(src, f"{key}.shares", f"sum to {total:.4f}; allowed: at most 1 (+ tolerance {tol:g})")
    elif abs(total + excluded - 1.0) > tol:
        what = f"shares sum to {total:.4f}" + (f" and excluded_share is {excluded:.4f}" if excluded else "")
        raise CalibrationError(src, f"{key}.shares", f"{what}; allowed: a total of 1 within tolerance {tol:g}"
                               " (give excluded_share for cases outside the listed categories)")

    counts = spec.get("counts")
    if counts is not None:
        if not isinstance(counts, dict) or tuple(counts) != cats:
            raise CalibrationError(src, f"{key}.counts", f"allowed: a table with the categories of shares, in the same order ({', '.join(cats)})")
        for c, k in counts.items():
            if not isinstance(k, int) or isinstance(k, bool) or k < 0:
                raise CalibrationError(src, f"{key}.counts.{c}", f"got {k!r}; allowed: a non-negative integer")
        counts_t = tuple(int(counts[c]) for c in cats)
        if sum(counts_t) > n:
            raise CalibrationError(src, f"{key}.counts", f"sum to {sum(counts_t)}; allowed: at most n = {n}")
        if sum(counts_t) == 0:
            raise CalibrationError(src, f"{key}.counts", "sum to 0; allowed: at least one case")
        for c, k in zip(cats, counts_t, strict=True):
            if abs(k / n - float(shares[c])) > tol:
                raise CalibrationError(src, f"{key}.counts.{c}",
                                       f"{k} / {n} = {k / n:.4f} disagrees with the share {float(shares[c]):g};"
                                       f" allowed: within tolerance {tol:g}")
    else:
        counts_t = None
    return Target(name=name, output=output, role=role, n=n, source=source, kind="categorical", categories=cats,
                  shares=tuple(float(x) for x in vals), counts=counts_t, partial=partial, excluded_share=excluded,
                  description=description, notes=notes)


def parse_targets(data: dict, source: str, known_outputs: KnownOutputs, *, roles: Mapping[str, str] | None = None,
                  known_parameters: Sequence[str] | None = None) -> TargetSet:
    """Validate the contents of a target file (see :func:`load_targets`)."""
    if not isinstance(data, dict):
        raise CalibrationError(source, "", "allowed: a TOML document with [targets.NAME] tables")
    extra = sorted(set(data) - set(_TOP_KEYS))
    if extra:
        raise CalibrationError(source, extra[0], f"unknown field; allowed: {', '.join(_TOP_KEYS)}")
    version = data.get("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise CalibrationError(source, "format_version", f"got {version!r}; allowed: {FORMAT_VERSION}")
    tol = data.get("tolerance", DEFAULT_TOLERANCE)
    if not _is_number(tol) or not 0.0 < float(tol) <= 0.05:
        raise CalibrationError(source, "tolerance", f"got {tol!r}; allowed: a number in (0, 0.05]")
    tol = float(tol)
    table = data.get("targets")
    if not isinstance(table, dict) or not table:
        raise CalibrationError(source, "targets", "missing or empty; allowed: one or more [targets.NAME] tables")
    roles = dict(roles or {})
    for name, role in roles.items():
        if name not in table:
            raise CalibrationError(source, f"targets.{name}", f"role given for an unknown target; allowed: {', '.join(table)}")
        if role not in ROLES:
            raise CalibrationError(source, f"targets.{name}.role", f"got {role!r}; allowed: {', '.join(ROLES)}")
    targets = tuple(_parse_target(source, name, spec, tol, known_outputs, roles.get(name)) for name, spec in table.items())
    priors = parse_priors(data["parameters"], source, known_parameters) if "parameters" in data else ()
    return TargetSet(path=source, targets=targets, tolerance=tol, priors=priors)


"""One calibration run end to end: validate every input, run ABC-SMC, check, write the files.

Order matters for the project's rule "bad input: file: field: what is allowed, nothing written":
targets, priors, configuration and the output directory are all checked before the first simulation,
and the files are written only at the end, all at once (:func:`.report.write_files`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .abc import ABCConfig, ABCResult, Simulator, run_abc_smc
from .distance import Distance
from .parallel import MapBatches
from .report import predictive_check, run_files, write_files
from .targets import CalibrationError, KnownOutputs, Prior, TargetSet, load_priors, load_targets, parse_priors


@dataclass
class CalibrationRun:
    """What :func:`calibrate` returns."""

    result: ABCResult
    targets: TargetSet
    cells: pd.DataFrame
    summary: pd.DataFrame
    files: list[Path]


def resolve_priors(priors: Sequence[Prior] | Mapping | str | Path | None, targets: TargetSet,
                   known_parameters: Sequence[str] | None = None) -> tuple[Prior, ...]:
    """Priors from a sequence of :class:`Prior`, a ``{name: {low, high}}`` mapping, a TOML file, or the target file."""
    if priors is None:
        if not targets.priors:
            raise CalibrationError(targets.path, "parameters",
                                   "missing; allowed: [parameters.NAME] tables with low and high, or priors passed separately")
        return targets.priors
    if isinstance(priors, str | Path):
        return load_priors(priors, known_parameters)
    if isinstance(priors, Mapping):
        return parse_priors(dict(priors), "priors", known_parameters)
    out = tuple(priors)
    if not out:
        raise CalibrationError("priors", "parameters", "empty; allowed: one or more priors with low and high")
    return parse_priors({p.name: {"low": p.low, "high": p.high, "description": p.description} for p in out},
                        "priors", known_parameters)


def calibrate(simulate: Simulator, known_outputs: KnownOutputs, targets: TargetSet | str | Path,
              out: str | Path | None, config: ABCConfig, *, priors: Sequence[Prior] | Mapping | str | Path | None = None,
              roles: Mapping[str, str] | None = None, known_parameters: Sequence[str] | None = None,
              map_batches: MapBatches | None = None, force: bool = False, truth: Sequence[float] | None = None,
              command: str | None = None, figures: bool = True, manifest_extra: Mapping | None = None,
              progress=None) -> CalibrationRun:
    """Calibrate: targets + priors + simulator -> weighted posterior, check, report, files in ``out``.

    Raises :class:`CalibrationError` (file, field, what is allowed) for any bad input, before anything
    runs or is written. With ``out = None`` nothing is written; the tables are in the returned object.
    """
    if isinstance(targets, TargetSet) and roles:
        raise ValueError("roles apply when the targets are loaded: pass the file, or load it with load_targets(roles=...)")
    ts = targets if isinstance(targets, TargetSet) else load_targets(targets, known_outputs, roles=roles,
                                                                     known_parameters=known_parameters)
    pri = resolve_priors(priors, ts, known_parameters)
    config.validate()
    if out is not None:
        o = Path(out)
        if o.exists() and (not o.is_dir() or (any(o.iterdir()) and not force)):
            raise CalibrationError(str(o), "", "already holds results; allowed: an empty or new directory, or force")
    if not ts.fit:
        raise CalibrationError(ts.path, "targets", "no target has role fit; allowed: at least one fit target")
    distance = Distance(ts, known_outputs, replications=config.replications)
    result = run_abc_smc(simulate, pri, distance, config, map_batches=map_batches, progress=progress)
    cells, summary = predictive_check(result, simulate, ts, known_outputs, map_batches=map_batches)
    written: list[Path] = []
    if out is not None:
        files = run_files(result, ts, cells, summary, manifest_extra=manifest_extra, truth=truth, command=command,
                          figures=figures)
        written = write_files(files, Path(out), force=force)
    return CalibrationRun(result, ts, cells, summary, written)


__all__ = ["calibrate", "CalibrationRun", "resolve_priors"]

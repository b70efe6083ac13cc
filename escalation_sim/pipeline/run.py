"""The run pipeline: one call runs (or resumes) an experiment and writes its results.

:func:`execute_run` is what ``escalation-sim run``, ``tournament`` and
``sweep`` do, and what :func:`escalation_sim.run` does from Python. It is the
one place that tells the two forms apart: a crisis experiment runs through the
scheduler (:mod:`.schedule`: executors, checkpoints, shards, resume, the
sequential stop); an experiment of the iterated prisoner's dilemma runs its
matches in process (:mod:`escalation_sim.ipd.run`). Either way the directory is
claimed before anything runs, the manifest records the run from start to end
(:class:`~escalation_sim.io.manifest.Manifest`), and the tables, figures and
``report.md`` are written when it is complete.

Messages go to ``log`` (a callable taking a line; the CLI prints them to
stderr), progress to ``on_progress(done, total, unit)``; both default to
nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .._cache import compile_notice, mark_warm, source_hash
from .._version import __version__
from ..engines import montecarlo as mc
from ..errors import OptionError, RunInterrupted
from ..io.experiment_file import NAME_RE
from ..io.files import atomic_write_bytes, prepare_run_dir, sha256_file, write_table
from ..io.manifest import MANIFEST, Manifest
from ..ipd import montecarlo as ipd_mc
from ..ipd import run as ipd_run
from ..report.run_report import write_report
from ..report.terminal import summary_table
from ..scale.rundir import RunDir
from .experiment import Experiment, config_hash
from .schedule import make_executor, run_cells
from .settings import RunSettings
from .summary import summarize

#: ``extra_outputs(out_dir, cells, outcomes, manifest) -> [paths]``: figures, tables and report sections of an
#: analysis, written after the run's own (escalation_sim/analysis/hooks.py chooses them).
ExtraOutputs = Callable[[Path, pd.DataFrame, pd.DataFrame, dict], list[Path]]
TABLES = ["cells.parquet", "cells.csv", "outcomes.parquet", "outcomes.csv"]


@dataclass
class RunResult:
    """What a run produced: its directory, manifest and tables.

    ``cells``: one row per cell. ``outcomes`` (crisis experiments): every
    outcome per cell and challenger motive. ``standings`` (IPD experiments):
    the round-robin ranking. A shard writes no tables: ``shard_file`` holds its
    blocks, for ``merge``. ``text`` is the summary printed on a terminal.
    """

    directory: Path
    manifest: dict
    cells: pd.DataFrame | None = None
    outcomes: pd.DataFrame | None = None
    standings: pd.DataFrame | None = None
    replications: int = 0
    seconds: float = 0.0
    shard_file: Path | None = None
    text: str = field(default="", repr=False)


def _nothing(*_args) -> None:
    """The default of ``log`` and ``on_progress``."""


def execute_run(
    experiment,
    settings: RunSettings,
    *,
    experiment_file: str | Path | None = None,
    out: Path | None = None,
    force: bool = False,
    extra_outputs: ExtraOutputs | None = None,
    executor=None,
    on_progress: Callable[[int, int, str], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> RunResult:
    """Run (or resume) ``experiment`` with ``settings`` and write its results.

    Parameters
    ----------
    experiment : Experiment or IPDExperiment
        From :func:`escalation_sim.pipeline.experiment.load_experiment`.
    settings : RunSettings
        From :func:`escalation_sim.pipeline.settings.resolve_settings`.
    experiment_file : path, optional
        Recorded in the manifest (default: the experiment's source).
    out : path, optional
        Results directory [default: ``results/<experiment>/<run-id>``].
    force : bool
        Replace what ``out`` holds.
    extra_outputs : callable, optional
        An analysis's figures and tables, written after the run's (crisis experiments).
    executor : optional
        Where blocks run (crisis experiments), instead of the one ``settings`` ask
        for; the caller closes it.
    on_progress, log : callable, optional
        Progress ``(done, total, unit)`` and messages.

    Raises
    ------
    RunMismatch, ResultsExistError, SchedulerError
        Before anything is run (the directory is left as it was).
    RunInterrupted
        On Ctrl-C, after recording it in the manifest.
    """
    log = log or _nothing
    on_progress = on_progress or _nothing
    source = experiment.source if experiment_file is None else experiment_file
    if experiment.form == "ipd":
        return _execute_ipd(experiment, settings, source, out, force, on_progress, log)
    return _execute_crisis(experiment, settings, source, out, force, extra_outputs, executor, on_progress, log)


def default_directory(name: str, chash: str, settings: RunSettings) -> Path:
    """``results/<experiment>/<config hash>-seed<S>-n<N>[-hw<target>]``, always inside ``results/``."""
    if not NAME_RE.match(name) or ".." in name:
        raise OptionError(f"experiment name {name!r} is not a plain name: results would be written outside results/; "
                          "give --out")
    hw = settings.target_halfwidth
    return Path("results") / name / (f"{chash[:10]}-seed{settings.seed}-n{settings.replications}"
                                     + (f"-hw{hw:g}" if hw else ""))


def run_manifest_fields(exp: Experiment, experiment_file, ident: dict, settings: RunSettings) -> dict:
    """What a crisis run's manifest records before its provenance: the experiment, identity, settings, cells."""
    return {
        "experiment": exp.name,
        "experiment_file": str(experiment_file),
        **ident,
        "threads": settings.threads,
        "backend": settings.backend,
        "shard": list(settings.shard) if settings.sharded else None,
        "generator": mc.GENERATOR,
        "common_random_numbers": "every cell uses the streams of (seed, replication)",
        "ci_method": "wilson",
        "cells": [
            {"index": c.index, "label": c.label, "overrides": c.overrides, "name": c.scenario.name,
             "values": c.scenario.values, "mixes": [[list(m.strategies), m.weight] for m in c.scenario.mixes]}
            for c in exp.cells
        ],
        "config": exp.raw,
    }


def write_presentation(out_dir: Path, cells: pd.DataFrame, outcomes: pd.DataFrame, manifest: dict,
                       extra_outputs: ExtraOutputs | None = None) -> list[str]:
    """Figures and report.md of a finished crisis run, then an analysis's outputs; their paths relative to ``out_dir``."""
    written = write_report(out_dir, cells, outcomes, manifest)
    if extra_outputs is not None:
        written += extra_outputs(out_dir, cells, outcomes, manifest)
    return [str(Path(p).relative_to(out_dir)) for p in written]


def _execute_crisis(exp, settings, experiment_file, out, force, extra_outputs, executor, on_progress, log) -> RunResult:
    chash = config_hash(exp, settings.block_size)
    out_dir = Path(out) if out is not None else default_directory(exp.name, chash, settings)
    rd = RunDir(out_dir, settings.shard)
    ident = {"config_hash": chash, "seed": settings.seed, "replications_requested": settings.replications,
             "block_size": settings.block_size, "target_halfwidth": settings.target_halfwidth,
             "model_source_hash": source_hash()}
    note = rd.lock()
    try:
        if note:
            log(f"warning: {out_dir}: {note}")
        return _run_locked(exp, settings, experiment_file, rd, ident, force, extra_outputs, executor, on_progress, log)
    finally:
        rd.unlock()


def _run_locked(exp, settings, experiment_file, rd, ident, force, extra_outputs, executor, on_progress, log) -> RunResult:
    out_dir = rd.path
    resumed = rd.claim(ident, force)
    rd.expect_blocks(ident, [c.scenario.value("crisis.horizon") for c in exp.cells])
    own_executor = executor is None
    if own_executor:
        executor = make_executor(settings)
    try:
        manifest = rd.start_manifest(run_manifest_fields(exp, experiment_file, ident, settings), resumed)
        i, n_shards = settings.shard
        t0 = time.perf_counter()
        try:
            totals = rd.load_totals(log) if resumed else None
            if rd.quarantined:
                manifest["quarantined"] = manifest.get("quarantined", []) + rd.quarantined
                manifest.write()
            done = sum(tot.n for tot in totals) if totals else 0
            log(f"escalation-sim {__version__}: {exp.name}, {len(exp.cells)} cells x {settings.replications:,} replications, "
                f"seed {settings.seed}, " + (f"{settings.threads} threads" if settings.backend == "threads" else "dask")
                + (f", shard {i}/{n_shards}" if settings.sharded else "") + f" -> {out_dir}"
                + (f"; resuming: {done:,} replications (all cells) already done" if resumed else ""))
            total = settings.replications * len(exp.cells)
            notice = compile_notice()
            if notice:
                log(notice)
            mc.warm_up()
            mark_warm("crisis")
            on_progress(done, total, "replications")

            def on_result(cell: int, res: mc.BlockResults, n_total: int) -> None:
                nonlocal done
                rd.save_chunk(cell, res, n_total)
                done += int(res.counts.sum())
                on_progress(done, total, "replications")

            scheduled = run_cells([c.scenario for c in exp.cells], settings, executor, totals=totals,
                                  on_result=on_result, log=log)
        except KeyboardInterrupt:
            manifest.finish("interrupted")
            raise RunInterrupted("interrupted; finished blocks are kept: run the same command again to resume") from None
    finally:
        if own_executor:
            executor.close()
    seconds = time.perf_counter() - t0
    n = scheduled.replications
    if settings.sharded:
        path, sha = rd.write_shard(scheduled.totals)
        manifest.finish("complete", replications=n, stop_rule=scheduled.stop_rule, seconds=round(seconds, 3),
                        files=[path.name], checksums={path.name: "sha256:" + sha})
        log(f"shard {i}/{n_shards} complete: {path}; run 'escalation-sim merge {out_dir}' when every shard is done")
        return RunResult(out_dir, manifest, replications=n, seconds=seconds, shard_file=path)
    cells, outcomes = summarize(exp.cells, scheduled.totals)
    write_table(cells, out_dir, "cells")
    write_table(outcomes, out_dir, "outcomes")
    manifest.update(replications=n, stop_rule=scheduled.stop_rule, seconds=round(seconds, 3))
    files = TABLES + write_presentation(out_dir, cells, outcomes, manifest, extra_outputs)
    manifest.finish("complete", files=files, checksums=file_checksums(out_dir, TABLES))
    return RunResult(out_dir, manifest, cells, outcomes, replications=n, seconds=seconds,
                     text=summary_table(cells, n, seconds))


def file_checksums(directory: Path, names) -> dict[str, str]:
    """``{name: "sha256:<hex>"}`` of files of a results directory (recorded in its manifest)."""
    return {name: "sha256:" + sha256_file(directory / name) for name in names}


def _execute_ipd(exp, settings, experiment_file, out, force, on_progress, log) -> RunResult:
    chash = ipd_run.config_hash(exp, settings.block_size)
    out_dir = Path(out) if out is not None else default_directory(exp.name, chash, settings)
    prepare_run_dir(out_dir, force)
    manifest = Manifest.new(out_dir / MANIFEST, ipd_run.manifest_fields(exp, experiment_file, chash, settings,
                                                                         source_hash()))
    manifest.write()
    log(f"escalation-sim {__version__}: {exp.name} (IPD), {len(exp.cells)} cells x {settings.replications:,} matches, "
        f"seed {settings.seed}, {settings.threads} threads -> {out_dir}")
    t0 = time.perf_counter()
    try:
        notice = compile_notice("ipd")
        if notice:
            log(notice)
        ipd_mc.warm_up()
        mark_warm("ipd")
        on_progress(0, len(exp.cells), "cells")
        cells, standings = ipd_run.play(exp, settings.replications, settings.seed, settings.block_size,
                                        settings.threads, on_cell=lambda i: on_progress(i + 1, len(exp.cells), "cells"))
    except KeyboardInterrupt:
        manifest.finish("interrupted")
        raise RunInterrupted(ipd_run.INTERRUPTED) from None
    seconds = time.perf_counter() - t0
    files = [p.name for p in write_table(cells, out_dir, "cells")]
    files += [p.name for p in write_table(standings, out_dir, "standings")]
    manifest.update(seconds=round(seconds, 3))
    atomic_write_bytes(out_dir / "report.md", ipd_run.report_markdown(cells, standings, manifest).encode())
    manifest.finish("complete", files=[*files, "report.md"])
    return RunResult(out_dir, manifest, cells, standings=standings, replications=settings.replications,
                     seconds=seconds, text=ipd_run.summary_text(standings, settings.replications, seconds))

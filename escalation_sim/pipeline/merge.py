"""Merge the shards of a run into its tables: checked, reduced exactly, bit-identical to a one-process run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..engines.montecarlo import n_blocks
from ..errors import DamagedFile, MergeError
from ..io.files import write_table
from ..io.manifest import MANIFEST, Manifest
from ..io.provenance import now_iso
from ..report.terminal import summary_table
from ..scale import blocks as block_store
from ..scale.lock import DirLock
from ..scale.rundir import IDENTITY
from ..scale.shards import check_shards, shard_files
from .experiment import experiment_from_manifest
from .run import TABLES, ExtraOutputs, RunResult, file_checksums, write_presentation
from .summary import summarize

# fields of a shard's manifest that describe the shard, not the merged run
SHARD_ONLY = ("shard", "resumed", "threads", "start", "end", "seconds", "files", "checksums", "checksum", "quarantined")


def merge_shards(directory: Path, force: bool = False,
                 extra_outputs_for: Callable[[dict], ExtraOutputs | None] | None = None) -> RunResult:
    """Check and merge the shards in ``directory``; write tables, figures, report and manifest.

    Holds the directory's lock (no run or other merge works there meanwhile).
    Every shard file is verified (its bytes against the checksum in its shard
    manifest, its content, identity and invariants) before it counts. A shard
    file that fails is moved to ``blocks/quarantine/`` and its shard is marked
    ``damaged``: running that shard again rewrites it from its verified
    checkpoints (or recomputes what fails), then the merge can be repeated.

    ``extra_outputs_for(config)`` gives the figures and tables of the
    experiment's analysis from the experiment file's content (as recorded by
    the shards), as for a run.

    Raises
    ------
    MergeError
        A shard is missing, unfinished, damaged, of another run or another
        version, a block is missing or counted twice, or the shards were merged already.
    """
    directory = Path(directory)
    lock = DirLock(directory, what=str(directory))
    lock.acquire()
    try:
        return _merge(directory, force, extra_outputs_for)
    finally:
        lock.release()


def _merge(directory: Path, force: bool, extra_outputs_for) -> RunResult:
    n_shards, found = check_shards(directory, force)
    ref = found[(0, n_shards)]
    exp = experiment_from_manifest(ref, str(directory))
    horizons = tuple(c.scenario.value("crisis.horizon") for c in exp.cells)
    results: dict[int, list] = {}
    for (i, n), m in sorted(found.items()):
        path = directory / f"shard-{i}-of-{n}.parquet"
        expect = block_store.Expect({k: m.get(k) for k in IDENTITY}, (i, n), horizons)
        sha = (m.get("checksums") or {}).get(path.name, "")
        try:
            per_cell = block_store.read_shard_file(path, expect, sha.removeprefix("sha256:") or None)
        except DamagedFile as exc:
            if path.exists():
                block_store.quarantine(directory, path, exc.reason)
            shard_manifest = Manifest(directory / f"shard-{i}-of-{n}.json", m)
            shard_manifest.update(exit_status="damaged", damaged={"file": path.name, "reason": exc.reason})
            shard_manifest.write()
            raise MergeError(f"{exc}; moved aside to {directory / block_store.BLOCK_DIR / block_store.QUARANTINE}: "
                             f"run shard {i}/{n} again (the same run command with --shard {i}/{n}) to rewrite it, "
                             "then merge") from None
        for cell, res in per_cell.items():
            results.setdefault(cell, []).append(res)
    try:
        totals = block_store.totals_of({c: block_store.join(rs) for c, rs in results.items()}, len(exp.cells))
    except ValueError as exc:
        raise MergeError(f"{directory}: {exc}") from None
    nb = n_blocks(ref["replications_requested"], ref["block_size"])
    for c, tot in zip(exp.cells, totals, strict=True):
        lost = sorted(set(range(nb)) - tot.blocks_done)
        if lost:
            raise MergeError(f"{directory}: cell {c.index} ({c.label}) lacks blocks {lost[:10]}{'...' if len(lost) > 10 else ''}")
    cells, outcomes = summarize(exp.cells, totals)
    write_table(cells, directory, "cells")
    write_table(outcomes, directory, "outcomes")
    n = ref["replications_requested"]
    manifest = Manifest(directory / MANIFEST, {k: v for k, v in ref.items() if k not in SHARD_ONLY})
    manifest.update(
        shards=n_shards,
        merged_from=[p.name for p in shard_files(directory, n_shards)],
        shard_checksums={p.name: found[(i, n_shards)].get("checksums", {}).get(p.name)
                         for i, p in enumerate(shard_files(directory, n_shards))},
        shard_times=[{"shard": i, "start": found[(i, n_shards)].get("start"), "end": found[(i, n_shards)].get("end")}
                     for i in range(n_shards)],
        merged_at=now_iso(),
        replications=n,
        stop_rule={"rule": "fixed", "replications": n},
        exit_status="complete",
        files=list(TABLES),
        checksums=file_checksums(directory, TABLES),
    )
    manifest.write()
    extra = extra_outputs_for(manifest.get("config", {})) if extra_outputs_for is not None else None
    manifest["files"] += write_presentation(directory, cells, outcomes, manifest, extra)
    manifest.write()
    return RunResult(directory, manifest, cells, outcomes, replications=n,
                     text=summary_table(cells, n, 0.0).rsplit("\n", 1)[0]
                     + f"\n{n:,} replications per cell, merged from shards.")


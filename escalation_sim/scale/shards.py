"""Shards: one run split over processes or machines by blocks, and the checks before their merge.

Shard ``I/N`` runs the blocks ``b`` with ``b % N == I`` of every cell and
writes ``shard-I-of-N.{parquet,json}`` (its blocks and its manifest) into the
run's directory; :func:`escalation_sim.pipeline.merge.merge_shards` checks them
with :func:`check_shards` and reduces them exactly, so the merged tables are
bit-identical to a one-process run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import DamagedFile, MergeError, OptionError
from ..io.manifest import MANIFEST, read_manifest
from .rundir import IDENTITY, VERSIONED

SHARD_RE = re.compile(r"^shard-(\d+)-of-(\d+)\.json$")


def parse_shard(text: str | None) -> tuple[int, int]:
    """``I/N`` or ``slurm`` (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT); None is ``(0, 1)``."""
    if text is None:
        return (0, 1)
    if text == "slurm":
        try:
            offset = int(os.environ["SLURM_ARRAY_TASK_ID"]) - int(os.environ.get("SLURM_ARRAY_TASK_MIN", "0"))
            step = int(os.environ.get("SLURM_ARRAY_TASK_STEP", "1"))
            count = int(os.environ["SLURM_ARRAY_TASK_COUNT"])
        except (KeyError, ValueError):
            raise OptionError("--shard slurm: SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT must be set "
                              "(run inside a job array)") from None
        if step < 1 or offset % step:
            raise OptionError(f"--shard slurm: task offset {offset} is not a multiple of the array step {step}; "
                              "use --shard I/N")
        text = f"{offset // step}/{count}"
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise OptionError(f"--shard {text}: allowed: I/N with 0 <= I < N, or slurm") from None
    if not (n >= 1 and 0 <= i < n):
        raise OptionError(f"--shard {text}: allowed: I/N with 0 <= I < N (shard index counts from 0)")
    return (i, n)


def check_shards(directory: Path, force: bool = False) -> tuple[int, dict[tuple[int, int], dict]]:
    """The number of shards in ``directory`` and their manifests, once every check has passed.

    Every shard of one split must be there and complete, with the same
    identity (configuration hash, seed, replications, block size, target,
    model source) and library versions; a merge is not repeated without ``force``.

    Raises
    ------
    MergeError
        Naming the shard and what is wrong with it.
    """
    found = {}
    for p in sorted(directory.glob("shard-*-of-*.json")):
        mt = SHARD_RE.match(p.name)
        if mt:
            try:
                found[(int(mt.group(1)), int(mt.group(2)))] = read_manifest(p)
            except DamagedFile as exc:
                raise MergeError(f"{exc}; run shard {mt.group(1)}/{mt.group(2)} again with --force") from None
    if not found:
        raise MergeError(f"{directory}: no shard manifests (shard-I-of-N.json) to merge")
    counts = {n for _, n in found}
    n_shards = max(counts, key=lambda k: sum(1 for _, n in found if n == k))
    extra = sorted(f"shard-{i}-of-{n}" for i, n in found if n != n_shards)
    if extra:
        raise MergeError(f"{directory}: extra shards from a split into a different number of shards: "
                         f"{', '.join(extra)} (this run has {n_shards})")
    missing = sorted(set(range(n_shards)) - {i for i, _ in found})
    if missing:
        raise MergeError(f"{directory}: missing shards {', '.join(map(str, missing))} of {n_shards}")
    ref = found[(0, n_shards)]
    for key, m in sorted(found.items()):
        name = f"shard-{key[0]}-of-{key[1]}"
        if m.get("exit_status") != "complete":
            raise MergeError(f"{name} is not complete (status {m.get('exit_status')!r}): run it again to resume it")
        for field in IDENTITY:
            if m.get(field) != ref.get(field):
                raise MergeError(f"{name}: {field} is {m.get(field)!r} but shard-0-of-{n_shards} has {ref.get(field)!r}")
        for pkg in VERSIONED:
            if m.get("versions", {}).get(pkg) != ref.get("versions", {}).get(pkg):
                raise MergeError(f"{name}: {pkg} version {m['versions'].get(pkg)} differs from shard-0-of-{n_shards}'s "
                                 f"{ref['versions'].get(pkg)}")
    merged = directory / MANIFEST
    if merged.is_file() and not force:
        try:
            read_manifest(merged)
        except DamagedFile as exc:
            raise MergeError(f"{exc}; pass --force to merge again") from None
        raise MergeError(f"{merged} exists: the shards were merged already; pass --force to merge again")
    return n_shards, found


def shard_files(directory: Path, n_shards: int) -> list[Path]:
    """The block files of the shards of a split into ``n_shards``."""
    return [directory / f"shard-{i}-of-{n_shards}.parquet" for i in range(n_shards)]

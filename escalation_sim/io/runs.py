"""A run directory's life: new, resumed, replaced; shards and their merge.

Layout of ``results/<experiment>/<run-id>/``::

    manifest.json                 the run (or the merge of its shards)
    cells.{parquet,csv}           tables, written when the run is complete
    outcomes.{parquet,csv}
    blocks/*.parquet              finished blocks, checkpointed chunk by chunk
    shard-I-of-N.{parquet,json}   a shard's blocks and its manifest

Nothing finished is ever overwritten without ``--force``: a complete run is
refused, a different run in the same place is refused (naming what differs),
an unfinished run with the same identity is resumed.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd

from ..engines import montecarlo as mc
from ..model.scenario import Mix, Scenario
from . import blocks as io_blocks
from . import results as io_results
from .config import Cell, Experiment

# what makes two runs the same run; named fields first, so a mismatch says which one differs
IDENTITY = ("seed", "replications_requested", "block_size", "target_halfwidth", "model_source_hash", "config_hash")
VERSIONED = ("escalation-sim", "numpy", "numba", "python")
SHARD_RE = re.compile(r"^shard-(\d+)-of-(\d+)\.json$")


class RunMismatch(Exception):
    """The directory holds something this run must not touch."""


class MergeError(Exception):
    """Shards that cannot be merged (named)."""


class RunDir:
    """One run's (or one shard's) files in a results directory."""

    def __init__(self, path: Path, shard: tuple[int, int] = (0, 1)):
        self.path = path
        self.shard = shard
        self.sharded = shard != (0, 1)
        i, n = shard
        self.tag = f"shard{i}-of-{n}-" if self.sharded else ""
        self.manifest_path = path / (f"shard-{i}-of-{n}.json" if self.sharded else io_results.MANIFEST)
        self._created = False
        self._action = "new"

    def _read(self) -> dict | None:
        if not self.manifest_path.is_file():
            return None
        return json.loads(self.manifest_path.read_text())

    def claim(self, ident: dict, force: bool) -> bool:
        """Decide what to do with the directory; return True when resuming.

        Raises :class:`RunMismatch` (before touching anything) when the
        directory holds a complete run, a different run, or foreign files.
        """
        old = self._read()
        what = "shard" if self.sharded else "run"
        top = self.path / io_results.MANIFEST
        if self.sharded and top.is_file() and not json.loads(top.read_text()).get("shards"):
            raise RunMismatch(f"{self.path} holds a single (unsharded) run; write shards to another --out")
        if old is None:
            visible = [p for p in self.path.iterdir() if not p.name.startswith(".")] if self.path.is_dir() else []
            if not self.sharded and visible:
                shards = sorted(p.name for p in self.path.glob("shard-*-of-*.json"))
                if shards and not force:
                    raise RunMismatch(f"{self.path} holds shards ({', '.join(shards[:3])}...): merge them with 'escalation-sim merge {self.path}'")
                if not force:
                    raise RunMismatch(f"{self.path} is not empty and holds no run manifest; pass --force to replace it or choose another --out")
                self._action = "replace"
            self._prepare()
            return False
        if force:
            self._action = "replace"
            self._prepare()
            return False
        if old.get("exit_status") == "complete":
            raise RunMismatch(f"{self.manifest_path} is a complete {what}; pass --force to redo it or --out to write elsewhere")
        for key in IDENTITY:
            if old.get(key) != ident.get(key):
                raise RunMismatch(
                    f"{self.manifest_path} holds an unfinished {what} with a different {key} "
                    f"({old.get(key)!r}, this command: {ident.get(key)!r}); pass --force to discard it or choose another --out"
                )
        now = io_results.versions()
        for pkg in VERSIONED:
            if old.get("versions", {}).get(pkg) != now.get(pkg):
                raise RunMismatch(
                    f"{self.manifest_path} was started with {pkg} {old.get('versions', {}).get(pkg)}, this is {now.get(pkg)}: "
                    "blocks from both would be mixed; finish it with the original environment, or pass --force to start again"
                )
        self._action = "resume"
        self._old = old
        return True

    def _prepare(self) -> None:
        if self._action == "replace":
            if self.sharded:
                for p in [self.manifest_path, self.path / f"shard-{self.shard[0]}-of-{self.shard[1]}.parquet"]:
                    p.unlink(missing_ok=True)
                for p in (self.path / io_blocks.BLOCK_DIR).glob(f"{self.tag}cell*.parquet"):
                    p.unlink()
            else:
                shutil.rmtree(self.path)
        self._created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)

    def release_if_new(self) -> None:
        """Remove the directory again if this run created it and wrote nothing."""
        if self._created and self.path.is_dir() and not any(self.path.iterdir()):
            self.path.rmdir()

    def new_manifest(self, exp: Experiment, experiment_file, ident: dict, settings, backend: str, resumed: bool) -> dict:
        """Write (or, when resuming, update) the manifest with status ``running``."""
        manifest = {
            "experiment": exp.name,
            "experiment_file": str(experiment_file),
            **ident,
            "threads": settings.threads,
            "backend": backend,
            "shard": list(self.shard) if self.sharded else None,
            "generator": mc.GENERATOR,
            "common_random_numbers": "every cell uses the streams of (seed, replication)",
            "ci_method": "wilson",
            "cells": [
                {"index": c.index, "label": c.label, "overrides": c.overrides, "name": c.scenario.name,
                 "values": c.scenario.values, "mixes": [[list(m.strategies), m.weight] for m in c.scenario.mixes]}
                for c in exp.cells
            ],
            "config": exp.raw,
            "versions": io_results.versions(),
            "git": io_results.git_state(),
            "machine": io_results.machine(),
            "start": io_results.now_iso(),
            "resumed": [],
            "end": None,
            "exit_status": "running",
        }
        if resumed:
            manifest["start"] = self._old.get("start")
            manifest["resumed"] = [*self._old.get("resumed", []), io_results.now_iso()]
        io_results.write_json(self.manifest_path, manifest)
        return manifest

    def finish(self, manifest: dict, status: str, **extra) -> None:
        """Record the end of the run."""
        manifest.update(end=io_results.now_iso(), exit_status=status, **extra)
        io_results.write_json(self.manifest_path, manifest)

    def write_shard(self, totals: list[mc.CellTotals]) -> Path:
        """Write this shard's blocks as one Parquet file (from its checkpoints)."""
        i, n = self.shard
        files = list((self.path / io_blocks.BLOCK_DIR).glob(f"{self.tag}cell*.parquet"))
        df = io_blocks.read_blocks(files).sort_values(["cell", "block"], ignore_index=True)
        expected = sum(len(t.blocks_done) for t in totals)
        if len(df) != expected:
            raise RuntimeError(f"shard {i}/{n}: {len(df)} checkpointed blocks, {expected} run")
        path = self.path / f"shard-{i}-of-{n}.parquet"
        io_blocks.write_parquet(df, path)
        return path


def experiment_from_manifest(m: dict, source: str) -> Experiment:
    """The experiment's cells as recorded in a manifest (enough to summarize)."""
    cells = tuple(
        Cell(
            c["index"],
            c["label"],
            Scenario(name=c.get("name", m["experiment"]), values=c["values"],
                     mixes=tuple(Mix(tuple(s), w) for s, w in c["mixes"])),
            c["overrides"],
        )
        for c in m["cells"]
    )
    return Experiment(
        name=m["experiment"], source=source, scenario_path="", cells=cells,
        replications=m["replications_requested"], seed=m["seed"], block_size=m["block_size"], raw=m.get("config", {}),
    )


def merge_shards(directory: Path, force: bool = False) -> tuple[pd.DataFrame, int]:
    """Check and merge the shards in ``directory``; write tables and manifest.

    Returns the cell table and the replications per cell.
    """
    found = {}
    for p in sorted(directory.glob("shard-*-of-*.json")):
        mt = SHARD_RE.match(p.name)
        if mt:
            found[(int(mt.group(1)), int(mt.group(2)))] = json.loads(p.read_text())
    if not found:
        raise MergeError(f"{directory}: no shard manifests (shard-I-of-N.json) to merge")
    counts = {n for _, n in found}
    n_shards = max(counts, key=lambda k: sum(1 for _, n in found if n == k))
    extra = sorted(f"shard-{i}-of-{n}" for i, n in found if n != n_shards)
    if extra:
        raise MergeError(f"{directory}: extra shards from a split into a different number of shards: {', '.join(extra)} (this run has {n_shards})")
    missing = sorted(set(range(n_shards)) - {i for i, _ in found})
    if missing:
        raise MergeError(f"{directory}: missing shards {', '.join(map(str, missing))} of {n_shards}")
    ref_key = (0, n_shards)
    ref = found[ref_key]
    for key, m in sorted(found.items()):
        name = f"shard-{key[0]}-of-{key[1]}"
        if m.get("exit_status") != "complete":
            raise MergeError(f"{name} is not complete (status {m.get('exit_status')!r}): run it again to resume it")
        for field in IDENTITY:
            if m.get(field) != ref.get(field):
                raise MergeError(f"{name}: {field} is {m.get(field)!r} but shard-0-of-{n_shards} has {ref.get(field)!r}")
        for pkg in VERSIONED:
            if m["versions"].get(pkg) != ref["versions"].get(pkg):
                raise MergeError(f"{name}: {pkg} version {m['versions'].get(pkg)} differs from shard-0-of-{n_shards}'s {ref['versions'].get(pkg)}")
    merged_manifest = directory / io_results.MANIFEST
    if merged_manifest.is_file() and not force:
        raise MergeError(f"{merged_manifest} exists: the shards were merged already; pass --force to merge again")
    exp = experiment_from_manifest(ref, str(directory))
    df = io_blocks.read_blocks([directory / f"shard-{i}-of-{n_shards}.parquet" for i in range(n_shards)])
    try:
        totals = io_blocks.totals_from_frame(df, len(exp.cells))
    except ValueError as exc:
        raise MergeError(f"{directory}: {exc}") from None
    nb = mc.n_blocks(ref["replications_requested"], ref["block_size"])
    for c, tot in zip(exp.cells, totals, strict=True):
        lost = sorted(set(range(nb)) - tot.blocks_done)
        if lost:
            raise MergeError(f"{directory}: cell {c.index} ({c.label}) lacks blocks {lost[:10]}{'...' if len(lost) > 10 else ''}")
    from ..experiments.runner import summarize

    cells, outcomes = summarize(exp, totals)
    io_results.write_table(cells, directory, "cells")
    io_results.write_table(outcomes, directory, "outcomes")
    manifest = {k: v for k, v in ref.items() if k not in ("shard", "resumed", "threads", "start", "end", "seconds", "files")}
    manifest.update(
        shards=n_shards,
        merged_from=[f"shard-{i}-of-{n_shards}.parquet" for i in range(n_shards)],
        shard_times=[{"shard": i, "start": found[(i, n_shards)].get("start"), "end": found[(i, n_shards)].get("end")} for i in range(n_shards)],
        merged_at=io_results.now_iso(),
        replications=ref["replications_requested"],
        stop_rule={"rule": "fixed", "replications": ref["replications_requested"]},
        exit_status="complete",
        files=["cells.parquet", "cells.csv", "outcomes.parquet", "outcomes.csv"],
    )
    io_results.write_json(merged_manifest, manifest)
    return cells, ref["replications_requested"]

"""A run directory's life: new, resumed, replaced; its manifest; a shard's file.

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
import shutil
from pathlib import Path

from ..errors import RunMismatch
from ..io.files import write_parquet
from ..io.manifest import MANIFEST, Manifest
from ..io.provenance import now_iso, versions
from . import blocks as block_store

# what makes two runs the same run; named fields first, so a mismatch says which one differs
IDENTITY = ("seed", "replications_requested", "block_size", "target_halfwidth", "model_source_hash", "config_hash")
VERSIONED = ("escalation-sim", "numpy", "numba", "python")


class RunDir:
    """One run's (or one shard's) files in a results directory."""

    def __init__(self, path: Path, shard: tuple[int, int] = (0, 1)):
        self.path = Path(path)
        self.shard = shard
        self.sharded = shard != (0, 1)
        i, n = shard
        self.tag = f"shard{i}-of-{n}-" if self.sharded else ""
        self.manifest_path = self.path / (f"shard-{i}-of-{n}.json" if self.sharded else MANIFEST)
        self._created = False
        self._action = "new"
        self._old: dict = {}

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
        top = self.path / MANIFEST
        if self.sharded and top.is_file() and not json.loads(top.read_text()).get("shards"):
            raise RunMismatch(f"{self.path} holds a single (unsharded) run; write shards to another --out")
        if old is None:
            visible = [p for p in self.path.iterdir() if not p.name.startswith(".")] if self.path.is_dir() else []
            if not self.sharded and visible:
                shards = sorted(p.name for p in self.path.glob("shard-*-of-*.json"))
                if shards and not force:
                    raise RunMismatch(f"{self.path} holds shards ({', '.join(shards[:3])}...): merge them with "
                                      f"'escalation-sim merge {self.path}'")
                if not force:
                    raise RunMismatch(f"{self.path} is not empty and holds no run manifest; pass --force to replace it "
                                      "or choose another --out")
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
        now = versions()
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
                for p in (self.path / block_store.BLOCK_DIR).glob(f"{self.tag}cell*.parquet"):
                    p.unlink()
            else:
                shutil.rmtree(self.path)
        self._created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)

    def release_if_new(self) -> None:
        """Remove the directory again if this run created it and wrote nothing."""
        if self._created and self.path.is_dir() and not any(self.path.iterdir()):
            self.path.rmdir()

    def start_manifest(self, fields: dict, resumed: bool) -> Manifest:
        """Write the manifest with status ``running``: a new one, or, when resuming, the first start kept."""
        if resumed:
            manifest = Manifest.new(self.manifest_path, fields, start=self._old.get("start"),
                                    resumed=[*self._old.get("resumed", []), now_iso()])
        else:
            manifest = Manifest.new(self.manifest_path, fields, resumed=[])
        manifest.write()
        return manifest

    def load_totals(self, n_cells: int) -> list:
        """The totals of this run's (or shard's) checkpointed blocks."""
        return block_store.load_totals(self.path, n_cells, tag=self.tag)

    def save_chunk(self, cell: int, res) -> Path:
        """Checkpoint a chunk of finished blocks of ``cell``."""
        return block_store.save_chunk(self.path, self.tag, cell, res)

    def write_shard(self, totals: list) -> Path:
        """Write this shard's blocks as one Parquet file (from its checkpoints)."""
        i, n = self.shard
        files = list((self.path / block_store.BLOCK_DIR).glob(f"{self.tag}cell*.parquet"))
        df = block_store.read_blocks(files).sort_values(["cell", "block"], ignore_index=True)
        expected = sum(len(t.blocks_done) for t in totals)
        if len(df) != expected:
            raise RuntimeError(f"shard {i}/{n}: {len(df)} checkpointed blocks, {expected} run")
        path = self.path / f"shard-{i}-of-{n}.parquet"
        write_parquet(df, path)
        return path

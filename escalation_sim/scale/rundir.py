"""A run directory's life: locked, new, resumed, replaced; its manifest; a shard's file.

Layout of ``results/<experiment>/<run-id>/``::

    manifest.json                 the run (or the merge of its shards)
    cells.{parquet,csv}           tables, written when the run is complete
    outcomes.{parquet,csv}
    blocks/*.parquet              finished blocks, checkpointed chunk by chunk (verified when read back)
    blocks/quarantine/            block files that failed their checks, each with a .reason file
    shard-I-of-N.{parquet,json}   a shard's blocks and its manifest
    .escalation-sim.lock          held while a run or merge works here (.shard-I-of-N.lock: one shard)

Nothing finished is ever overwritten without ``--force``: a complete run is
refused, a different run in the same place is refused (naming what differs),
an unfinished run with the same identity is resumed, a damaged manifest is
named (``--force`` starts again). Two commands never work on the same files at
once (:mod:`.lock`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import DamagedFile, RunMismatch, WriteError
from ..io.files import check_writable, make_dirs, remove_dirs, write_error
from ..io.manifest import MANIFEST, Manifest, read_manifest
from ..io.provenance import now_iso, versions
from ..model.params import SPEC_BY_KEY
from . import blocks as block_store
from .lock import LOCK_NAME, DirLock, shard_lock_name

# what makes two runs the same run; named fields first, so a mismatch says which one differs
IDENTITY = block_store.RUN_IDENTITY
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
        self.shard_path = self.path / f"shard-{i}-of-{n}.parquet"
        self._lock = DirLock(self.path, shard_lock_name(i, n) if self.sharded else LOCK_NAME,
                             what=f"shard {i}/{n} in {self.path}" if self.sharded else str(self.path))
        self._made: list[Path] = []
        self._action = "new"
        self._old: dict = {}
        self.expect: block_store.Expect | None = None
        self.quarantined: list[dict] = []

    # -- the lock -----------------------------------------------------------------------------------------------
    def lock(self) -> str | None:
        """Create the directory if needed, check it can be written, take its (or this shard's) lock.

        Returns a note when a stale lock was taken over. Raises WriteError or
        RunLocked, leaving no directory behind that it created.
        """
        self._made = make_dirs(self.path)
        try:
            note = self._lock.acquire()
            check_writable(self.path)
        except Exception:
            self._lock.release()
            remove_dirs(self._made)
            self._made = []
            raise
        return note

    def unlock(self) -> None:
        """Release the lock; remove the directory again if this run created it and it is empty."""
        self._lock.release()
        if self._made and self.path.is_dir() and not any(self.path.iterdir()):
            remove_dirs(self._made)
            self._made = []

    # -- claiming -----------------------------------------------------------------------------------------------
    def _read(self, force: bool) -> dict | None:
        if not self.manifest_path.is_file():
            return None
        try:
            return read_manifest(self.manifest_path)
        except DamagedFile as exc:
            if force:
                return {"exit_status": "damaged"}
            what = "shard" if self.sharded else "run"
            raise RunMismatch(f"{exc}; pass --force to discard this {what} and start again, or choose another --out") from None

    def claim(self, ident: dict, force: bool) -> bool:
        """Decide what to do with the directory; return True when resuming.

        Raises :class:`RunMismatch` (before touching anything) when the
        directory holds a complete run, a different run, foreign files or a
        damaged manifest (without ``force``).
        """
        old = self._read(force)
        what = "shard" if self.sharded else "run"
        top = self.path / MANIFEST
        if self.sharded and top.is_file():
            try:
                single = not read_manifest(top).get("shards")
            except DamagedFile as exc:
                raise RunMismatch(f"{exc}; it is a run's or a merge's manifest: delete it if this directory holds "
                                  "shards (merge writes it again), or choose another --out") from None
            if single:
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
        if self._action != "replace":
            return
        try:
            if self.sharded:
                for p in [self.manifest_path, self.shard_path]:
                    p.unlink(missing_ok=True)
                for p in block_store.checkpoint_files(self.path, self.tag):
                    p.unlink()
            else:  # everything but the lock this run holds
                for p in self.path.iterdir():
                    if p == self._lock.path:
                        continue
                    if p.is_dir() and not p.is_symlink():
                        shutil.rmtree(p)
                    else:
                        p.unlink()
        except OSError as exc:
            raise write_error(self.path, exc, "cannot remove the old results in") from None

    # -- the manifest and the blocks ----------------------------------------------------------------------------
    def start_manifest(self, fields: dict, resumed: bool) -> Manifest:
        """Write the manifest with status ``running``: a new one, or, when resuming, the first start kept."""
        if resumed:
            manifest = Manifest.new(self.manifest_path, fields, start=self._old.get("start"),
                                    resumed=[*self._old.get("resumed", []), now_iso()])
            if self._old.get("quarantined"):
                manifest["quarantined"] = list(self._old["quarantined"])
        else:
            manifest = Manifest.new(self.manifest_path, fields, resumed=[])
        manifest.write()
        return manifest

    def expect_blocks(self, ident: dict, horizons) -> None:
        """What this run's block files must be (identity, shard, cells): set before reading or writing blocks."""
        self.expect = block_store.Expect(dict(ident), self.shard, tuple(float(h) for h in horizons))

    def load_totals(self, log=None) -> list:
        """The totals of this run's (or shard's) verified checkpoints; files that fail are quarantined (recorded)."""
        totals, bad = block_store.load_checkpoints(self.path, self.expect, log)
        self.quarantined += bad
        return totals

    def save_chunk(self, cell: int, res, n_total: int) -> Path:
        """Checkpoint a chunk of finished blocks of ``cell`` (run for ``n_total`` replications per cell)."""
        return block_store.save_chunk(self.path, self.expect, cell, res, n_total)

    def write_shard(self, totals: list) -> tuple[Path, str]:
        """Write this shard's blocks as one verified file (from its checkpoints); return it and its SHA-256."""
        i, n = self.shard
        try:
            results = block_store.results_of(self.path, self.expect)
        except DamagedFile as exc:
            raise WriteError(f"{exc}: damaged while this shard ran; run the same command again to redo its blocks") from None
        expected = {c: sorted(t.blocks_done) for c, t in enumerate(totals) if t.blocks_done}
        if {c: r.blocks.tolist() for c, r in results.items()} != expected:
            raise RuntimeError(f"shard {i}/{n}: the checkpointed blocks are not the blocks run")
        sha = block_store.write_shard_file(self.shard_path, self.expect, results)
        return self.shard_path, sha


def horizons_of(manifest: dict) -> tuple[float, ...]:
    """The crisis horizon of every cell recorded in a crisis run's manifest."""
    default = SPEC_BY_KEY["crisis.horizon"].default
    return tuple(float(c.get("values", {}).get("crisis.horizon", default)) for c in manifest.get("cells", []))


def verified_blocks(run_dir: Path) -> dict | None:
    """Every block of a finished crisis run, by cell, each file verified: its checkpoints, or its shards' files.

    None when the run has no block files or any of them fails its checks
    (nothing is moved: this is for analyses after a run, which then fall back
    to what needs no blocks).
    """
    run_dir = Path(run_dir)
    try:
        top = read_manifest(run_dir / MANIFEST)
        horizons = horizons_of(top)
        if top.get("shards"):
            n = int(top["shards"])
            parts: dict[int, list] = {}
            for i in range(n):
                m = read_manifest(run_dir / f"shard-{i}-of-{n}.json")
                expect = block_store.Expect({k: m.get(k) for k in IDENTITY}, (i, n), horizons)
                sha = (m.get("checksums") or {}).get(f"shard-{i}-of-{n}.parquet", "")
                for cell, res in block_store.read_shard_file(run_dir / f"shard-{i}-of-{n}.parquet", expect,
                                                             sha.removeprefix("sha256:") or None).items():
                    parts.setdefault(cell, []).append(res)
            return {c: block_store.join(rs) for c, rs in sorted(parts.items())} or None
        expect = block_store.Expect({k: top.get(k) for k in IDENTITY}, (0, 1), horizons)
        return block_store.results_of(run_dir, expect) or None
    except (DamagedFile, OSError, KeyError, TypeError, ValueError):
        return None

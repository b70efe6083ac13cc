"""The block store: finished blocks on disk, for resume, shards and merge, each file verified before it counts.

Every chunk of finished blocks of one cell is written as one small Parquet
file (one row per block) atomically: temporary name, fsync, rename. A run
killed at any point (SIGKILL included) leaves only whole files; starting it
again reads them back and runs only the missing blocks. Because replication
``r`` always uses the streams of ``(seed, r)`` and blocks are reduced exactly
(integers, :func:`math.fsum`), the result equals an uninterrupted run bit for
bit.

**What makes a file trusted.** Each block file carries, in its Parquet schema
metadata (key ``escalation_sim``), the identity of the run that computed it
(``config_hash``, ``seed``, ``replications_requested``, ``block_size``,
``target_halfwidth``, ``model_source_hash``), its shard, its cell(s), its
blocks and the replication count they were run for, and ``content_sha256``, a
SHA-256 of that identity and of every value of every block (in a canonical
form independent of Parquet's encoding). A checkpoint's name ends with the
first 16 hex digits of the SHA-256 of the file's bytes
(``cell0003-b000000016-000000023-8-<sha>.parquet``); a shard file's full
SHA-256 is in its shard manifest. Reading a file checks, in order: the name,
the bytes against their hash, that Parquet can decode it, the content against
``content_sha256``, the identity against the run's, that the name, cell,
blocks and shard agree with the content and belong to this run, and the
invariants of every block (:mod:`.invariants`). A file that fails any check is
never counted: :func:`load_checkpoints` moves it to ``blocks/quarantine/``
with a ``.reason`` file beside it, says so, and its blocks are run again.

Row layout, derived from :data:`escalation_sim.engines.outputs.MEASURES`:
``cell, block``, then one column per measure in declaration order: a number
for a scalar measure, a flat list for an array (row-major: for ``counts``,
opportunity then need), and for a sparse measure (the duration histogram) two
lists, ``<name>_bins`` and ``<name>_counts``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..engines.montecarlo import n_blocks
from ..engines.outputs import MEASURES, BlockResults, CellTotals
from ..errors import DamagedFile
from ..io.files import atomic_write_bytes, parquet_bytes, write_error
from ..io.provenance import now_iso
from .invariants import check_results

BLOCK_DIR = "blocks"
QUARANTINE = "quarantine"
FORMAT = 2  # 1: no identity, no checksum (escalation-sim before 0.2)
META_KEY = "escalation_sim"
RUN_IDENTITY = ("seed", "replications_requested", "block_size", "target_halfwidth", "model_source_hash", "config_hash")
NAME_RE = re.compile(r"^(?P<tag>(?:shard\d+-of-\d+-)?)cell(?P<cell>\d+)-b(?P<lo>\d+)-(?P<hi>\d+)-(?P<k>\d+)"
                     r"-(?P<sha>[0-9a-f]{16})\.parquet$")


@dataclass(frozen=True)
class Expect:
    """What the block files of one run (or one shard of it) must be.

    ``ident``: the run's identity (:data:`RUN_IDENTITY`); ``shard``: ``(i, n)``;
    ``horizons``: the crisis horizon of every cell (so also the number of cells).
    """

    ident: dict
    shard: tuple[int, int]
    horizons: tuple[float, ...]

    @property
    def tag(self) -> str:
        """Prefix of this shard's checkpoint names (empty for an unsharded run)."""
        i, n = self.shard
        return f"shard{i}-of-{n}-" if self.shard != (0, 1) else ""

    @property
    def sequential(self) -> bool:
        return self.ident.get("target_halfwidth") is not None

    def reps(self, block: int, n_total: int) -> int:
        """Replications of ``block`` in a run of ``n_total`` per cell."""
        bs = int(self.ident["block_size"])
        return min((block + 1) * bs, n_total) - block * bs


# --- rows <-> results ------------------------------------------------------------------------------------------
def to_frame(cell: int, res: BlockResults) -> pd.DataFrame:
    """One row per block of ``res``."""
    rows = []
    for i, b in enumerate(res.blocks.tolist()):
        row = {"cell": cell, "block": b}
        for m in MEASURES:
            v = getattr(res, m.name)[i]
            if m.sparse:
                nz = np.flatnonzero(v)
                row[f"{m.name}_bins"] = nz.astype(np.int32).tolist()
                row[f"{m.name}_counts"] = v[nz].tolist()
            elif m.shape:
                row[m.name] = v.ravel().tolist()
            else:
                row[m.name] = int(v) if m.exact else float(v)
        rows.append(row)
    return pd.DataFrame(rows)


def from_frame(df: pd.DataFrame) -> dict[int, BlockResults]:
    """Block rows back to :class:`BlockResults`, one per cell (blocks in increasing order)."""
    out = {}
    for cell, g in df.groupby("cell", sort=True):
        g = g.sort_values("block", kind="stable")
        res = BlockResults.empty(g["block"].to_numpy(dtype=np.int64))
        for i, row in enumerate(g.itertuples(index=False)):
            for m in MEASURES:
                target = getattr(res, m.name)
                if m.sparse:
                    bins = np.asarray(getattr(row, f"{m.name}_bins"), dtype=np.int64)
                    vals = np.asarray(getattr(row, f"{m.name}_counts"), dtype=m.dtype)
                    if bins.shape != vals.shape or (bins < 0).any() or (bins >= m.shape[0]).any():
                        raise ValueError(f"{m.name}: bins out of range")
                    target[i, bins] = vals
                elif m.shape:
                    target[i] = np.asarray(getattr(row, m.name), dtype=m.dtype).reshape(m.shape)
                else:
                    target[i] = getattr(row, m.name)
        out[int(cell)] = res
    return out


def content_checksum(meta: dict, results: dict[int, BlockResults]) -> str:
    """SHA-256 of ``meta`` (canonical JSON, without the checksum) and every value of every block, cell by cell."""
    h = hashlib.sha256(json.dumps({k: v for k, v in meta.items() if k != "content_sha256"}, sort_keys=True).encode())
    for cell in sorted(results):
        res = results[cell]
        h.update(np.int64(cell).tobytes())
        h.update(np.ascontiguousarray(res.blocks, dtype="<i8").tobytes())
        for m in MEASURES:
            h.update(np.ascontiguousarray(getattr(res, m.name), dtype="<i8" if m.exact else "<f8").tobytes())
    return h.hexdigest()


def _meta(expect: Expect, kind: str, n_total: int, results: dict[int, BlockResults]) -> dict:
    meta = {"format": FORMAT, "kind": kind, **{k: expect.ident.get(k) for k in RUN_IDENTITY},
            "shard": list(expect.shard), "n_total": int(n_total),
            "blocks": {str(c): [int(b) for b in r.blocks.tolist()] for c, r in sorted(results.items())}}
    meta["content_sha256"] = content_checksum(meta, results)
    return meta


def _file_bytes(expect: Expect, kind: str, n_total: int, results: dict[int, BlockResults]) -> bytes:
    frames = [to_frame(c, r) for c, r in sorted(results.items()) if len(r.blocks)]
    # a shard with nothing to do (more shards than blocks per cell) writes a file of no rows, with every column
    frame = pd.concat(frames, ignore_index=True) if frames else to_frame(0, BlockResults.empty(np.zeros(1))).iloc[0:0]
    return parquet_bytes(frame, {META_KEY: json.dumps(_meta(expect, kind, n_total, results), sort_keys=True)})


# --- writing ---------------------------------------------------------------------------------------------------
def check_fresh(expect: Expect, cell: int, res: BlockResults, n_total: int) -> None:
    """Refuse to store blocks that break the invariants: a bug in the engine, not a user's mistake."""
    problem = check_results(res, lambda b: expect.reps(b, n_total), expect.horizons[cell])
    if problem:
        raise RuntimeError(f"cell {cell}: {problem}: the compiled engine produced an impossible block "
                           "(a bug; nothing was written for it)")


def save_chunk(run_dir: Path, expect: Expect, cell: int, res: BlockResults, n_total: int) -> Path:
    """Checkpoint a chunk of finished blocks of ``cell`` (run for ``n_total`` replications per cell)."""
    check_fresh(expect, cell, res, n_total)
    d = Path(run_dir) / BLOCK_DIR
    try:
        d.mkdir(exist_ok=True)
    except OSError as exc:
        raise write_error(d, exc, "cannot create") from None
    data = _file_bytes(expect, "checkpoint", n_total, {cell: res})
    b = res.blocks
    path = d / (f"{expect.tag}cell{cell:04d}-b{int(b.min()):09d}-{int(b.max()):09d}-{len(b)}-"
                f"{hashlib.sha256(data).hexdigest()[:16]}.parquet")
    atomic_write_bytes(path, data)
    return path


def write_shard_file(path: Path, expect: Expect, totals_results: dict[int, BlockResults]) -> str:
    """Write a shard's blocks (every cell) as one verified file; return the SHA-256 of its bytes."""
    data = _file_bytes(expect, "shard", int(expect.ident["replications_requested"]), totals_results)
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


# --- reading and verifying -------------------------------------------------------------------------------------
def _decode(path: Path, data: bytes) -> tuple[dict, dict[int, BlockResults]]:
    try:
        table = pq.read_table(io.BytesIO(data))
        raw = (table.schema.metadata or {}).get(META_KEY.encode())
        df = table.to_pandas()
    except Exception as exc:  # noqa: BLE001 - whatever pyarrow raises on damaged bytes, the file is damaged
        raise DamagedFile(path, f"unreadable as Parquet ({type(exc).__name__}: {str(exc)[:120]})") from None
    if raw is None:
        raise DamagedFile(path, "no identity or checksum (written by escalation-sim before 0.2, or not a block file)")
    try:
        meta = json.loads(raw)
        with np.errstate(invalid="ignore"):  # damaged numbers may not cast: the checksum below says so
            results = from_frame(df)
    except Exception as exc:  # noqa: BLE001 - a decodable file with impossible content is damaged too
        raise DamagedFile(path, f"damaged content ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DamagedFile(path, f"unknown block-file format {meta.get('format') if isinstance(meta, dict) else meta!r}")
    if meta.get("content_sha256") != content_checksum(meta, results):
        raise DamagedFile(path, "content does not match its checksum (changed after it was written)")
    return meta, results


def verify_content(path: Path, meta: dict, results: dict[int, BlockResults], expect: Expect, kind: str) -> None:
    """Identity, placement and invariants of a decoded block file (raises DamagedFile)."""
    for key in RUN_IDENTITY:
        if meta.get(key) != expect.ident.get(key):
            raise DamagedFile(path, f"from another run: {key} is {meta.get(key)!r}, this run's is {expect.ident.get(key)!r}")
    if meta.get("kind") != kind:
        raise DamagedFile(path, f"a {meta.get('kind')} file where a {kind} file belongs")
    if tuple(meta.get("shard", ())) != tuple(expect.shard):
        raise DamagedFile(path, f"blocks of shard {meta.get('shard')}, this is shard {list(expect.shard)}")
    listed = {int(c): b for c, b in meta.get("blocks", {}).items()}
    if listed != {c: r.blocks.tolist() for c, r in results.items()}:
        raise DamagedFile(path, "its rows are not the blocks it lists")
    n_total = meta.get("n_total")
    requested = int(expect.ident["replications_requested"])
    bs = int(expect.ident["block_size"])
    if expect.sequential:
        if not isinstance(n_total, int) or n_total < requested or n_total % bs:
            raise DamagedFile(path, f"run for {n_total!r} replications per cell: not a step of this sequential run")
    elif n_total != requested:
        raise DamagedFile(path, f"run for {n_total!r} replications per cell, this run has {requested}")
    i, n = expect.shard
    for cell, res in results.items():
        if not 0 <= cell < len(expect.horizons):
            raise DamagedFile(path, f"cell {cell} does not exist (this run has {len(expect.horizons)} cells)")
        blocks = res.blocks.tolist()
        if len(set(blocks)) != len(blocks):
            raise DamagedFile(path, f"cell {cell}: a block is listed twice")
        bad = [b for b in blocks if not (0 <= b < n_blocks(n_total, bs) and b % n == i)]
        if bad:
            raise DamagedFile(path, f"cell {cell}: block {bad[0]} does not belong to this run or shard")
        problem = check_results(res, lambda b: expect.reps(b, n_total), expect.horizons[cell])
        if problem:
            raise DamagedFile(path, f"cell {cell}, {problem}")


def read_checkpoint(path: Path, expect: Expect) -> tuple[int, BlockResults]:
    """A checkpoint's cell and blocks, once every check has passed (else DamagedFile naming the file and why)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DamagedFile(path, f"unreadable ({exc.strerror or exc})") from None
    return checkpoint_from_bytes(path, data, expect)


def checkpoint_from_bytes(path: Path, data: bytes, expect: Expect) -> tuple[int, BlockResults]:
    """:func:`read_checkpoint` of ``data``, the bytes read from ``path``."""
    mt = NAME_RE.match(path.name)
    if mt is None or mt.group("tag") != expect.tag:
        raise DamagedFile(path, "not a checkpoint name of this run (cell<K>-b<first>-<last>-<count>-<sha>.parquet); "
                          "older checkpoints without a checksum are not trusted")
    if hashlib.sha256(data).hexdigest()[:16] != mt.group("sha"):
        raise DamagedFile(path, "its bytes do not match the checksum in its name (damaged after it was written)")
    meta, results = _decode(path, data)
    verify_content(path, meta, results, expect, "checkpoint")
    if list(results) != [int(mt.group("cell"))]:
        raise DamagedFile(path, f"holds cell(s) {sorted(results)}, its name says cell {int(mt.group('cell'))}")
    cell = int(mt.group("cell"))
    b = results[cell].blocks
    if (int(b.min()), int(b.max()), len(b)) != (int(mt.group("lo")), int(mt.group("hi")), int(mt.group("k"))):
        raise DamagedFile(path, "its blocks are not the ones its name says (a block file in the wrong place)")
    return cell, results[cell]


def read_shard_file(path: Path, expect: Expect, sha256: str | None) -> dict[int, BlockResults]:
    """A shard file's blocks by cell, once every check has passed (``sha256``: from its shard manifest)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DamagedFile(path, "missing (the shard manifest says it is complete)") from None
    except OSError as exc:
        raise DamagedFile(path, f"unreadable ({exc.strerror or exc})") from None
    if sha256 is None:
        raise DamagedFile(path, "its shard manifest records no checksum (written by escalation-sim before 0.2)")
    if hashlib.sha256(data).hexdigest() != sha256:
        raise DamagedFile(path, "its bytes do not match the checksum in its shard manifest (damaged after it was written)")
    meta, results = _decode(path, data)
    verify_content(path, meta, results, expect, "shard")
    return results


def quarantine(run_dir: Path, path: Path, reason: str) -> Path:
    """Move a file that failed its checks to ``blocks/quarantine/`` with a ``.reason`` file; return where it went."""
    qdir = Path(run_dir) / BLOCK_DIR / QUARANTINE
    try:
        qdir.mkdir(parents=True, exist_ok=True)
        target = qdir / path.name
        k = 1
        while target.exists():
            target = qdir / f"{path.name}.{k}"
            k += 1
        os.replace(path, target)
        atomic_write_bytes(target.with_name(target.name + ".reason"),
                          f"{now_iso()}\n{path}\n{reason}\n".encode())
    except OSError as exc:
        raise write_error(qdir, exc, "cannot move a damaged file aside into") from None
    return target


def checkpoint_files(run_dir: Path, tag: str) -> list[Path]:
    """The checkpoint files of a run (``tag`` empty) or of one shard, in name order."""
    d = Path(run_dir) / BLOCK_DIR
    return sorted(d.glob(f"{tag}cell*.parquet")) if d.is_dir() else []


def load_checkpoints(run_dir: Path, expect: Expect,
                     log: Callable[[str], None] | None = None) -> tuple[list[CellTotals], list[dict]]:
    """Totals rebuilt from the checkpoints that pass every check; the others are quarantined.

    Returns the totals of every cell and a record ``{file, reason, moved_to}``
    per quarantined file. A file whose blocks were already read from another
    file is quarantined too (a block is never counted twice).
    """
    totals = [CellTotals() for _ in expect.horizons]
    seen: dict[tuple[int, int], str] = {}
    bad = []
    for path in checkpoint_files(run_dir, expect.tag):
        try:
            cell, res = read_checkpoint(path, expect)
            twice = [b for b in res.blocks.tolist() if (cell, b) in seen]
            if twice:
                raise DamagedFile(path, f"cell {cell}: block {twice[0]} was already read from {seen[(cell, twice[0])]}")
        except DamagedFile as exc:
            moved = quarantine(run_dir, path, exc.reason)
            bad.append({"file": path.name, "reason": exc.reason, "moved_to": str(moved.relative_to(run_dir))})
            if log:
                log(f"warning: {path}: {exc.reason}; moved to {moved.parent}/ and its blocks will be run again")
            continue
        for b in res.blocks.tolist():
            seen[(cell, b)] = path.name
        totals[cell].add(res)
    return totals, bad


def join(rs: list[BlockResults]) -> BlockResults:
    """Several BlockResults of one cell as one, blocks in increasing order."""
    blocks = np.concatenate([r.blocks for r in rs])
    order = np.argsort(blocks, kind="stable")
    joined = BlockResults.empty(blocks[order])
    for k, m in enumerate(MEASURES):
        joined.arrays[k][...] = np.concatenate([getattr(r, m.name) for r in rs])[order]
    return joined


def results_of(run_dir: Path, expect: Expect) -> dict[int, BlockResults]:
    """Every verified checkpoint of a run or shard, joined into one BlockResults per cell (for its shard file).

    Raises DamagedFile on a file that fails (the caller has just loaded and
    checked them, so this is a file damaged since).
    """
    parts: dict[int, list[BlockResults]] = {}
    for path in checkpoint_files(run_dir, expect.tag):
        cell, res = read_checkpoint(path, expect)
        parts.setdefault(cell, []).append(res)
    return {cell: join(rs) for cell, rs in sorted(parts.items())}


def totals_of(results: dict[int, BlockResults], n_cells: int) -> list[CellTotals]:
    """Totals of every cell from verified results (raises ValueError on a block counted twice)."""
    totals = [CellTotals() for _ in range(n_cells)]
    for cell, res in sorted(results.items()):
        try:
            totals[cell].add(res)
        except ValueError as exc:  # name the cell: a block index alone is ambiguous
            raise ValueError(f"cell {cell}: {exc}") from None
    return totals


def totals_from_frame(df: pd.DataFrame, n_cells: int) -> list[CellTotals]:
    """Totals of every cell from block rows (raises on a block counted twice)."""
    return totals_of(from_frame(df), n_cells)

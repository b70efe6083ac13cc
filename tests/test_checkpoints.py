"""Checkpoints and shard files are verified before they count: real bit flips, truncations, foreign and misplaced files.

A resumed run reads its checkpoints back. Each one must be the file that was written (the SHA-256 of its bytes is in
its name), decode, match its content checksum, carry this run's identity (config hash, seed, replications, block
size, model source), sit where its name says (cell, blocks, shard), and satisfy the invariants of every block. A
file that fails is moved to ``blocks/quarantine/`` with a reason, named on stderr, and its blocks are run again: the
tables equal those of an undamaged run, byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import cli as _run
from conftest import scale_experiment, tables

from escalation_sim.engines.outputs import MEASURES
from escalation_sim.errors import DamagedFile
from escalation_sim.io.manifest import Manifest, read_manifest
from escalation_sim.scale import blocks as store
from escalation_sim.scale import invariants
from escalation_sim.scale.rundir import IDENTITY

#: the quick loop (-m 'not slow') leaves these out: damaged resume state: runs, damages and reruns whole runs (seconds each); CI runs them
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


# --- one real run, checkpointed, shared by the module ------------------------------------------------------------
@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    """A complete run of three cells x 24 blocks of 250 (chunks of 4 blocks: 18 checkpoint files) and its tables."""
    d = tmp_path_factory.mktemp("ref")
    exp = scale_experiment(d)
    out = d / "run"
    res = _run("run", exp, "--out", out, "--threads", "1")
    assert res.exit_code == 0, res.output
    assert len(list((out / "blocks").glob("cell*.parquet"))) == 18
    return exp, out, tables(out)


def unfinished(ref, tmp_path) -> Path:
    """A copy of the reference run as if it had been killed after its last checkpoint: resumable."""
    _, out, _ = ref
    d = tmp_path / "run"
    shutil.copytree(out, d)
    for name in ("cells.csv", "cells.parquet", "outcomes.csv", "outcomes.parquet"):
        (d / name).unlink()
    m = Manifest.load(d / "manifest.json")
    m["exit_status"] = "running"
    m.write()
    return d


def expect_of(run_dir: Path) -> store.Expect:
    from escalation_sim.scale.rundir import horizons_of

    m = read_manifest(run_dir / "manifest.json")
    return store.Expect({k: m[k] for k in IDENTITY}, (0, 1), horizons_of(m))


def resume(ref, run_dir: Path):
    exp, _, want = ref
    res = _run("run", exp, "--out", run_dir, "--threads", "1")
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    assert tables(run_dir) == want, "the tables differ from an undamaged run"
    return res


def quarantined(run_dir: Path) -> list[str]:
    q = run_dir / "blocks" / "quarantine"
    return sorted(p.name for p in q.glob("*.parquet*") if not p.name.endswith(".reason")) if q.is_dir() else []


def renamed_for(data: bytes, path: Path) -> Path:
    """The checkpoint name ``path`` would have for ``data`` (its bytes' hash in the name)."""
    return path.with_name(path.name[:-len("0123456789abcdef.parquet")] + hashlib.sha256(data).hexdigest()[:16] + ".parquet")


def rewrite(path: Path, mutate, fix_checksum: bool = True) -> Path:
    """Change the rows of a checkpoint (``mutate(df)``), re-sign its content and rename it for its new bytes.

    What a damage that every hash missed would look like: only the invariants can catch it.
    """
    table = pq.read_table(path)
    meta = json.loads(table.schema.metadata[b"escalation_sim"])
    df = table.to_pandas()
    mutate(df)
    if fix_checksum:
        meta["content_sha256"] = store.content_checksum(meta, store.from_frame(df))
    t = pa.Table.from_pandas(df, preserve_index=False)
    t = t.replace_schema_metadata({**t.schema.metadata, b"escalation_sim": json.dumps(meta, sort_keys=True).encode()})
    buf = io.BytesIO()
    pq.write_table(t, buf)
    data = buf.getvalue()
    path.unlink()
    new = renamed_for(data, path)
    new.write_bytes(data)
    return new


def verdict(path: Path, data: bytes, expect: store.Expect, original) -> str:
    """``detected``, ``same`` (decodes to the original content: a flip in bytes that carry no data), or ``ACCEPTED``.

    The name is re-hashed for ``data``: what a damage that happened before the name was computed would look like.
    """
    try:
        cell, res = store.checkpoint_from_bytes(renamed_for(data, path), data, expect)
    except DamagedFile:
        return "detected"
    same = cell == original[0] and all(np.array_equal(getattr(res, m.name), getattr(original[1], m.name))
                                       for m in MEASURES) and np.array_equal(res.blocks, original[1].blocks)
    return "same" if same else "ACCEPTED"


def flips_detected_by_the_name(path: Path, bits) -> int:
    """Flip ``bits(i)`` of every byte ``i`` of a checkpoint, one at a time: each must fail the name's hash."""
    data = bytearray(path.read_bytes())
    expect = store.Expect({}, (0, 1), ())
    flips = 0
    for i in range(len(data)):
        for bit in bits(i):
            data[i] ^= 1 << bit
            with pytest.raises(DamagedFile, match="do not match the checksum in its name"):
                store.checkpoint_from_bytes(path, bytes(data), expect)
            data[i] ^= 1 << bit
            flips += 1
    return flips


# --- offline: the file itself ----------------------------------------------------------------------------------
def test_a_bit_flip_in_every_byte_of_a_checkpoint_is_detected(ref):
    """One bit of every byte of a real checkpoint (bit i mod 8 of byte i), flipped alone: the name's SHA-256 fails."""
    _, out, _ = ref
    path = sorted((out / "blocks").glob("cell0001-*.parquet"))[0]
    store.read_checkpoint(path, expect_of(out))  # the original passes
    assert flips_detected_by_the_name(path, lambda i: (i % 8,)) == path.stat().st_size > 10_000


@pytest.mark.slow
def test_every_single_bit_flip_of_a_checkpoint_is_detected(ref):
    """Every one of the file's bits, flipped alone."""
    _, out, _ = ref
    path = sorted((out / "blocks").glob("cell0001-*.parquet"))[0]
    assert flips_detected_by_the_name(path, lambda i: range(8)) == 8 * path.stat().st_size


def column_regions(path: Path) -> list[tuple[str, int, int]]:
    """``(what, start, end)`` byte ranges of a Parquet file: every column chunk, and the footer (metadata)."""
    md = pq.ParquetFile(path).metadata
    regions = []
    for rg in range(md.num_row_groups):
        for c in range(md.num_columns):
            col = md.row_group(rg).column(c)
            start = col.dictionary_page_offset if col.has_dictionary_page else col.data_page_offset
            regions.append((col.path_in_schema, start, start + col.total_compressed_size))
    size = path.stat().st_size
    end_of_data = max(e for _, _, e in regions)
    regions.append(("footer", end_of_data, size))
    return regions


@pytest.mark.parametrize("per_region", [8])
def test_bit_flips_in_every_field_are_caught_even_past_the_name_hash(ref, tmp_path, per_region):
    """Flip bits in every column chunk ("field") and in the footer, then re-hash the name (as if the damage had
    happened before the name was computed): decoding, the content checksum or the identity must catch every flip
    that changes a value; a flip in bytes that carry no value (statistics) reads back the original content."""
    _, out, _ = ref
    path = sorted((out / "blocks").glob("cell0002-*.parquet"))[0]
    expect = expect_of(out)
    original = store.read_checkpoint(path, expect)
    data = path.read_bytes()
    rng = random.Random(9)
    outcomes: dict[str, int] = {}
    fields = set()
    for what, start, end in column_regions(path):
        fields.add(what.split(".")[0])
        for _ in range(per_region):
            i = rng.randrange(start, end)
            b = bytearray(data)
            b[i] ^= 1 << rng.randrange(8)
            v = verdict(path, bytes(b), expect, original)
            outcomes[v] = outcomes.get(v, 0) + 1
    assert "ACCEPTED" not in outcomes, outcomes
    assert {m.name for m in MEASURES if not m.sparse} <= fields  # every measure's column was hit
    assert outcomes["detected"] > 0.5 * sum(outcomes.values())


@pytest.mark.slow
@pytest.mark.parametrize("stride", [pytest.param(8, id="every 8th byte"),
                                    pytest.param(1, id="every byte", marks=pytest.mark.release)])
def test_a_bit_flip_in_every_byte_is_caught_past_the_name_hash(ref, stride):
    """One bit in each byte of a real checkpoint (every 8th byte in the slow suite, every byte before a release;
    bit i mod 8 of byte i), the name re-hashed: never accepted with changed content."""
    _, out, _ = ref
    path = sorted((out / "blocks").glob("cell0000-*.parquet"))[-1]
    expect = expect_of(out)
    original = store.read_checkpoint(path, expect)
    data = path.read_bytes()
    counts: dict[str, int] = {}
    for i in range(0, len(data), stride):
        b = bytearray(data)
        b[i] ^= 1 << (i % 8)
        v = verdict(path, bytes(b), expect, original)
        counts[v] = counts.get(v, 0) + 1
    assert "ACCEPTED" not in counts, counts
    assert sum(counts.values()) == len(range(0, len(data), stride))
    print(f"{path.name}: {len(data)} bytes, {counts}")


def test_truncation_to_every_length_is_detected(ref):
    """Every length from 0 to size - 1: the name's hash; then each length class with the name re-hashed: Parquet."""
    _, out, _ = ref
    path = sorted((out / "blocks").glob("cell0001-*.parquet"))[1]
    expect = expect_of(out)
    data = path.read_bytes()
    for k in range(len(data)):
        with pytest.raises(DamagedFile, match="do not match the checksum in its name"):
            store.checkpoint_from_bytes(path, data[:k], expect)
    footer = len(data) - column_regions(path)[-1][1]
    classes = {"empty": 0, "one byte": 1, "magic only": 4, "inside the data": len(data) // 3,
               "just before the footer": len(data) - footer - 1, "inside the footer": len(data) - footer // 2,
               "no footer length": len(data) - 8, "no end magic": len(data) - 4, "one byte short": len(data) - 1}
    for what, k in classes.items():
        with pytest.raises(DamagedFile) as info:
            store.checkpoint_from_bytes(renamed_for(data[:k], path), data[:k], expect)
        assert "unreadable as Parquet" in info.value.reason, (what, info.value.reason)


def test_counts_changed_and_re_signed_break_the_invariants(ref, tmp_path):
    """The issue's bug, past every hash: +2 in a block's counts (content checksum and name recomputed) is refused by
    'counts sum to the block's replications'; a duration sum beyond horizon x crises by the duration bound."""
    _, out, _ = ref
    expect = expect_of(out)
    src = sorted((out / "blocks").glob("cell0000-*.parquet"))[0]

    def more_wars(df):
        df.at[0, "counts"] = [c + (2 if i == 4 else 0) for i, c in enumerate(df.at[0, "counts"])]

    def long_crises(df):
        df.at[1, "dur_sum"] = 1e9

    def unsigned(df):
        df.at[0, "events"] = int(df.at[0, "events"]) + 1

    for k, (mutate, fix, message) in enumerate([
        (more_wars, True, "counts sum to 252, not to the block's 250 replications"),
        (long_crises, True, "dur sum"),
        (unsigned, False, "content does not match its checksum"),
    ]):
        d = tmp_path / str(k)
        d.mkdir()
        p = rewrite(Path(shutil.copy(src, d / src.name)), mutate, fix_checksum=fix)
        with pytest.raises(DamagedFile, match=message):
            store.read_checkpoint(p, expect)


def test_every_measure_has_an_invariant_of_its_own():
    """A measure added to engines/outputs.py needs a rule in scale/invariants.py (beyond sign and finiteness)."""
    assert {m.name for m in MEASURES} <= invariants.COVERED, {m.name for m in MEASURES} - invariants.COVERED


def test_invariants_hold_on_every_shipped_scenario(tmp_path):
    """No false alarms: fresh blocks of every shipped crisis scenario and experiment cell pass every invariant."""
    from escalation_sim.engines import montecarlo as mc
    from escalation_sim.pipeline.experiment import experiment_or_scenario

    checked = 0
    for f in sorted((REPO / "experiments").glob("*.toml")):
        try:
            exp = experiment_or_scenario(f)
        except Exception:  # noqa: BLE001 - calibration files are not crisis experiments
            continue
        if exp.form != "crisis":
            continue
        for c in exp.cells[:12]:
            p_mixes, mix_cum = c.scenario.vectors()
            res = mc.run_blocks(p_mixes, mix_cum, 3, np.array([0, 1]), 200, 400, parallel=False)
            assert invariants.check_results(res, lambda b: 200, c.scenario.value("crisis.horizon")) is None, (f, c.label)
            checked += 1
    assert checked >= 40


# --- resume: what a damaged checkpoint does to a run -------------------------------------------------------------
def damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 2] ^= 0x10
    elif how == "truncate":
        data = data[: len(data) // 2]
    elif how == "empty":
        data = bytearray()
    elif how == "overwrite 8 bytes":
        data[100:108] = b"\xff" * 8
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["flip", "truncate", "empty", "overwrite 8 bytes"])
def test_a_damaged_checkpoint_is_named_moved_aside_and_recomputed(ref, tmp_path, how):
    run_dir = unfinished(ref, tmp_path)
    victim = sorted((run_dir / "blocks").glob("cell0001-*.parquet"))[2]
    damage(victim, how)
    res = resume(ref, run_dir)
    assert f"warning: {victim}" in res.output and "its blocks will be run again" in res.output
    assert quarantined(run_dir) == [victim.name]
    reason = (run_dir / "blocks" / "quarantine" / (victim.name + ".reason")).read_text()
    assert str(victim) in reason
    m = read_manifest(run_dir / "manifest.json")
    assert m["exit_status"] == "complete" and [q["file"] for q in m["quarantined"]] == [victim.name]
    assert "resuming: 17,000 replications" in res.output  # 18 files of 1,000 replications, one not counted


def test_a_checkpoint_from_another_run_is_not_counted(ref, tmp_path):
    """A valid checkpoint of a run with another seed, named as this run's block 0-3 of cell 0."""
    exp, _, _ = ref
    run_dir = unfinished(ref, tmp_path)
    other = tmp_path / "other"
    assert _run("run", scale_experiment(tmp_path, seed=6), "--out", other, "--threads", "1").exit_code == 0
    mine = sorted((run_dir / "blocks").glob("cell0000-b000000000-*.parquet"))[0]
    foreign = sorted((other / "blocks").glob("cell0000-b000000000-*.parquet"))[0]
    mine.unlink()
    shutil.copy(foreign, run_dir / "blocks" / foreign.name)
    res = resume(ref, run_dir)
    assert "from another run: seed is 6, this run's is 5" in res.output
    assert quarantined(run_dir) == [foreign.name]


def test_a_block_in_the_wrong_place_is_not_counted(ref, tmp_path):
    """A cell-0 checkpoint renamed as cell 1's (hash kept), and a re-signed copy whose blocks overlap another file."""
    run_dir = unfinished(ref, tmp_path)
    blocks = run_dir / "blocks"
    a = sorted(blocks.glob("cell0000-b000000004-*.parquet"))[0]
    b = sorted(blocks.glob("cell0001-b000000004-*.parquet"))[0]
    b.unlink()
    moved = blocks / a.name.replace("cell0000", "cell0001")
    shutil.copy(a, moved)
    res = resume(ref, run_dir)
    assert "holds cell(s) [0], its name says cell 1" in res.output
    assert quarantined(run_dir) == [moved.name]


def test_a_block_present_in_two_files_is_counted_once(ref, tmp_path):
    """Two valid checkpoints that both hold block 1 of cell 2: the second one read is moved aside, never added."""
    from escalation_sim.engines import montecarlo as mc
    from escalation_sim.pipeline.experiment import load_experiment

    exp, _, _ = ref
    run_dir = unfinished(ref, tmp_path)
    e = load_experiment(exp)
    p_mixes, mix_cum = e.cells[2].scenario.vectors()
    res = mc.run_blocks(p_mixes, mix_cum, e.seed, np.array([1, 2]), e.block_size, e.replications, parallel=False)
    extra = store.save_chunk(run_dir, expect_of(run_dir), 2, res, e.replications)
    out = resume(ref, run_dir)
    assert "block 1 was already read from cell0002-b000000000" in out.output
    assert quarantined(run_dir) == [extra.name]


def test_an_old_checkpoint_without_a_checksum_is_not_trusted(ref, tmp_path):
    run_dir = unfinished(ref, tmp_path)
    f = sorted((run_dir / "blocks").glob("cell0002-*.parquet"))[0]
    old = f.with_name(f.name.rsplit("-", 1)[0] + ".parquet")  # the name format of escalation-sim 0.1
    f.rename(old)
    res = resume(ref, run_dir)
    assert "older checkpoints without a checksum are not trusted" in res.output


@pytest.mark.parametrize("how", ["truncated", "empty", "not json", "a digit changed"])
def test_a_damaged_manifest_is_named_and_force_recovers(ref, tmp_path, how):
    exp, _, want = ref
    run_dir = unfinished(ref, tmp_path)
    p = run_dir / "manifest.json"
    text = p.read_text()
    p.write_text({"truncated": text[: len(text) // 2], "empty": "", "not json": "[1, 2",
                  "a digit changed": text.replace('"seed": 5', '"seed": 7')}[how])
    before = sorted(x.name for x in run_dir.rglob("*"))
    res = _run("run", exp, "--out", run_dir, "--threads", "1")
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert f"error: {p}: damaged" in res.output and "--force" in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert sorted(x.name for x in run_dir.rglob("*")) == before  # nothing written
    res = _run("run", exp, "--out", run_dir, "--threads", "1", "--force")
    assert res.exit_code == 0, res.output
    assert tables(run_dir) == want


def test_a_bit_flip_in_counts_resumed_in_a_subprocess(ref, tmp_path):
    """The issue's case end to end: flip one bit inside the `counts` column of a real checkpoint, resume with the
    installed command line: exit 0, the file named on stderr and moved aside, tables identical to an undamaged run."""
    exp, _, want = ref
    run_dir = unfinished(ref, tmp_path)
    victim = sorted((run_dir / "blocks").glob("cell0000-*.parquet"))[3]
    (_, start, end), = [r for r in column_regions(victim) if r[0].startswith("counts")][:1]
    data = bytearray(victim.read_bytes())
    data[(start + end) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    proc = subprocess.run([sys.executable, "-m", "escalation_sim", "run", str(exp), "--out", str(run_dir),
                           "--threads", "1", "--no-progress"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and f"warning: {victim}" in proc.stderr
    assert tables(run_dir) == want
    assert quarantined(run_dir) == [victim.name]


# --- shards ------------------------------------------------------------------------------------------------------
@pytest.fixture
def two_shards(ref, tmp_path):
    exp, _, want = ref
    out = tmp_path / "sh"
    for i in range(2):
        assert _run("run", exp, "--out", out, "--shard", f"{i}/2", "--threads", "1").exit_code == 0
    return exp, out, want


@pytest.mark.parametrize("how", ["flip", "truncate", "empty"])
def test_a_damaged_shard_file_stops_the_merge_and_a_rerun_of_the_shard_repairs_it(two_shards, how):
    exp, out, want = two_shards
    shard = out / "shard-1-of-2.parquet"
    damage(shard, how)
    res = _run("merge", out)
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert f"error: {shard}:" in res.output and "run shard 1/2 again" in res.output
    assert not (out / "cells.csv").exists() and not shard.exists()
    assert (out / "blocks" / "quarantine" / "shard-1-of-2.parquet").is_file()
    assert read_manifest(out / "shard-1-of-2.json")["exit_status"] == "damaged"
    res = _run("run", exp, "--out", out, "--shard", "1/2", "--threads", "1")
    assert res.exit_code == 0 and "resuming: 9,000 replications" in res.output  # from its checkpoints: nothing rerun
    assert _run("merge", out).exit_code == 0
    assert tables(out) == want


def test_a_shard_file_of_another_run_is_refused(two_shards, tmp_path):
    exp, out, _ = two_shards
    other = tmp_path / "other"
    for i in range(2):
        assert _run("run", scale_experiment(tmp_path, seed=8), "--out", other, "--shard", f"{i}/2").exit_code == 0
    shutil.copy(other / "shard-1-of-2.parquet", out / "shard-1-of-2.parquet")
    res = _run("merge", out)
    assert res.exit_code == 2 and "shard-1-of-2.parquet" in res.output
    assert not (out / "cells.csv").exists()


def test_a_damaged_shard_manifest_is_named(two_shards):
    _, out, _ = two_shards
    p = out / "shard-0-of-2.json"
    p.write_text(p.read_text()[:200])
    res = _run("merge", out)
    assert res.exit_code == 2 and f"{p}: damaged" in res.output and "--force" in res.output

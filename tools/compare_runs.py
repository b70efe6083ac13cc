"""Check that two versions of the code produce byte-identical results tables.

Runs every shipped experiment (every ``experiments/*.toml`` with an ``[experiment]`` table: crisis and IPD,
tournaments and analyses included) and a set of other commands (sweep, tournament, shards and merge,
calibrate, sensitivity, ally-decay, replays) at a small number of replications with a fixed seed, once in a
checkout of a git ref (a temporary ``git worktree``) and once in the working tree, and compares every file the
commands wrote, byte for byte, plus their ``--json`` output.

Ignored, because they legitimately differ between two runs of the same code: ``manifest.json`` and shard
manifests (times, git commit, machine), ``figures/`` (PNG and SVG drawings, not tables), and in ``report.md``
the lines that state the start time, the git commit and the time of a merge.

Usage::

    python tools/compare_runs.py --ref 682c498            # the ref against the working tree
    python tools/compare_runs.py --ref main -n 4096 --keep

Both checkouts are imported from their own source directory (``PYTHONPATH``), by the Python running this
script, which needs the package's dependencies (``pip install -e ".[test]"``). ``NUMBA_CACHE_DIR`` is respected;
the compiled-kernel cache is keyed by the source, so the two versions never share kernels. Prints every
comparison; exits 1 on any difference or failed command, 0 when everything is identical.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IGNORED_NAMES = {"manifest.json"}
IGNORED_PATTERNS = (re.compile(r"^shard-\d+-of-\d+\.json$"),)
IGNORED_DIRS = {"figures"}
INPUTS = "experiments"  # the copy of a checkout's experiment files the commands read (not compared)
# report.md lines that record when and from which commit a run was made
VOLATILE_REPORT_LINES = re.compile(r"^- \*\*(Run started|Git commit|Run in shards):\*\*")


@dataclass(frozen=True)
class Case:
    """One command run in both checkouts: its name (the output directory) and its arguments."""

    name: str
    args: tuple[str, ...]  # {out}: the case's output directory


def experiment_files(root: Path) -> list[Path]:
    """The shipped experiments: files of ``experiments/`` with an ``[experiment]`` table."""
    out = []
    for p in sorted((root / "experiments").glob("*.toml")):
        if "experiment" in tomllib.loads(p.read_text()):
            out.append(p)
    return out


def cases(n: int, seed: int) -> list[Case]:
    """Every command to compare (the experiment files are read from the working tree)."""
    common = ("-n", str(n), "--seed", str(seed), "--threads", "2", "--json")
    out = []
    for path in experiment_files(ROOT):
        exp = f"experiments/{path.name}"
        data = tomllib.loads(path.read_text())
        out.append(Case(f"run-{path.stem}", ("run", exp, *common, "--no-progress", "--out", "{out}")))
        ipd = data["experiment"].get("form") == "ipd" or "ipd" in data["experiment"].get("scenario", "")
        if not ipd:
            # small blocks: enough of them for the batch-means intervals of tournaments and selection bias
            out.append(Case(f"run-{path.stem}-blocks", ("run", exp, *common, "--block-size", "128", "--no-progress",
                                                        "--out", "{out}")))
        if "tournament" in data and not ipd:
            out.append(Case(f"tournament-{path.stem}", ("tournament", exp, *common, "--no-progress", "--out", "{out}")))
    out += [
        Case("sweep", ("sweep", "experiments/reciprocity-under-noise.toml", "--param", "channel.misperception",
                       "--values", "0:0.3:4", *common, "--no-progress", "--out", "{out}")),
        Case("sequential", ("run", "experiments/default.toml", "-n", "512", "--seed", str(seed), "--block-size", "256",
                            "--target-halfwidth", "0.02", "--json", "--no-progress", "--out", "{out}")),
        Case("shard-0", ("run", "experiments/default.toml", "-n", str(n), "--seed", str(seed), "--block-size", "256",
                         "--shard", "0/2", "--no-progress", "--out", "shards")),
        Case("shard-1", ("run", "experiments/default.toml", "-n", str(n), "--seed", str(seed), "--block-size", "256",
                         "--shard", "1/2", "--no-progress", "--out", "shards")),
        Case("merge", ("merge", "shards", "--json")),
        Case("calibrate", ("calibrate", "experiments/default.toml", "--cell", "1", "--params", "challenger.p_need",
                           "--bounds", "challenger.p_need=0.05:0.95", "--preset", "icb", "--points", "6",
                           "-n", "500", "--seed", str(seed), "--threads", "2", "--json", "--out", "{out}")),
        Case("sensitivity", ("sensitivity", "experiments/default.toml", "--cell", "1",
                             "--params", "challenger.p_need,channel.misperception", "--samples", "4", "-n", "256",
                             "--seed", str(seed), "--threads", "2", "--json", "--out", "{out}")),
        Case("ally-decay", ("ally-decay", "experiments/extended-deterrence.toml", "--renewal", "0,30", "-n", "20",
                            "--seed", str(seed), "--step", "2", "--json", "--out", "{out}")),
        Case("simulate-direct", ("simulate", "experiments/direct-deterrence.toml", "--seed", str(seed), "--json")),
        Case("simulate-extended", ("simulate", "experiments/extended-deterrence.toml", "--seed", str(seed),
                                   "--replication", "3", "--json")),
        Case("simulate-ipd", ("simulate", "experiments/ipd-noisy.toml", "--seed", str(seed), "--json")),
        Case("replay", ("simulate", "--from", "run-default", "--cell", "2", "--replication", "5", "--json")),
    ]
    return out


def run_all(checkout: Path, out_root: Path, todo: list[Case]) -> list[str]:
    """Run every case with the package imported from ``checkout``; return the failures.

    Commands run in ``out_root`` with relative paths (``experiments/`` is a copy of the checkout's), so that
    paths written into reports and files are the same for both checkouts.
    """
    shutil.copytree(checkout / "experiments", out_root / INPUTS)
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    where = subprocess.run([sys.executable, "-c", "import escalation_sim; print(escalation_sim.__file__)"],
                           env=env, cwd=out_root, capture_output=True, text=True, check=True).stdout.strip()
    if not Path(where).resolve().is_relative_to(checkout.resolve()):
        raise SystemExit(f"error: escalation_sim imports from {where}, not from {checkout}")
    print(f"{checkout}: escalation_sim from {where}", flush=True)
    failures = []
    for case in todo:
        out = out_root / case.name
        args = [a.replace("{out}", case.name) for a in case.args]
        res = subprocess.run([sys.executable, "-m", "escalation_sim", *args], env=env, cwd=out_root,
                             capture_output=True, text=True)
        status = "ok" if res.returncode == 0 else f"FAILED (exit {res.returncode})"
        print(f"  {case.name:<48} {status}", flush=True)
        if res.returncode != 0:
            failures.append(f"{checkout.name}: {case.name}: exit {res.returncode}: {res.stderr.strip()[-500:]}")
            continue
        if "--json" in case.args:
            dest = out if out.is_dir() else out_root / "stdout"
            dest.mkdir(parents=True, exist_ok=True)
            (dest / f"{case.name}.stdout.json").write_text(res.stdout)
    return failures


def ignored(rel: Path) -> bool:
    return (rel.parts[0] == INPUTS or rel.name in IGNORED_NAMES or any(p.match(rel.name) for p in IGNORED_PATTERNS)
            or any(part in IGNORED_DIRS for part in rel.parts[:-1]))


def normalized(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name == "report.md":
        lines = data.decode().splitlines(keepends=True)
        data = "".join(line for line in lines if not VOLATILE_REPORT_LINES.match(line)).encode()
    return data


def compare(a: Path, b: Path) -> tuple[int, list[str]]:
    """Compare the trees ``a`` and ``b``; return the number of files compared and the differences."""
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
    problems = [f"only in {a.name}: {p}" for p in sorted(files_a - files_b) if not ignored(p)]
    problems += [f"only in {b.name}: {p}" for p in sorted(files_b - files_a) if not ignored(p)]
    compared = 0
    for rel in sorted(files_a & files_b):
        if ignored(rel):
            continue
        compared += 1
        same = normalized(a / rel) == normalized(b / rel)
        print(f"  {'identical' if same else 'DIFFERENT':<10} {rel}")
        if not same:
            problems.append(f"differs: {rel}")
    return compared, problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", default="682c498", help="git ref to compare the working tree with [default: %(default)s]")
    ap.add_argument("-n", "--replications", type=int, default=2048, help="replications per cell [default: %(default)s]")
    ap.add_argument("--seed", type=int, default=7, help="seed of every run [default: %(default)s]")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (its path is printed)")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="compare-runs-"))
    ref_tree = tmp / "ref-checkout"
    subprocess.run(["git", "worktree", "add", "--quiet", "--detach", str(ref_tree), args.ref], cwd=ROOT, check=True)
    try:
        todo = cases(args.replications, args.seed)
        print(f"{len(todo)} commands, {len(experiment_files(ROOT))} shipped experiments, n = {args.replications}, "
              f"seed {args.seed}; {args.ref} (in {ref_tree}) against the working tree {ROOT}\n", flush=True)
        failures = []
        for label, checkout in (("ref", ref_tree), ("work", ROOT)):
            out = tmp / label
            out.mkdir()
            failures += run_all(checkout, out, todo)
        print("\nComparing every file written (ignoring manifests, figures and report.md's time and commit lines):")
        compared, problems = compare(tmp / "ref", tmp / "work")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(ref_tree)], cwd=ROOT, check=False)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    problems = failures + problems
    print(f"\n{compared} files compared; {len(problems)} problems")
    for p in problems:
        print(f"  {p}")
    if args.keep:
        print(f"outputs kept in {tmp}")
    print("IDENTICAL" if not problems else "DIFFERENT")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

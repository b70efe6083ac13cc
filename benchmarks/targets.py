"""The performance issue's targets, read from an asv result file: PASS / FAIL and the gap.

Usage::

    python benchmarks/targets.py                      # the newest result file in benchmarks/results/
    python benchmarks/targets.py --commit 84b803a     # the newest one of that commit
    python benchmarks/targets.py benchmarks/results/MACHINE/HASH-ENV.json

asv records and compares the figures (``asv show``, ``asv compare``); this
script only sets the ones the issue names against their thresholds
(``TARGETS`` in ``configurations.py``) and prints, beside each, the CPU-share
figure of the same measurement. A figure is NaN ("n/a") when no round of it had
its cores, or when it was skipped (e.g. the slow memory run, or no Axelrod).
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import math
import sys
from pathlib import Path

from configurations import TARGETS

RESULTS = Path(__file__).resolve().parent / "results"


def result_files(commit: str | None) -> list[Path]:
    files = [p for p in RESULTS.glob("*/*.json") if p.name != "machine.json"]
    if commit:
        files = [p for p in files if p.name.startswith(commit[:8])]
    return files


def newest(files: list[Path]) -> Path:
    def date(p: Path) -> int:
        return json.loads(p.read_text()).get("date") or 0

    if not files:
        raise SystemExit(f"no asv result files under {RESULTS} (run `asv run` first)")
    return max(files, key=date)


def value(rec: dict, name: str, params: tuple) -> float | None:
    """The value of benchmark ``name`` at ``params`` (None if not in the file or failed)."""
    row = rec["results"].get(name)
    if row is None:
        return None
    cols = dict(zip(rec["result_columns"], row, strict=False))
    results, grid = cols["result"], cols.get("params") or []
    if results is None:
        return None
    if not grid:
        v = results[0]
    else:
        combos = [tuple(ast.literal_eval(x) for x in c) for c in itertools.product(*grid)]
        if tuple(params) not in combos:
            return None
        v = results[combos.index(tuple(params))]
    return math.nan if v is None else float(v)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("result", nargs="?", type=Path, help="an asv result file [default: the newest]")
    ap.add_argument("--commit", help="the newest result file of this commit (hash prefix)")
    args = ap.parse_args(argv)
    path = args.result or newest(result_files(args.commit))
    rec = json.loads(path.read_text())
    print(f"{path.relative_to(RESULTS) if path.is_relative_to(RESULTS) else path}: commit {rec['commit_hash'][:8]}, "
          f"env {rec.get('env_name', '?')}")
    for name, params, op, threshold, text in TARGETS:
        v = value(rec, name, params)
        if v is None or math.isnan(v):
            status, gap = "SKIP", "not measured (skipped, failed, or no round had its cores)"
        else:
            ok = v >= threshold if op == ">=" else v <= threshold
            status = "PASS" if ok else "FAIL"
            gap = "" if ok else (f"{threshold / v:.1f}x short" if op == ">=" else f"{v / threshold:.1f}x over")
        shown = "-" if v is None or math.isnan(v) else f"{v:,.4g}"
        print(f"  {status:<5} {text:<46} {op} {threshold:>10,g}: {shown:>12}  {gap}")
        module, cls = name.split(".")[:2]
        share_params = params
        if module == "startup":  # its CPU shares are per kind of start, not per part of it
            share_params = ("cold compile",) if "cold" in name else ("cached start-up",)
        share = value(rec, f"{module}.{cls}.track_cpu_share", share_params)
        if share is not None and not math.isnan(share):
            print(f"        lowest CPU share of its runs: {share:.2f}{'  (disturbed runs left out)' if share < 0.9 else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

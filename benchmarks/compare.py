"""Compare two benchmark records side by side.

Usage::

    python benchmarks/compare.py OLD.json NEW.json

Prints every figure present in either record: old and new median, the ratio
new/old, and a verdict. A change is called ``better`` or ``worse`` only when
the ranges [min, max] of the two records do not overlap and the medians differ
by more than 5%; otherwise it is ``~`` (within noise). Figures that are
properties rather than speeds (events or draws per replication) are marked
``changed`` when they differ: the workload itself changed, so speeds are not
comparable one to one. A figure is flagged ``noisy`` when one of its timed runs got
less than 90% of its cores (another job ran). Targets of both records are listed
at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NOISE = 0.05
NOISY_SHARE = 0.9  # as in run.py: a timed run with less CPU than this share of wall x threads was disturbed


def load(path: Path) -> dict:
    rec = json.loads(path.read_text())
    if "figures" not in rec:
        raise SystemExit(f"{path}: not a benchmark record (no 'figures')")
    return rec


def fmt(v: float | None) -> str:
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1e5:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:,.1f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def verdict(old: dict, new: dict) -> str:
    o, n = old["median"], new["median"]
    if o == 0:
        return "" if n == 0 else "changed"
    ratio = n / o
    better = new.get("better") or old.get("better")
    if better is None:
        return "changed" if abs(ratio - 1) > 1e-9 else ""
    disjoint = new["min"] > old["max"] or new["max"] < old["min"]
    if not disjoint or abs(ratio - 1) <= NOISE:
        return "~"
    up = ratio > 1
    return "better" if up == (better == "higher") else "worse"


def header(tag: str, rec: dict) -> str:
    g = rec.get("git", {})
    m = rec.get("machine", {})
    dirty = " (dirty)" if g.get("dirty") else ""
    load = m.get("load_average_at_start")
    load_s = f", load {load[0]:.2f}" if load else ""
    return (
        f"{tag}: {g.get('commit', '?')[:8]}{dirty}  {rec.get('date', '?')}  suite {rec.get('suite', '?')}  "
        f"{m.get('cpu', '?')} x{m.get('cpu_count', '?')}{load_s}  "
        + ", ".join(f"{k} {v}" for k, v in rec.get("versions", {}).items())
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    args = ap.parse_args(argv)
    old, new = load(args.old), load(args.new)
    print(header("old", old))
    print(header("new", new))
    warn = []
    for key in ("cpu", "cpu_count", "numba_threads"):
        if old.get("machine", {}).get(key) != new.get("machine", {}).get(key):
            warn.append(f"machine {key} differs")
    if old.get("suite") != new.get("suite"):
        warn.append("suites differ (quick vs full): sample sizes differ")
    for w in warn:
        print(f"warning: {w}")
    of, nf = old["figures"], new["figures"]
    keys = list(of) + [k for k in nf if k not in of]
    width = max(len(k) for k in keys)
    print()
    print(f"{'figure':<{width}}  {'old':>12}  {'new':>12}  {'new/old':>8}  {'unit':<6} verdict")
    section = None
    for key in keys:
        head = key.split(".")[0]
        if head != section:
            print("-" * (width + 56))
            section = head
        o, n = of.get(key), nf.get(key)
        if o is None or n is None:
            f = o or n
            print(
                f"{key:<{width}}  {fmt(o and o['median']):>12}  {fmt(n and n['median']):>12}  {'':>8}  {f['unit']:<6} "
                + ("only old" if n is None else "only new")
            )
            continue
        ratio = n["median"] / o["median"] if o["median"] else float("nan")
        noisy = [tag for tag, f in (("old", o), ("new", n)) if min(f.get("cpu_share") or [1.0]) < NOISY_SHARE]
        flag = f"  (noisy: {', '.join(noisy)})" if noisy else ""
        print(
            f"{key:<{width}}  {fmt(o['median']):>12}  {fmt(n['median']):>12}  {ratio:>8.3f}  {n['unit']:<6} {verdict(o, n)}{flag}"
        )
    print()
    print("targets")
    old_t = {t["figure"]: t for t in old.get("targets", [])}
    for t in new.get("targets", []):
        ot = old_t.get(t["figure"], {})
        print(
            f"  {t['text']:<56} {t['op']} {fmt(t['target']):>10}:  old {fmt(ot.get('value'))} {ot.get('status', '-'):<5}"
            f"  new {fmt(t.get('value'))} {t['status']:<5} {t.get('gap', '')}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

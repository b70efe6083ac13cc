"""Fingerprints of the compiled engine's outputs, to check that a speed change changes no number.

For every cell of every crisis experiment file in ``experiments/`` (and every crisis scenario file there), and
for extra cases that reach every strategy, every ally instrument together, populations of mixes and exact ties,
this script runs, for each of a few seeds:

* ``montecarlo.final_states(scenario, seed, range(N))``: the final state vector of every replication;
* ``montecarlo.final_states(..., twin=True)`` on the replications that end in war and the first ``N_TWIN``;
* ``montecarlo.run_blocks`` on the same ``N`` replications (serial kernel, blocks of ``BLOCK``) and the parallel
  kernel on 2 threads: every output array of every block;

and records one SHA-256 per case and kind (over the seeds in order; arrays hashed with dtype and shape) in a
JSON file. ``--check`` recomputes them and compares with a recorded file: every hash must match (bit-identical
outputs), or the script names the cases that differ and exits 1.

Usage::

    python tools/golden_outputs.py --out tools/golden_outputs.json      # record
    python tools/golden_outputs.py --check tools/golden_outputs.json    # verify (exit 1 on any difference)
    python tools/golden_outputs.py --check tools/golden_outputs.json --only extended

The serial and parallel block outputs are checked to be equal on the way (they are by construction).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

import escalation_sim  # noqa: F401  (configures the Numba cache)
from escalation_sim.engines import montecarlo as mc
from escalation_sim.model import strategies
from escalation_sim.model.constants import WAR_OUTCOME, X_OUTCOME
from escalation_sim.model.scenario import Scenario
from escalation_sim.model.validation import load_scenario
from escalation_sim.pipeline.experiment import load_experiment

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"
SEEDS = (0, 11, 20261122)
N = 2000
N_TWIN = 200
BLOCK = 512


def _update(h, arr: np.ndarray) -> None:
    a = np.ascontiguousarray(arr)
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())


def fingerprint(scenario: Scenario, n: int = N, seeds: tuple[int, ...] = SEEDS) -> dict[str, str]:
    """SHA-256 of the final states, the twins' final states and the block outputs of ``scenario``."""
    hs, ht, hb = hashlib.sha256(), hashlib.sha256(), hashlib.sha256()
    p_mixes, mix_cum = scenario.vectors()
    blocks = np.arange(mc.n_blocks(n, BLOCK), dtype=np.int64)
    for seed in seeds:
        st = mc.final_states(scenario, seed, range(n))
        _update(hs, st)
        war = np.flatnonzero(st[:, X_OUTCOME] == WAR_OUTCOME).tolist()
        reps = sorted(set(range(min(N_TWIN, n))) | set(war))
        _update(ht, mc.final_states(scenario, seed, reps, twin=True))
        serial = mc.run_blocks(p_mixes, mix_cum, seed, blocks, BLOCK, n, parallel=False)
        parallel = mc.run_blocks(p_mixes, mix_cum, seed, blocks, BLOCK, n, parallel=True, threads=min(2, mc.max_threads()))
        for a, b in zip(serial.arrays, parallel.arrays, strict=True):
            if not np.array_equal(a, b):
                raise AssertionError("serial and parallel kernels differ")
            _update(hb, a)
    return {"states": hs.hexdigest(), "twins": ht.hexdigest(), "blocks": hb.hexdigest()}


def extra_cases() -> list[tuple[str, Scenario]]:
    """Strategies, instruments, populations and ties beyond the shipped files."""
    cases: list[tuple[str, Scenario]] = []

    def add(name, values=None, mix=None, population=None):
        cases.append((name, Scenario.build(name, values or {}, strategies=mix, population=population)))

    add("none")
    for r in strategies.RESPONSE_RULES:
        add(f"response-{r}", mix=[r])
    for m in (s.name for s in strategies.STRATEGIES if s.kind == "modifier"):
        add(f"modifier-{m}", mix=[m])
        add(f"modifier-{m}+tit_for_tat", mix=["tit_for_tat", m])
    ally = {"ally.present": True, "defender.renewal_interval": 45.0}
    for k in strategies.ALLY_INSTRUMENTS:
        add(f"ally-{k}+immediate_deterrence", ally, ["immediate_deterrence", k])
    every = list(strategies.ALLY_INSTRUMENTS)
    add("ally-all-instruments", ally, every)
    add("ally-all-instruments+immediate_deterrence", ally, ["immediate_deterrence", *every])
    add("ally-all-instruments+all-modifiers+tit_for_tat", ally,
        ["tit_for_tat", "grit", "general_deterrence", "self_restraint", "norms_of_competition",
         "limited_security_regime", *every])
    add("ally-all-instruments-no-exit", {**ally, "effects.tripwire_no_exit": True, "effects.tripwire_lr": 3.0},
        ["immediate_deterrence", *every])
    add("ally-busy", {**ally, "ally.review_interval": 30.0, "ally.detection_rate": 1 / 60, "ally.programme_time": 90.0,
                      "ally.threat": 0.3, "ally.risk_gain": 0.06, "ally.lapse_rate": 1 / 180,
                      "ally.recommit_rate": 1 / 180, "challenger.p_need": 1.0},
        ["reciprocal_concessions", "grit", *every])
    add("ally-no-risk-taking", {"ally.present": True, "ally.risk_taking": False}, ["tripwire"])
    for c in strategies.CHALLENGER_STRATEGIES:
        add(f"challenger-{c}-vs-reciprocal_concessions", {"challenger.strategy": c}, ["reciprocal_concessions"])
        add(f"challenger-{c}-vs-ally", {**ally, "challenger.strategy": c}, ["generous_tit_for_tat", *every])
    add("population", {"ally.present": True, "defender.renewal_interval": 45.0},
        population=[(0.7, ["immediate_deterrence", "tripwire"]), (0.3, ["grit", "aid", "exercises"])])
    ties = {"channel.delay_mean": 0.0, "channel.delay_min": 0.0, "military.execution_delay_mean": 0.0,
            "defender.grit_interval": 30.0, "crisis.opportunity_rate": 0.05}
    add("ties", ties, ["tit_for_tat", "grit"])
    add("ties-ally", {**ties, "ally.present": True, "defender.renewal_interval": 30.0, "ally.review_interval": 30.0},
        ["tit_for_tat", "grit", "public_statement", "exercises"])
    add("complete-information", {"belief.complete_information": True, "ally.present": True,
                                 "defender.renewal_interval": 60.0}, ["immediate_deterrence", "tripwire"])
    return cases


def all_cases() -> list[tuple[str, Scenario]]:
    """Every case, in a fixed order."""
    cases: list[tuple[str, Scenario]] = []
    for path in sorted(EXPERIMENTS.glob("*.toml")):
        text = path.read_text()
        if "[ipd]" in text or 'form = "ipd"' in text or "[calibration]" in text:
            continue
        if "[experiment]" in text:
            exp = load_experiment(path)
            if exp.form != "crisis":
                continue
            for cell in exp.cells:
                cases.append((f"{path.stem}[{cell.index}] {cell.label}", cell.scenario))
        elif "[scenario]" in text:
            cases.append((f"{path.stem}", load_scenario(path)))
    return cases + extra_cases()


def compute(only: str | None = None, verbose: bool = True) -> dict[str, dict[str, str]]:
    """Fingerprints of every case (``only``: those whose name contains it); identical cells computed once."""
    out: dict[str, dict[str, str]] = {}
    seen: dict[bytes, dict[str, str]] = {}
    t0 = time.perf_counter()
    for name, scen in all_cases():
        if only and only not in name:
            continue
        pm, cum = scen.vectors()
        key = pm.tobytes() + cum.tobytes()
        if key not in seen:
            seen[key] = fingerprint(scen)
        out[name] = seen[key]
        if verbose:
            print(f"{time.perf_counter() - t0:7.1f}s  {name}", file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="write the fingerprints to this JSON file")
    ap.add_argument("--check", type=Path, help="compare with this recorded JSON file; exit 1 on any difference")
    ap.add_argument("--only", help="only the cases whose name contains this string")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    mc.warm_up()
    got = compute(args.only, verbose=not args.quiet)
    record = {"settings": {"seeds": list(SEEDS), "replications": N, "twins_first": N_TWIN, "block_size": BLOCK},
              "cases": got}
    if args.out:
        args.out.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        print(f"{len(got)} cases written to {args.out}")
    if args.check:
        ref = json.loads(args.check.read_text())
        if ref["settings"] != record["settings"]:
            print("settings differ from the recorded file", file=sys.stderr)
            return 1
        bad = []
        for name, h in got.items():
            if name not in ref["cases"]:
                bad.append((name, "not recorded"))
            elif ref["cases"][name] != h:
                kinds = [k for k in h if h[k] != ref["cases"][name].get(k)]
                bad.append((name, ", ".join(kinds)))
        missing = [] if args.only else [n for n in ref["cases"] if n not in got]
        for name, what in bad:
            print(f"DIFFERENT  {name}: {what}")
        for name in missing:
            print(f"MISSING    {name}")
        print(f"{len(got) - len(bad)} of {len(got)} cases identical; {len(bad)} different; {len(missing)} missing")
        return 1 if bad or missing else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run an IPD experiment (a tournament of match settings) and write its results.

Every cell (a pair of strategies at one setting of turns, noise and payoffs)
is played ``replications`` times by the compiled kernel
(:mod:`escalation_sim.engines.ipd_montecarlo`); replication ``r`` of every cell
uses the streams of ``(seed, r)`` (common random numbers). The run writes to
``results/<experiment>/<run-id>/``:

* ``cells.{parquet,csv}``: one row per cell: mean cooperation (both players,
  each player), mean score per round of each player, each with its
  replication-level standard error and normal 95% interval, and the counts of
  rounds with each outcome (CC, CD, DC, DD);
* ``standings.{parquet,csv}``: per group (grid setting) and strategy, the mean
  score per round and cooperation over its matches (round-robin ranking);
* ``manifest.json`` and ``report.md``.

IPD runs are short, so they are not checkpointed: an interrupted run is run
again from the start.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ..engines import ipd_montecarlo as mc
from ..io import results as io_results
from ..io.ipd_config import IPDExperiment
from ..model import ipd


class IPDRunError(Exception):
    """A run option that is not allowed for an IPD experiment (checked before anything is written)."""


def config_hash(exp: IPDExperiment) -> str:
    """SHA-256 of what determines the numbers: every cell's match setting and the block size."""
    payload = {"form": "ipd", "cells": [{"label": c.label, **c.scenario.describe()} for c in exp.cells],
               "block_size": exp.block_size}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def cell_row(cell, totals: mc.IPDTotals) -> dict:
    """Flat record of one cell: its setting, then :func:`ipd_montecarlo.summarize`."""
    g = cell.scenario
    row = {
        "cell": cell.index,
        "label": cell.label,
        "group": cell.group,
        "player_0": g.players[0],
        "player_1": g.players[1],
        "noise": float(g.noise),
        "turns": int(g.turns),
        "payoffs": "R={:g} S={:g} T={:g} P={:g}".format(*g.payoffs),
    }
    s = mc.summarize(g, totals)
    s.pop("turns")
    row["n"] = s.pop("replications")
    row.update(s)
    row["overrides"] = json.dumps(cell.overrides, sort_keys=True)
    return row


def standings(cells: pd.DataFrame) -> pd.DataFrame:
    """Round-robin ranking per group: each strategy's mean score per round and cooperation over its matches.

    A strategy is credited with its own side of each match; a self-play match
    counts once, with the mean of both sides.
    """
    rows = []
    for group, df in cells.groupby("group", sort=False):
        credit: dict[str, list] = {}
        for _, r in df.iterrows():
            if r["player_0"] == r["player_1"]:
                sides = [(r["player_0"], (r["score_0"] + r["score_1"]) / 2, r["cooperation"], r["player_1"])]
            else:
                sides = [(r["player_0"], r["score_0"], r["cooperation_0"], r["player_1"]),
                         (r["player_1"], r["score_1"], r["cooperation_1"], r["player_0"])]
            for name, score, coop, opp in sides:
                credit.setdefault(name, []).append((score, coop, opp))
        ranked = sorted(credit.items(), key=lambda kv: -float(np.mean([x[0] for x in kv[1]])))
        for rank, (name, vals) in enumerate(ranked, start=1):
            rows.append({
                "group": group,
                "rank": rank,
                "strategy": name,
                "matches": len(vals),
                "score_per_round": float(np.mean([v[0] for v in vals])),
                "cooperation": float(np.mean([v[1] for v in vals])),
                "opponents": ", ".join(v[2] for v in vals),
            })
    return pd.DataFrame(rows)


def run_ipd_experiment(
    exp: IPDExperiment,
    replications: int,
    seed: int,
    block_size: int,
    threads: int,
    on_cell: Callable[[int], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Play every cell; return the cell table and the standings."""
    rows = []
    for cell in exp.cells:
        totals = mc.run_match(cell.scenario, replications, seed, block_size, threads)
        rows.append(cell_row(cell, totals))
        if on_cell is not None:
            on_cell(cell.index)
    cells = pd.DataFrame(rows)
    return cells, standings(cells)


def _md(x: float, digits: int = 3) -> str:
    return "n/a" if x != x else f"{x:.{digits}f}"


def report_markdown(cells: pd.DataFrame, table: pd.DataFrame, manifest: dict) -> str:
    """A short report: setup, standings and score matrix per group, how to read the intervals."""
    first = cells.iloc[0]
    lines = [
        f"# IPD experiment: {manifest['experiment']}",
        "",
        manifest.get("description") or "",
        "",
        f"{len(cells)} cells, {manifest['replications']:,} matches each of {int(first['turns']):,} rounds, "
        f"payoffs {first['payoffs']}, seed {manifest['seed']}, compiled engine ({manifest['threads']} threads). "
        "Every cell uses the same random streams per replication (common random numbers).",
        "",
        "Intervals: normal 95% intervals with the replication-level standard error (the rounds of a match are not "
        "independent, so they are not treated as a binomial sample). Standings average a strategy's mean score per "
        "round over its matches; differences smaller than the cells' intervals (in `cells.csv`) are not resolved.",
    ]
    for group, st in table.groupby("group", sort=False):
        df = cells[cells["group"] == group]
        lines += ["", f"## {group if group != 'all' else 'Standings'}", "",
                  "| rank | strategy | score per round | cooperation | matches |", "|---|---|---|---|---|"]
        for _, r in st.iterrows():
            lines.append(f"| {r['rank']} | {r['strategy']} | {_md(r['score_per_round'])} | {_md(r['cooperation'])} | {r['matches']} |")
        names = list(st["strategy"])
        if len(df) > 1:
            score = {}
            for _, r in df.iterrows():
                score[(r["player_0"], r["player_1"])] = r["score_0"] if r["player_0"] != r["player_1"] else (r["score_0"] + r["score_1"]) / 2
                score.setdefault((r["player_1"], r["player_0"]), r["score_1"])
            short = {s.name: s.short for s in ipd.IPD_STRATEGIES}
            lines += ["", "Mean score per round of the row strategy against the column strategy:", "",
                      "| | " + " | ".join(short.get(n, n) for n in names) + " |", "|---" * (len(names) + 1) + "|"]
            for a in names:
                lines.append(f"| {short.get(a, a)} | " + " | ".join(_md(score.get((a, b), float("nan")), 2) for b in names) + " |")
    lines += ["", "Reproduce: `escalation-sim run " + str(manifest.get("experiment_file", "")) + f" --seed {manifest['seed']} "
              f"--replications {manifest['replications']}`", ""]
    return "\n".join(lines)


def summary_text(table: pd.DataFrame, n: int, seconds: float) -> str:
    """Standings as plain text, for the terminal."""
    out = []
    for group, st in table.groupby("group", sort=False):
        out.append(f"\n{group}" if group != "all" else "")
        out.append(f"{'rank':>4}  {'strategy':<24} {'score/round':>11} {'cooperation':>11} {'matches':>7}")
        for _, r in st.iterrows():
            out.append(f"{r['rank']:>4}  {r['strategy']:<24} {r['score_per_round']:11.3f} {r['cooperation']:11.3f} {r['matches']:>7}")
    out.append(f"\n{n:,} matches per cell, {seconds:.1f} s. Intervals per cell (normal, replication-level SE) in cells.csv.")
    return "\n".join(out).lstrip("\n")


def execute(
    exp: IPDExperiment,
    experiment_file,
    *,
    replications: int | None,
    seed: int | None,
    threads: int | None,
    block_size: int | None,
    out: Path | None,
    force: bool,
    as_json: bool,
    no_progress: bool,
    unsupported: dict,
    log: Callable[[str], None],
    echo: Callable[[str], None],
) -> Path:
    """Validate the run options, play the experiment and write its results (the CLI's ``run`` for IPD).

    Raises
    ------
    IPDRunError
        An option out of range or not available for IPD experiments; nothing is written.
    """
    from .. import __version__
    from .._cache import source_hash

    for opt, value in unsupported.items():
        if value:
            raise IPDRunError(f"{opt}: not available for IPD experiments (they run in seconds, unsharded, on local threads)")
    n = exp.replications if replications is None else replications
    s = exp.seed if seed is None else seed
    bs = exp.block_size if block_size is None else block_size
    if n < 1:
        raise IPDRunError(f"--replications {n}: allowed: a whole number >= 1")
    if s < 0:
        raise IPDRunError(f"--seed {s}: allowed: a whole number >= 0")
    if bs < 1:
        raise IPDRunError(f"--block-size {bs}: allowed: a whole number >= 1")
    maxt = mc.max_threads()
    t = maxt if threads is None else threads
    if not 1 <= t <= maxt:
        raise IPDRunError(f"--threads {t}: allowed: 1 to {maxt} on this machine")
    exp = exp if bs == exp.block_size else type(exp)(**{**exp.__dict__, "block_size": bs})
    chash = config_hash(exp)
    out_dir = out or Path("results") / exp.name / f"{chash[:10]}-seed{s}-n{n}"
    try:
        io_results.prepare_run_dir(out_dir, force)
    except io_results.ResultsExistError as exc:
        raise IPDRunError(str(exc)) from None
    manifest = {
        "experiment": exp.name,
        "form": "ipd",
        "experiment_file": str(experiment_file),
        "description": exp.description,
        "config_hash": chash,
        "model_source_hash": source_hash(),
        "seed": s,
        "replications": n,
        "replications_requested": n,
        "block_size": bs,
        "threads": t,
        "backend": "threads",
        "engine": "compiled (escalation_sim.engines.ipd_montecarlo)",
        "generator": mc.GENERATOR,
        "common_random_numbers": "every cell uses the streams of (seed, replication)",
        "ci_method": mc.CI_METHOD,
        "ci_level": mc.CI_LEVEL,
        "strategies": {st.name: {"summary": st.summary, "references": list(st.references), "classifier": st.classifier}
                       for st in ipd.IPD_STRATEGIES},
        "cells": [{"index": c.index, "label": c.label, "group": c.group, "overrides": c.overrides, **c.scenario.describe()}
                  for c in exp.cells],
        "config": exp.raw,
        "versions": io_results.versions(),
        "git": io_results.git_state(),
        "machine": io_results.machine(),
        "start": io_results.now_iso(),
        "end": None,
        "exit_status": "running",
    }
    mpath = out_dir / io_results.MANIFEST
    io_results.write_json(mpath, manifest)
    log(f"escalation-sim {__version__}: {exp.name} (IPD), {len(exp.cells)} cells x {n:,} matches, seed {s}, {t} threads -> {out_dir}")
    t0 = time.perf_counter()
    bar = None
    try:
        mc.warm_up()
        if not no_progress and sys.stderr.isatty():
            import click

            bar = click.progressbar(length=len(exp.cells), label="cells", file=sys.stderr)
            bar.__enter__()
        cells, table = run_ipd_experiment(exp, n, s, bs, t, on_cell=(lambda _i: bar.update(1)) if bar is not None else None)
    except KeyboardInterrupt:
        manifest.update(end=io_results.now_iso(), exit_status="interrupted")
        io_results.write_json(mpath, manifest)
        raise
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    seconds = time.perf_counter() - t0
    files = [p.name for p in io_results.write_table(cells, out_dir, "cells")]
    files += [p.name for p in io_results.write_table(table, out_dir, "standings")]
    manifest.update(seconds=round(seconds, 3), end=io_results.now_iso(), exit_status="complete")
    io_results.atomic_write_bytes(out_dir / "report.md", report_markdown(cells, table, manifest).encode())
    files.append("report.md")
    manifest["files"] = files
    io_results.write_json(mpath, manifest)
    if as_json:
        echo(cells.to_json(orient="records", indent=2))
    else:
        echo(summary_text(table, n, seconds))
    log(f"wrote {out_dir}")
    return out_dir


# --- one match (the CLI's ``simulate`` for IPD scenarios) ---------------------------
def is_ipd_target(scenario: Path | None, from_dir: Path | None) -> bool:
    """Whether ``simulate`` was given an IPD scenario file or an IPD results directory."""
    from ..io.ipd_config import is_ipd_file

    if scenario is not None:
        return is_ipd_file(scenario)
    if from_dir is not None:
        p = from_dir / io_results.MANIFEST
        try:
            return p.is_file() and json.loads(p.read_text()).get("form") == "ipd"
        except (OSError, ValueError):
            return False
    return False


def game_from_manifest(manifest: dict, cell: int) -> ipd.IPDGame:
    """The match setting of cell ``cell`` of an IPD run, as recorded in its manifest."""
    cells = manifest["cells"]
    if not 0 <= cell < len(cells):
        raise IPDRunError(f"--cell {cell}: allowed: 0 to {len(cells) - 1} for this run")
    c = cells[cell]
    params = {name: dict(p) for name, p in zip(c["players"], c["params"], strict=True)}
    return ipd.IPDGame(players=tuple(c["players"]), turns=int(c["turns"]), noise=float(c["noise"]),
                       payoffs=tuple(float(c["payoffs"][k]) for k in ipd.PAYOFF_NAMES), params=params,
                       name=f"{manifest['experiment']} cell {cell}: {c['label']}")


def simulate_command(
    scenario: Path | None,
    from_dir: Path | None,
    cell: int | None,
    seed: int | None,
    replication: int,
    sets: dict,
    as_json: bool,
    echo: Callable[[str], None],
) -> None:
    """Play one match with the SimPy engine and print its rounds (or JSON).

    With ``from_dir`` and ``cell``: replay replication ``replication`` of that
    cell of an IPD run (its setting and seed).
    """
    from ..engines.ipd_simpy import simulate_match
    from ..io.ipd_config import load_ipd_scenario

    if from_dir is not None:
        if cell is None:
            raise IPDRunError("--from needs --cell K (see the 'cell' column of cells.csv)")
        if sets:
            raise IPDRunError("--from replays the run as it was: --set is not allowed with it")
        m = json.loads((from_dir / io_results.MANIFEST).read_text())
        game = game_from_manifest(m, cell)
        seed = int(m["seed"]) if seed is None else seed
    else:
        game = load_ipd_scenario(scenario, sets)
    seed = 1 if seed is None else seed
    res = simulate_match(game, seed=seed, replication=replication)
    tot = res.totals()
    if as_json:
        echo(json.dumps({"scenario": game.name, "form": "ipd", "seed": seed, "replication": replication,
                         "game": game.describe(), "totals": tot,
                         "trace": json.loads(res.trace.to_json(orient="records"))}, indent=2))
        return
    echo(f"IPD match '{game.name}'  seed {seed}  replication {replication}")
    echo(f"Player 0: {game.players[0]}   Player 1: {game.players[1]}   noise {game.noise:g}   "
         "payoffs R={:g} S={:g} T={:g} P={:g}".format(*game.payoffs))
    echo("")
    echo(" round  player 0  player 1  payoffs   (intended->played where noise flipped a move)")
    for _, r in res.trace.iterrows():
        a = r["move_0"] if r["intended_0"] == r["move_0"] else f"{r['intended_0']}->{r['move_0']}"
        b = r["move_1"] if r["intended_1"] == r["move_1"] else f"{r['intended_1']}->{r['move_1']}"
        echo(f"{r['round']:>6}  {a:<8}  {b:<8}  {r['payoff_0']:g}, {r['payoff_1']:g}")
    echo("")
    echo(f"Rounds CC {tot['n_CC']}, CD {tot['n_CD']}, DC {tot['n_DC']}, DD {tot['n_DD']}; "
         f"cooperation {tot['cooperation']:.3f} (player 0 {tot['cooperation_0']:.3f}, player 1 {tot['cooperation_1']:.3f})")
    echo(f"Scores: player 0 {tot['total_score_0']:g} ({tot['score_per_round_0']:.3f} per round), "
         f"player 1 {tot['total_score_1']:g} ({tot['score_per_round_1']:.3f} per round)")

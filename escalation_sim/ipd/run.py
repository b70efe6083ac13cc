"""An IPD experiment's run: play its cells, tabulate, rank, report; and one match, replayed and printed.

The run pipeline (:func:`escalation_sim.pipeline.run.execute_run`) drives an
IPD run with these functions: the run directory, the manifest and the progress
are its own, as for a crisis run.

Every cell (a pair of strategies at one setting of turns, noise and payoffs)
is played ``replications`` times by the compiled kernel
(:mod:`escalation_sim.ipd.montecarlo`); replication ``r`` of every cell
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
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..errors import OptionError
from . import model as ipd
from . import montecarlo as mc
from .config import IPDExperiment
from .simpy_engine import IPDMatchResult

ENGINE = "compiled (escalation_sim.ipd.montecarlo)"
INTERRUPTED = "interrupted; IPD runs are not checkpointed: run the same command again with --force"


def config_hash(exp: IPDExperiment, block_size: int) -> str:
    """SHA-256 of what determines the numbers: every cell's match setting and the block size."""
    payload = {"form": "ipd", "cells": [{"label": c.label, **c.scenario.describe()} for c in exp.cells],
               "block_size": block_size}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def cell_row(cell, totals: mc.IPDTotals) -> dict:
    """Flat record of one cell: its setting, then :func:`escalation_sim.ipd.montecarlo.summarize`."""
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


def play(
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


def manifest_fields(exp: IPDExperiment, experiment_file, chash: str, settings, source_hash: str) -> dict:
    """What an IPD run's manifest records before its provenance: the experiment, settings, strategies, cells."""
    return {
        "experiment": exp.name,
        "form": "ipd",
        "experiment_file": str(experiment_file),
        "description": exp.description,
        "config_hash": chash,
        "model_source_hash": source_hash,
        "seed": settings.seed,
        "replications": settings.replications,
        "replications_requested": settings.replications,
        "block_size": settings.block_size,
        "threads": settings.threads,
        "backend": "threads",
        "engine": ENGINE,
        "generator": mc.GENERATOR,
        "common_random_numbers": "every cell uses the streams of (seed, replication)",
        "ci_method": mc.CI_METHOD,
        "ci_level": mc.CI_LEVEL,
        "strategies": {st.name: {"summary": st.summary, "references": list(st.references), "classifier": st.classifier}
                       for st in ipd.IPD_STRATEGIES},
        "cells": [{"index": c.index, "label": c.label, "group": c.group, "overrides": c.overrides, **c.scenario.describe()}
                  for c in exp.cells],
        "config": exp.raw,
    }


# --- one match (``escalation-sim simulate`` of an IPD scenario or run) -------------------------
def game_from_manifest(manifest: dict, cell: int) -> ipd.IPDGame:
    """The match setting of cell ``cell`` of an IPD run, as recorded in its manifest."""
    cells = manifest["cells"]
    if not 0 <= cell < len(cells):
        raise OptionError(f"--cell {cell}: allowed: 0 to {len(cells) - 1} for this run")
    c = cells[cell]
    params = {name: dict(p) for name, p in zip(c["players"], c["params"], strict=True)}
    return ipd.IPDGame(players=tuple(c["players"]), turns=int(c["turns"]), noise=float(c["noise"]),
                       payoffs=tuple(float(c["payoffs"][k]) for k in ipd.PAYOFF_NAMES), params=params,
                       name=f"{manifest['experiment']} cell {cell}: {c['label']}")


def match_record(res: IPDMatchResult) -> dict:
    """One match as a JSON-able record: setting, seed, totals and the trace round by round."""
    game = res.game
    return {"scenario": game.name, "form": "ipd", "seed": res.seed, "replication": res.replication,
            "game": game.describe(), "totals": res.totals(), "trace": json.loads(res.trace.to_json(orient="records"))}


def match_text(res: IPDMatchResult) -> str:
    """One match, round by round, for a terminal: moves (intended->played where noise flipped one), payoffs, totals."""
    game, tot = res.game, res.totals()
    lines = [
        f"IPD match '{game.name}'  seed {res.seed}  replication {res.replication}",
        f"Player 0: {game.players[0]}   Player 1: {game.players[1]}   noise {game.noise:g}   "
        "payoffs R={:g} S={:g} T={:g} P={:g}".format(*game.payoffs),
        "",
        " round  player 0  player 1  payoffs   (intended->played where noise flipped a move)",
    ]
    for _, r in res.trace.iterrows():
        a = r["move_0"] if r["intended_0"] == r["move_0"] else f"{r['intended_0']}->{r['move_0']}"
        b = r["move_1"] if r["intended_1"] == r["move_1"] else f"{r['intended_1']}->{r['move_1']}"
        lines.append(f"{r['round']:>6}  {a:<8}  {b:<8}  {r['payoff_0']:g}, {r['payoff_1']:g}")
    lines += [
        "",
        f"Rounds CC {tot['n_CC']}, CD {tot['n_CD']}, DC {tot['n_DC']}, DD {tot['n_DD']}; "
        f"cooperation {tot['cooperation']:.3f} (player 0 {tot['cooperation_0']:.3f}, player 1 {tot['cooperation_1']:.3f})",
        f"Scores: player 0 {tot['total_score_0']:g} ({tot['score_per_round_0']:.3f} per round), "
        f"player 1 {tot['total_score_1']:g} ({tot['score_per_round_1']:.3f} per round)",
    ]
    return "\n".join(lines)

"""One crisis or match of a finished run, found again for ``escalation-sim simulate --from``.

A run records its cells' scenarios and its seed in its manifest; replication
``r`` of cell ``k`` is then the crisis (or IPD match) the SimPy engine plays
for that scenario, seed and replication, identical to the one the compiled
engine counted. Works on finished, merged and sharded runs (a shard's
manifest has the same cells).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DamagedFile, OptionError
from ..io.manifest import MANIFEST, read_manifest
from ..ipd.config import is_ipd_file
from ..ipd.model import IPDGame
from ..ipd.run import game_from_manifest
from ..model.scenario import Scenario
from .experiment import experiment_from_manifest


def simulate_form(scenario: Path | None, from_dir: Path | None) -> str:
    """``"ipd"`` for an IPD scenario file or the results of an IPD run, else ``"crisis"``."""
    if scenario is not None:
        return "ipd" if is_ipd_file(scenario) else "crisis"
    if from_dir is not None:
        p = from_dir / MANIFEST
        try:
            return "ipd" if p.is_file() and read_manifest(p).get("form") == "ipd" else "crisis"
        except DamagedFile:
            return "crisis"
    return "crisis"


def _manifest(from_dir: Path) -> dict:
    candidates = [from_dir / MANIFEST, *sorted(from_dir.glob("shard-*-of-*.json"))]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise OptionError(f"{from_dir}: no manifest.json: not a results directory")
    m = read_manifest(path)
    if "cells" not in m or "seed" not in m:
        raise OptionError(f"{path}: not the manifest of a crisis run (no cells or seed): nothing to replay")
    return m


def crisis_to_replay(from_dir: Path, cell: int) -> tuple[Scenario, int]:
    """Scenario and seed of cell ``cell`` of a finished (or merged, or sharded) crisis run."""
    m = _manifest(from_dir)
    exp = experiment_from_manifest(m, str(from_dir))
    if cell >= len(exp.cells):
        raise OptionError(f"--cell {cell}: allowed: 0 to {len(exp.cells) - 1} for {from_dir}")
    return exp.cells[cell].scenario, int(m["seed"])


def match_to_replay(from_dir: Path, cell: int) -> tuple[IPDGame, int]:
    """Match setting and seed of cell ``cell`` of an IPD run."""
    m = read_manifest(from_dir / MANIFEST)
    return game_from_manifest(m, cell), int(m["seed"])

"""Configuration of the iterated prisoner's dilemma form (validated like every other file).

A scenario with an ``[ipd]`` table is of the IPD form (:mod:`escalation_sim.ipd.model`);
an experiment is when its scenario is (or it says ``form = "ipd"``; the choice
is made by :func:`escalation_sim.pipeline.experiment.load_experiment`). Errors
are :class:`~escalation_sim.errors.ConfigError`: file, field, what is allowed.
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..errors import ConfigError
from ..io.experiment_file import EXPERIMENT_FIELDS, declared_cells, name_from_file, run_fields, scenario_path
from ..io.toml import read_toml, set_nested
from . import model as ipd

IPD_FIELDS = ("turns", "noise", "players", "payoffs", "strategy")
IPD_DEFAULT_REPLICATIONS = 1000
IPD_DEFAULT_BLOCK = 256


def is_ipd_file(path: str | Path) -> bool:
    """Whether ``path`` is a readable TOML file with an ``[ipd]`` table (an IPD scenario)."""
    try:
        return "ipd" in read_toml(path)
    except ConfigError:
        return False


def ipd_game_from_mapping(data: dict, source: str):
    """Validate an IPD scenario mapping (parsed TOML) and build the :class:`~escalation_sim.ipd.model.IPDGame`."""
    unknown = set(data) - {"scenario", "ipd"}
    if unknown:
        raise ConfigError(source, sorted(unknown)[0], "unknown section in an IPD scenario; allowed: scenario, ipd")
    meta = data.get("scenario", {})
    if not isinstance(meta, dict) or set(meta) - {"name", "description"}:
        raise ConfigError(source, "scenario", "allowed: a table with name and description")
    table = data.get("ipd")
    if not isinstance(table, dict):
        raise ConfigError(source, "ipd", f"allowed: a table with {', '.join(IPD_FIELDS)}")
    bad = set(table) - set(IPD_FIELDS)
    if bad:
        raise ConfigError(source, f"ipd.{sorted(bad)[0]}", f"unknown field; allowed: {', '.join(IPD_FIELDS)}")
    players = table.get("players")
    if not isinstance(players, list) or len(players) != 2 or not all(isinstance(p, str) for p in players):
        raise ConfigError(source, "ipd.players", f"got {players!r}; allowed: two strategy names, e.g. [\"tit_for_tat\", \"grudger\"]; "
                          f"strategies: {', '.join(ipd.IPD_STRATEGY_NAMES)}")
    turns = table.get("turns", 200)
    if isinstance(turns, bool) or not isinstance(turns, int) or not 1 <= turns <= ipd.MAX_TURNS:
        raise ConfigError(source, "ipd.turns", f"got {turns!r}; allowed: a whole number in [1, {ipd.MAX_TURNS}]")
    noise = table.get("noise", 0.0)
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0.0 <= noise <= 0.5:
        raise ConfigError(source, "ipd.noise", f"got {noise!r}; allowed: a probability in [0, 0.5]")
    pay = table.get("payoffs", {})
    if not isinstance(pay, dict) or set(pay) - set(ipd.PAYOFF_NAMES):
        raise ConfigError(source, "ipd.payoffs", "allowed: a table with R, S, T, P (defaults 3, 0, 5, 1)")
    payoffs = []
    for name, default in zip(ipd.PAYOFF_NAMES, ipd.DEFAULT_PAYOFFS, strict=True):
        v = pay.get(name, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(source, f"ipd.payoffs.{name}", f"got {v!r}; allowed: a finite number")
        payoffs.append(float(v))
    params = table.get("strategy", {})
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        raise ConfigError(source, "ipd.strategy", "allowed: tables [ipd.strategy.<name>] of parameters")
    try:
        return ipd.IPDGame(
            players=(players[0], players[1]), turns=turns, noise=float(noise), payoffs=tuple(payoffs),
            params={k: dict(v) for k, v in params.items()},
            name=str(meta.get("name", Path(source).stem)), description=str(meta.get("description", "")), source=source,
        )
    except ipd.IPDError as exc:
        raise ConfigError(source, f"ipd.{exc.field}", exc.message) from None


def load_ipd_scenario(path: str | Path, overrides: dict[str, Any] | None = None):
    """Load and validate an IPD scenario file; ``overrides``: ``"ipd.noise" -> value`` and the like."""
    data = read_toml(path)
    for key, val in (overrides or {}).items():
        if not key.startswith("ipd.") or key == "ipd.":
            raise ConfigError(str(path), key, "allowed: ipd.<field>, e.g. ipd.noise=0.1 or ipd.strategy.random.p_cooperate=0.7")
        set_nested(data, key, val, str(path))
    return ipd_game_from_mapping(data, str(path))


@dataclass(frozen=True)
class IPDCell:
    """One cell of an IPD experiment: a match setting, its label, and the group it is ranked in."""

    index: int
    label: str
    scenario: Any  # IPDGame
    overrides: dict = field(default_factory=dict)
    group: str = "all"


@dataclass(frozen=True)
class IPDExperiment:
    """A validated IPD experiment (tournament): cells of match settings and run settings."""

    form: ClassVar[str] = "ipd"

    name: str
    source: str
    scenario_path: str
    cells: tuple[IPDCell, ...]
    replications: int
    seed: int
    block_size: int
    description: str = ""
    strategies: tuple[str, ...] = ()
    self_play: bool = True
    raw: dict = field(default_factory=dict, repr=False)


def load_ipd_experiment(path: str | Path, data: dict | None = None) -> IPDExperiment:
    """Load and validate an IPD experiment file.

    ``[experiment]`` as for crisis experiments (plus ``form = "ipd"``,
    optional); ``[tournament]`` with ``strategies`` (a list, or ``"all"``) and
    ``self_play`` (default true) makes a round robin: one cell per pair of
    strategies for every cell of the ``[grid]`` / ``[[cells]]`` (whose fields
    are ``"ipd.<field>"`` overrides of the base scenario).
    """
    source = str(path)
    data = read_toml(path) if data is None else data
    unknown = set(data) - {"experiment", "grid", "cells", "tournament"}
    if unknown:
        raise ConfigError(source, sorted(unknown)[0], "unknown section; allowed: experiment, tournament, grid, cells")
    exp = data.get("experiment")
    if not isinstance(exp, dict):
        raise ConfigError(source, "experiment", "missing [experiment] table (name, scenario, replications, seed)")
    allowed = EXPERIMENT_FIELDS | {"form"}
    bad = set(exp) - allowed
    if bad:
        raise ConfigError(source, f"experiment.{sorted(bad)[0]}", f"unknown field; allowed: {', '.join(sorted(allowed))}")
    run = run_fields(source, exp, name_from_file(path), IPD_DEFAULT_REPLICATIONS, IPD_DEFAULT_BLOCK)
    scen_path = scenario_path(source, exp, "IPD scenario")
    base_data = read_toml(scen_path)
    if "ipd" not in base_data:
        raise ConfigError(source, "experiment.scenario", f"{exp['scenario']} has no [ipd] table: not an IPD scenario")
    base = ipd_game_from_mapping(base_data, str(scen_path))

    tour = data.get("tournament")
    pairs: list[tuple[str, str]] = [tuple(base.players)]
    strategies: tuple[str, ...] = ()
    self_play = True
    if tour is not None:
        if not isinstance(tour, dict) or set(tour) - {"strategies", "self_play"}:
            raise ConfigError(source, "tournament", "allowed: a table with strategies (list or \"all\") and self_play (true/false)")
        names = tour.get("strategies", "all")
        names = list(ipd.IPD_STRATEGY_NAMES) if names == "all" else names
        if not isinstance(names, list) or len(names) < 2 or not all(isinstance(n, str) for n in names):
            raise ConfigError(source, "tournament.strategies", f"allowed: \"all\" or a list of at least two of: {', '.join(ipd.IPD_STRATEGY_NAMES)}")
        for n in names:
            if n not in ipd.IPD_BY_NAME:
                raise ConfigError(source, "tournament.strategies", f"unknown strategy {n!r}; allowed: {', '.join(ipd.IPD_STRATEGY_NAMES)}")
        if len(set(names)) != len(names):
            raise ConfigError(source, "tournament.strategies", "a strategy is listed twice")
        self_play = tour.get("self_play", True)
        if not isinstance(self_play, bool):
            raise ConfigError(source, "tournament.self_play", f"got {self_play!r}; allowed: true or false")
        strategies = tuple(names)
        combos = itertools.combinations_with_replacement if self_play else itertools.combinations
        pairs = list(combos(strategies, 2))

    groups = declared_cells(data, source, '"ipd.<field>"')
    if not groups:
        groups = [("all", {})]

    built = []
    for group, over in groups:
        for a, b in pairs:
            cell_over = {**over, "ipd.players": [a, b]} if tour is not None else dict(over)
            label = f"{a} vs {b}" + (f", {group}" if group != "all" else "") if tour is not None else group
            mapping = copy.deepcopy(base_data)
            for key, val in cell_over.items():
                if not key.startswith("ipd.") or key == "ipd.":
                    raise ConfigError(source, f"cell '{label}': {key}", "allowed: \"ipd.<field>\" = value, e.g. \"ipd.noise\"")
                set_nested(mapping, key, val, source)
            try:
                game = ipd_game_from_mapping(mapping, source)
            except ConfigError as exc:
                raise ConfigError(source, f"cell '{label}': {exc.field}", exc.message) from None
            built.append(IPDCell(len(built), label, game, cell_over, group))
    return IPDExperiment(
        name=run["name"],
        source=source,
        scenario_path=str(scen_path),
        cells=tuple(built),
        replications=run["replications"],
        seed=run["seed"],
        block_size=run["block_size"],
        description=run["description"],
        strategies=strategies,
        self_play=self_play,
        raw=data,
    )

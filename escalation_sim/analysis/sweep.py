"""One-at-a-time sweeps: every cell of an experiment at each value of one parameter."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..model.params import SPEC_BY_KEY
from ..model.validation import scenario_from_mapping
from ..pipeline.experiment import Cell, Experiment
from ..report.figures import write_figure


def parse_values(text: str) -> list[float]:
    """``"0:0.3:7"`` (start:stop:count, inclusive) or ``"0,0.1,0.25"``."""
    try:
        if ":" in text:
            start, stop, count = text.split(":")
            k = int(count)
            if k < 2:
                raise ValueError
            return [float(v) for v in np.linspace(float(start), float(stop), k)]
        vals = [float(v) for v in text.split(",") if v.strip()]
        if not vals:
            raise ValueError
        return vals
    except ValueError:
        raise ConfigError("--values", "", f"{text!r}: allowed: start:stop:count (count >= 2) or a comma list of numbers") from None


def sweep_experiment(exp: Experiment, param: str, values: list[float]) -> Experiment:
    """Cells = the experiment's cells x the values of ``param`` (each validated)."""
    if param not in SPEC_BY_KEY or SPEC_BY_KEY[param].kind in ("choice", "bool"):
        numeric = sorted(k for k, p in SPEC_BY_KEY.items() if p.kind not in ("choice", "bool"))
        raise ConfigError("--param", param, f"unknown or not numeric; allowed: {', '.join(numeric)}")
    for base in exp.cells:
        if param in base.overrides:
            where = "[grid]" if param in exp.raw.get("grid", {}) else f"cell '{base.label}'"
            raise ConfigError("--param", param, f"the experiment's {where} already sets it ({exp.source}): a sweep "
                              "would run every value of the file at every value of --values; sweep another "
                              "parameter, or run the file itself ('escalation-sim run')")
    section, name = param.split(".", 1)
    cells = []
    for base in exp.cells:
        for v in values:
            value = int(v) if SPEC_BY_KEY[param].kind == "int" and float(v).is_integer() else v
            try:
                scen = scenario_from_mapping({section: {name: value}}, f"--values for {param}", base=base.scenario)
            except ConfigError as exc:
                raise ConfigError("--values", param, exc.message) from None
            over = {**base.overrides, param: value}
            cells.append(Cell(len(cells), f"{base.label} | {param}={v:g}", scen, over))
    return Experiment(
        name=f"{exp.name}-sweep-{param}", source=exp.source, scenario_path=exp.scenario_path, cells=tuple(cells),
        replications=exp.replications, seed=exp.seed, block_size=exp.block_size, description=exp.description,
        raw={**exp.raw, "sweep": {"param": param, "values": values}},
    )


def sweep_figure(out_dir: Path, cells: pd.DataFrame, outcomes: pd.DataFrame, manifest: dict) -> list[Path]:
    """P(war) against the swept value, one line per base cell, with 95% Wilson bands (PNG and SVG)."""
    from matplotlib.figure import Figure  # here, not at the top: matplotlib is slow to import

    param = manifest["config"]["sweep"]["param"]
    df = cells.copy()
    df["value"] = [json.loads(o)[param] for o in df["overrides"]]
    df["base"] = [lab.rsplit(" | ", 1)[0] for lab in df["label"]]
    bases = list(dict.fromkeys(df["base"]))
    parts = {b: b.split(", ") for b in bases}
    common = [x for x in parts[bases[0]] if all(x in parts[b] for b in bases)] if len(bases) > 1 else []
    names = {b: ", ".join(x for x in parts[b] if x not in common) or b for b in bases}
    names = {b: n.replace("defender.strategy=", "").replace("+", " + ") for b, n in names.items()}
    fig = Figure(figsize=(8, 6), layout="constrained")
    ax = fig.add_subplot()
    for base, g in df.groupby("base", sort=False):
        g = g.sort_values("value")
        (line,) = ax.plot(g["value"], g["p_war"], marker="o", label=names[base])
        ax.fill_between(g["value"], g["war_ci_low"], g["war_ci_high"], color=line.get_color(), alpha=0.2)
    ax.set_xlabel(param)
    ax.set_ylabel("P(war) with 95% Wilson interval")
    ax.grid(alpha=0.3)
    wide = max(len(n) for n in names.values()) > 40
    fig.legend(fontsize="small", loc="outside lower center", ncols=1 if wide else 2, frameon=False)
    shared = f"; every line: {', '.join(common)}" if common else ""
    ax.set_title(f"{manifest['experiment']}: P(war) as {param} varies\n"
                 f"n = {int(df['n'].iloc[0]):,} per point, seed {manifest['seed']}; bands: 95% Wilson{shared}",
                 fontsize="medium")
    paths = write_figure(fig, out_dir, f"sweep_{param.replace('.', '_')}")
    return paths

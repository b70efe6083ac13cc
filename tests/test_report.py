"""Figures and report.md of a run (``report/run_report.py``), from a real CLI run; the figure of one crisis
(``report/crisis_figure.py``)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from escalation_sim.cli import main
from escalation_sim.report.run_report import display_labels, short_labels, write_report

ROOT = Path(__file__).resolve().parents[1]
EXTENDED = ROOT / "experiments" / "extended-deterrence.toml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MIXES = [
    [],
    ["immediate_deterrence", "tripwire", "public_statement"],
    ["immediate_deterrence", "self_restraint", "tripwire", "public_statement"],
]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    """A three-cell experiment run through the CLI, and write_report's files in a separate directory."""
    tmp = tmp_path_factory.mktemp("report")
    exp = tmp / "exp.toml"
    exp.write_text(
        "[experiment]\n"
        'name = "report-test"\n'
        'description = "Which defender mix makes war least likely?"\n'
        f'scenario = "{EXTENDED.as_posix()}"\n'
        "seed = 7\n"
        "block_size = 500\n"
        "[grid]\n"
        f'"defender.strategy" = {json.dumps(MIXES)}\n'
    )
    out = tmp / "run"
    res = CliRunner().invoke(main, ["run", str(exp), "--out", str(out), "-n", "2000", "--no-progress"])
    assert res.exit_code == 0, res.output
    cells = pd.read_csv(out / "cells.csv")
    outcomes = pd.read_csv(out / "outcomes.csv")
    manifest = json.loads((out / "manifest.json").read_text())
    rep = tmp / "rep"
    paths = write_report(rep, cells, outcomes, manifest)
    return {"dir": rep, "paths": paths, "cells": cells, "outcomes": outcomes, "manifest": manifest}


def _table(md: str, header_start: str) -> list[list[str]]:
    """Rows (cells stripped) of the Markdown table whose header starts with ``header_start``."""
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
    return rows


def test_all_files_written(run):
    d = run["dir"]
    expected = {
        d / "figures" / "war_probability.png",
        d / "figures" / "war_probability.svg",
        d / "figures" / "outcomes.png",
        d / "figures" / "outcomes.svg",
        d / "report.md",
    }
    assert set(run["paths"]) == expected
    for p in expected:
        assert p.is_file() and p.stat().st_size > 0, p
    assert not list(d.rglob(".*.tmp-*")), "temporary files left behind"


def test_png_signature(run):
    for p in run["paths"]:
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == PNG_SIGNATURE, p


def test_svg_holds_every_cell_label(run):
    labels = display_labels(run["cells"]["label"])
    assert labels.field == "defender.strategy"
    assert labels.short[0] == "none"
    for name in ("war_probability", "outcomes"):
        svg = (run["dir"] / "figures" / f"{name}.svg").read_text()
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg
        for label in labels.short:
            for line in label.split("\n"):
                assert f">{html.escape(line, quote=False)}<" in svg, (name, line)
    svg = (run["dir"] / "figures" / "war_probability.svg").read_text()
    assert "P(war) with 95% Wilson interval" in svg
    assert "need-driven" in svg and "opportunity-driven" in svg  # p_need = 0.5: mixed population
    assert "seed 7" in svg and "2,000" in svg
    assert "report-test" in svg


def test_report_mentions_pwar_and_wilson(run):
    md = (run["dir"] / "report.md").read_text()
    assert "Wilson" in md and "Wilson score, 95%" in md
    assert "Which defender mix makes war least likely?" in md
    assert run["manifest"]["config_hash"] in md
    assert "figures/war_probability.png" in md and "figures/outcomes.png" in md
    assert "What the model does not capture" in md
    for _, r in run["cells"].iterrows():
        assert f"{r['p_war']:.4f} [{r['war_ci_low']:.4f}, {r['war_ci_high']:.4f}]" in md


def test_report_table_equals_cells_csv(run):
    md = (run["dir"] / "report.md").read_text()
    rows = _table(md, "| # | Cell | P(war)")
    cells = run["cells"]
    assert len(rows) == len(cells)
    short = short_labels(cells["label"]).short
    for row, (_, c), lab in zip(rows, cells.iterrows(), short, strict=True):
        idx, label, pwar, miscalc, nochal, given, ally, days = row
        assert int(idx) == c["cell"] and label == lab
        m = re.fullmatch(r"([\d.]+) \[([\d.]+), ([\d.]+)\]", pwar)
        assert m, pwar
        parsed = [float(x) for x in (*m.groups(), miscalc, nochal, given, ally)]
        expected = [c[k] for k in ("p_war", "war_ci_low", "war_ci_high", "p_war_miscalculation", "p_no_challenge",
                                   "p_war_given_crisis", "p_ally_proliferation")]
        assert parsed == pytest.approx(expected, abs=5e-5 + 1e-12)
        assert float(days) == pytest.approx(c["duration_q50"], abs=0.05 + 1e-9)


def test_report_motive_table_equals_outcomes_csv(run):
    md = (run["dir"] / "report.md").read_text()
    rows = _table(md, "| # | Cell | Opportunity-driven")
    war = run["outcomes"].query("measure == 'war'").set_index(["cell", "motive"])
    assert len(rows) == len(run["cells"])
    for row in rows:
        cell = int(row[0])
        for text, n, motive in ((row[2], row[3], "opportunity"), (row[4], row[5], "need")):
            ref = war.loc[(cell, motive)]
            assert int(n.replace(",", "")) == ref["n"]
            vals = [float(x) for x in re.fullmatch(r"([\d.]+) \[([\d.]+), ([\d.]+)\]", text).groups()]
            assert vals == pytest.approx([ref["p"], ref["ci_low"], ref["ci_high"]], abs=5e-5 + 1e-12)


def test_svg_is_deterministic(run, tmp_path):
    again = write_report(tmp_path, run["cells"], run["outcomes"], run["manifest"])
    for p in again:
        if p.suffix in (".svg", ".md"):
            assert p.read_bytes() == (run["dir"] / p.relative_to(tmp_path)).read_bytes(), p.name


@pytest.mark.parametrize(
    ("labels", "short", "field", "fixed"),
    [
        (
            ["defender.strategy=none", "defender.strategy=immediate_deterrence+tripwire"],
            ["none", "immediate_deterrence + tripwire"], "defender.strategy", [],
        ),
        (
            ["challenger.p_need=1, defender.strategy=none", "challenger.p_need=1, defender.strategy=grit+aid"],
            ["none", "grit + aid"], "defender.strategy", ["challenger.p_need=1"],
        ),
        (
            ["challenger.p_need=0, defender.strategy=none", "challenger.p_need=1, defender.strategy=grit"],
            ["p_need=0, strategy=none", "p_need=1, strategy=grit"], None, [],
        ),
        (["baseline", "with a tripwire"], ["baseline", "with a tripwire"], None, []),
        (["defender.strategy=grit"], ["grit"], "defender.strategy", []),
    ],
)
def test_short_labels(labels, short, field, fixed):
    got = short_labels(labels)
    assert got.short == short and got.field == field and got.fixed == fixed


def test_long_labels_wrap_between_strategies():
    (label,) = display_labels(["defender.strategy=immediate_deterrence+self_restraint+tripwire+public_statement"]).short
    lines = label.split("\n")
    assert len(lines) > 1 and all(len(x) <= 40 for x in lines)
    assert " ".join(lines) == "immediate_deterrence + self_restraint + tripwire + public_statement"


def test_single_cell_and_wilson_rounding_at_zero(run, tmp_path):
    """One cell whose P(war) is 0 with a lower bound a rounding error above it (as Wilson gives at count 0)."""
    cells = run["cells"].iloc[[1]].copy()
    cells[["p_war", "war_ci_low"]] = [0.0, 1e-18]
    outcomes = run["outcomes"][run["outcomes"]["cell"] == cells["cell"].iloc[0]]
    paths = write_report(tmp_path, cells, outcomes, run["manifest"])
    assert len(paths) == 5 and all(p.stat().st_size > 0 for p in paths)
    md = (tmp_path / "report.md").read_text()
    assert len(_table(md, "| # | Cell | P(war)")) == 1
    assert "0.0000 [0.0000," in md


# --- the report describes the new model ---------------------------------------------------------------------------
def test_caveats_describe_the_model_that_ran(run):
    md = (run["dir"] / "report.md").read_text()
    assert "no bargaining" not in md and "a passive ally" not in md


def test_outcome_figure_colours_every_outcome(run):
    """Every outcome of the model has a share column and appears in the stacked bars' legend."""
    from escalation_sim.model.constants import OUTCOME_NAMES
    from escalation_sim.report.run_report import outcomes_figure

    fig = outcomes_figure(run["cells"], run["manifest"])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    for name in OUTCOME_NAMES:
        assert f"p_{name}" in run["cells"]
    assert len(legend) >= len(OUTCOME_NAMES) and any(t.startswith("war") for t in legend)


# --- the figure of one crisis ---------------------------------------------------------------------------------------
def _crisis_figure(monkeypatch, tmp_path, res):
    from escalation_sim.report import crisis_figure as cf

    captured = {}
    monkeypatch.setattr(cf, "write_figure_file", lambda fig, path: captured.setdefault("fig", fig) and path)
    cf.crisis_figure(res, tmp_path / "c.png")
    return captured["fig"]


def _decided_levels(fig, side):
    line = next(x for x in fig.axes[0].get_lines() if x.get_label() == f"{side}: level decided")
    return set(int(y) for y in line.get_ydata())


def test_crisis_figure_is_written(tmp_path):
    from escalation_sim import load_scenario, simulate
    from escalation_sim.report.crisis_figure import crisis_figure

    res = simulate(load_scenario(EXTENDED), seed=3)
    for suffix in (".png", ".svg"):
        path = crisis_figure(res, tmp_path / f"c{suffix}")
        assert path.is_file() and path.stat().st_size > 5_000


def test_crisis_figure_draws_the_levels_decided(monkeypatch, tmp_path):
    from escalation_sim import load_scenario, simulate

    scen = load_scenario(ROOT / "experiments" / "direct-deterrence.toml")
    res = next(r for r in (simulate(scen, seed=s) for s in range(1, 50))
               if (r.trace["actor"].eq("defender.leader") & r.trace["event"].eq("escalate")).any())
    fig = _crisis_figure(monkeypatch, tmp_path, res)
    tr = res.trace
    escalations = set(tr.loc[tr["actor"].eq("defender.leader") & tr["event"].eq("escalate"), "level"].astype(int))
    assert escalations <= _decided_levels(fig, "defender")
    assert 1 in _decided_levels(fig, "challenger")  # the challenge is a demand, level 1

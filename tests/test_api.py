"""The Python API (docs/api.md): its examples run, print what the page shows, and match the command line."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, cli

import escalation_sim

API_DOC = REPO / "docs" / "api.md"
FENCE = re.compile(r"```(python|text)\n(.*?)```", re.DOTALL)


def _examples() -> list[tuple[str, str | None]]:
    """The page's Python blocks, each with the text block that follows it (its expected output), if any."""
    blocks = FENCE.findall(API_DOC.read_text())
    out = []
    for i, (kind, body) in enumerate(blocks):
        if kind == "python":
            follows = blocks[i + 1] if i + 1 < len(blocks) else None
            out.append((body, follows[1] if follows and follows[0] == "text" else None))
    return out


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def test_the_examples_of_docs_api_md_print_what_the_page_shows(tmp_path, monkeypatch):
    examples = _examples()
    assert len(examples) >= 5 and all(expected is not None for _, expected in examples)
    (tmp_path / "experiments").symlink_to(REPO / "experiments")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for code, expected in examples:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(code, str(API_DOC), "exec"), namespace)  # noqa: S102 - the documented example itself
        assert _lines(buf.getvalue()) == _lines(expected), (
            f"docs/api.md is out of date: this example\n{code}\nnow prints\n{buf.getvalue()}")


def test_the_documented_numbers_are_the_engines(tmp_path):
    """The page's first example (default.toml, 4,096 replications, seed 1): its P(war) per cell and per motive are
    what the compiled engine's own cell loop gives for each cell's scenario -- an independent path past the
    pipeline, the schedule and the tables -- so the page documents the model, not an artefact of the pipeline."""
    from escalation_sim.engines import montecarlo as mc
    from escalation_sim.model.constants import WAR_OUTCOME

    exp = escalation_sim.load_experiment(REPO / "experiments" / "default.toml")
    res = escalation_sim.run(exp, replications=4096, seed=1, threads=1, out=tmp_path / "api", log=lambda _: None)
    war = res.outcomes.query("measure == 'war'").set_index(["cell", "motive"])
    for cell in exp.cells:
        tot = mc.run_cell(cell.scenario, 4096, 1, block_size=1000, threads=2)
        assert res.cells.loc[cell.index, "p_war"] == tot.counts[:, WAR_OUTCOME].sum() / 4096
        for motive, k in (("opportunity", 0), ("need", 1)):
            assert war.loc[(cell.index, motive), "p"] == tot.counts[k, WAR_OUTCOME] / tot.counts[k].sum()


def test_run_writes_what_the_command_writes(tmp_path):
    """escalation_sim.run and `escalation-sim run` with the same settings write byte-identical tables (the
    analysis's included); the returned tables and manifest are those of the files."""
    exp = REPO / "experiments" / "selection-bias.toml"
    res = escalation_sim.run(exp, replications=1024, seed=3, block_size=256, threads=1, out=tmp_path / "api")
    assert cli("run", exp, "-n", 1024, "--seed", 3, "--block-size", 256, "--threads", 1, "--out",
               tmp_path / "cli").exit_code == 0
    for name in ("cells.csv", "outcomes.csv", "selection_bias.csv", "cells.parquet"):
        assert (tmp_path / "api" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    pd.testing.assert_frame_equal(res.cells, pd.read_parquet(tmp_path / "api" / "cells.parquet"))
    pd.testing.assert_frame_equal(res.outcomes, pd.read_parquet(tmp_path / "api" / "outcomes.parquet"))
    written = json.loads((tmp_path / "api" / "manifest.json").read_text())
    assert json.loads(json.dumps(res.manifest, default=str)) == written
    assert res.manifest["exit_status"] == "complete" and res.replications == 1024 and res.standings is None


def test_errors_are_raised_before_anything_is_written(tmp_path):
    with pytest.raises(escalation_sim.ConfigError, match="no such file"):
        escalation_sim.run(tmp_path / "missing.toml", out=tmp_path / "o")
    with pytest.raises(escalation_sim.OptionError, match="--threads 999"):
        escalation_sim.run(REPO / "experiments" / "default.toml", threads=999, out=tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_public_names():
    assert {"run", "merge", "simulate", "load_experiment", "load_scenario", "Scenario", "Mix", "ConfigError",
            "RunResult"} <= set(escalation_sim.__all__)
    assert all(hasattr(escalation_sim, name) for name in escalation_sim.__all__)
    assert Path(escalation_sim.__file__).parent.name == "escalation_sim"

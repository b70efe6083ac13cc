"""Reassurance over time (issue 4, item 4's figure): a one-off reassurance decays, a renewed one holds."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from escalation_sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXTENDED = str(ROOT / "experiments" / "extended-deterrence.toml")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ally") / "decay"
    res = CliRunner().invoke(main, ["ally-decay", EXTENDED, "--renewal", "0,30", "-n", "40", "--seed", "3",
                                    "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    return out, pd.DataFrame(json.loads(res.stdout))


def test_one_off_reassurance_never_recovers(run):
    """Without renewal nothing raises the ally's confidence after the first support arrives: every review's
    mean is at most the previous one (an exact property of the rules, not a statistical claim)."""
    _, paths = run
    one_off = paths[paths["renewal"] == 0].sort_values("time")
    assert len(one_off) >= 10
    assert (one_off["mean"].diff().dropna() <= 1e-12).all()
    assert one_off["p_hedging"].is_monotonic_increasing


def test_renewed_reassurance_holds_above_the_one_off(run):
    """At the horizon the 95% intervals of the two means are apart (40 crises each; observed gap ~0.45)."""
    _, paths = run
    last = paths[paths["time"] == paths["time"].max()].set_index("renewal")
    assert last.loc[30.0, "ci_low"] > last.loc[0.0, "ci_high"]
    assert last.loc[30.0, "mean"] > paths[paths["renewal"] == 30]["mean"].iloc[0] - 0.2  # it levels off
    assert last.loc[30.0, "p_hedging"] < last.loc[0.0, "p_hedging"]


def test_outputs_written(run):
    out, paths = run
    assert (out / "figures" / "ally_confidence.png").stat().st_size > 10_000
    assert (out / "ally_confidence.csv").is_file() and (out / "ally_confidence.parquet").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["exit_status"] == "complete" and manifest["seed"] == 3
    assert "confidence at day" in (out / "report.md").read_text()
    assert set(paths["n"]) == {40}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--renewal", "0,-30"], "--renewal"),
        (["--renewal", "x"], "--renewal"),
        (["-d", "tripwire", "--set-nothing"], "No such option"),
    ],
)
def test_bad_input(tmp_path, args, message):
    out = tmp_path / "o"
    res = CliRunner().invoke(main, ["ally-decay", EXTENDED, "-n", "5", "--out", str(out), *args])
    assert res.exit_code == 2 and message in res.output
    assert not out.exists()


def test_scenario_without_ally_and_existing_results(tmp_path, run):
    res = CliRunner().invoke(main, ["ally-decay", str(ROOT / "experiments" / "direct-deterrence.toml"), "-n", "5",
                                    "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "ally.present" in res.output
    out, _ = run
    res = CliRunner().invoke(main, ["ally-decay", EXTENDED, "-n", "5", "--out", str(out)])
    assert res.exit_code == 2 and "--force" in res.output

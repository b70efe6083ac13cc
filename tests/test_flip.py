"""``escalation-sim robustness`` with contrast sets, Sobol indices and a posterior (``analysis/flip.py``).

The command writes every table, figure, report section and manifest; its tables are the same bytes at 1 and 2
threads; it refuses bad input (an unknown contrast set, an ally set on a scenario without an ally, a posterior
file missing a column, a Sobol size that is not a power of 2, a parameter to fix that the box does not vary, a
bad ``[robustness]`` table) with exit code 2, naming the file and the field, and writes nothing.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import DIRECT_TOML, EXPERIMENTS, EXTENDED_TOML, cli
from fake_posterior import fake_posterior

from escalation_sim.analysis import contrasts as ct

#: the quick loop (-m 'not slow') leaves these out: each runs the robustness command end to end; CI runs them
pytestmark = pytest.mark.slow

SMALL = ["--points", 8, "-n", 320, "--sobol", 2, "--draws", 8]


@pytest.fixture(scope="module")
def posterior(tmp_path_factory):
    return fake_posterior(tmp_path_factory.mktemp("post") / "posterior.parquet", 5, [0.1, 0.2, 0.3, 0.2, 0.2])


@pytest.fixture(scope="module")
def runs(tmp_path_factory, posterior):
    """The renewal set on the extended-deterrence scenario: the command at 1 thread, and the same analysis at 2
    threads through the library, its tables written the same way (no figures: they cost most of the time)."""
    from escalation_sim.analysis.flip import run_flip
    from escalation_sim.analysis.robustness import contrast_box
    from escalation_sim.io.files import write_table
    from escalation_sim.model.validation import load_scenario

    d = tmp_path_factory.mktemp("flip")
    res = cli("robustness", EXTENDED_TOML, "--contrasts", "renewal", *SMALL, "--posterior", posterior,
              "--seed", 11, "--threads", 1, "--out", d / "t1", "--json")
    base = load_scenario(EXTENDED_TOML)
    cs = ct.RENEWAL_CONTRASTS
    again = run_flip(base, cs, contrast_box(base, cs), points=8, replications=320, seed=11, threads=2, sobol=2,
                     posterior=posterior, draws=8)
    o2 = d / "t2"
    o2.mkdir()
    for df, stem in ((again.box.points, "robustness_points"), (again.box.summary, "robustness_summary"),
                     (again.box.rank_coefficients.reset_index(names="parameter"), "robustness_rank_coefficients"),
                     (pd.DataFrame(ct.contrast_table(cs)), "contrasts"),
                     (again.sobol.indices, "sobol_contrast_indices"), (again.sobol.samples, "sobol_contrast_samples"),
                     (again.sobol.noise, "sobol_contrast_noise"), (again.posterior.particles, "posterior_contrast_points"),
                     (again.posterior.summary, "posterior_contrast_summary"),
                     (again.posterior.rank_correlations, "posterior_contrast_rank_correlations")):
        write_table(df, o2, stem)
    return {1: (res, d / "t1"), 2: (None, o2)}


def test_command_writes_every_part(runs, posterior):
    res, out = runs[1]
    assert res.exit_code == 0, res.output
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    for stem in ("robustness_points", "robustness_summary", "robustness_rank_coefficients", "contrasts",
                 "sobol_contrast_indices", "sobol_contrast_samples", "sobol_contrast_noise",
                 "posterior_contrast_points", "posterior_contrast_summary", "posterior_contrast_rank_correlations"):
        assert {f"{stem}.csv", f"{stem}.parquet"} <= names, stem
    assert {"report.md", "manifest.json", "figures/robustness.png", "figures/sobol_contrasts.png",
            "figures/flip.png"} <= names
    m = json.loads((out / "manifest.json").read_text())
    assert m["kind"] == "robustness" and m["contrast_sets"] == ["renewal"] and m["seed"] == 11
    assert m["sobol"]["n_base"] == 2 and m["sobol"]["points"] == 2 * (len(m["box"]) + 2)
    assert m["posterior"]["file"] == str(posterior) and len(m["posterior"]["sha256"]) == 64
    assert m["posterior"]["draws"] == 8 and m["exit_status"] == "complete"
    assert [c["claim"] for c in m["contrasts"]] == [c.claim_text for c in ct.RENEWAL_CONTRASTS]
    assert "defender.renewal_interval" not in m["box"]  # the arms' own setting is not varied
    assert "--contrasts renewal" in m["command"] and "--posterior" in m["command"]
    report = (out / "report.md").read_text()
    for head in ("## Robustness", "## What decides each contrast", "## Over the calibration posterior",
                 "## Where the answers flip"):
        assert head in report
    for c in ct.RENEWAL_CONTRASTS:
        assert c.claim_text in report
    assert len(json.loads(res.stdout)) == len(ct.RENEWAL_CONTRASTS)


def test_tables_are_the_same_bytes_at_1_and_2_threads(runs):
    (_, o1), (_, o2) = runs[1], runs[2]
    csvs = sorted(p.name for p in o1.glob("*.csv"))
    assert len(csvs) == 10 and csvs == sorted(p.name for p in o2.glob("*.csv"))
    for name in csvs:
        assert (o1 / name).read_bytes() == (o2 / name).read_bytes(), name
        parquet = name.replace(".csv", ".parquet")
        pd.testing.assert_frame_equal(pd.read_parquet(o1 / parquet), pd.read_parquet(o2 / parquet))


def test_the_posterior_view_follows_the_points(runs):
    _, out = runs[1]
    pts = pd.read_csv(out / "posterior_contrast_points.csv")
    summ = pd.read_csv(out / "posterior_contrast_summary.csv")
    assert pts["draws"].sum() == 8
    for j, r in summ.iterrows():
        v = pts[f"c{j}_verdict"]
        assert r["share_holds"] == pytest.approx(pts["draws"][v == "holds"].sum() / 8)
        assert r["share_fails"] == pytest.approx(pts["draws"][v == "fails"].sum() / 8)


@pytest.mark.parametrize(("args", "needles"), [
    (["--contrasts", "nope"], ["--contrasts", "unknown contrast set 'nope'", "lebow-stein"]),
    (["--contrasts", "ally-instruments"], ["--contrasts", "has no ally"]),
    (["--sobol", "3"], ["--sobol 3", "power of 2"]),
    (["--fix", "effects.cost_tripwire"], ["--fix effects.cost_tripwire", "not varied"]),
])
def test_bad_options_exit_2_and_write_nothing(tmp_path, args, needles):
    out = tmp_path / "o"
    res = cli("robustness", DIRECT_TOML, "--points", 8, "-n", 64, *args, "--out", out)
    assert res.exit_code == 2, res.output
    assert all(n in res.output for n in needles), res.output
    assert "Traceback" not in res.output and not out.exists()


def test_a_posterior_missing_a_column_exits_2_naming_file_and_column(tmp_path, posterior):
    bad = tmp_path / "posterior.csv"
    pd.read_parquet(posterior).drop(columns="weight").to_csv(bad, index=False)
    out = tmp_path / "o"
    res = cli("robustness", DIRECT_TOML, "--points", 8, "-n", 64, "--posterior", bad, "--out", out)
    assert res.exit_code == 2 and f"{bad}: weight: missing column" in res.output, res.output
    assert not out.exists()


@pytest.mark.parametrize(("table", "needle"), [
    ('contrasts = ["nope"]', "robustness.contrasts: unknown contrast set 'nope'"),
    ('contrasts = "renewal"', "robustness.contrasts: 'renewal' compares the ally's reassurance"),
    ("contrasts = [1]", "robustness.contrasts: allowed: a list of contrast sets"),
    ("sobol = 12", "robustness.sobol: got 12; allowed: 0 (none) or a power of 2"),
])
def test_a_bad_robustness_table_exits_2(tmp_path, table, needle):
    text = (EXPERIMENTS / "deterrence-vs-reassurance-by-motive.toml").read_text()
    text = text.replace('scenario = "direct-deterrence.toml"', f'scenario = "{DIRECT_TOML.as_posix()}"')
    text = text.replace('contrasts = ["lebow-stein"]', table)
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    for command in (["robustness", bad], ["run", bad, "-n", 100]):
        res = cli(*command, "--out", tmp_path / "o")
        assert res.exit_code == 2 and f"{bad}: {needle}" in res.output, res.output
        assert not (tmp_path / "o").exists()


def test_the_experiment_files_select_their_sets():
    from escalation_sim.pipeline.experiment import load_experiment, robustness_spec

    for name, sets in (("deterrence-vs-reassurance-by-motive", ["lebow-stein"]),
                       ("public-vs-private", ["ally-instruments"]), ("reassuring-an-ally", ["renewal"])):
        exp = load_experiment(EXPERIMENTS / f"{name}.toml")
        assert robustness_spec(exp.raw, name)["contrasts"] == sets

"""Conditions a user can cause end with one line naming the cause, exit code 2 (130 for Ctrl-C), never a traceback,
and nothing half-written: seeds out of range, read-only directories, Ctrl-C while starting, names that are paths,
files of the wrong kind, values that are probably mistakes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import DIRECT_TOML, EXTENDED_TOML, scale_experiment
from conftest import cli as _run

from escalation_sim.io.experiment_file import SEED_MAX

REPO = Path(__file__).resolve().parents[1]
BIG = 2**64


def one_line_error(res, *needles: str, code: int = 2) -> str:
    """The output is exactly one ``error:`` line with every needle (warnings before it allowed)."""
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, res.output
    for n in needles:
        assert n in errors[0], (n, errors[0])
    return errors[0]


def experiment(tmp_path: Path, head: str = "", scenario: str | None = None, body: str = "") -> Path:
    p = tmp_path / "exp.toml"
    scen = f'scenario = "{scenario if scenario is not None else EXTENDED_TOML}"\n'
    p.write_text(f"[experiment]\n{scen}{head}" + (body or '[grid]\n"defender.strategy" = [["immediate_deterrence"]]\n'))
    return p


# --- seeds: one range everywhere ---------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [BIG, 2**63, -1])
def test_a_seed_out_of_range_in_a_file_names_the_field(tmp_path, seed):
    out = tmp_path / "o"
    res = _run("run", experiment(tmp_path, head=f"seed = {seed}\n"), "--out", out)
    one_line_error(res, "experiment.seed", f"got {seed}", "[0, 9223372036854775807]")
    assert not out.exists()


@pytest.mark.parametrize("command", [
    ["run", "EXP"], ["tournament", "EXP"], ["sweep", "EXP", "--param", "channel.delay_mean", "--values", "1,2"],
    ["simulate", str(DIRECT_TOML)], ["sensitivity", "EXP", "--params", "channel.misperception"],
    ["ally-decay", str(EXTENDED_TOML)], ["robustness", "EXP"],
])
@pytest.mark.parametrize("seed", [str(BIG), str(2**63), "-1"])
def test_a_seed_out_of_range_on_the_command_line_is_a_usage_error(tmp_path, command, seed):
    exp = experiment(tmp_path)
    out = tmp_path / "o"
    args = [str(exp) if a == "EXP" else a for a in command]
    res = _run(*args, "--seed", seed, *(["--out", out] if command[0] != "simulate" else []))
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "--seed" in res.output and "0 to 2^63 - 1" in res.output
    assert not out.exists()


def test_the_largest_seed_works_in_both_engines(tmp_path):
    res = _run("simulate", DIRECT_TOML, "--seed", SEED_MAX, "--replication", SEED_MAX, "--json")
    assert res.exit_code == 0, res.output
    out = tmp_path / "o"
    res = _run("run", experiment(tmp_path, head="replications = 200\nblock_size = 100\n"), "--out", out,
               "--seed", SEED_MAX)
    assert res.exit_code == 0, res.output


def test_simulate_replication_out_of_range(tmp_path):
    res = _run("simulate", DIRECT_TOML, "--replication", str(BIG))
    assert res.exit_code == 2 and "--replication" in res.output and "Traceback" not in res.output


def test_the_python_api_validates_the_seed_too(tmp_path):
    import escalation_sim
    from escalation_sim.errors import OptionError

    with pytest.raises(OptionError, match="--seed 18446744073709551616: allowed"):
        escalation_sim.run(experiment(tmp_path), seed=BIG, out=tmp_path / "o")
    assert not (tmp_path / "o").exists()


# --- replications: the file's field is blamed, not a flag never given ------------------------------------------
@pytest.mark.parametrize("value", ["1e23", "100000000000000000000000", "0", "2.5"])
def test_replications_out_of_range_blame_the_file(tmp_path, value):
    res = _run("run", experiment(tmp_path, head=f"replications = {value}\n"), "--out", tmp_path / "o")
    line = one_line_error(res, "experiment.replications", "allowed: a whole number in [1, 1000000000000]")
    assert "--max-replications" not in line


def test_max_replications_below_the_files_replications_names_both(tmp_path):
    exp = experiment(tmp_path, head="replications = 5000\n")
    res = _run("run", exp, "--out", tmp_path / "o", "--target-halfwidth", "0.01", "--max-replications", "1000")
    one_line_error(res, "--max-replications 1000", "5,000, from experiment.replications in")


# --- names are names, not paths ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ['"../../escape"', "ABSOLUTE", '".."', '"a/b"', '""', "5", "true", '"x y"'])
def test_an_experiment_name_that_is_not_a_plain_name_is_refused(tmp_path, name, monkeypatch):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    absolute = tmp_path / "absolute"
    name = f'"{absolute}"' if name == "ABSOLUTE" else name
    res = _run("run", experiment(work, head=f"name = {name}\n"))
    one_line_error(res, "experiment.name", "a plain name")
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == ["a", "a/b", "a/b/exp.toml"]


def test_results_stay_under_results_without_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = _run("run", experiment(tmp_path, head='name = "fine-name"\nreplications = 200\nblock_size = 100\n'))
    assert res.exit_code == 0, res.output
    made = [p for p in tmp_path.rglob("manifest.json")]
    assert len(made) == 1 and made[0].relative_to(tmp_path).parts[:2] == ("results", "fine-name")


def test_a_scenario_name_that_is_a_path_is_refused(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('[scenario]\nname = "../up"\n[challenger]\np_need = 0.5\n')
    one_line_error(_run("sensitivity", p, "--params", "channel.misperception", "--out", tmp_path / "o"),
                   "scenario.name", "a plain name")


# --- the scenario field and files of the wrong kind --------------------------------------------------------------
@pytest.mark.parametrize("scen, needle", [('""', "got ''"), ('"."', "'.' is a directory"),
                                          ('"nowhere.toml"', "'nowhere.toml': no such file"), ("5", "got 5")])
def test_a_bad_scenario_field_names_the_experiment_file_and_the_field(tmp_path, scen, needle):
    p = tmp_path / "exp.toml"
    p.write_text(f'[experiment]\nscenario = {scen}\n[grid]\n"channel.misperception" = [0.1]\n')
    one_line_error(_run("run", p, "--out", tmp_path / "o"), f"{p}: experiment.scenario:", needle)


def test_run_on_a_scenario_file_says_what_run_takes(tmp_path):
    line = one_line_error(_run("run", EXTENDED_TOML, "--out", tmp_path / "o"), "this is a scenario file",
                          "experiments/default.toml")
    assert "unknown section" not in line


def test_run_on_an_ipd_scenario_says_so(tmp_path):
    one_line_error(_run("run", REPO / "experiments" / "ipd-noisy.toml", "--out", tmp_path / "o"),
                   "this is an IPD scenario file")


def test_simulate_on_an_experiment_file_names_its_scenario():
    one_line_error(_run("simulate", REPO / "experiments" / "default.toml"), "this is an experiment file",
                   "'extended-deterrence.toml'")


def test_simulate_without_an_argument_says_what_to_give():
    line = one_line_error(_run("simulate"), "give a SCENARIO file", "--from RESULTS_DIR")
    assert "not both" not in line


def test_an_empty_scenario_file_warns_on_stderr(tmp_path):
    p = tmp_path / "empty.toml"
    p.write_text("")
    res = _run("simulate", p, "--json")
    assert res.exit_code == 0
    assert f"warning: {p}: empty scenario file: every parameter takes its default" in res.stderr
    assert "warning" not in res.stdout


@pytest.mark.parametrize("text, missing", [('[challenger]\np_need = 0.2\n', "[scenario]"),
                                           ('[scenario]\nname = "x"\n', "[challenger]")])
def test_a_scenario_without_scenario_or_challenger_warns(tmp_path, text, missing):
    p = tmp_path / "s.toml"
    p.write_text(text)
    res = _run("simulate", p)
    assert res.exit_code == 0 and f"warning: {p}: no {missing} section" in res.stderr


def test_sweep_refuses_a_parameter_the_grid_already_varies(tmp_path):
    """The README's old example: reciprocity-under-noise already varies channel.misperception in its grid."""
    out = tmp_path / "o"
    res = _run("sweep", REPO / "experiments" / "reciprocity-under-noise.toml", "--param", "channel.misperception",
               "--values", "0:0.3:7", "--out", out)
    one_line_error(res, "--param: channel.misperception: the experiment's [grid] already sets it")
    assert not out.exists()


# --- read-only places: one line naming the path, nothing half-written --------------------------------------------
def _drop_privileges() -> list[str] | None:
    """A command prefix under which a read-only directory cannot be written (as root: without CAP_DAC_OVERRIDE)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    probe = Path(tempfile.mkdtemp())
    probe.chmod(0o555)
    try:
        r = subprocess.run([setpriv, "--bounding-set", "-dac_override,-dac_read_search", "touch", str(probe / "x")],
                           capture_output=True)
        return [setpriv, "--bounding-set", "-dac_override,-dac_read_search"] if r.returncode != 0 else None
    finally:
        probe.chmod(0o755)
        shutil.rmtree(probe)


PREFIX = _drop_privileges()
needs_ro = pytest.mark.skipif(PREFIX is None, reason="running as root without setpriv able to drop CAP_DAC_OVERRIDE: "
                                                      "a read-only directory cannot be made read-only for this process")


def cmd(*args) -> subprocess.CompletedProcess:
    return subprocess.run([*PREFIX, sys.executable, "-m", "escalation_sim", *map(str, args)], capture_output=True,
                          text=True, timeout=600)


def check_refused(proc, path) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and str(path) in errors[0] and "Permission denied" in errors[0], proc.stderr


@pytest.mark.slow  # a subprocess per case
@needs_ro
@pytest.mark.parametrize("where", ["out", "parent of out"])
def test_read_only_out(tmp_path, where):
    exp = scale_experiment(tmp_path, reps=500)
    ro = tmp_path / "ro"
    ro.mkdir()
    out = ro if where == "out" else ro / "new"
    ro.chmod(0o555)
    try:
        proc = cmd("run", exp, "--out", out, "--no-progress")
        check_refused(proc, ro)
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


@pytest.mark.slow  # a subprocess per case
@needs_ro
def test_read_only_results_directory(tmp_path):
    exp = scale_experiment(tmp_path, reps=500)
    (tmp_path / "results").mkdir()
    (tmp_path / "results").chmod(0o555)
    try:
        proc = subprocess.run([*PREFIX, sys.executable, "-m", "escalation_sim", "run", str(exp), "--no-progress"],
                              capture_output=True, text=True, timeout=600, cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        check_refused(proc, "results/scale")
        assert list((tmp_path / "results").iterdir()) == []
    finally:
        (tmp_path / "results").chmod(0o755)


@pytest.mark.slow  # a subprocess per case
@needs_ro
def test_simulate_figure_into_a_read_only_directory(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        proc = cmd("simulate", DIRECT_TOML, "--figure", ro / "crisis.png")
        check_refused(proc, ro)
        assert proc.stdout == "" and list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


def test_out_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    one_line_error(_run("run", scale_experiment(tmp_path, reps=500), "--out", f / "sub"), str(f))
    assert f.read_text() == "x"


# --- Ctrl-C while starting ---------------------------------------------------------------------------------------
@pytest.mark.slow  # a subprocess per case
@pytest.mark.parametrize("after", [0.3, 0.8, 1.5])
def test_ctrl_c_while_starting_is_a_message_and_exit_130(tmp_path, after):
    exp = scale_experiment(tmp_path, reps=500)
    out = tmp_path / "o"
    proc = subprocess.Popen([sys.executable, "-m", "escalation_sim", "run", str(exp), "--out", str(out),
                             "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal")
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("error: interrupted")

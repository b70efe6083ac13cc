"""Calibration targets: the shipped file, the format's checks, and "nothing written" on bad input.

Every bad-input test asserts the file and the dotted field in the message (the project's
``file: field: what is allowed``), so a check that silently accepts bad input, or names the wrong
field, fails.
"""

from __future__ import annotations

import copy
import tomllib

import numpy as np
import pytest

from escalation_sim.calibration import ABCConfig, CalibrationError, calibrate, default_targets_path, load_targets, toy
from escalation_sim.calibration.targets import load_priors, parse_targets

OUTPUTS = toy.OUTPUTS
SRC = {"dataset": "d", "version": "1", "unit": "case", "codebook": "codebook, 2020"}


def shipped() -> dict:
    with open(default_targets_path(), "rb") as fh:
        return tomllib.load(fh)


def write_toml(path, text: str):
    path.write_text(text)
    return path


GOOD = """
[targets.v]
output = "icb_violence"
role = "fit"
n = 100
shares = { none = 0.25, minor_clashes = 0.25, serious_clashes = 0.25, full_scale_war = 0.25 }
[targets.v.source]
dataset = "ICB"
version = "14"
unit = "crisis"
codebook = "ICB codebook v14"
"""


def test_shipped_file_loads_with_the_issue_numbers():
    ts = load_targets(default_targets_path(), OUTPUTS)
    v = ts.get("icb_violence")
    assert v.role == "check" and v.n == 486 and v.n_effective == 486
    assert v.shares == (0.257, 0.292, 0.238, 0.211)
    np.testing.assert_allclose(v.observed(), np.array([125, 142, 116, 103]) / 486)
    a = ts.get("icb_actor_outcome")
    assert a.role == "check" and a.n == 1078 and a.shares == (0.348, 0.222, 0.223, 0.195)
    # the 1.2% outside the four outcomes is left out: n in the distance is the 1,064 actors with one of them
    assert a.n_effective == 1064 and a.observed().sum() == pytest.approx(1.0, abs=1e-12)
    # the fitted forms: the war share of the same 486 crises; compromise and stalemate of the same 1,064 actors
    w = ts.get("icb_war")
    assert w.role == "fit" and w.partial and w.output == "icb_violence"
    np.testing.assert_allclose(w.observed(), [103 / 486, 383 / 486])
    s = ts.get("icb_actor_settlement")
    assert s.role == "fit" and s.partial and s.output == "icb_actor_outcome"
    np.testing.assert_allclose(s.observed(), [239 / 1064, 240 / 1064, 585 / 1064])
    m = ts.get("mid_hostility")
    assert m.role == "check" and m.n == 2436 and m.shares == (0.030, 0.268, 0.658, 0.0435)
    assert m.n_effective == round(2436 * 1.0)  # no counts, nothing excluded
    assert {t.name for t in ts.info} == {"icb_war_before_1945", "icb_war_since_1945", "icb_actor_duration"}
    pre, post = ts.get("icb_war_before_1945"), ts.get("icb_war_since_1945")
    assert (pre.n, post.n) == (98, 388) and pre.n + post.n == 486
    assert pre.observed()[0] == pytest.approx(34 / 98) and post.observed()[0] == pytest.approx(69 / 388)
    for t in ts.targets:
        assert t.source.dataset and t.source.version and t.source.unit and t.source.codebook


def test_roles_can_be_swapped_and_info_targets_need_no_model_output():
    ts = load_targets(default_targets_path(), OUTPUTS, roles={"mid_hostility": "fit", "icb_violence": "check"})
    assert ts.get("mid_hostility").role == "fit" and ts.get("icb_violence").role == "check"
    # a model that only has the ICB violence output: the duration target (info) does not need an output
    only = {"icb_violence": OUTPUTS["icb_violence"], "icb_actor_outcome": OUTPUTS["icb_actor_outcome"],
            "mid_hostility": OUTPUTS["mid_hostility"]}
    assert load_targets(default_targets_path(), only).get("icb_actor_duration").role == "info"
    # ...but promoting it to check makes its output required
    with pytest.raises(CalibrationError) as e:
        load_targets(default_targets_path(), only, roles={"icb_actor_duration": "check"})
    assert e.value.field == "targets.icb_actor_duration.output"


def mutate(fn):
    data = shipped()
    fn(data)
    return data


@pytest.mark.parametrize(("change", "field", "words"), [
    (lambda d: d["targets"]["icb_violence"]["shares"].__setitem__("none", 1.2),
     "targets.icb_violence.shares.none", "[0, 1]"),
    (lambda d: d["targets"]["icb_violence"]["shares"].__setitem__("none", -0.01),
     "targets.icb_violence.shares.none", "[0, 1]"),
    (lambda d: d["targets"]["mid_hostility"]["shares"].__setitem__("war", 0.10),
     "targets.mid_hostility.shares", "total of 1 within tolerance"),
    (lambda d: d["targets"]["icb_actor_outcome"].pop("excluded_share"),
     "targets.icb_actor_outcome.shares", "excluded_share"),
    (lambda d: d["targets"]["icb_violence"].pop("source"),
     "targets.icb_violence.source", "dataset, version, unit, codebook"),
    (lambda d: d["targets"]["mid_hostility"]["source"].pop("codebook"),
     "targets.mid_hostility.source.codebook", "non-empty string"),
    (lambda d: d["targets"]["icb_violence"].__setitem__("output", "icb_violense"),
     "targets.icb_violence.output", "unknown output 'icb_violense'"),
    (lambda d: d["targets"]["icb_violence"]["shares"].__setitem__("skirmish", 0.0),
     "targets.icb_violence.shares.skirmish", "unknown category"),
    (lambda d: d["targets"]["icb_violence"]["shares"].pop("none"),
     "targets.icb_violence.shares", "missing categories"),
    (lambda d: d["targets"]["icb_violence"].__setitem__("n", 0), "targets.icb_violence.n", "positive integer"),
    (lambda d: d["targets"]["icb_violence"].__setitem__("n", 48.6), "targets.icb_violence.n", "positive integer"),
    (lambda d: d["targets"]["icb_violence"].__setitem__("n", True), "targets.icb_violence.n", "positive integer"),
    (lambda d: d["targets"]["icb_violence"].__setitem__("role", "train"), "targets.icb_violence.role", "fit, check, info"),
    (lambda d: d["targets"]["icb_violence"]["counts"].__setitem__("none", 200),
     "targets.icb_violence.counts", "at most n"),
    (lambda d: d["targets"]["icb_violence"]["counts"].__setitem__("none", 110),
     "targets.icb_violence.counts.none", "disagrees with the share"),
    (lambda d: d["targets"]["icb_actor_duration"].pop("se"), "targets.icb_actor_duration.se", "positive number"),
    (lambda d: d["targets"]["icb_violence"].__setitem__("weight", 2), "targets.icb_violence.weight", "unknown field"),
    (lambda d: d.__setitem__("tolerance", 0.5), "tolerance", "(0, 0.05]"),
])
def test_bad_target_names_file_and_field(change, field, words):
    with pytest.raises(CalibrationError) as e:
        parse_targets(mutate(change), "record.toml", OUTPUTS)
    assert e.value.source == "record.toml"
    assert e.value.field == field
    assert words in e.value.message
    assert str(e.value).startswith(f"record.toml: {field}: ")


def test_categorical_output_refuses_a_scalar_target_and_vice_versa():
    d = mutate(lambda d: d["targets"]["icb_actor_duration"].__setitem__("output", "icb_violence"))
    d["targets"]["icb_actor_duration"]["role"] = "check"
    with pytest.raises(CalibrationError) as e:
        parse_targets(d, "f.toml", OUTPUTS)
    assert e.value.field == "targets.icb_actor_duration.value"
    d = {"targets": {"x": {"output": "duration_median_days", "role": "fit", "n": 10, "shares": {"a": 1.0}, "source": SRC}}}
    with pytest.raises(CalibrationError) as e:
        parse_targets(d, "f.toml", OUTPUTS)
    assert e.value.field == "targets.x.shares" and "scalar" in e.value.message


@pytest.mark.parametrize(("spec", "field", "words"), [
    ({"a": {"low": 0.0}}, "parameters.a.high", "missing"),
    ({"a": {"high": 1.0}}, "parameters.a.low", "missing"),
    ({"a": {"low": 0.0, "high": float("inf")}}, "parameters.a.high", "finite number"),
    ({"a": {"low": 1.0, "high": 1.0}}, "parameters.a.high", "greater than low"),
    ({"a": 3.0}, "parameters.a", "low and high"),
    ({"a": {"low": 0, "high": 1, "mean": 0.5}}, "parameters.a.mean", "unknown field"),
])
def test_prior_without_bounds_names_file_and_field(tmp_path, spec, field, words):
    lines = []
    for name, s in spec.items():
        if isinstance(s, dict):
            lines.append(f"[parameters.{name}]")
            lines += [f"{k} = {'inf' if v == float('inf') else v}" for k, v in s.items()]
        else:
            lines.append(f"[parameters]\n{name} = {s}")
    p = write_toml(tmp_path / "priors.toml", "\n".join(lines) + "\n")
    with pytest.raises(CalibrationError) as e:
        load_priors(p)
    assert e.value.source == str(p) and e.value.field == field and words in e.value.message


def test_unknown_parameter_is_refused(tmp_path):
    p = write_toml(tmp_path / "priors.toml", "[parameters.zeta]\nlow = 0\nhigh = 1\n")
    with pytest.raises(CalibrationError) as e:
        load_priors(p, known_parameters=["a", "b"])
    assert e.value.field == "parameters.zeta" and "allowed: a, b" in e.value.message


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(CalibrationError, match="no such file"):
        load_targets(tmp_path / "nope.toml", OUTPUTS)
    bad = write_toml(tmp_path / "bad.toml", "[targets\n")
    with pytest.raises(CalibrationError, match="malformed TOML"):
        load_targets(bad, OUTPUTS)


@pytest.mark.parametrize(("text", "field"), [
    (GOOD.replace("none = 0.25", "none = 1.25"), "targets.v.shares.none"),
    (GOOD.replace('codebook = "ICB codebook v14"\n', ""), "targets.v.source.codebook"),
    (GOOD.replace('output = "icb_violence"', 'output = "violence"'), "targets.v.output"),
    (GOOD + "[parameters.a]\nlow = 0\n", "parameters.a.high"),
])
def test_bad_input_writes_nothing(tmp_path, text, field):
    """calibrate() refuses before simulating: the error names file and field, and no output appears."""
    path = write_toml(tmp_path / "targets.toml", text)
    out = tmp_path / "out"
    calls = []

    def simulate(theta, seed):
        calls.append(1)
        return toy.ToySimulator(100)(theta, seed)

    with pytest.raises(CalibrationError) as e:
        calibrate(simulate, OUTPUTS, path, out, ABCConfig(population_size=20, max_generations=2))
    assert e.value.source == str(path) and e.value.field == field
    assert not out.exists() and calls == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["targets.toml"]


def test_good_file_with_priors_parses(tmp_path):
    path = write_toml(tmp_path / "t.toml", GOOD + "[parameters.a]\nlow = 0\nhigh = 2\ndescription = 'x'\n")
    ts = load_targets(path, OUTPUTS)
    assert ts.priors[0].name == "a" and (ts.priors[0].low, ts.priors[0].high) == (0.0, 2.0)
    assert copy.deepcopy(ts) == ts

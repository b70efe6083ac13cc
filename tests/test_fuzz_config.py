"""Fuzzing scenario and experiment files: every mutated configuration is refused with exit code 2, one line that
names the file and the field, no traceback, and nothing written.

Each example starts from a valid experiment and scenario and applies one mutation that makes it invalid: a wrong
type, a value out of range (NaN and infinities included), an unknown section or field, broken TOML, a missing
file, a bad run setting, a bad cell. Hypothesis draws at least :data:`EXAMPLES` of them per run.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from conftest import cli as _run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from escalation_sim.model.params import DEFENDER_STRATEGY_NAMES, SPEC

EXAMPLES = 240
SEEN: list[str] = []

BASE_SCENARIO = {
    "scenario": {"name": "fuzz", "description": "a valid base"},
    "crisis": {"horizon": 365.0},
    "channel": {"misperception": 0.1},
    "challenger": {"p_need": 0.5, "strategy": "probing"},
    "defender": {"strategy": ["immediate_deterrence"]},
}
BASE_EXPERIMENT = {
    "experiment": {"name": "fuzz", "scenario": "scenario.toml", "replications": 1000, "seed": 1, "block_size": 500},
    "grid": {"channel.delay_mean": [2.0, 3.0]},
}
NAMES = st.from_regex(r"[a-z][a-z_]{2,12}", fullmatch=True)


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v == math.inf else "-inf" if v == -math.inf else repr(v))
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{toml_value(k) if '.' in k else k} = {toml_value(x)}" for k, x in v.items()) + "}"
    return str(v)


def toml_text(data: dict) -> str:
    lines = []
    for section, table in data.items():
        if not isinstance(table, dict):
            lines.insert(0, f"{section} = {toml_value(table)}")
            continue
        lines.append(f"[{section}]")
        lines += [f'"{k}" = {toml_value(v)}' if "." in k else f"{k} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def bad_value(spec):
    """Values that are invalid for parameter ``spec`` whatever the others are."""
    wrong_type = st.sampled_from(["high", [1, 2], {"a": 1}]) if spec.kind in ("bool", "choice") else \
        st.sampled_from(["high", True, [1.0], {"a": 1}])
    if spec.kind == "bool":
        return st.one_of(wrong_type, st.integers(0, 5), st.floats(allow_nan=True))
    if spec.kind == "choice":
        return st.one_of(wrong_type, st.integers(0, 5), NAMES.filter(lambda s: s not in spec.choices))
    out = [wrong_type, st.just(math.nan), st.floats(max_value=spec.lo, exclude_max=True, allow_nan=False)]
    if math.isfinite(spec.hi):
        out += [st.floats(min_value=spec.hi, exclude_min=True, allow_nan=False), st.just(math.inf)]
    if spec.kind == "int":
        out.append(st.floats(spec.lo + 0.1, max(spec.lo + 0.9, min(spec.hi, 1e6) - 0.1)).filter(lambda v: v != int(v)))
    return st.one_of(*out)


@st.composite
def mutation(draw):
    """``(scenario, experiment, texts, expected needle)``: one invalid configuration and the field its error names."""
    scen = {k: dict(v) for k, v in BASE_SCENARIO.items()}
    exp = {k: dict(v) for k, v in BASE_EXPERIMENT.items()}
    kind = draw(st.sampled_from(["param", "param", "param", "cell", "unknown field", "unknown section",
                                 "strategy", "run setting", "unknown experiment field", "broken toml", "missing file",
                                 "grid", "scenario meta"]))
    raw = {}
    if kind in ("param", "cell"):
        spec = draw(st.sampled_from(SPEC))
        value = draw(bad_value(spec))
        if kind == "param":
            section, name = spec.key.split(".", 1)
            scen.setdefault(section, {})[name] = value
        else:
            exp["cells"] = [{"label": "bad", spec.key: value}]
            del exp["grid"]
        needle = spec.key
    elif kind == "unknown field":
        section = draw(st.sampled_from(sorted({s.key.split(".")[0] for s in SPEC})))
        name = draw(NAMES.filter(lambda n, s=section: f"{s}.{n}" not in {p.key for p in SPEC} and n not in ("strategy", "population")))
        scen.setdefault(section, {})[name] = 1.0
        needle = f"{section}.{name}"
    elif kind == "unknown section":
        section = draw(NAMES.filter(lambda n: n not in {s.key.split(".")[0] for s in SPEC} | {"scenario", "ipd"}))
        scen[section] = {"x": 1}
        needle = section
    elif kind == "strategy":
        value = draw(st.one_of(st.just(["tit_for_tat", "immediate_deterrence"]), st.just([1, 2]), st.just(["grit", "grit"]),
                               NAMES.filter(lambda n: n not in DEFENDER_STRATEGY_NAMES).map(lambda n: [n]),
                               st.just(["tripwire"])))
        scen["defender"]["strategy"] = value
        needle = "defender.strategy"
    elif kind == "run setting":
        field, value = draw(st.one_of(
            st.tuples(st.just("replications"), st.one_of(st.integers(max_value=0), st.integers(min_value=10**12 + 1),
                                                          st.floats(allow_nan=True), st.just("many"))),
            st.tuples(st.just("seed"), st.one_of(st.integers(max_value=-1), st.integers(min_value=2**63),
                                                  st.floats(allow_nan=True), st.booleans())),
            st.tuples(st.just("block_size"), st.one_of(st.integers(max_value=0), st.floats(), st.just([4096]))),
            st.tuples(st.just("name"), st.one_of(st.integers(), st.just("../../escape"), st.just("/abs/path"),
                                                  st.just("a b"), st.just(""), st.just(".."))),
            st.tuples(st.just("description"), st.one_of(st.integers(), st.just(["x"]))),
            st.tuples(st.just("scenario"), st.one_of(st.just(""), st.just("."), st.integers(), st.just("nowhere.toml"))),
        ))
        exp["experiment"][field] = value
        needle = f"experiment.{field}"
    elif kind == "unknown experiment field":
        name = draw(NAMES.filter(lambda n: n not in {"name", "description", "scenario", "replications", "seed",
                                                      "block_size", "analysis"}))
        exp["experiment"][name] = 1
        needle = f"experiment.{name}"
    elif kind == "broken toml":
        which = draw(st.sampled_from(["scenario.toml", "exp.toml"]))
        junk = draw(st.sampled_from(["[channel\n", "misperception = = 0.1\n", "x = [1, 2\n", "= 3\n", "[a]\n[a]\n",
                                     "\x00\n"]))
        raw[which] = junk
        needle = "malformed TOML" if junk != "\x00\n" else which
    elif kind == "missing file":
        exp["experiment"]["scenario"] = draw(NAMES) + ".toml"
        needle = "no such file"
    elif kind == "grid":
        key, value = draw(st.one_of(
            st.tuples(st.just("channel.misperception"), st.one_of(st.just([]), st.floats(0, 1), st.just("0.1"))),
            st.tuples(NAMES.map(lambda n: f"channel.{n}").filter(lambda k: k not in {p.key for p in SPEC}), st.just([0.1])),
        ))
        exp["grid"] = {key: value}
        needle = key
    else:  # scenario meta
        field, value = draw(st.one_of(st.tuples(st.just("name"), st.one_of(st.integers(), st.just("../x"))),
                                      st.tuples(st.just("description"), st.integers()),
                                      st.tuples(NAMES.filter(lambda n: n not in ("name", "description")), st.just("x"))))
        scen["scenario"][field] = value
        needle = f"scenario.{field}"
    return scen, exp, raw, needle, kind


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(mutation())
def test_every_mutated_configuration_is_refused_cleanly(case):
    scen, exp, raw, needle, kind = case
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "scenario.toml").write_text(raw.get("scenario.toml", toml_text(scen)))
        (d / "exp.toml").write_text(raw.get("exp.toml", toml_text(exp)))
        out = d / "out"
        res = _run("run", d / "exp.toml", "--out", out, "--no-progress")
        SEEN.append(kind)
        assert res.exit_code == 2, (kind, res.output)
        assert "Traceback" not in res.output
        errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and len(res.output.strip().splitlines()) <= 2, res.output  # at most one warning too
        line = errors[0]
        assert needle in line, (needle, line)
        assert str(d) in line, line  # names the file
        assert not out.exists() and sorted(p.name for p in d.iterdir()) == ["exp.toml", "scenario.toml"]


def test_the_fuzzer_drew_enough_configurations():
    """At least 200 configurations per run, of every kind (runs after the fuzz test, in file order)."""
    if not SEEN:
        return
    assert len(SEEN) >= 200, len(SEEN)
    assert len(set(SEEN)) == 11, sorted(set(SEEN))  # every kind of mutation

"""Scenario and experiment files: validation and what the errors say."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from conftest import DIRECT_TOML, EXTENDED_TOML

from escalation_sim.errors import ConfigError, InputWarning
from escalation_sim.model import params
from escalation_sim.model.scenario import Mix, Scenario
from escalation_sim.model.validation import load_scenario
from escalation_sim.pipeline.experiment import load_experiment

# files written by these tests leave out [scenario] or [challenger] on purpose: the warning is tested once, below
pytestmark = pytest.mark.filterwarnings("ignore::escalation_sim.errors.InputWarning")


def write(tmp_path: Path, text: str, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def config_error(path: Path, **kw) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_scenario(path, **kw)
    err = info.value
    assert str(path) in str(err)  # every message names the file
    assert err.source == str(path)
    return err


# --- bad scenario files ---------------------------------------------------------------------
# (toml, field, fragments the message must contain: what was wrong and what is allowed)
BAD_SCENARIOS = {
    "unknown field": (
        "[channel]\nmisperseption = 0.1\n",
        "channel.misperseption",
        ["unknown field", "delay_mean", "delay_min", "misperception"],
    ),
    "unknown section": (
        "[chanel]\nmisperception = 0.1\n",
        "chanel",
        ["unknown section", "channel", "challenger", "defender", "ally"],
    ),
    "unknown scenario field": (
        '[scenario]\nname = "x"\ntitle = "y"\n',
        "scenario.title",
        ["unknown field", "name", "description"],
    ),
    "string for a number": (
        '[channel]\nmisperception = "high"\n',
        "channel.misperception",
        ["'high'", "str", "a number in [0, 1]"],
    ),
    "bool for a number": (
        "[crisis]\nhorizon = true\n",
        "crisis.horizon",
        ["True", "a number in"],
    ),
    "number for a bool": (
        "[ally]\npresent = 1\n",
        "ally.present",
        ["got 1", "true or false"],
    ),
    "string for a bool": (
        '[ally]\npresent = "yes"\n',
        "ally.present",
        ["'yes'", "true or false"],
    ),
    "probability above 1": (
        "[channel]\nmisperception = 1.5\n",
        "channel.misperception",
        ["1.5", "a probability in [0, 1]"],
    ),
    "probability below 0": (
        "[challenger]\np_need = -0.1\n",
        "challenger.p_need",
        ["-0.1", "a probability in [0, 1]"],
    ),
    "probability nan": (
        "[challenger]\np_need = nan\n",
        "challenger.p_need",
        ["nan", "a probability in [0, 1]"],
    ),
    "negative delay": (
        "[channel]\ndelay_min = -1.0\n",
        "channel.delay_min",
        ["-1.0", "non-negative delay in days", "[0, inf]"],
    ),
    "negative renewal interval": (
        "[defender]\nrenewal_interval = -30\n",
        "defender.renewal_interval",
        ["-30", "non-negative delay in days"],
    ),
    "zero horizon": (
        "[crisis]\nhorizon = 0\n",
        "crisis.horizon",
        ["got 0", "a finite number in [1e-09, 36500]"],
    ),
    "fractional int": (
        "[defender]\ngrit_steps = 2.5\n",
        "defender.grit_steps",
        ["2.5", "a whole number in [0, 1000]"],
    ),
    "unknown challenger strategy": (
        '[challenger]\nstrategy = "bold"\n',
        "challenger.strategy",
        ["'bold'", "probing, firm, reciprocating"],
    ),
    "challenger strategy as number": (
        "[challenger]\nstrategy = 1\n",
        "challenger.strategy",
        ["got 1", "probing, firm, reciprocating"],
    ),
    "unknown defender strategy": (
        '[defender]\nstrategy = ["tit_for_tat", "appeasement"]\n',
        "defender.strategy",
        ["unknown strategy 'appeasement'", *params.DEFENDER_STRATEGY_NAMES],
    ),
    "strategy not a list of names": (
        "[defender]\nstrategy = [1, 2]\n",
        "defender.strategy",
        ["[1, 2]", "a list of strategy names"],
    ),
    "two response rules": (
        '[defender]\nstrategy = ["tit_for_tat", "immediate_deterrence"]\n',
        "defender.strategy",
        ["at most one response rule", *params.RESPONSE_RULES],
    ),
    "strategy listed twice": (
        '[defender]\nstrategy = ["self_restraint", "self_restraint"]\n',
        "defender.strategy",
        ["listed twice"],
    ),
    "ally instrument without ally": (
        '[defender]\nstrategy = ["immediate_deterrence", "tripwire"]\n',
        "defender.strategy",
        ["tripwire", "ally.present is false"],
    ),
    "ally instrument with ally.present false": (
        '[ally]\npresent = false\n[defender]\nstrategy = ["aid"]\n',
        "defender.strategy",
        ["aid", "ally.present is false"],
    ),
    "challenger cost_resolved > cost_unresolved": (
        "[challenger]\ncost_resolved = 0.8\ncost_unresolved = 0.2\n",
        "challenger.cost_resolved",
        ["must be <= challenger.cost_unresolved"],
    ),
    "defender cost_resolved > cost_unresolved": (
        "[defender]\ncost_resolved = 2.0\n",
        "defender.cost_resolved",
        ["must be <= defender.cost_unresolved"],
    ),
    "incident probability above one per tick": (
        "[military]\nincident_rate = 0.5\nincident_tick_mean = 5.0\n",
        "military.incident_rate",
        ["incident_rate * incident_tick_mean must be <= 1"],
    ),
    "population bad weight zero": (
        '[defender]\npopulation = [{weight = 0, strategy = ["grit"]}]\n',
        "defender.population[0].weight",
        ["got 0", "a positive number"],
    ),
    "population bad weight negative": (
        '[defender]\npopulation = [{weight = 1, strategy = ["grit"]}, {weight = -2, strategy = []}]\n',
        "defender.population[1].weight",
        ["got -2", "a positive number"],
    ),
    "population weight string": (
        '[defender]\npopulation = [{weight = "half", strategy = ["grit"]}]\n',
        "defender.population[0].weight",
        ["'half'", "a positive number"],
    ),
    "population weight inf": (
        '[defender]\npopulation = [{weight = inf, strategy = ["grit"]}]\n',
        "defender.population[0].weight",
        ["inf", "a positive number"],
    ),
    "population bad mix": (
        '[defender]\npopulation = [{weight = 1, strategy = ["immediate_deterrence", "tit_for_tat"]}]\n',
        "defender.population[0].strategy",
        ["at most one response rule"],
    ),
    "population extra key": (
        '[defender]\npopulation = [{weight = 1, strategy = ["grit"], label = "a"}]\n',
        "defender.population[0]",
        ["'weight'", "'strategy'"],
    ),
    "population empty": (
        "[defender]\npopulation = []\n",
        "defender.population",
        ["non-empty list"],
    ),
    "strategy and population": (
        '[defender]\nstrategy = ["grit"]\npopulation = [{weight = 1, strategy = ["grit"]}]\n',
        "defender.population",
        ["either defender.strategy or defender.population"],
    ),
    "section not a table": (
        "channel = 3\n",
        "channel",
        ["a table of fields"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_SCENARIOS))
def test_bad_scenario_names_file_field_and_what_is_allowed(tmp_path, case):
    text, field, fragments = BAD_SCENARIOS[case]
    path = write(tmp_path, text)
    err = config_error(path)
    assert err.field == field
    assert str(err).startswith(f"{path}: {field}: ")
    for frag in fragments:
        assert frag in err.message, (frag, err.message)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    err = config_error(path)
    assert err.field == ""
    assert err.message == "no such file"
    assert str(err) == f"{path}: no such file"


def test_directory_is_not_a_file(tmp_path):
    err = config_error(tmp_path)
    assert err.message == "no such file"


def test_malformed_toml(tmp_path):
    path = write(tmp_path, "[channel]\nmisperception = = 0.1\n")
    err = config_error(path)
    assert err.message.startswith("malformed TOML: ")
    assert "line 2" in err.message


def test_not_utf8(tmp_path):
    path = tmp_path / "latin.toml"
    path.write_bytes(b'[scenario]\nname = "caf\xe9"\n')
    err = config_error(path)
    assert "UTF-8" in err.message


def test_bad_override_value(tmp_path):
    err = config_error(Path(DIRECT_TOML), overrides={"channel.misperception": 2.0})
    assert err.field == "channel.misperception"
    assert "a probability in [0, 1]" in err.message


def test_override_key_without_section_is_config_error():
    with pytest.raises(ConfigError) as info:
        load_scenario(DIRECT_TOML, overrides={"horizon": 100.0})
    assert info.value.field == "horizon" and "allowed: section.name" in info.value.message


@pytest.mark.parametrize("bad", ["inf", "nan"])
def test_non_finite_int_field_is_config_error(tmp_path, bad):
    path = write(tmp_path, f"[defender]\ngrit_steps = {bad}\n")
    err = config_error(path)
    assert err.field == "defender.grit_steps"


def test_infinite_horizon_rejected(tmp_path):
    path = write(tmp_path, "[crisis]\nhorizon = inf\n[ally]\npresent = true\n")
    err = config_error(path)
    assert err.field == "crisis.horizon"
    assert "finite" in err.message


def test_tiny_renewal_interval_rejected(tmp_path):
    """A renewal every 1e-9 days would never let the clock reach the horizon."""
    path = write(tmp_path, "[defender]\nrenewal_interval = 1e-9\n")
    err = config_error(path)
    assert err.field == "defender.renewal_interval"


# --- good scenario files -----------------------------------------------------------------------
def test_empty_file_is_all_defaults(tmp_path):
    path = write(tmp_path, "")
    with pytest.warns(InputWarning, match="empty scenario file: every parameter takes its default"):
        s = load_scenario(path)
    assert s.values == {}
    assert s.mixes == (Mix(()),)
    assert s.name == "scenario"  # the file's stem
    for spec in params.SPEC:
        assert s.value(spec.key) == spec.default
    rows, cum = s.vectors()
    assert rows.shape == (1, params.N_PARAMS)
    k = len(params.SPEC)  # the rest of the vector is derived from these
    assert (rows[0][:k] == params.default_vector()[:k]).all()
    assert cum.tolist() == [1.0]


def test_explicit_defaults_match_defaults(tmp_path):
    by_section: dict[str, list[str]] = {}
    for spec in params.SPEC:
        sec, name = spec.key.split(".", 1)
        if spec.kind == "bool":
            val = "true" if spec.default else "false"
        elif spec.kind == "choice":
            val = f'"{spec.choices[int(spec.default)]}"'
        elif spec.kind == "int":
            val = str(int(spec.default))
        else:
            val = repr(float(spec.default))
        by_section.setdefault(sec, []).append(f"{name} = {val}")
    text = "".join(f"[{sec}]\n" + "\n".join(lines) + "\n" for sec, lines in by_section.items())
    path = write(tmp_path, '[scenario]\nname = "all-defaults"\n' + text)
    s = load_scenario(path)
    k = len(params.SPEC)
    assert (s.vectors()[0][0][:k] == params.default_vector()[:k]).all()
    assert len(s.values) == len(params.SPEC)


def test_direct_deterrence(direct):
    assert direct.name == "direct-deterrence"
    assert direct.mixes == (Mix(("immediate_deterrence",)),)
    assert direct.value("ally.present") == 0.0
    assert direct.value("challenger.strategy") == 0.0  # probing
    assert direct.value("challenger.p_need") == 0.5
    assert direct.value("channel.misperception") == 0.1
    # not written in the file: defaults
    assert direct.value("defender.grit_steps") == params.SPEC_BY_KEY["defender.grit_steps"].default
    assert direct.value("audience.cost") == params.SPEC_BY_KEY["audience.cost"].default


def test_extended_deterrence(extended):
    assert extended.name == "extended-deterrence"
    # strategies come back in the catalogue's order
    assert extended.mixes == (Mix(("immediate_deterrence", "tripwire", "public_statement")),)
    assert extended.value("ally.present") == 1.0
    assert extended.value("defender.renewal_interval") == 60.0
    assert extended.value("ally.p_committed") == 0.8


def test_population_and_ordering(tmp_path):
    path = write(
        tmp_path,
        """
        [scenario]
        name = "pop"
        description = "two leaders"
        [ally]
        present = true
        [defender]
        population = [
            {weight = 1, strategy = ["aid", "tit_for_tat"]},
            {weight = 3, strategy = "grit"},
            {strategy = []},
        ]
        """,
    )
    s = load_scenario(path)
    assert s.name == "pop" and s.description == "two leaders"
    assert s.mixes == (Mix(("tit_for_tat", "aid"), 1.0), Mix(("grit",), 3.0), Mix((), 1.0))
    assert s.mix_label == "1:tit_for_tat+aid | 3:grit | 1:none"
    _, cum = s.vectors()
    assert cum.tolist() == pytest.approx([0.2, 0.8, 1.0])


def test_choice_and_bool_are_coded(tmp_path):
    path = write(tmp_path, '[challenger]\nstrategy = "reciprocating"\n[ally]\npresent = true\n')
    s = load_scenario(path)
    assert s.values == {"challenger.strategy": 2.0, "ally.present": 1.0}


def test_int_given_as_float_whole(tmp_path):
    s = load_scenario(write(tmp_path, "[defender]\ngrit_steps = 4.0\n"))
    assert s.value("defender.grit_steps") == 4.0


def test_overrides(tmp_path):
    s = load_scenario(EXTENDED_TOML, overrides={"defender.renewal_interval": 0.0, "challenger.strategy": "firm"})
    assert s.value("defender.renewal_interval") == 0.0
    assert s.value("challenger.strategy") == 1.0
    assert s.value("ally.present") == 1.0


def test_build_validates_like_files():
    with pytest.raises(ConfigError) as info:
        Scenario.build(values={"channel.misperception": 3})
    assert info.value.source == "<code>" and info.value.field == "channel.misperception"
    with pytest.raises(ConfigError) as info:
        Scenario.build(strategies=["exercises"])
    assert "ally.present is false" in info.value.message
    s = Scenario.build(values={"ally.present": True}, population=[(2, ["exercises"]), (1, [])])
    assert s.mixes == (Mix(("exercises",), 2.0), Mix((), 1.0))


# --- experiments --------------------------------------------------------------------------------
def write_experiment(tmp_path: Path, body: str, scenario: str | None = None, head: str = "") -> Path:
    scen = scenario if scenario is not None else str(DIRECT_TOML)
    name = "" if head.startswith("name") else 'name = "exp"\n'
    text = f'[experiment]\n{name}scenario = "{scen}"\n{head}' + textwrap.dedent(body)
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return path


def experiment_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    assert str(path) in str(info.value)
    return info.value


def test_grid_is_cartesian_product(tmp_path):
    path = write_experiment(
        tmp_path,
        """
        [grid]
        "channel.misperception" = [0.0, 0.1, 0.25]
        "challenger.strategy" = ["probing", "firm"]
        """,
        head="replications = 500\nseed = 7\nblock_size = 100\n",
    )
    exp = load_experiment(path)
    assert (exp.name, exp.replications, exp.seed, exp.block_size) == ("exp", 500, 7, 100)
    assert Path(exp.scenario_path) == DIRECT_TOML.resolve()
    assert [c.index for c in exp.cells] == list(range(6))
    assert [c.label for c in exp.cells] == [
        "channel.misperception=0, challenger.strategy=probing",
        "channel.misperception=0, challenger.strategy=firm",
        "channel.misperception=0.1, challenger.strategy=probing",
        "channel.misperception=0.1, challenger.strategy=firm",
        "channel.misperception=0.25, challenger.strategy=probing",
        "channel.misperception=0.25, challenger.strategy=firm",
    ]
    got = [(c.scenario.value("channel.misperception"), c.scenario.value("challenger.strategy")) for c in exp.cells]
    assert got == [(m, k) for m in (0.0, 0.1, 0.25) for k in (0.0, 1.0)]
    assert exp.cells[3].overrides == {"channel.misperception": 0.1, "challenger.strategy": "firm"}
    for c in exp.cells:  # the rest comes from the base scenario
        assert c.scenario.mixes == (Mix(("immediate_deterrence",)),)
        assert c.scenario.value("challenger.p_need") == 0.5
        assert c.scenario.name == "direct-deterrence"


def test_grid_over_strategy_mixes(tmp_path):
    path = write_experiment(
        tmp_path,
        """
        [grid]
        "defender.strategy" = [["tit_for_tat"], ["grit", "self_restraint"], []]
        """,
    )
    exp = load_experiment(path)
    assert [c.label for c in exp.cells] == [
        "defender.strategy=tit_for_tat",
        "defender.strategy=grit+self_restraint",
        "defender.strategy=none",
    ]
    assert [c.scenario.mixes[0].strategies for c in exp.cells] == [("tit_for_tat",), ("grit", "self_restraint"), ()]


def test_scenario_path_relative_to_experiment_file(tmp_path):
    rel = os.path.relpath(EXTENDED_TOML, tmp_path)
    path = write_experiment(tmp_path, '[grid]\n"ally.p_committed" = [0.5, 0.9]\n', scenario=rel)
    exp = load_experiment(path)
    assert Path(exp.scenario_path) == EXTENDED_TOML.resolve()
    assert [c.scenario.value("ally.p_committed") for c in exp.cells] == [0.5, 0.9]
    assert all(c.scenario.value("ally.present") == 1.0 for c in exp.cells)


def test_explicit_cells(tmp_path):
    path = write_experiment(
        tmp_path,
        """
        [[cells]]
        label = "baseline"

        [[cells]]
        label = "noisy"
        "channel.misperception" = 0.3
        "defender.strategy" = ["tit_for_tat"]

        [[cells]]
        "challenger.p_need" = 1.0
        """,
    )
    exp = load_experiment(path)
    assert [c.label for c in exp.cells] == ["baseline", "noisy", "challenger.p_need=1"]
    base, noisy, third = exp.cells
    assert base.overrides == {}
    assert base.scenario.values == load_scenario(DIRECT_TOML).values
    assert noisy.scenario.value("channel.misperception") == 0.3
    assert noisy.scenario.mixes == (Mix(("tit_for_tat",)),)
    assert third.scenario.value("challenger.p_need") == 1.0
    assert exp.replications == 100_000 and exp.seed == 0 and exp.block_size == 4096  # defaults


def test_grid_and_cells_together(tmp_path):
    path = write_experiment(
        tmp_path,
        """
        [grid]
        "channel.misperception" = [0.0, 0.2]

        [[cells]]
        label = "extra"
        "challenger.p_need" = 0.0
        """,
    )
    assert [c.label for c in load_experiment(path).cells] == [
        "channel.misperception=0",
        "channel.misperception=0.2",
        "extra",
    ]


def test_empty_grid_is_an_error(tmp_path):
    err = experiment_error(write_experiment(tmp_path, "[grid]\n"))
    assert err.field == "grid"
    assert "no cells" in err.message and "[grid]" in err.message and "[[cells]]" in err.message


def test_no_grid_no_cells_is_an_error(tmp_path):
    err = experiment_error(write_experiment(tmp_path, ""))
    assert err.field == "grid"


def test_grid_axis_empty_list(tmp_path):
    err = experiment_error(write_experiment(tmp_path, '[grid]\n"channel.misperception" = []\n'))
    assert err.field == "grid.channel.misperception"
    assert "non-empty list" in err.message


@pytest.mark.parametrize(
    ("head", "field", "allowed"),
    [
        ("replications = 0\n", "experiment.replications", "a whole number in [1, 1000000000000]"),
        ("replications = 10.5\n", "experiment.replications", "a whole number in [1, 1000000000000]"),
        ('replications = "many"\n', "experiment.replications", "a whole number in [1, 1000000000000]"),
        ("replications = 1e23\n", "experiment.replications", "a whole number in [1, 1000000000000]"),
        ("seed = -1\n", "experiment.seed", "a whole number in [0, 9223372036854775807]"),
        ("seed = true\n", "experiment.seed", "a whole number in [0, 9223372036854775807]"),
        ("seed = 18446744073709551616\n", "experiment.seed", "a whole number in [0, 9223372036854775807]"),
        ("block_size = 0\n", "experiment.block_size", "a whole number in [1, 1000000000000]"),
        ('name = "../../escape"\n', "experiment.name", "a plain name"),
        ("name = 5\n", "experiment.name", "a plain name"),
        ("description = 5\n", "experiment.description", "a string"),
        ("repetitions = 10\n", "experiment.repetitions", "unknown field"),
    ],
)
def test_bad_run_settings(tmp_path, head, field, allowed):
    path = write_experiment(tmp_path, '[grid]\n"channel.misperception" = [0.1]\n', head=head)
    err = experiment_error(path)
    assert err.field == field
    assert allowed in err.message


def test_unknown_experiment_section(tmp_path):
    path = write_experiment(tmp_path, '[grid]\n"channel.misperception" = [0.1]\n[runs]\nx = 1\n')
    err = experiment_error(path)
    assert err.field == "runs"
    assert "experiment, grid, cells" in err.message


def test_missing_experiment_table(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text('[grid]\n"channel.misperception" = [0.1]\n')
    err = experiment_error(path)
    assert err.field == "experiment"


def test_missing_scenario_key(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text('[experiment]\nname = "x"\n[grid]\n"channel.misperception" = [0.1]\n')
    err = experiment_error(path)
    assert err.field == "experiment.scenario"


def test_missing_scenario_file(tmp_path):
    path = write_experiment(tmp_path, '[grid]\n"channel.misperception" = [0.1]\n', scenario="nowhere.toml")
    err = experiment_error(path)
    assert err.field == "experiment.scenario"
    assert err.message.startswith("'nowhere.toml': no such file (")


def test_cell_with_invalid_value_names_the_cell(tmp_path):
    path = write_experiment(
        tmp_path,
        """
        [[cells]]
        label = "fine"
        "channel.misperception" = 0.2

        [[cells]]
        label = "broken"
        "channel.misperception" = 1.7
        """,
    )
    err = experiment_error(path)
    assert err.source == str(path)
    assert err.field == "cell 'broken': channel.misperception"
    assert "a probability in [0, 1]" in err.message


def test_grid_cell_with_invalid_value_names_the_cell(tmp_path):
    path = write_experiment(tmp_path, '[grid]\n"defender.strategy" = [["grit"], ["tripwire"]]\n')
    err = experiment_error(path)
    assert err.field == "cell 'defender.strategy=tripwire': defender.strategy"
    assert "ally.present is false" in err.message


def test_cell_key_without_section(tmp_path):
    path = write_experiment(tmp_path, '[[cells]]\nlabel = "a"\nhorizon = 10.0\n')
    err = experiment_error(path)
    assert err.field == "cells[0].horizon"
    assert '"section.name"' in err.message


def test_malformed_experiment(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text("[experiment\n")
    err = experiment_error(path)
    assert err.message.startswith("malformed TOML")

"""docs/model.md against the code it specifies.

docs/model.md says "where this document and the code disagree, the code is what runs: please report the
difference". These tests find the differences that can be found mechanically: the parameter table (generated
from ``params.SPEC``), the Strategies section (one description per row of ``strategies.STRATEGIES``, with its
references), citation keys, parameter names used in the prose, the named codes (outcomes, moves, types, streams)
and the documents the code points to. A known difference is a strict xfail naming it, so that fixing the document
turns the test into a failure that asks for the marker to go.
"""

from __future__ import annotations

import re

import pytest
from conftest import REPO

from escalation_sim.engines import montecarlo as mc
from escalation_sim.model import bibliography, constants, params, strategies

MODEL_MD = (REPO / "docs" / "model.md").read_text()
CRISIS_PART = MODEL_MD[:MODEL_MD.index("## The iterated prisoner's dilemma form")]


def section(title: str, text: str = MODEL_MD, level: str = "## ") -> str:
    """The text of a section, from its heading to the next heading of the same level."""
    start = text.index(f"\n{level}{title}")
    end = text.find(f"\n{level}", start + 1)
    return text[start:end if end >= 0 else len(text)]


def parameter_table() -> str:
    lines = section("Parameters").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| key | default"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line)
    return "\n".join(table)


def test_parameter_table_is_generated_from_spec():
    assert parameter_table() == params.markdown_table()


def _stale_parameter_names(text: str) -> list[str]:
    sections = {k.split(".")[0] for k in params.PARAM_INDEX}
    roles = {r for r in constants.ROLE_NAMES}
    found = set(re.findall(r"`([a-z_]+\.[a-z_]+)`", text))
    return sorted(k for k in found if k.split(".")[0] in sections and k.split(".")[1] not in roles
                  and not k.startswith("decision.") and k not in params.PARAM_INDEX)


def test_parameters_named_in_the_prose_exist():
    prose = CRISIS_PART.replace(section("Parameters"), "")
    assert _stale_parameter_names(prose) == []


# --- strategies ------------------------------------------------------------------------------------------------
STRATEGIES_MD = section("Strategies")


def strategy_subsection(name: str) -> str:
    """The ``###`` subsection of "Strategies" whose heading names ``name`` in backticks."""
    parts = re.split(r"\n(?=### )", STRATEGIES_MD)
    found = [p for p in parts if p.startswith("### ") and f"`{name}`" in p.splitlines()[0]]
    assert len(found) == 1, f"{name}: {len(found)} headings"
    return found[0]




@pytest.mark.parametrize("name", [s.name for s in strategies.STRATEGIES])
def test_every_strategy_is_described_with_its_kind_and_family(name):
    s = strategies.BY_NAME[name]
    text = strategy_subsection(name)
    heading = text.splitlines()[0]
    if heading.count("`") == 2:  # a subsection of its own: "### `name` (kind; family)"
        assert f"({s.kind}; {s.family}" in heading
    assert "Refs:" in text


@pytest.mark.parametrize("name", [s.name for s in strategies.STRATEGIES])
def test_every_strategy_cites_its_references_in_its_subsection(name):
    refs = strategy_subsection(name).split("Refs:", 1)[1]
    missing = [k for k in strategies.BY_NAME[name].references if f"`{k}`" not in refs]
    assert missing == []


def test_instrument_references_all_cited():
    for name in ("public_statement", "exercises"):
        refs = strategy_subsection(name).split("Refs:", 1)[1]
        assert all(f"`{k}`" in refs for k in strategies.BY_NAME[name].references)


def test_every_citation_key_resolves():
    used = set(re.findall(r"`([a-z_]+_\d{4})`", MODEL_MD))
    used |= {k for s in strategies.STRATEGIES for k in s.references}
    assert used and used <= set(bibliography.REFERENCES)


def test_adding_a_strategy_checklist_is_there():
    text = section("Adding a strategy", STRATEGIES_MD, "### ")
    assert "tests/test_strategies.py" in text and "markdown_table" in text


# --- named codes ---------------------------------------------------------------------------------------------------
def test_outcome_codes_match():
    table = section("Outcomes and outputs")
    rows = re.findall(r"^\| (\d) \| `([a-z_]+)` \|", table, flags=re.M)
    assert [(int(c), n) for c, n in rows] == list(enumerate(constants.OUTCOME_NAMES))


def test_move_order_matches():
    """The logit rule picks "the first move, in the order war, yield, accept, escalate, offer, wait"."""
    assert "in the order war, yield, accept, escalate, offer, wait" in MODEL_MD
    assert constants.MOVE_NAMES == ("war", "yield", "accept", "escalate", "offer", "wait")


def test_type_codes_match():
    assert "`type = 2 * greedy + resolved`" in MODEL_MD
    assert constants.TYPE_NAMES == ("security_unresolved", "security_resolved", "greedy_unresolved", "greedy_resolved")


def test_every_draw_table_names_only_existing_streams():
    rows = re.findall(r"^\| [A-Z]\d(?:-[A-Z]\d)? \| .*? \| ([0-9 /]+) \|", section("Random numbers"), flags=re.M)
    streams = {int(x) for r in rows for x in r.split("/")}
    assert streams and max(streams) < constants.N_STREAMS
    assert {constants.STREAM_SETUP, constants.STREAM_COMMITMENT} <= streams


def test_the_number_of_streams_is_stated_right():
    assert f"Each replication has {constants.N_STREAMS} streams" in MODEL_MD
    assert f"{constants.N_STREAMS} streams per replication" in mc.GENERATOR


# --- documents the code points to ---------------------------------------------------------------------------------
def _doc_links():
    out = []
    for path in sorted((REPO / "escalation_sim").rglob("*.py")) + [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for m in sorted(set(re.findall(r"docs/[A-Za-z0-9_.-]+\.md", path.read_text()))):
            source = path.relative_to(REPO).as_posix()
            out.append(pytest.param(source, m, id=f"{source}->{m}"))
    return out


@pytest.mark.parametrize(("source", "doc"), _doc_links())
def test_documents_the_code_points_to_exist(source, doc):
    assert (REPO / doc).is_file(), f"{source} points to {doc}"


# --- the strategy table's own texts -------------------------------------------------------------------------------
def test_instrument_mechanisms_describe_the_ally_as_a_believer():
    for name in ("tripwire", "alliance_terms"):
        assert "decay" not in strategies.BY_NAME[name].mechanism
    assert "tripwire_lr" in strategies.BY_NAME["tripwire"].mechanism


def test_mechanisms_name_only_existing_parameters():
    for s in strategies.STRATEGIES:
        named = re.findall(r"\b((?:effects|defender|challenger|ally|audience|channel)\.[a-z_]+)", s.mechanism + s.summary)
        assert all(k in params.PARAM_INDEX for k in named), (s.name, named)


def test_the_catalogue_shows_each_mechanism():
    from conftest import cli

    out = cli("strategies").stdout
    words = " ".join(out.split())  # the catalogue wraps each mechanism over lines
    for s in strategies.STRATEGIES:
        assert " ".join(s.mechanism.split()) in words, s.name

"""The parameter table of docs/model.md is the validator's: every parameter, its default and its allowed range.

``params.markdown_table()`` renders :data:`escalation_sim.model.params.SPEC`, the table ``model/validation.py``
enforces; the documentation must show exactly that (``crisis.horizon`` is [1e-09, 36500], not [1e-09, inf]).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from escalation_sim.model import params
from escalation_sim.model.validation import _range_text

DOC = Path(__file__).resolve().parents[1] / "docs" / "model.md"


def test_the_parameter_table_is_generated_from_the_validator():
    assert params.markdown_table().strip() in DOC.read_text(), (
        "docs/model.md's parameter table differs from params.markdown_table(): paste the generated table")


def test_every_documented_range_is_the_one_enforced():
    rows = dict(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \| [^|]* \| [^|]* \| ([^|]*) \|", DOC.read_text(), re.M))
    assert set(rows) == {s.key for s in params.SPEC}
    for s in params.SPEC:
        if s.kind not in ("bool", "choice"):
            assert _range_text(s) in rows[s.key], (s.key, rows[s.key], _range_text(s))
    assert "[1e-09, 36500]" in rows["crisis.horizon"] and not math.isinf(params.SPEC_BY_KEY["crisis.horizon"].hi)

"""What ``pip install .`` installs is enough for every module that is not an optional feature.

A module-level import of a package that is only in an extra breaks ``import`` on a fresh machine with a traceback
(the README's first command did, for scipy: the default run predicts over the calibrated posterior, and
``escalation_sim.calibration`` imports scipy). Optional features import their packages inside functions, or live
in a module of their own that is imported only when the feature is used (``OPTIONAL_MODULES``).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "escalation_sim"
PYPROJECT = PACKAGE.parent / "pyproject.toml"

#: modules imported only when their feature is used, and the extra that installs what they import
OPTIONAL_MODULES = {"scale/_dask_plugin.py": "dask"}
#: import name -> distribution name, where they differ
DISTRIBUTION = {"distributed": "dask"}


def _requirement_names(reqs: list[str]) -> set[str]:
    return {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower() for r in reqs}


def _module_level_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("escalation_sim", "__future__")}


def test_every_module_level_import_is_a_core_dependency():
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    core = _requirement_names(project["dependencies"])
    extras = {k: _requirement_names(v) for k, v in project["optional-dependencies"].items()}
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for name in _module_level_imports(path):
            dist = DISTRIBUTION.get(name, name).lower()
            if rel in OPTIONAL_MODULES:
                assert dist in extras[OPTIONAL_MODULES[rel]], f"{rel}: {name} is not in the extra it names"
            elif dist not in core:
                missing.append(f"{rel} imports {name}")
    assert not missing, "not installed by `pip install .`: " + "; ".join(missing)

"""Re-run docs/api.md's Python examples and write what each prints into the ``text`` block after it.

Run from the repository root after a change to the model moves the documented numbers::

    python tools/regen_api_doc.py && git diff docs/api.md

``tests/test_api.py`` checks that the page prints what it shows; ``test_the_documented_numbers_are_the_engines``
checks those numbers against the compiled engine's own cell loop, independently of this script.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from pathlib import Path

FENCE = re.compile(r"```(python|text)\n(.*?)```", re.DOTALL)


def main(repo: Path) -> None:
    doc = repo / "docs" / "api.md"
    text = doc.read_text()
    blocks = list(FENCE.finditer(text))
    work = Path(tempfile.mkdtemp())
    (work / "experiments").symlink_to(repo / "experiments")
    os.chdir(work)  # the examples write results/ relative to the working directory
    namespace: dict = {}
    replacements = []
    for i, block in enumerate(blocks):
        if block.group(1) != "python":
            continue
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(block.group(2), str(doc), "exec"), namespace)  # noqa: S102 - the documented example
        follows = blocks[i + 1]
        printed = "\n".join(line.rstrip() for line in buf.getvalue().rstrip("\n").splitlines()) + "\n"
        replacements.append((follows.start(2), follows.end(2), printed))
    for start, end, new in reversed(replacements):
        text = text[:start] + new + text[end:]
    doc.write_text(text)


if __name__ == "__main__":
    main(Path(__file__).resolve().parents[1])

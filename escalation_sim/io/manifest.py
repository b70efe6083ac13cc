"""The one manifest writer: ``manifest.json``, the record of what a command ran, with what, and how it ended.

Every command that writes results (``run``, ``merge``, ``calibrate``,
``sensitivity``, ``ally-decay``, IPD runs) records them with a :class:`Manifest`:
its own fields first, then the library versions, the git commit and the
machine, the start and end times and the exit status (``running`` until the
command finishes, then ``complete`` or ``interrupted``). Files are written
atomically (:func:`~escalation_sim.io.files.write_json`).
"""

from __future__ import annotations

import json
from pathlib import Path

from .files import write_json
from .provenance import git_state, machine, now_iso, versions

MANIFEST = "manifest.json"


class Manifest(dict):
    """A manifest: a dict of JSON-able fields that knows where it is written."""

    def __init__(self, path: Path, data: dict | None = None):
        super().__init__(data or {})
        self.path = Path(path)

    @classmethod
    def new(cls, path: Path, fields: dict, *, start: str | None = None, resumed: list | None = None) -> Manifest:
        """A manifest of a command starting now: ``fields``, provenance, times, status ``running`` (not yet written).

        ``start`` keeps the start time of a run being resumed; ``resumed`` (the
        times it was resumed at) is recorded when given.
        """
        data = {**fields, "versions": versions(), "git": git_state(), "machine": machine(), "start": start or now_iso()}
        if resumed is not None:
            data["resumed"] = resumed
        data.update(end=None, exit_status="running")
        return cls(path, data)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """A manifest read back from ``path``."""
        return cls(path, json.loads(Path(path).read_text()))

    def write(self) -> Path:
        """Write the manifest as it is now."""
        write_json(self.path, dict(self))
        return self.path

    def finish(self, status: str, **fields) -> Path:
        """Record the end (time, ``status``, any last ``fields``) and write."""
        self.update(end=now_iso(), exit_status=status, **fields)
        return self.write()

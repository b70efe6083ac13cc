"""The one manifest writer: ``manifest.json``, the record of what a command ran, with what, and how it ended.

Every command that writes results (``run``, ``merge``, ``calibrate``,
``sensitivity``, ``ally-decay``, IPD runs) records them with a :class:`Manifest`:
its own fields first, then the library versions, the git commit and the
machine, the start and end times and the exit status (``running`` until the
command finishes, then ``complete`` or ``interrupted``). Files are written
atomically (:func:`~escalation_sim.io.files.write_json`) and carry a checksum
of their own content (``checksum``: SHA-256 of the other fields, as canonical
JSON), which :func:`read_manifest` verifies: a damaged manifest is named, never
trusted.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..errors import DamagedFile
from .files import write_json
from .provenance import git_state, machine, now_iso, versions

MANIFEST = "manifest.json"
CHECKSUM = "checksum"


def manifest_checksum(data: dict) -> str:
    """``sha256:<hex>`` of every field but the checksum, as canonical JSON (sorted keys)."""
    body = {k: v for k, v in data.items() if k != CHECKSUM}
    return "sha256:" + hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def read_manifest(path: Path) -> dict:
    """A manifest (or any JSON record written by :class:`Manifest`) read back and verified.

    Raises
    ------
    DamagedFile
        Unreadable, not a JSON object (a truncated or overwritten file), or its
        content does not match its checksum. A manifest without a checksum
        (written by escalation-sim before 0.2) is accepted as it is.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise DamagedFile(path, f"unreadable ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DamagedFile(path, f"damaged: not a valid JSON manifest ({exc})") from None
    if not isinstance(data, dict):
        raise DamagedFile(path, "damaged: not a JSON object")
    if CHECKSUM in data and data[CHECKSUM] != manifest_checksum(data):
        raise DamagedFile(path, "damaged: its content does not match its checksum (changed after it was written)")
    return data


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
        return cls(path, read_manifest(path))

    def write(self) -> Path:
        """Write the manifest as it is now, with its checksum."""
        self[CHECKSUM] = manifest_checksum(self)
        write_json(self.path, dict(self))
        return self.path

    def finish(self, status: str, **fields) -> Path:
        """Record the end (time, ``status``, any last ``fields``) and write."""
        self.update(end=now_iso(), exit_status=status, **fields)
        return self.write()

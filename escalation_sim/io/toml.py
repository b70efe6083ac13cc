"""Reading TOML files: a missing file, a syntax error or a binary file becomes a :class:`ConfigError`."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ..errors import ConfigError


def read_toml(path: str | Path) -> dict:
    """Read a TOML file, turning a missing file or a syntax error into ConfigError."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(str(path), "", "no such file")
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "", f"malformed TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), "", "not a UTF-8 text file") from None


def set_nested(data: dict, key: str, value: Any, source: str) -> None:
    """Set ``data[a][b]...[z] = value`` for ``key = "a.b....z"``, creating tables on the way."""
    parts = key.split(".")
    d = data
    for p in parts[:-1]:
        d = d.setdefault(p, {})
        if not isinstance(d, dict):
            raise ConfigError(source, key, f"{p} is not a table here")
    d[parts[-1]] = value

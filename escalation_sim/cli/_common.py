"""What every command shares: the help layout, messages on stderr, exit codes, ``--set`` and the progress bar."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager

import click

from ..errors import RunInterrupted, UserError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def log(msg: str) -> None:
    """A message for the person at the terminal (stderr; results go to stdout)."""
    click.echo(msg, err=True)


def fail(msg: str, code: int = 2) -> None:
    """Print ``error: msg`` on stderr and exit with ``code`` (2: bad input; 130: interrupted)."""
    click.echo(f"error: {msg}", err=True)
    sys.exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a user-facing error into its message and exit code 2 (130 for an interrupted run), without a traceback."""
    try:
        yield
    except RunInterrupted as exc:
        fail(str(exc), code=130)
    except UserError as exc:
        fail(str(exc))


def parse_sets(items: tuple[str, ...]) -> dict:
    """``--set section.name=value`` options as ``{"section.name": value}`` (values read as TOML, else as text)."""
    out = {}
    for item in items:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            fail(f"--set {item!r}: allowed: section.name=value, e.g. channel.misperception=0.2")
        key, raw = item.split("=", 1)
        try:
            out[key.strip()] = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = raw
    return out


class Progress:
    """A progress bar on stderr, when it is a terminal and not switched off; called as ``(done, total, unit)``."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled and sys.stderr.isatty()
        self.bar = None
        self.done = 0

    def __call__(self, done: int, total: int, unit: str) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=unit, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)

"""What every command shares: the help layout, messages on stderr, exit codes, ``--set`` and the progress bar."""

from __future__ import annotations

import errno
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager

import click

from .._cache import compile_notice, mark_warm
from ..errors import EXIT_INTERRUPTED, EXIT_USAGE, RunInterrupted, UserError
from ..io.experiment_file import SEED_MAX, SEED_RANGE

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def log(msg: str) -> None:
    """A message for the person at the terminal (stderr; results go to stdout)."""
    click.echo(msg, err=True)


def warn(msg: str) -> None:
    """``warning: msg`` on stderr: something the user should know, that does not stop the command."""
    click.echo(f"warning: {msg}", err=True)


def fail(msg: str, code: int = EXIT_USAGE) -> None:
    """Print ``error: msg`` (one line) on stderr and exit with ``code`` (escalation_sim/errors.py lists the codes)."""
    click.echo(f"error: {' '.join(str(msg).split(chr(10)))}", err=True)
    sys.exit(code)


# errors of the environment a user can cause and fix (a read-only or full disk, a missing directory)
USER_OS_ERRORS = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOENT, errno.ENOTDIR,
                  errno.EISDIR, errno.ENAMETOOLONG)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a user-facing error into its one-line message and exit code, without a traceback.

    :class:`~escalation_sim.errors.UserError` (exit 2, or its ``exit_code``), an interrupted run (130), and, as a
    last line of defence, a file-system error the user can fix (naming the path; exit 2).
    """
    try:
        yield
    except RunInterrupted as exc:
        fail(str(exc), code=EXIT_INTERRUPTED)
    except UserError as exc:
        fail(str(exc), code=exc.exit_code)
    except OSError as exc:
        if exc.errno not in USER_OS_ERRORS:
            raise
        fail(f"cannot write {exc.filename}: {exc.strerror}" if exc.filename else str(exc))


@contextmanager
def compiling(path: str) -> Iterator[None]:
    """Say ``compiling ... (first run only, ~N s)`` before work that will compile ``path``'s kernels; record it after."""
    notice = compile_notice(path)
    if notice:
        log(notice)
    yield
    mark_warm(path)


class WholeNumber(click.ParamType):
    """A whole number in ``[0, SEED_MAX]``: seeds and replication indices (the random streams take 64-bit keys)."""

    name = "INTEGER"

    def __init__(self, what: str = SEED_RANGE):
        self.what = what

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            v = value
        else:
            try:
                v = int(str(value).strip())
            except ValueError:
                self.fail(f"{value!r}: allowed: {self.what}", param, ctx)
        if not 0 <= v <= SEED_MAX:
            self.fail(f"{value}: allowed: {self.what}", param, ctx)
        return v


#: ``--seed`` of every command: 0 to 2^63 - 1, the range of seeds in files and the Python API too.
SEED = WholeNumber()
#: ``--replication`` (a replication's index): the same range.
REPLICATION = WholeNumber(f"a whole number in [0, {SEED_MAX}]")


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

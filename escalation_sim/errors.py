"""Errors a user can act on (the bottom layer: every package may raise them), and the exit codes of the CLI.

Each one carries a message that names what was wrong and what is allowed. The
command line prints it as ``error: <message>`` (one line, on stderr, never a
traceback) and exits with the error's :attr:`UserError.exit_code`, before
anything is written wherever that is possible; the Python API
(:func:`escalation_sim.run`) lets them propagate.

Exit codes of ``escalation-sim`` (the one place they are defined; README, "Exit codes"):

======  ========================================================================================
code    meaning
======  ========================================================================================
0       done; results written
1       a bug: an unexpected error, printed with its traceback (please report it)
2       bad input or environment (configuration, option, file, directory, lock): nothing written
3       an analysis ran but its result is not usable (e.g. a calibration that did not fit):
        results are written for inspection, the message says why
130     interrupted (Ctrl-C); what was finished is kept and the same command resumes it
======  ========================================================================================
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_BUG = 1
EXIT_USAGE = 2
EXIT_NOT_USABLE = 3
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A problem with the user's input or environment, not a bug: the message says what to change."""

    exit_code = EXIT_USAGE


class ConfigError(UserError):
    """A configuration problem: ``file: field: message``."""

    def __init__(self, source: str, field_: str, message: str):
        self.source = source
        self.field = field_
        self.message = message
        super().__init__(f"{source}: {field_}: {message}" if field_ else f"{source}: {message}")


class OptionError(UserError):
    """A run option out of range, or not available for this experiment (the message names the option)."""


class ResultsExistError(UserError):
    """The output directory already holds results."""


class RunMismatch(UserError):
    """A results directory holds something this run must not touch (a complete run, a different run, shards)."""


class MergeError(UserError):
    """Shards that cannot be merged (named)."""


class SchedulerError(UserError):
    """The Dask scheduler cannot be reached or used."""


class WriteError(UserError):
    """A file or directory cannot be written (read-only, no space, not a directory): the message names the path."""


class DamagedFile(UserError):
    """A results file that fails its checks (unreadable, checksum, identity, invariants): named, with the reason."""

    def __init__(self, path, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class RunLocked(UserError):
    """Another process holds the lock of a results directory (or of a shard's files in it)."""


class ResultNotUsable(UserError):
    """An analysis finished but its result must not be used as it is (exit code 3); its files are written."""

    exit_code = EXIT_NOT_USABLE


class InputWarning(UserWarning):
    """Input that is valid but probably not what was meant (a scenario file without [challenger], ...).

    The command line prints it as one line, ``warning: <message>``, on stderr.
    """


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by the user; its manifest says ``interrupted`` and the message says how to go on."""

    exit_code = EXIT_INTERRUPTED

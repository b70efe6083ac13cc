"""Errors a user can act on (the bottom layer: every package may raise them).

Each one carries a message that names what was wrong and what is allowed. The
command line prints it as ``error: <message>`` and exits with code 2 (130 for
an interrupted run), before anything is written wherever that is possible; the
Python API (:func:`escalation_sim.run`) lets them propagate.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input or environment, not a bug: the message says what to change."""


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


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by the user; its manifest says ``interrupted`` and the message says how to go on."""

"""Command-line interface: ``escalation-sim``.

Parsing, messages and exit codes only: every command calls the library
(:mod:`escalation_sim.api`, :mod:`escalation_sim.pipeline`,
:mod:`escalation_sim.analysis`). Results go to stdout, logs and progress to
stderr. A bad configuration prints one line naming the file, the field and
what is allowed, and exits with code 2 before anything is written.

Commands by family: ``simulate`` and ``strategies`` (:mod:`.simulate`); ``run``,
``tournament``, ``sweep`` and ``merge`` (:mod:`.runs`); ``sensitivity``,
``robustness``, ``calibrate`` and ``ally-decay`` (:mod:`.analyses`).
"""

from __future__ import annotations

import warnings

import click

from .._version import __version__
from ..errors import EXIT_INTERRUPTED, InputWarning
from ._common import CONTEXT, fail, warn
from .analyses import ally_decay, calibrate, robustness, sensitivity
from .runs import merge, run, sweep, tournament
from .simulate import simulate, strategies


class Main(click.Group):
    """The command group: input warnings as one line on stderr; a Ctrl-C no command handled ends with code 130."""

    def invoke(self, ctx: click.Context):
        with warnings.catch_warnings():
            warnings.simplefilter("default", InputWarning)
            shown = warnings.showwarning

            def show(message, category, filename, lineno, file=None, line=None):
                if issubclass(category, InputWarning):
                    warn(str(message))
                else:
                    shown(message, category, filename, lineno, file, line)

            warnings.showwarning = show
            try:
                return super().invoke(ctx)
            except KeyboardInterrupt:
                fail("interrupted", code=EXIT_INTERRUPTED)


@click.group(cls=Main, context_settings=CONTEXT)
@click.version_option(__version__, "--version", "-V", prog_name="escalation-sim")
def main() -> None:
    """Simulate international crises under deterrence and reassurance strategies.

    \b
    Quick start:
      escalation-sim simulate experiments/extended-deterrence.toml --seed 1
      escalation-sim run experiments/default.toml
      escalation-sim strategies
    """


for _command in (simulate, strategies, run, tournament, sweep, merge, sensitivity, robustness, calibrate, ally_decay):
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()

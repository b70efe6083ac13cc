"""The ``escalation-sim`` program: the command line, started so that Ctrl-C is answered from the first moment.

Importing the commands loads numba, pandas and matplotlib (a few seconds). A
Ctrl-C in that time, or anywhere before a command has written anything, ends
the program with ``error: interrupted`` and exit code 130 instead of a
traceback. (The console script and ``python -m escalation_sim`` both start here.)
"""

from __future__ import annotations

import sys

from .errors import EXIT_INTERRUPTED


def main() -> None:
    """Run the command line (``escalation_sim.cli.main``)."""
    try:
        from .cli import main as cli
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted while starting; nothing was written\n")
        sys.exit(EXIT_INTERRUPTED)
    cli()

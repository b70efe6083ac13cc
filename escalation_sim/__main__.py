"""``python -m escalation_sim`` runs the command-line interface."""

from escalation_sim.cli import main

main()

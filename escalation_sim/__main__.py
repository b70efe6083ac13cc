"""``python -m escalation_sim`` runs the command-line interface."""

from escalation_sim._entry import main

main()

"""Analyses built on runs: tournament, sweep, selection bias, sensitivity, calibration, reassurance over time.

Each module computes its analysis and writes its own tables, figures and report
section; ``hooks.py`` maps an experiment file to the outputs it asks for;
``batch.py`` gives intervals over a run's blocks that account for common random
numbers. ``docs/experiments.md``, ``docs/sensitivity.md``, ``docs/calibration.md``.
"""

"""escalation-sim's benchmark suite for airspeed velocity (asv).

One module per family: ``speed`` (both engines in interleaved rounds, ratios
within a round, the draw floor; and asv-timed engine calls), ``startup`` (cold
compile, cached start-up), ``memory`` (peak RSS from 10^5 to 10^8 crises), ``ipd``
(the IPD kernel against the Axelrod library). ``common`` holds the helpers and is
not a benchmark. What each suite measures, and how much, is in
``benchmarks/configurations.py``; how to run and read it in ``benchmarks/README.md``.
"""

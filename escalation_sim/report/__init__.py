"""Presentation: the run's figures and ``report.md``, the one figure writer, a crisis as text or figure.

``run_report.py`` (figures and report of a run), ``figures.py`` (the one writer
of PNG and SVG files), ``terminal.py`` (a run's summary on the terminal),
``timeline.py`` (one crisis as a timeline or a JSON record), ``crisis_figure.py``
(one crisis as a figure).
"""

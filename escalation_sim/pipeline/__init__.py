"""The run pipeline: from an experiment file to its tables, one path for every command.

``experiment.py`` (experiment files of both forms, loaded and dispatched once),
``settings.py`` (run options resolved and validated once), ``schedule.py`` (cells
to tasks to executors to totals: the one scheduling path), ``summary.py`` (the
cell and outcome tables), ``run.py`` (:func:`execute_run`: directory, manifest,
run, tables, report), ``merge.py`` (shards into tables), ``replay.py`` (one
crisis of a finished run).
"""

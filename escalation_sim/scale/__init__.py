"""Scale-out: where blocks run and how a run survives interruption and splitting.

``executors.py`` (local threads, a Dask cluster) and its worker plugin
(``_dask_plugin.py``), ``rundir.py`` (a results directory claimed, resumed or
replaced), ``blocks.py`` (checkpoints of finished blocks), ``shards.py``
(``--shard I/N``, the checks before a merge). ``docs/scaling.md``.
"""

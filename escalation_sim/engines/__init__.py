"""The two engines that run the crisis model: the SimPy reference and the compiled Monte Carlo core.

``simpy_engine.py`` plays one crisis with processes, stores and a trace;
``_kernel.py`` replays the same events in a compiled loop, block by block;
``montecarlo.py`` is its public wrapper (blocks, threads, exact reduction);
``outputs.py`` declares what a block outputs, once.
"""

from .. import _cache

_cache.configure()  # before any kernel of this package is defined: one cache per version of the sources

"""Small posterior files in the format ``escalation-sim calibrate`` writes, for the tests of the posterior view.

Columns ``particle, <parameter keys...>, weight, distance`` (``escalation_sim/calibration/run.py``), as Parquet or
CSV. The parameters are a subset of those ``experiments/calibration-crisis-record.toml`` fits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

PARAMETERS = {
    "decision.precision": (5.0, 60.0),
    "channel.misperception": (0.0, 0.25),
    "audience.cost": (0.0, 0.15),
}


def fake_posterior(path: Path, particles: int = 6, weights=None, seed: int = 0, values: dict | None = None) -> Path:
    """Write a posterior of ``particles`` rows (values uniform in the boxes above, or ``values``) to ``path``."""
    rng = np.random.default_rng(seed)
    cols: dict = {"particle": np.arange(particles)}
    for k, (lo, hi) in PARAMETERS.items():
        cols[k] = np.asarray(values[k], dtype=float) if values and k in values else lo + (hi - lo) * rng.random(particles)
    w = np.full(particles, 1.0 / particles) if weights is None else np.asarray(weights, dtype=float)
    cols["weight"] = w
    cols["distance"] = rng.random(particles)
    df = pd.DataFrame(cols)
    path = Path(path)
    if path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)
    return path

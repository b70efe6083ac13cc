"""``escalation-sim robustness``: where the answers flip, over the box and over a posterior, in one directory.

For the contrasts of the named sets (:mod:`.contrasts`: Lebow & Stein's by motive, the ally's instruments,
renewal frequency) this runs

* the box (:mod:`.robustness`): a Latin hypercube of the documented box; per contrast the share where the claimed
  sign holds, fails, or cannot be told, with Wilson intervals; a depth-2 tree and rank regression of what decides
  it;
* optionally, Sobol indices of every contrast over the same box (:mod:`.contrast_sobol`, ``--sobol N``), with the
  Monte Carlo noise left in them;
* optionally, the same shares over a calibration posterior and the rank correlations of each contrast with the
  calibrated parameters there (:mod:`.contrast_posterior`, ``--posterior FILE --draws M``);

and writes their tables (CSV and Parquet), figures, one ``report.md`` and ``manifest.json``. Everything is seeded:
the design, the Sobol sample and its bootstrap, the resampling of the posterior and the crises (the same seed at
every point and draw); the numbers do not depend on the number of threads. The directory must be empty unless
``force``; every input is checked before anything is written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..engines import montecarlo as mc
from ..errors import ConfigError
from ..model.params import SPEC_BY_KEY
from ..model.scenario import Scenario
from .contrast_posterior import (
    ContrastPosterior,
    contrast_posterior,
    flip_figure,
    posterior_markdown,
    read_posterior,
    write_contrast_posterior,
)
from .contrast_sobol import ContrastSobol, contrast_sobol, sobol_markdown, top_parameters, write_contrast_sobol
from .contrasts import (
    CONTRAST_SET_TITLES,
    Contrast,
    contrast_arms,
    contrast_table,
    point_block_size,
    select_contrasts,
)
from .robustness import RobustnessResult, contrast_box, robustness, write_robustness

DEFAULT_SETS = ("lebow-stein",)


@dataclass
class FlipResult:
    """The box's result, and the Sobol indices and the posterior's result when they were asked for."""

    box: RobustnessResult
    sobol: ContrastSobol | None = None
    posterior: ContrastPosterior | None = None


def check_fixed(source: str, fixed: Sequence[str], box: dict) -> None:
    """Every parameter to hold fixed must be one the box would vary (a :class:`ConfigError` names it if not)."""
    for k in fixed:
        if k not in box:
            known = "a parameter of the box (docs/robustness.md)" if k in SPEC_BY_KEY else "a known parameter"
            raise ConfigError(source, f"--fix {k}", f"not varied by this box; allowed: {known}, e.g. "
                              f"{next(iter(box), 'effects.tripwire_lr')}")


def sha256_of(path: str | Path) -> str:
    """SHA-256 of a file (the posterior a result was computed from)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _plain(r: pd.Series, where: str) -> str:
    if r["share_fails"] >= 0.5:
        return f"**fails over most of the {where}: the model disagrees with the claim**"
    if r["share_holds"] >= 0.8:
        return f"holds over most of the {where}"
    if r["share_holds"] >= 0.5:
        return f"holds over more than half of the {where}, not everywhere"
    if r["share_indeterminate"] >= 0.5:
        return f"**cannot be told from zero over most of the {where}** (no effect of the claimed size)"
    return f"**holds over less than half of the {where}**"


def flip_markdown(contrasts: Sequence[Contrast], res: FlipResult) -> str:
    """The closing section: per contrast, the claim, and whether it holds over the box and the posterior."""
    box = res.box.summary.set_index("contrast")
    post = res.posterior.summary.set_index("contrast") if res.posterior is not None else None
    lines = ["## Where the answers flip", "",
             "For each contrast: the literature's claim with its source, then how much of the box (and of the "
             "posterior) supports it, and what decides it.", ""]
    for c in contrasts:
        b = box.loc[c.name]
        text = (f"- **{c.name}.** Claim: {c.claim_text}. Box: {_plain(b, 'box')} (holds {b['share_holds']:.0%} "
                f"[{b['holds_ci_low']:.0%}, {b['holds_ci_high']:.0%}], fails {b['share_fails']:.0%} "
                f"[{b['fails_ci_low']:.0%}, {b['fails_ci_high']:.0%}])")
        if post is not None:
            p = post.loc[c.name]
            text += (f"; posterior: {_plain(p, 'posterior')} (holds {p['share_holds']:.0%} [{p['holds_ci_low']:.0%}, "
                     f"{p['holds_ci_high']:.0%}], fails {p['share_fails']:.0%})")
        if res.sobol is not None:
            top = top_parameters(res.sobol.indices, c.name, 2)
            if not top["ST"].isna().all():
                text += "; decided by " + " and ".join(
                    f"`{t['parameter']}` (ST {t['ST']:.2f} ± {t['ST_ci_halfwidth']:.2f})" for _, t in top.iterrows())
        else:
            text += f"; its sign depends most on `{b['top_parameter']}` (SRRC {b['top_srrc']:+.2f})"
        lines.append(text + ".")
    return "\n".join(lines) + "\n"


def run_flip(base: Scenario, contrasts: tuple[Contrast, ...], box: dict, *, points: int, replications: int,
             seed: int, threads: int | None = None, sobol: int = 0, posterior: str | Path | None = None,
             draws: int = 256, noise_points: int = 16, sobol_replications: int | None = None,
             log=None) -> FlipResult:
    """The box, and the Sobol indices and the posterior when asked for (``sobol > 0``, ``posterior``).

    ``sobol_replications`` [default: ``replications``]: crises per arm and point of the Sobol design, which has
    ``sobol (k + 2)`` points; its Monte Carlo noise is measured and reported.
    """
    box_res = robustness(base, contrasts, box, points, replications, seed, None, threads)
    sob = post = None
    if sobol:
        if log is not None:
            log(f"  sobol: {sobol * (len(box) + 2):,} points x {len(contrast_arms(contrasts))} arms")
        sob = contrast_sobol(base, contrasts, box, sobol, sobol_replications or replications, seed, None, threads,
                             noise_points)
    if posterior is not None:
        if log is not None:
            log(f"  posterior: {draws} draws of {posterior}")
        post = contrast_posterior(base, contrasts, posterior, draws, replications, seed, None, threads)
    return FlipResult(box_res, sob, post)


def write_flip(out_dir: Path, contrasts: Sequence[Contrast], res: FlipResult, box: dict, replications: int,
               seed: int, title: str, append_to_report: bool) -> list[Path]:
    """Every table, figure and the report of a :class:`FlipResult` in ``out_dir``; returns the files written."""
    from ..io.files import atomic_write_bytes, write_table
    from ..report.figures import write_figure

    out_dir = Path(out_dir)
    paths = write_robustness(out_dir, res.box, box, replications, seed, title, append_to_report)
    report = out_dir / "report.md"
    paths.remove(report)
    paths += write_table(pd.DataFrame(contrast_table(contrasts)), out_dir, "contrasts")
    extra = []
    if res.sobol is not None:
        paths += write_contrast_sobol(out_dir, res.sobol, contrasts)
        extra.append(sobol_markdown(res.sobol, contrasts) + "\n![Sobol indices](figures/sobol_contrasts.png)\n")
    if res.posterior is not None:
        paths += write_contrast_posterior(out_dir, res.posterior)
        extra.append(posterior_markdown(res.posterior))
    paths += write_figure(flip_figure(res.box.summary, res.posterior), out_dir, "flip")
    extra.append(flip_markdown(contrasts, res) + "\n![where the answers flip](figures/flip.png)\n")
    atomic_write_bytes(report, (report.read_text() + "\n" + "\n".join(extra)).encode())
    paths.append(report)
    return paths


def robustness_outputs(out_dir: Path, cells: pd.DataFrame, outcomes: pd.DataFrame, manifest: dict) -> list[Path]:
    """The run hook of an experiment with a ``[robustness]`` table: its contrast sets on its base scenario (and
    their Sobol indices if the table sets ``sobol``), into the run's directory and report."""
    from ..model.validation import load_scenario
    from ..pipeline.experiment import robustness_spec

    config = manifest.get("config", {})
    source = manifest.get("experiment_file", "")
    spec = robustness_spec(config, source)
    base = load_scenario(Path(source or ".").parent / config["experiment"]["scenario"])
    sets = tuple(spec.get("contrasts", DEFAULT_SETS))
    contrasts = select_contrasts(sets, base, source, "robustness.contrasts")
    seed = spec.get("seed", manifest.get("seed", 1))
    box = contrast_box(base, contrasts)
    res = run_flip(base, contrasts, box, points=spec["points"], replications=spec["replications"], seed=seed,
                   sobol=spec.get("sobol", 0))
    return write_flip(out_dir, contrasts, res, box, spec["replications"], seed, _title(base, sets),
                      append_to_report=True)


def _title(base: Scenario, sets: Sequence[str]) -> str:
    return f"{base.name}, " + "; ".join(CONTRAST_SET_TITLES[s] for s in sets)


def robustness_command(base: Scenario, source, points: int, replications: int, seed: int, threads: int | None,
                       out: Path | None, force: bool, name: str, log=print, *, sets: Sequence[str] = DEFAULT_SETS,
                       sets_field: str = "--contrasts", sobol: int = 0, posterior: Path | None = None,
                       draws: int = 256, fixed: Sequence[str] = (),
                       sobol_replications: int | None = None) -> tuple[Path, FlipResult]:
    """``escalation-sim robustness``: the named contrast sets over the box (and Sobol, and a posterior), with
    tables, figures, report and manifest.

    Writes to ``out`` [default: ``results/<name>-robustness/seed<S>-p<points>-n<replications>`` with the sets,
    ``-sobol<N>`` and ``-post<M>`` appended when given], which must be empty unless ``force``. Every input (set
    names, the posterior file, the parameters to fix) is checked before anything is written.
    """
    from ..io.files import prepare_run_dir
    from ..io.manifest import MANIFEST, Manifest
    from ..io.provenance import now_iso

    sets = tuple(sets)
    contrasts = select_contrasts(sets, base, str(source), sets_field)
    check_fixed(str(source), fixed, contrast_box(base, contrasts))
    box = contrast_box(base, contrasts, fixed)
    post_info = None
    if posterior is not None:
        _, w, names = read_posterior(posterior)
        post_info = {"file": str(posterior), "sha256": sha256_of(posterior), "particles": int(len(w)),
                     "parameters": names, "draws": draws}
    suffix = ("" if sets == DEFAULT_SETS else "-" + "+".join(sets)) + (f"-sobol{sobol}" if sobol else "") \
        + (f"-post{draws}" if posterior is not None else "")
    out_dir = out or Path("results") / f"{name}-robustness" / f"seed{seed}-p{points}-n{replications}{suffix}"
    prepare_run_dir(out_dir, force)
    start = now_iso()
    command = (f"escalation-sim robustness {source} --contrasts {','.join(sets)} --points {points} "
               f"-n {replications} --seed {seed}" + (f" --sobol {sobol}" if sobol else "")
               + (f" --posterior {posterior} --draws {draws}" if posterior is not None else "")
               + (f" --fix {','.join(fixed)}" if fixed else "")
               + (f" --sobol-replications {sobol_replications}" if sobol and sobol_replications else ""))
    arms = contrast_arms(contrasts)
    log(f"robustness: {len(contrasts)} contrasts, {points} points x {len(arms)} arms x {replications:,} crises "
        f"-> {out_dir}")
    mc.warm_up()
    res = run_flip(base, contrasts, box, points=points, replications=replications, seed=seed, threads=threads,
                   sobol=sobol, posterior=posterior, draws=draws, sobol_replications=sobol_replications, log=log)
    files = write_flip(out_dir, contrasts, res, box, replications, seed, _title(base, sets), append_to_report=False)
    if res.posterior is not None:
        post_info.update(distinct_particles=int(len(res.posterior.particles)),
                         effective_draws=float(res.posterior.summary["effective_draws"].iloc[0]))
    Manifest.new(out_dir / MANIFEST, {
        "kind": "robustness", "source": str(source), "scenario": base.name, "contrast_sets": list(sets),
        "contrasts": contrast_table(contrasts), "arms": [a.label for a in arms], "points": points,
        "replications_per_mix_and_point": replications, "seed": seed, "block_size": point_block_size(replications),
        "box": {k: list(v) for k, v in box.items()}, "fixed": list(fixed), "design": "Latin hypercube (seeded)",
        "sobol": ({"n_base": sobol, "points": sobol * (len(box) + 2), "noise_points": 16,
                   "replications_per_arm_and_point": sobol_replications or replications,
                   "method": "Saltelli/Sobol (SALib), no second order; bootstrap 95% intervals, 1000 resamples"}
                  if sobol else None),
        "posterior": post_info,
        "ci_method": "shares: wilson (over points; over draws at Kish's effective number); contrasts: paired "
                     "batch means over each point's blocks (t, B - 1 df)",
        "command": command,
    }, start=start).finish("complete", files=[str(Path(f).relative_to(out_dir)) for f in files])
    return out_dir, res


__all__ = ["FlipResult", "run_flip", "write_flip", "flip_markdown", "robustness_outputs", "robustness_command",
           "check_fixed"]

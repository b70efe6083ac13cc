"""Figures and a Markdown report for a finished run.

:func:`write_report` reads nothing from disk: it takes the cell table, the
outcome table and the manifest that ``escalation-sim run`` has just written,
and adds to the results directory::

    figures/war_probability.png, .svg   P(war) per cell, 95% Wilson intervals,
                                        split by challenger motive if mixed
    figures/outcomes.png, .svg          outcome shares per cell (stacked)
    report.md                           setup, tables, figures and caveats

Figures are written by the one figure writer
(:func:`escalation_sim.report.figures.write_figure`); their SVG output is
deterministic (no date, fixed id salt).
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..io.files import atomic_write_bytes
from ..model.constants import OUTCOME_NAMES
from ..model.params import SPEC_BY_KEY
from .figures import FIGURES_DIR, write_figure

REPORT_NAME = "report.md"
LABEL_WIDTH = 40  # characters per line of a wrapped cell label

#: Colour, legend text and stacking position of each outcome (Okabe-Ito based,
#: wars last so that their shares line up against the right edge).
OUTCOME_STYLE: dict[str, tuple[str, str]] = {
    "no_challenge": ("#D9D9D9", "no challenge"),
    "challenger_backs_down": ("#009E73", "challenger backs down"),
    "settlement": ("#56B4E9", "settlement"),
    "defender_concedes": ("#E69F00", "defender concedes"),
    "unresolved": ("#8C8C8C", "unresolved at horizon"),
    "war": ("#B2182B", "war"),
}

#: Marker style of P(war) for all challengers and by challenger motive.
MOTIVE_STYLE: dict[str, dict] = {
    "all": {"color": "#000000", "marker": "o", "label": "all challengers", "offset": 0.0},
    "opportunity": {"color": "#0072B2", "marker": "s", "label": "opportunity-driven", "offset": -0.26},
    "need": {"color": "#D55E00", "marker": "D", "label": "need-driven", "offset": 0.26},
}

_RC = {
    "svg.fonttype": "none",  # text stays text in the SVG
    "svg.hashsalt": "escalation-sim",  # deterministic ids
    "font.size": 11,
    "axes.titlesize": 13,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
}
_KEY_RE = re.compile(r"^([A-Za-z_][\w]*\.[A-Za-z_]\w*)=(.*)$")


# --- labels ---------------------------------------------------------------------
def _spaced(text: str) -> str:
    """``a+b`` -> ``a + b`` (the separator of strategy mixes)."""
    return re.sub(r"\s*\+\s*", " + ", text)


def _parts(label: str) -> list[tuple[str, str]] | None:
    """``k1=v1, k2=v2`` as ``[(k1, v1), (k2, v2)]``, or None for a free label."""
    out = []
    for part in label.split(", "):
        m = _KEY_RE.match(part)
        if m is None:
            return None
        out.append((m.group(1), m.group(2)))
    return out


class Labels(NamedTuple):
    """Cell labels as shown on figures and in tables."""

    short: list[str]
    """One label per cell, shortened."""
    field: str | None
    """The single field the cells vary, when its ``section.name=`` prefix was stripped."""
    fixed: list[str]
    """``section.name=value`` parts that were the same in every cell, and were dropped."""


def short_labels(labels: Sequence[str]) -> Labels:
    """Readable cell labels: common prefixes and constant parts removed.

    Grid labels are ``section.name=value`` parts joined by ``", "``. With
    several cells, parts with the same value in every cell are dropped (and
    returned in ``fixed``). When the remaining labels all vary one field, its
    ``section.name=`` prefix is stripped (and returned as ``field``, for an
    axis title); otherwise each part keeps its name, without the section when
    that is unambiguous. ``+`` (the mix separator) becomes `` + ``. Free
    labels (from ``[[cells]]``) are kept as they are.

    Parameters
    ----------
    labels : sequence of str
        The cells' labels, in cell order.

    Returns
    -------
    Labels
        ``(short, field, fixed)``.
    """
    labels = [str(x) for x in labels]
    parsed = [_parts(x) for x in labels]
    if not parsed or any(p is None for p in parsed):
        return Labels([_spaced(x) for x in labels], None, [])
    fixed: list[str] = []
    same_keys = len({tuple(k for k, _ in p) for p in parsed}) == 1
    if len(parsed) > 1 and same_keys:
        keep = [j for j in range(len(parsed[0])) if len({p[j][1] for p in parsed}) > 1]
        if keep:
            fixed = [f"{k}={v}" for j, (k, v) in enumerate(parsed[0]) if j not in keep]
            parsed = [[p[j] for j in keep] for p in parsed]
    keys = {k for p in parsed for k, _ in p}
    if len(keys) == 1 and all(len(p) == 1 for p in parsed):
        out = [_spaced(p[0][1]) for p in parsed]
        if len(set(out)) == len(out):
            return Labels(out, next(iter(keys)), fixed)
    names = [k.split(".", 1)[1] for k in keys]
    unique = len(set(names)) == len(names)
    out = [", ".join(f"{k.split('.', 1)[1] if unique else k}={_spaced(v)}" for k, v in p) for p in parsed]
    return Labels(out, None, fixed)


def wrap_label(label: str, width: int = LABEL_WIDTH) -> str:
    """Wrap a (shortened) label onto lines of at most ``width`` characters.

    Lines break at spaces only (never inside a strategy name); each
    ``field=value`` part of a multi-field label starts a new line.
    """
    lines = []
    for part in label.split(", "):
        lines += textwrap.wrap(part, width, break_long_words=False, break_on_hyphens=False) or [part]
    return "\n".join(lines)


def display_labels(labels: Sequence[str], width: int = LABEL_WIDTH) -> Labels:
    """Shortened and wrapped labels, as drawn on the figures' y axes.

    Returns
    -------
    Labels
        As :func:`short_labels`, with each label wrapped by :func:`wrap_label`.
    """
    lab = short_labels(labels)
    return lab._replace(short=[wrap_label(s, width) for s in lab.short])


# --- small helpers -----------------------------------------------------------------
def _experiment_name(manifest: dict) -> str:
    return str(manifest.get("experiment") or manifest.get("config", {}).get("experiment", {}).get("name") or "experiment")


def _description(manifest: dict) -> str:
    cfg = manifest.get("config") or {}
    return str((cfg.get("experiment") or {}).get("description") or manifest.get("description") or "").strip()


def _n_text(cells: pd.DataFrame) -> str:
    ns = sorted({int(x) for x in cells["n"]})
    if len(ns) == 1:
        return f"n = {ns[0]:,} replications per cell"
    return "n per cell = " + ", ".join(f"{int(x):,}" for x in cells["n"])


def _p_need(manifest: dict) -> float | None:
    """Share of need-driven challengers, if the same in every cell."""
    default = SPEC_BY_KEY["challenger.p_need"].default if "challenger.p_need" in SPEC_BY_KEY else None
    vals = {c.get("values", {}).get("challenger.p_need", default) for c in manifest.get("cells", [])}
    vals.discard(None)
    return float(vals.pop()) if len(vals) == 1 else None


def _population_text(manifest: dict) -> str:
    pn = _p_need(manifest)
    if pn is None:
        return "Challenger population varies by cell."
    return f"Challengers: {pn:.0%} need-driven, {1 - pn:.0%} opportunity-driven."


def _motive_war(cells: pd.DataFrame, outcomes: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """P(war) rows of each motive, aligned with ``cells`` (n = 0 where a cell has no such challenger)."""
    out = {}
    if outcomes is None or outcomes.empty:
        return out
    war = outcomes[outcomes["measure"] == "war"]
    for motive in ("opportunity", "need"):
        rows = war[war["motive"] == motive].set_index("cell").reindex(cells["cell"].to_numpy())
        rows["n"] = rows["n"].fillna(0)
        out[motive] = rows.reset_index()
    return out


def _mixed_cells(motives: dict[str, pd.DataFrame]) -> np.ndarray:
    """Per cell: both motives occur (the cell's challenger population is mixed)."""
    if len(motives) < 2:
        return np.zeros(0, dtype=bool)
    return (motives["opportunity"]["n"].to_numpy() > 0) & (motives["need"]["n"].to_numpy() > 0)


def _pure_motive(motives: dict[str, pd.DataFrame], k: int) -> list[str]:
    """Per cell: ``"opportunity"`` or ``"need"`` if its challengers all have that motive, else ``"all"``."""
    if len(motives) < 2:
        return ["all"] * k
    opp = motives["opportunity"]["n"].to_numpy() > 0
    need = motives["need"]["n"].to_numpy() > 0
    return ["opportunity" if o and not d else "need" if d and not o else "all" for o, d in zip(opp, need, strict=True)]


def _footnote(ax, text: str) -> None:
    """Small grey text under the x-axis title, from the figure's left edge (the tight bbox includes it)."""
    ax.annotate(
        text, xy=(0.0, 0.0), xycoords=("figure fraction", ax.xaxis.label), xytext=(4, -10), textcoords="offset points",
        ha="left", va="top", fontsize=9, color="#555555", annotation_clip=False, linespacing=1.4,
    )


def _note(cells: pd.DataFrame, manifest: dict, labels: Labels) -> str:
    """The first line(s) of a figure's footnote: n, seed, fixed settings."""
    note = f"{_n_text(cells)}; seed {manifest.get('seed', '?')}"
    note += "; common random numbers across cells." if len(cells) > 1 else "."
    if labels.fixed:
        note += "\nSame in every cell: " + ", ".join(_spaced(f) for f in labels.fixed) + "."
    return note


def _row_height(labels: Sequence[str], minimum: float = 0.0) -> float:
    """Inches per cell: enough for the longest wrapped label."""
    lines = max(lab.count("\n") + 1 for lab in labels)
    return max(0.45 + 0.19 * (lines - 1), minimum)


def _title(manifest: dict, what: str) -> str:
    """``name: what``, on two lines when long."""
    name = _experiment_name(manifest)
    sep = ":\n" if len(name) + len(what) > 55 else ": "
    return f"{name}{sep}{what}"


def _style_axes(ax, labels: Labels, k: int) -> None:
    ax.set_yticks(np.arange(k), labels.short)
    ax.set_ylim(k - 0.5, -0.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    if labels.field:
        ax.set_ylabel(labels.field)


# --- figures --------------------------------------------------------------------------
def war_probability_figure(cells: pd.DataFrame, outcomes: pd.DataFrame, manifest: dict):
    """P(war) per cell with 95% Wilson intervals, by challenger motive where mixed.

    In every cell whose challengers are a mix of opportunity- and need-driven
    ones, P(war) of each motive is drawn beside the overall estimate (its own
    marker and colour), from the outcome table's ``measure == "war"`` rows. A
    cell whose challengers all have one motive shows its estimate in that
    motive's marker and colour.

    Parameters
    ----------
    cells, outcomes : pandas.DataFrame
        The run's cell and outcome tables.
    manifest : dict
        The run's manifest (experiment name, seed, cells' parameters).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure  # here, not at the top: matplotlib is slow to import

    labels = display_labels(cells["label"])
    motives = _motive_war(cells, outcomes)
    mixed = _mixed_cells(motives)
    any_mixed = bool(mixed.any())
    k = len(cells)
    pure = _pure_motive(motives, k)
    row = _row_height(labels.short, 0.8 if any_mixed else 0.0)
    fig = Figure(figsize=(9.5, 2.2 + row * k + (0.35 if any_mixed else 0.0)), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(k, dtype=float)
    overall = (cells["p_war"], cells["war_ci_low"], cells["war_ci_high"])
    series = [(m, 0.0, *overall, np.array([q == m for q in pure])) for m in ("all", "opportunity", "need")]
    if any_mixed:
        series += [
            (m, MOTIVE_STYLE[m]["offset"], motives[m]["p"], motives[m]["ci_low"], motives[m]["ci_high"], mixed)
            for m in ("opportunity", "need")
        ]
    hi_max = 0.0
    legend = set()
    for motive, offset, p, lo, hi, show in series:
        st = MOTIVE_STYLE[motive]
        p, lo, hi = (np.asarray(v, dtype=float) for v in (p, lo, hi))
        ok = show & ~np.isnan(p)
        if not ok.any():
            continue
        # Wilson bounds at p = 0 or 1 can miss p by a rounding error: never a negative arm
        err = np.clip(np.nan_to_num(np.vstack([p - lo, hi - p])[:, ok]), 0.0, None)
        ax.errorbar(
            p[ok], y[ok] + offset, xerr=err, fmt=st["marker"], color=st["color"], ecolor=st["color"],
            elinewidth=1.5, capsize=3.5, markersize=7 if motive == "all" else 6,
            label=None if motive in legend else st["label"], zorder=3,
        )
        legend.add(motive)
        hi_max = max(hi_max, float(np.nanmax(hi[ok])))
    if any_mixed:
        for i in range(0, k, 2):
            ax.axhspan(i - 0.5, i + 0.5, color="#F2F2F2", zorder=0, lw=0)
    _style_axes(ax, labels, k)
    right = min(1.0, max(hi_max * 1.1, 0.01))
    ax.set_xlim(-0.015 * right, right)
    ax.grid(axis="x", color="#DDDDDD", lw=0.8, zorder=0)
    ax.set_axisbelow(True)
    ax.set_xlabel("P(war) with 95% Wilson interval")
    what = "probability of war" + (" by cell" if k > 1 else "")
    if any_mixed:
        what += " and challenger motive" if k > 1 else " by challenger motive"
    show_legend = legend != {"all"}
    if show_legend:
        handles, texts = ax.get_legend_handles_labels()
        order = [MOTIVE_STYLE[m]["label"] for m in MOTIVE_STYLE]
        pairs = sorted(zip(handles, texts, strict=True), key=lambda ht: order.index(ht[1]))
        ax.legend([h for h, _ in pairs], [t for _, t in pairs], loc="lower left", bbox_to_anchor=(0.0, 1.0),
                  ncol=3, frameon=False, borderaxespad=0.3, handletextpad=0.4, columnspacing=1.2)
    ax.set_title(_title(manifest, what), loc="left", pad=26 if show_legend else 8)
    note = _note(cells, manifest, labels)
    note += "\nP(war) = deliberate war + war by miscalculation; intervals narrower than a marker are hidden by it."
    note += "\n" + _population_text(manifest)
    _footnote(ax, note)
    return fig


def outcomes_figure(cells: pd.DataFrame, manifest: dict):
    """Stacked horizontal bars of the outcome shares of each cell.

    Every outcome has a fixed colour (:data:`OUTCOME_STYLE`); the legend sits
    to the right of the plot; shares of at least 5.5% are printed on the bars.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.colors import to_rgb  # here, not at the top: matplotlib is slow to import
    from matplotlib.figure import Figure  # here, not at the top: matplotlib is slow to import

    labels = display_labels(cells["label"])
    names = [n for n in OUTCOME_STYLE if n in OUTCOME_NAMES] + [n for n in OUTCOME_NAMES if n not in OUTCOME_STYLE]
    k = len(cells)
    fig = Figure(figsize=(10.0, 2.2 + _row_height(labels.short) * k), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(k, dtype=float)
    left = np.zeros(k)
    extra = iter(["#999933", "#882255", "#44AA99", "#332288"])
    for name in names:
        colour, text = OUTCOME_STYLE.get(name, (next(extra, "#777777"), name.replace("_", " ")))
        share = cells[f"p_{name}"].to_numpy(dtype=float) if f"p_{name}" in cells else np.zeros(k)
        share = np.nan_to_num(share)
        ax.barh(y, share, left=left, height=0.72, color=colour, edgecolor="white", linewidth=0.6, label=text)
        r, g, b = to_rgb(colour)
        ink = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
        for i in range(k):
            if share[i] >= 0.055:
                ax.text(left[i] + share[i] / 2, y[i], f"{share[i]:.0%}", ha="center", va="center", fontsize=9, color=ink)
        left += share
    _style_axes(ax, labels, k)
    ax.set_xlim(0.0, 1.0)
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlabel("share of replications")
    ax.set_title(_title(manifest, "outcome shares" + (" by cell" if k > 1 else "")), loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.03, 1.0), frameon=False, title="outcome", alignment="left")
    _footnote(ax, _note(cells, manifest, labels))
    return fig


# --- report.md ------------------------------------------------------------------------
def _f(x, digits: int = 4) -> str:
    """A number for the tables; NaN as an en dash."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{float(x):.{digits}f}"


def _p_ci(p, lo, hi) -> str:
    """``p [lo, hi]`` with four decimals, or ``–`` when there is no estimate."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "–"
    return f"{_f(p)} [{_f(lo)}, {_f(hi)}]"


def _cell_md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _ally_present(manifest: dict, index: int) -> bool:
    for c in manifest.get("cells", []):
        if c.get("index") == index:
            default = SPEC_BY_KEY["ally.present"].default if "ally.present" in SPEC_BY_KEY else 1.0
            return bool(c.get("values", {}).get("ally.present", default))
    return True


def results_table(cells: pd.DataFrame, manifest: dict) -> str:
    """The per-cell Markdown table of report.md.

    Columns: cell, P(war) [95% CI], P(war by miscalculation), P(no challenge),
    P(war | crisis), ally proliferation and median crisis days. Probabilities
    have four decimals, days one; a missing value (no crisis, no ally) is ``–``.
    """
    short = short_labels(cells["label"]).short
    out = [
        "| # | Cell | P(war) [95% CI] | P(war by miscalculation) | P(no challenge) | P(war \\| crisis) "
        "| Ally proliferation | Median crisis days |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for lab, (_, r) in zip(short, cells.iterrows(), strict=True):
        ally = _f(r["p_ally_proliferation"]) if _ally_present(manifest, int(r["cell"])) else "–"
        out.append(
            f"| {int(r['cell'])} | {_cell_md(lab)} | {_p_ci(r['p_war'], r['war_ci_low'], r['war_ci_high'])} "
            f"| {_f(r['p_war_miscalculation'])} | {_f(r['p_no_challenge'])} | {_f(r['p_war_given_crisis'])} "
            f"| {ally} | {_f(r['duration_q50'], 1)} |"
        )
    return "\n".join(out)


def motive_table(cells: pd.DataFrame, outcomes: pd.DataFrame) -> str | None:
    """P(war) [95% CI] by challenger motive per cell, or None if no cell has both motives."""
    motives = _motive_war(cells, outcomes)
    if not _mixed_cells(motives).any():
        return None
    short = short_labels(cells["label"]).short
    opp, need = motives["opportunity"], motives["need"]
    out = [
        "| # | Cell | Opportunity-driven: P(war) [95% CI] | n | Need-driven: P(war) [95% CI] | n |",
        "|---:|---|---|---:|---|---:|",
    ]
    for i, (lab, (_, r)) in enumerate(zip(short, cells.iterrows(), strict=True)):
        o, d = opp.iloc[i], need.iloc[i]
        out.append(
            f"| {int(r['cell'])} | {_cell_md(lab)} "
            f"| {_p_ci(o['p'], o['ci_low'], o['ci_high'])} | {int(np.nan_to_num(o['n'])):,} "
            f"| {_p_ci(d['p'], d['ci_low'], d['ci_high'])} | {int(np.nan_to_num(d['n'])):,} |"
        )
    return "\n".join(out)


def _setup(cells: pd.DataFrame, manifest: dict) -> list[str]:
    cfg = manifest.get("config") or {}
    exp_cfg = cfg.get("experiment") or {}
    scen_names = sorted({str(c.get("name")) for c in manifest.get("cells", []) if c.get("name")})
    scenario = ", ".join(f"`{s}`" for s in scen_names) or "?"
    if exp_cfg.get("scenario"):
        scenario += f" (file `{exp_cfg['scenario']}`)"
    pn = _p_need(manifest)
    if pn is not None:
        scenario += f"; challengers {pn:.0%} need-driven, {1 - pn:.0%} opportunity-driven"
    else:
        scenario += "; the share of need-driven challengers (`challenger.p_need`) varies by cell"
    grid = list((cfg.get("grid") or {}).keys())
    how = f"a grid over {', '.join(f'`{g}`' for g in grid)}" if grid else "explicit cells"
    if cfg.get("cells") and grid:
        how += " plus explicit cells"
    fixed = short_labels(cells["label"]).fixed
    if fixed:
        how += "; the same in every cell: " + ", ".join(f"`{f}`" for f in fixed)
    ns = sorted({int(x) for x in cells["n"]})
    reps_text = f"{ns[0]:,} per cell" if len(ns) == 1 else "per cell " + ", ".join(f"{x:,}" for x in cells["n"])
    stop = manifest.get("stop_rule") or {}
    if stop.get("rule") == "sequential":
        reached = "reached" if stop.get("reached") else "not reached"
        reps_text += (f" (sequential stop: doubling until every P(war) 95% half-width <= {stop.get('target_halfwidth')};"
                      f" target {reached})")
    bs = manifest.get("block_size")
    versions = manifest.get("versions") or {}
    vtext = ", ".join(f"{k} {v}" for k, v in versions.items()) or "not recorded"
    git = manifest.get("git") or {}
    if git.get("commit"):
        gtext = f"`{git['commit']}`" + (" (with uncommitted changes)" if git.get("dirty") else "")
    else:
        gtext = "not a git checkout"
    lines = [
        f"- **Experiment file:** `{manifest.get('experiment_file', '?')}`",
        f"- **Scenario:** {scenario}",
        f"- **Cells:** {len(cells)} ({how})",
        f"- **Replications:** {reps_text}",
        f"- **Seed:** {manifest.get('seed', '?')}; **block size:** {f'{int(bs):,}' if bs is not None else '?'}",
        "- **Random numbers:** common random numbers across cells ("
        + str(manifest.get("common_random_numbers", "every cell uses the streams of (seed, replication)")) + ")",
        "- **Confidence intervals:** Wilson score, 95%",
        f"- **Config hash:** `{manifest.get('config_hash', '?')}`",
        f"- **Versions:** {vtext}",
        f"- **Git commit:** {gtext}",
    ]
    if manifest.get("start"):
        lines.append(f"- **Run started:** {manifest['start']}")
    if manifest.get("shards"):
        lines.append(f"- **Run in shards:** merged from {manifest['shards']} shards at {manifest.get('merged_at', '?')}")
    return lines


def _resolution(cells: pd.DataFrame) -> str:
    if "duration_resolution" not in cells:
        return "the histogram bin width"
    vals = sorted({round(float(x), 6) for x in cells["duration_resolution"].dropna()})
    if not vals:
        return "the histogram bin width"
    return f"{vals[0]:g} days" if len(vals) == 1 else f"{vals[0]:g}–{vals[-1]:g} days"


def report_markdown(cells: pd.DataFrame, outcomes: pd.DataFrame, manifest: dict) -> str:
    """The text of report.md (figures referenced by relative path)."""
    name = _experiment_name(manifest)
    desc = _description(manifest)
    question = desc or f"Probability of war and outcome shares in each cell of the experiment `{name}`."
    parts = [
        f"# {name}: results",
        "",
        "## Question",
        "",
        question,
        "",
        "## Setup",
        "",
        *_setup(cells, manifest),
        "",
        "## Results",
        "",
        results_table(cells, manifest),
        "",
        "P(war) counts every war (those by miscalculation and inadvertent ones included), over all replications "
        "(including those without a challenge); the interval is the 95% Wilson score interval. "
        "P(war | crisis) conditions on a challenge. Median crisis days are over crises that happened.",
        "",
    ]
    mt = motive_table(cells, outcomes)
    if mt is not None:
        parts += [
            "### By challenger motive",
            "",
            "Lebow & Stein's question: does the defender's strategy work differently on opportunity-driven "
            "and need-driven challengers?",
            "",
            mt,
            "",
        ]
    parts += [
        "## Figures",
        "",
        f"![P(war) per cell with 95% Wilson intervals]({FIGURES_DIR}/war_probability.png)",
        "",
        f"Vector version: [{FIGURES_DIR}/war_probability.svg]({FIGURES_DIR}/war_probability.svg)",
        "",
        f"![Outcome shares per cell]({FIGURES_DIR}/outcomes.png)",
        "",
        f"Vector version: [{FIGURES_DIR}/outcomes.svg]({FIGURES_DIR}/outcomes.svg)",
        "",
        "## Caveats",
        "",
        "- The model is stylised and its parameters are illustrative, not calibrated: compare cells, "
        "not levels. The levels are not predictions.",
        "- Common random numbers: every cell sees the same challengers and draws (seed, replication), "
        "so differences between cells are estimated more precisely than the separate intervals suggest; "
        "the intervals are per cell, not for differences.",
        "- Durations are those of crises that happened (every outcome but no challenge), cut at the crisis "
        f"horizon, and their quantiles come from a histogram with a resolution of {_resolution(cells)} "
        "(duration_resolution).",
        "- P(war by miscalculation) counts wars whose complete-information twin (same random numbers, each side "
        "knowing the other's type) has no war; P(inadvertent war) counts wars started right after an incident or a "
        "misread move (docs/model.md, \"Moves, perception and war\").",
        '- See docs/model.md, "What the model does not capture" (bounded rationality without equilibrium, no memory '
        "across crises, war as one terminal lottery, one ally that does not bargain or fight itself, selection), and "
        "docs/robustness.md and docs/calibration.md for how far the results hold over the parameter box and the "
        "posterior.",
        "",
        "Tables: `cells.csv`/`cells.parquet`, `outcomes.csv`/`outcomes.parquet`; run record: `manifest.json`.",
        "",
    ]
    return "\n".join(parts)


# --- entry point ------------------------------------------------------------------------
def write_report(out_dir: Path, cells: pd.DataFrame, outcomes: pd.DataFrame, manifest: dict) -> list[Path]:
    """Write the figures and report.md of a finished run into ``out_dir``.

    Parameters
    ----------
    out_dir : pathlib.Path
        The run's results directory; figures go to ``out_dir/figures/``.
    cells : pandas.DataFrame
        The cell table (one row per cell, as from
        :func:`escalation_sim.pipeline.summary.summarize`).
    outcomes : pandas.DataFrame
        The outcome table (cell x motive x measure).
    manifest : dict
        The run's manifest (experiment, seed, config, versions, git, ...).

    Returns
    -------
    list of pathlib.Path
        The files written: two PNG, two SVG and ``report.md``.
    """
    import matplotlib  # here, not at the top: matplotlib is slow to import

    if cells is None or cells.empty:
        raise ValueError("write_report: the cell table is empty")
    out_dir = Path(out_dir)
    cells = cells.sort_values("cell", ignore_index=True)
    written: list[Path] = []
    with matplotlib.rc_context(_RC):
        for stem, fig in (
            ("war_probability", war_probability_figure(cells, outcomes, manifest)),
            ("outcomes", outcomes_figure(cells, manifest)),
        ):
            written += write_figure(fig, out_dir, stem, tight=True)
    path = out_dir / REPORT_NAME
    atomic_write_bytes(path, report_markdown(cells, outcomes, manifest).encode())
    written.append(path)
    return written

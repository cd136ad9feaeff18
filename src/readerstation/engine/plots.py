"""Plots of a trial report: waterfall, spider, swimmer, Kaplan-Meier with numbers at risk.

Every function builds a :class:`matplotlib.figure.Figure` on the non-interactive Agg canvas
(never pyplot, never a display) and returns it; :func:`save_trial_plots` writes PNG, SVG and PDF.
Times on the axes are months (days / 30.4375) or weeks, percentages of the baseline sum.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from readerstation.criteria.enums import Response
from readerstation.engine.stats import DAYS_PER_MONTH, KaplanMeierResult
from readerstation.engine.subject import SubjectResult
from readerstation.engine.trial import TrialSummary
from readerstation.errors import CriteriaError

__all__ = [
    "RESPONSE_COLOURS",
    "plot_kaplan_meier",
    "plot_spider",
    "plot_swimmer",
    "plot_waterfall",
    "save_figure",
    "save_trial_plots",
]

RESPONSE_COLOURS: dict[Response, str] = {
    Response.CR: "#1a9850",
    Response.PR: "#91cf60",
    Response.SD: "#fee08b",
    Response.NON_CR_NON_PD: "#fdae61",
    Response.PD: "#d73027",
    Response.NE: "#999999",
}


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # Agg: non-interactive, no display needed
    return fig


def _legend_handles(present: Iterable[Response]) -> list[Patch]:
    have = set(present)
    return [Patch(color=c, label=r.value) for r, c in RESPONSE_COLOURS.items() if r in have]


def plot_waterfall(results: Sequence[SubjectResult], *, title: str | None = None) -> Figure:
    """Best percent change of the target sum per subject, coloured by best overall response.

    Subjects without a post-baseline sum are left out; dotted lines at -30 % (PR) and +20 % (PD).
    """
    rows = [r for r in results if r.max_change_from_baseline_pct is not None]
    rows.sort(key=lambda r: -(r.max_change_from_baseline_pct or 0.0))
    fig = _figure(max(6.0, min(16.0, 0.12 * len(rows) + 4)), 4.5)
    ax = fig.add_subplot()
    x = np.arange(len(rows))
    values = [r.max_change_from_baseline_pct or 0.0 for r in rows]
    colours = [RESPONSE_COLOURS[r.best_overall_response] for r in rows]
    ax.bar(x, values, color=colours, width=0.85 if len(rows) < 500 else 1.0, linewidth=0)
    ax.axhline(-30.0, linestyle=":", color="black", linewidth=1)
    ax.axhline(20.0, linestyle=":", color="black", linewidth=1)
    ax.axhline(0.0, color="black", linewidth=0.5)
    ax.set_xlim(-1, max(1, len(rows)))
    ax.set_xticks([])
    ax.set_xlabel(f"Subjects (n = {len(rows)})")
    ax.set_ylabel("Best change from baseline in sum of diameters (%)")
    ax.set_title(title or "Waterfall plot")
    ax.legend(
        handles=_legend_handles(r.best_overall_response for r in rows),
        title="Best response",
        loc="upper right",
        fontsize=8,
    )
    return fig


def plot_spider(results: Sequence[SubjectResult], *, title: str | None = None) -> Figure:
    """Percent change from baseline over time (weeks since treatment start), one line a subject."""
    fig = _figure(8.0, 5.0)
    ax = fig.add_subplot()
    for r in results:
        pts = [
            ((tp.date - r.treatment_start).days / 7.0, tp.change_from_baseline_pct)
            for tp in r.timepoints
            if tp.change_from_baseline_pct is not None
        ]
        if not pts or r.timepoints[0].sum_mm is None:
            continue
        # every line starts at the baseline, 0 % by definition
        pts.insert(0, ((r.timepoints[0].date - r.treatment_start).days / 7.0, 0.0))
        xs, ys = zip(*pts, strict=True)
        ax.plot(
            xs,
            ys,
            color=RESPONSE_COLOURS[r.best_overall_response],
            linewidth=0.8,
            alpha=0.8,
            marker="o",
            markersize=2,
        )
    ax.axhline(-30.0, linestyle=":", color="black", linewidth=1)
    ax.axhline(20.0, linestyle=":", color="black", linewidth=1)
    ax.set_xlabel("Weeks since treatment start")
    ax.set_ylabel("Change from baseline in sum of diameters (%)")
    ax.set_title(title or "Spider plot")
    ax.legend(
        handles=_legend_handles(r.best_overall_response for r in results),
        title="Best response",
        fontsize=8,
    )
    return fig


def plot_swimmer(
    results: Sequence[SubjectResult], *, max_subjects: int = 60, title: str | None = None
) -> Figure:
    """Time on study per subject (months), coloured by best response, with markers for the
    first response, progression, death, and an arrow when progression-free at last assessment.

    Only the ``max_subjects`` subjects with the longest follow-up are drawn (a readable page).
    """

    def span(r: SubjectResult) -> int:
        return max(r.pfs_days, r.os_days or 0, (r.timepoints[-1].date - r.treatment_start).days)

    rows = sorted(results, key=span)[-max_subjects:]
    fig = _figure(8.0, max(3.0, 0.18 * len(rows) + 1.5))
    ax = fig.add_subplot()
    for y, r in enumerate(rows):
        end = span(r) / DAYS_PER_MONTH
        ax.barh(y, end, color=RESPONSE_COLOURS[r.best_overall_response], height=0.7)
        if r.first_response_date is not None:
            ax.plot(
                (r.first_response_date - r.treatment_start).days / DAYS_PER_MONTH,
                y,
                "k^",
                markersize=4,
            )
        if r.progression_date is not None:
            ax.plot(
                (r.progression_date - r.treatment_start).days / DAYS_PER_MONTH,
                y,
                "rx",
                markersize=5,
            )
        if r.os_event and r.os_days is not None:
            ax.plot(r.os_days / DAYS_PER_MONTH, y, "ks", markersize=4)
        if not r.pfs_event:
            ax.annotate(
                "",
                xy=(end + 0.8, y),
                xytext=(end, y),
                arrowprops={"arrowstyle": "->", "color": "black", "lw": 0.8},
            )
    ax.set_yticks(range(len(rows)), [r.subject for r in rows], fontsize=6)
    ax.set_xlabel("Months since treatment start")
    ax.set_title(title or "Swimmer plot")
    handles = [
        *_legend_handles(r.best_overall_response for r in rows),
        Line2D([], [], marker="^", color="k", linestyle="", label="First response"),
        Line2D([], [], marker="x", color="r", linestyle="", label="Progression"),
        Line2D([], [], marker="s", color="k", linestyle="", label="Death"),
        Line2D([], [], marker=r"$\rightarrow$", color="k", linestyle="", label="Progression-free"),
    ]
    ax.legend(handles=handles, fontsize=7, loc="lower right")
    return fig


def plot_kaplan_meier(
    curves: Mapping[str, KaplanMeierResult],
    *,
    title: str = "Kaplan-Meier",
    step_months: int = 6,
) -> Figure:
    """Kaplan-Meier curves (months) with censoring ticks, 95 % bands and numbers at risk below."""
    fig = _figure(8.0, 5.5)
    gs = fig.add_gridspec(2, 1, height_ratios=[4, 1])
    ax = fig.add_subplot(gs[0])
    tab = fig.add_subplot(gs[1], sharex=ax)
    t_max = (
        max((float(km.times[-1]) for km in curves.values() if km.n), default=0.0) / DAYS_PER_MONTH
    )
    ticks = np.arange(0.0, t_max + step_months, step_months)
    for row, (label, km) in enumerate(curves.items()):
        if km.n == 0:
            continue
        t = np.concatenate([[0.0], km.times / DAYS_PER_MONTH])
        s = np.concatenate([[1.0], km.survival])
        (line,) = ax.step(
            t, s, where="post", label=f"{label} (n={km.n}, events={km.n_events_total})"
        )
        lo = np.concatenate([[1.0], np.nan_to_num(km.lower, nan=0.0)])
        hi = np.concatenate([[1.0], np.nan_to_num(km.upper, nan=0.0)])
        ax.fill_between(t, lo, hi, step="post", alpha=0.15, color=line.get_color())
        cens = km.n_censored > 0
        ax.plot(
            km.times[cens] / DAYS_PER_MONTH,
            km.survival[cens],
            "|",
            color=line.get_color(),
            markersize=6,
        )
        at_risk = [
            int(np.sum(km.n_at_risk[km.times >= x * DAYS_PER_MONTH][:1]))
            if x * DAYS_PER_MONTH <= km.times[-1]
            else 0
            for x in ticks
        ]
        for x, n in zip(ticks, at_risk, strict=True):
            tab.text(x, -row, str(n), ha="center", va="center", fontsize=8, color=line.get_color())
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("Probability")
    ax.set_title(title)
    if any(km.n for km in curves.values()):
        ax.legend(fontsize=8, loc="lower left")
    ax.tick_params(labelbottom=False)
    tab.set_ylim(-len(curves) + 0.5, 0.5)
    tab.set_yticks([-i for i in range(len(curves))], list(curves))
    tab.set_xticks(ticks)
    tab.set_xlabel("Months since treatment start")
    tab.set_title("Number at risk", fontsize=8, loc="left")
    for side in ("top", "right", "left"):
        tab.spines[side].set_visible(False)
    return fig


def save_figure(
    fig: Figure, out_dir: str | Path, stem: str, formats: Sequence[str] = ("png", "svg", "pdf")
) -> list[Path]:
    """Write ``fig`` as ``out_dir/stem.<format>`` for each format; return the paths."""
    bad = [f for f in formats if f not in ("png", "svg", "pdf")]
    if bad:
        raise CriteriaError(f"plots: formats must be png, svg or pdf, received {bad}.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        p = out / f"{stem}.{fmt}"
        fig.savefig(p, format=fmt, dpi=150)
        paths.append(p)
    return paths


def save_trial_plots(
    results: Sequence[SubjectResult],
    summary: TrialSummary,
    out_dir: str | Path,
    *,
    formats: Sequence[str] = ("png", "svg", "pdf"),
) -> list[Path]:
    """Write waterfall, spider, swimmer, KM PFS and KM OS plots; return the written paths."""
    label = summary.criteria
    paths = []
    paths += save_figure(
        plot_waterfall(results, title=f"Waterfall ({label})"), out_dir, "waterfall", formats
    )
    paths += save_figure(
        plot_spider(results, title=f"Spider ({label})"), out_dir, "spider", formats
    )
    paths += save_figure(
        plot_swimmer(results, title=f"Swimmer ({label})"), out_dir, "swimmer", formats
    )
    paths += save_figure(
        plot_kaplan_meier({"PFS": summary.pfs}, title=f"Progression-free survival ({label})"),
        out_dir,
        "km_pfs",
        formats,
    )
    if summary.os is not None:
        paths += save_figure(
            plot_kaplan_meier({"OS": summary.os}, title="Overall survival"),
            out_dir,
            "km_os",
            formats,
        )
    return paths

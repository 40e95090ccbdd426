"""Figures of a fitted run (matplotlib; each function returns a Figure).

Every figure states its units and the reference family in a footnote
(:func:`footnote`): density is N_eff / N, where N_eff is the size of a
reference-family model trained on D0 tokens with the same loss. Intervals are
equal-tailed 90% unless ``prob`` says otherwise.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
from scipy import stats  # noqa: E402

from ..constants import DEFAULT_PROB, PAPER, PAPER_A_PER_DAY  # noqa: E402
from ..errors import InputError  # noqa: E402
from ..inference.run import Run  # noqa: E402
from ..posterior.projection import (_check_prob, _check_size, _data_span, _parse_date, crossing_times,  # noqa: E402
                                    date_of, format_size, target_log_neff, years_since_t0)
from ..posterior.trend_draws import quantile_of, scatter_form, trend_draws  # noqa: E402
from ..posterior.summaries import DAYS_PER_YEAR, MONTHS_PER_YEAR, density_table, doubling_from_slope, draws, \
    headline_period, interval, slope_draws, trend_table  # noqa: E402

BLUE, ORANGE, GREY, RED, GREEN = "#1f77b4", "#ff7f0e", "#7f7f7f", "#d62728", "#2ca02c"
PERIOD_LABEL = {"all": "whole period", "before": "before the break", "after": "after the break"}


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def _article(word: str) -> str:
    from .text import article

    return article(word)


def run_info(tree: xr.DataTree, name: str | None = None) -> dict:
    """Reference family, D0, t0, name and trend of a run (from its attributes; ``name`` overrides the name)."""
    spec = Run.of(tree).spec_dict
    d0 = spec.get("d0")
    if d0 is None and "log_d0" in tree.attrs:
        d0 = math.exp(float(tree.attrs["log_d0"]))
    return {
        "reference": spec.get("reference", "?"),
        "d0": float(d0) if d0 is not None else float("nan"),
        "t0": str(tree.attrs.get("t0", "")),
        "name": str(name if name is not None else tree.attrs.get("model_name", spec.get("name", "run"))),
        "trend": str(tree.attrs.get("trend", spec.get("trend", "linear"))),
        "frontier": bool(int(tree.attrs.get("frontier", 1))),
        "scatter": scatter_form(tree),
        "break_date": spec.get("break_date"),
        "size": spec.get("size", "total"),
    }


def reference_note(tree: xr.DataTree) -> str:
    i = run_info(tree)
    return (f"Reference: '{i['reference']}' family loss law at D0 = {i['d0']:.3g} tokens. "
            f"Density = N_eff / N (dimensionless; 1 = as good as a reference model of the same size). "
            f"N = {i['size']} parameters. Spec '{i['name']}', {i['trend']} trend.")


def footnote(fig: plt.Figure, tree: xr.DataTree | None, extra: str = "") -> None:
    """Units and reference family, bottom-left of the figure."""
    text = " ".join(s for s in (reference_note(tree) if tree is not None else "", extra) if s)
    fig.text(0.01, 0.005, text, fontsize=7, color="#444444", ha="left", va="bottom", wrap=True)


def _finish(fig: plt.Figure, tree, extra: str = "", bottom: float = 0.12) -> plt.Figure:
    fig.tight_layout(rect=(0, bottom, 1, 1))
    footnote(fig, tree, extra)
    return fig


def _dates_from_years(tree: xr.DataTree, years) -> pd.DatetimeIndex:
    return Run.of(tree).dates(years)


def baseline_points(tree: xr.DataTree, baseline=None) -> tuple[pd.DataFrame | None, dict | None]:
    """The paper method's point densities and summary: from ``baseline`` or the run's attributes.

    ``baseline`` may be the dict :func:`bayes_density.baseline.paper_method`
    returns ({"summary", "points", ...}), a DataFrame of points (model,
    release_date, log_density), or None (use what the run carries); False
    means no baseline.
    """
    if baseline is False:
        return None, None
    if baseline is None:
        pts = json.loads(tree.attrs["baseline_points"]) if "baseline_points" in tree.attrs else None
        summ = json.loads(tree.attrs["baseline"]) if "baseline" in tree.attrs else None
        return (pd.DataFrame(pts) if pts else None), summ
    if isinstance(baseline, pd.DataFrame):
        return baseline, None
    if isinstance(baseline, dict):
        pts = baseline.get("points")
        return (pd.DataFrame(pts) if pts is not None else None), baseline.get("summary", baseline)
    raise TypeError(f"baseline must be a dict, a DataFrame, None or False, not {type(baseline).__name__}")


# ---------------------------------------------------------------------------
# density vs date
# ---------------------------------------------------------------------------

def density_vs_date(tree: xr.DataTree, baseline=None, prob: float = DEFAULT_PROB, label_top: int = 3,
                    name: str | None = None) -> plt.Figure:
    """Every model's density (median, ``prob`` interval) against its release date, with the trend.

    The trend line is f(t) (the frontier in the frontier form, the mean
    otherwise) with its ``prob`` band from :func:`bayes_density.placement.trend_draws`;
    the dotted line is density 1 (the reference family); crosses are the paper
    method's point densities when a baseline is given or attached to the run.
    """

    info = run_info(tree, name)
    dens = density_table(tree, prob)
    fig, ax = plt.subplots(figsize=(12, 6))
    # trend band
    t = tree.constant_data["t"].to_numpy()
    grid = np.linspace(t.min() - 0.05, t.max() + 0.05, 200)
    f = trend_draws(tree, grid)
    med, lo, hi = interval(f, prob)
    gd = _dates_from_years(tree, grid)
    what = f"{quantile_of(tree):.2g}-quantile" if info["scatter"] == "quantile" else info["scatter"]
    ax.fill_between(gd, np.exp(lo), np.exp(hi), color=ORANGE, alpha=0.25, lw=0,
                    label=f"{what} trend f(t), {int(prob * 100)}% band")
    ax.plot(gd, np.exp(med), color=ORANGE, lw=2, label=f"{what} trend f(t), median")
    if info["trend"] == "break" and info["break_date"]:
        ax.axvline(pd.Timestamp(info["break_date"]), color=GREY, ls="--", lw=1)
        ax.text(pd.Timestamp(info["break_date"]), 0.98, " break", transform=ax.get_xaxis_transform(),
                va="top", fontsize=8, color=GREY)
    if "changepoint" in tree.posterior:
        cp = _dates_from_years(tree, np.quantile(draws(tree, "changepoint"), [(1 - prob) / 2, 0.5, (1 + prob) / 2]))
        ax.axvspan(cp[0], cp[2], color=GREY, alpha=0.12, lw=0, label=f"change point, {int(prob * 100)}% interval")
    # models
    yerr = np.vstack([dens["density"] - dens["density_lo"], dens["density_hi"] - dens["density"]])
    ax.errorbar(dens["release_date"], dens["density"], yerr=yerr, fmt="o", ms=4, color=BLUE, ecolor=BLUE,
                elinewidth=0.8, alpha=0.75, label=f"model density: median, {int(prob * 100)}% interval")
    labelled = dens.head(label_top).sort_values("release_date")
    # reference models at their release dates
    const = tree.constant_data
    if "ref_t" in const and "ref_log_density" in tree.posterior:
        ref_d = np.exp(np.median(draws(tree, "ref_log_density"), axis=0))
        ax.scatter(_dates_from_years(tree, const["ref_t"].to_numpy()), ref_d, marker="s", s=22,
                   color=GREEN, zorder=3, label=f"reference models ('{info['reference']}')")
    # the density axis spans the fitted models' intervals and the trend band; paper-method points
    # outside it are left out (and counted in fig.notes) instead of stretching the axis
    ymin = float(min(np.nanmin(dens["density_lo"]), np.exp(lo).min(), 1.0)) / 1.5
    ymax = float(max(np.nanmax(dens["density_hi"]), np.exp(hi).max(), 1.0)) * 1.5
    notes = []
    pts, summ = baseline_points(tree, baseline)
    if pts is not None and len(pts):
        dens_pts = np.exp(pts["log_density"].to_numpy(float))
        outside = (dens_pts < ymin) | (dens_pts > ymax)
        if outside.any():
            notes.append(f"{int(outside.sum())} of the paper method's {len(pts)} point densities lie outside the "
                         f"plotted range ({ymin:.2g} to {ymax:.2g}, the fitted models' intervals) and are not shown.")
            pts = pts[~outside]
        env = set((summ or {}).get("envelope_models", []))
        rd = pd.to_datetime(pts["release_date"])
        is_env = pts["model"].isin(env).to_numpy()
        ax.scatter(rd[~is_env], np.exp(pts["log_density"][~is_env]), marker="x", s=18, color=GREY,
                   label="paper method (point estimates)")
        if is_env.any():
            ax.scatter(rd[is_env], np.exp(pts["log_density"][is_env]), marker="x", s=30, color=RED,
                       label="paper method: running-max envelope")
    ax.axhline(1.0, color="black", ls=":", lw=1, label=f"density 1 = '{info['reference']}' reference")
    ax.set_yscale("log")
    ax.set_ylim(ymin, ymax)
    ax.set_xlabel("release date")
    ax.set_ylabel("capability density N_eff / N (log scale)")
    tt = trend_table(tree, prob)
    period = headline_period(tt)
    row = tt[(tt["period"] == period) & (tt["quantity"] == "doubling_time_months")].iloc[0]
    ax.set_title(f"Capability density vs release date: '{info['name']}' ({info['trend']} trend)\n"
                 f"doubling time {PERIOD_LABEL.get(period, period)}: {_fmt_months(row)} "
                 f"({int(prob * 100)}% interval)", fontsize=11)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), framealpha=0.85)
    fig = _finish(fig, tree, f"Dates: release dates; t0 = {info['t0']}.", bottom=0.06)
    fig.labels = place_labels(ax, labelled["release_date"], labelled["density"], labelled["model"])
    fig.notes = notes
    return fig


def _overlap_area(box, boxes, pad: float = 2.0) -> float:
    total = 0.0
    for b in boxes:
        w = min(box.x1, b.x1) - max(box.x0, b.x0) + pad
        h = min(box.y1, b.y1) - max(box.y0, b.y0) + pad
        if w > 0 and h > 0:
            total += w * h
    return total


def _text_box(a, renderer):
    """The box of an annotation's text alone (without its arrow), in display pixels."""
    from matplotlib.text import Text

    a.update_positions(renderer)  # the offset text's position (Annotation.get_window_extent would add the arrow)
    return Text.get_window_extent(a, renderer)


#: label offsets tried in turn (points): near first, then further up/down and to either side
LABEL_OFFSETS = [(dx, dy) for dy in (10, -14, 24, -28, 38, -42, 52, -56, 66, -70) for dx in (-6, 6, -36, 36)]


def place_labels(ax, xs, ys, texts, fontsize: float = 7.0) -> list:
    """Annotate points without overlapping labels: each label tries offsets (LABEL_OFFSETS: above,
    below, either side, further out) and takes the first whose text box (display pixels) lies inside
    the axes and overlaps no label placed before it; failing that, the inside one with the least
    overlap. Returns the annotations (their boxes: :func:`label_boxes`)."""
    renderer = ax.figure.canvas.get_renderer()
    axbox = ax.get_window_extent(renderer)
    placed, boxes = [], []
    for x, y, text in zip(xs, ys, texts):
        best = None  # (overlap, offset)
        for dx, dy in LABEL_OFFSETS:
            a = ax.annotate(str(text), (x, y), fontsize=fontsize, xytext=(dx, dy), textcoords="offset points",
                            ha="right" if dx < 0 else "left", va="bottom" if dy > 0 else "top")
            box = _text_box(a, renderer)
            a.remove()
            if not (box.x0 >= axbox.x0 and box.x1 <= axbox.x1 and box.y0 >= axbox.y0 and box.y1 <= axbox.y1):
                continue
            over = _overlap_area(box, boxes)
            if best is None or over < best[0]:
                best = (over, (dx, dy))
            if over == 0:
                break
        dx, dy = best[1] if best is not None else LABEL_OFFSETS[0]
        a = ax.annotate(str(text), (x, y), fontsize=fontsize, xytext=(dx, dy), textcoords="offset points",
                        ha="right" if dx < 0 else "left", va="bottom" if dy > 0 else "top",
                        arrowprops={"arrowstyle": "-", "color": GREY, "lw": 0.5},
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
        placed.append(a)
        boxes.append(_text_box(a, renderer))
    return placed


def label_boxes(fig) -> list:
    """Display-pixel boxes of the labels :func:`place_labels` placed on ``fig`` (for overlap tests)."""
    renderer = fig.canvas.get_renderer()
    return [_text_box(a, renderer) for a in getattr(fig, "labels", [])]


def _fmt_months(row) -> str:
    def f(x):
        return "no doubling" if not np.isfinite(x) else f"{x:.1f}"

    return f"{f(row['median'])} months [{f(row['lo'])}, {f(row['hi'])}]"


# ---------------------------------------------------------------------------
# doubling time
# ---------------------------------------------------------------------------

def doubling_time_posterior(tree: xr.DataTree, baseline=None, prob: float = DEFAULT_PROB, max_months: float | None = None,
                            name: str | None = None) -> plt.Figure:
    """Posterior of the density doubling time (months), per trend period, with the paper's estimate."""
    info = run_info(tree, name)
    _, summ = baseline_points(tree, baseline)
    paper_dt = PAPER["arxiv_v2"]["doubling_months"]  # as published (ln 2 / 0.0073 per day is 3.1 months)
    periods = slope_draws(tree)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    all_dt = np.concatenate([doubling_from_slope(s) * MONTHS_PER_YEAR for s in periods.values()])
    finite = all_dt[np.isfinite(all_dt)]
    marks = [paper_dt] + ([summ["doubling_time_months"]] if summ and np.isfinite(summ.get("doubling_time_months",
                                                                                      np.nan)) else [])
    tail_q = 0.98  # the axis ends at this quantile of the draws (or past the marks); draws beyond are counted
    cap = max_months or max([float(np.quantile(finite, tail_q)) if finite.size else 60.0] + marks) * 1.1
    lo_bin = min([float(np.quantile(finite, 0.005)) if finite.size else 0.0] + marks) * 0.8
    bins = np.linspace(lo_bin if lo_bin > 0.25 * cap else 0.0, cap, 60)
    colors = {"all": BLUE, "before": GREY, "after": BLUE}
    notes, tail_notes = [], []
    for period, s in periods.items():
        dt = doubling_from_slope(s) * MONTHS_PER_YEAR
        share_inf = float(np.mean(~np.isfinite(dt)))
        fin = dt[np.isfinite(dt)]
        beyond = float(np.mean(fin > cap)) if fin.size else 0.0
        # weights: the bars are a density over all finite draws; the tail beyond the axis is not drawn
        ax.hist(fin[fin <= cap], bins=bins, weights=np.full(int((fin <= cap).sum()), 1.0 / max(fin.size, 1)
                                                           / (bins[1] - bins[0])),
                alpha=0.45, color=colors.get(period, ORANGE), label=f"{PERIOD_LABEL.get(period, period)}")
        if beyond > 0:
            tail_notes.append(f"{PERIOD_LABEL.get(period, period)}: {beyond:.1%} of the draws lie beyond "
                              f"{cap:.0f} months, past the axis (not drawn).")
        q = np.quantile(s, [(1 + prob) / 2, 0.5, (1 - prob) / 2])
        lo, med, hi = (float(doubling_from_slope(x) * MONTHS_PER_YEAR) for x in q)
        ax.axvline(med, color=colors.get(period, ORANGE), lw=2)
        notes.append(f"{PERIOD_LABEL.get(period, period)}: median {med:.1f} months, {int(prob * 100)}% "
                     f"[{lo:.1f}, {hi if np.isfinite(hi) else float('inf'):.1f}]"
                     + (f"; P(no doubling) = {share_inf:.2f}" if share_inf > 0 else ""))
    if summ and np.isfinite(summ.get("doubling_time_months", np.nan)):
        ax.axvline(summ["doubling_time_months"], color=RED, ls="--", lw=1.5,
                   label=f"paper method on these data: {summ['doubling_time_months']:.1f} months")
    ax.axvline(paper_dt, color="black", ls=":", lw=1,
               label=f"published: {paper_dt:g} months (arXiv v2), {PAPER['nature_mi_2025']['doubling_months']:g} "
                     "(Nature MI)")
    ax.axvline(PAPER["nature_mi_2025"]["doubling_months"], color="black", ls=":", lw=1)
    low = min([float(np.quantile(finite, 0.005)) if finite.size else 0.0] + marks) * 0.8
    ax.set_xlim(low if low > 0.25 * cap else 0.0, cap)
    ax.set_xlabel("doubling time of capability density (months)")
    ax.set_ylabel("posterior density (1/month)")
    ax.set_title(f"Doubling time of capability density: '{info['name']}'\n" + "\n".join(notes), fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, lw=0.5)
    fig = _finish(fig, tree, "Doubling time = ln 2 / A, A = trend slope of ln density per year. "
                  + " ".join(tail_notes), bottom=0.1)
    fig.notes = tail_notes
    return fig


# ---------------------------------------------------------------------------
# forest plot
# ---------------------------------------------------------------------------

def density_forest(tree: xr.DataTree, prob: float = DEFAULT_PROB, order: str = "date", top: int | None = None,
                   name: str | None = None) -> plt.Figure:
    """Per-model density (median and ``prob`` interval), one row per model; ``order`` 'date' or 'density'."""
    dens = density_table(tree, prob)
    if order == "date":
        dens = dens.sort_values(["release_date", "model"], ascending=[False, True], ignore_index=True)
    if top is not None:
        dens = dens.head(top)
    n = len(dens)
    fig, ax = plt.subplots(figsize=(8, 1.6 + 0.19 * n))
    y = np.arange(n)[::-1]
    ax.hlines(y, dens["density_lo"], dens["density_hi"], color=BLUE, lw=1.5)
    ax.plot(dens["density"], y, "o", color=BLUE, ms=4)
    ax.axvline(1.0, color="black", ls=":", lw=1)
    labels = [f"{m} ({d:%Y-%m}, {p / 1e9:.3g}B)" for m, d, p in
              zip(dens["model"], dens["release_date"], dens["params"])]
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_ylim(-1, n)
    ax.set_xscale("log")
    ax.set_xlabel(f"capability density N_eff / N (log scale), median and {int(prob * 100)}% interval")
    ax.set_title(f"Density per model ('{run_info(tree, name)['name']}'), ordered by "
                 f"{'release date (newest first)' if order == 'date' else 'density'}", fontsize=10)
    ax.grid(alpha=0.3, axis="x", which="both", lw=0.5)
    fig.tight_layout(rect=(0, 0.45 / (1.6 + 0.19 * n), 1, 1))
    footnote(fig, tree, "Labels: model (release month, size). Dotted line: density 1.")
    return fig


# ---------------------------------------------------------------------------
# posterior predictive and LOO-PIT
# ---------------------------------------------------------------------------

def ppc_by_benchmark(tree: xr.DataTree, table: pd.DataFrame, seed: int = 0,
                     name: str | None = None) -> plt.Figure:
    """Observed score vs posterior predictive (mean and 90% interval), one panel per benchmark.

    ``table``: :func:`bayes_density.checks.ppc.obs_table` (with the predictive interval).
    """
    benches = list(dict.fromkeys(table["benchmark"]))
    ncol = min(3, len(benches))
    nrow = math.ceil(len(benches) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.9 * nrow + 0.6), squeeze=False)
    for ax, b in zip(axes.ravel(), benches):
        g = table[table["benchmark"] == b]
        out = (g["observed"] < g["predicted_lo"]) | (g["observed"] > g["predicted_hi"])
        for mask, color, lab in ((~out, BLUE, "inside 90%"), (out, RED, "outside 90%")):
            gg = g[mask]
            ax.errorbar(gg["predicted_mean"], gg["observed"],
                        xerr=np.vstack([gg["predicted_mean"] - gg["predicted_lo"],
                                        gg["predicted_hi"] - gg["predicted_mean"]]).clip(0),
                        fmt="o", ms=3, color=color, ecolor=color, elinewidth=0.6, alpha=0.7,
                        label=f"{lab} ({int(mask.sum())})")
        lim = [0, max(0.05, float(np.nanmax(g[["observed", "predicted_hi"]].to_numpy())) * 1.05)]
        ax.plot(lim, lim, color="black", lw=0.8, ls="--")
        ax.set_xlim(lim)
        ax.set_ylim(lim)
        cov = 1 - out.mean()
        ax.set_title(f"{b}: {len(g)} scores, 90% coverage {cov:.2f}", fontsize=9)
        ax.set_xlabel("predicted score (fraction correct)", fontsize=8)
        ax.set_ylabel("observed score (fraction correct)", fontsize=8)
        ax.legend(fontsize=7, loc="upper left")
        ax.grid(alpha=0.3, lw=0.5)
    for ax in axes.ravel()[len(benches):]:
        ax.set_visible(False)
    fig.suptitle(f"Posterior predictive check per benchmark: '{run_info(tree, name)['name']}'", fontsize=11)
    return _finish(fig, tree, "Bars: 90% posterior predictive interval of the score (beta-binomial). "
                   "Dashed: observed = predicted.", bottom=0.07 / nrow + 0.02)


def loo_pit_plot(pit: np.ndarray, tree: xr.DataTree | None = None, table: pd.DataFrame | None = None,
                 prob: float = 0.95, name: str | None = None) -> plt.Figure:
    """LOO-PIT histogram and ECDF difference with the simultaneous KS band; uniform = calibrated.

    ``pit``: :func:`bayes_density.checks.ppc.loo_pit` of the run.
    """
    pit = np.asarray(pit, float)
    pit = pit[np.isfinite(pit)]
    n = pit.size
    ks = stats.kstest(pit, "uniform")
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.2))
    a1.hist(pit, bins=20, range=(0, 1), density=True, color=BLUE, alpha=0.7, edgecolor="white")
    a1.axhline(1.0, color="black", ls="--", lw=1, label="uniform (calibrated)")
    se = math.sqrt(20 / n * (1 - 1 / 20)) if n else 0.0  # binomial sd of a bin's density
    a1.axhspan(1 - 2 * se, 1 + 2 * se, color=GREY, alpha=0.2, lw=0, label="±2 sd per bin", zorder=0)
    a1.set_xlabel("LOO-PIT value P(replicated score ≤ observed | other scores)")
    a1.set_ylabel("density")
    a1.legend(fontsize=7)
    u = np.sort(pit)
    ecdf = np.arange(1, n + 1) / n
    a2.step(u, ecdf - u, where="post", color=BLUE)
    crit = float(stats.kstwo.ppf(prob, n)) if n else 0.0
    a2.axhspan(-crit, crit, color=GREY, alpha=0.2, lw=0, label=f"{int(prob * 100)}% KS band", zorder=0)
    a2.axhline(0, color="black", lw=0.8)
    a2.set_xlabel("PIT value u")
    a2.set_ylabel("ECDF(u) − u")
    a2.legend(fontsize=7)
    for ax in (a1, a2):
        ax.grid(alpha=0.3, lw=0.5)
    name = run_info(tree, name)["name"] if tree is not None else (name or "")
    fig.suptitle(f"LOO-PIT calibration of the scores{f' (run {name!r})' if name else ''}: {n} scores, "
                 f"KS p = {ks.pvalue:.3g}", fontsize=11)
    return _finish(fig, tree, "PIT of each score under the model fitted without it (PSIS-LOO); "
                   "ties of the discrete counts randomised. Too many values near 0 and 1: intervals too narrow.",
                   bottom=0.1)


# ---------------------------------------------------------------------------
# breaks
# ---------------------------------------------------------------------------

def break_comparison(trees, names=None, prob: float = DEFAULT_PROB) -> plt.Figure:
    """Trend slope per period (ln density per year, with doubling time) for each run.

    Linear runs show one 'whole period' slope; break and change-point runs a
    slope before and after, with P(A_after > A_before).
    """
    if isinstance(trees, xr.DataTree):
        trees = [trees]
    names = list(names) if names is not None else [run_info(t)["name"] for t in trees]
    rows = []
    for name, t in zip(names, trees):
        sl = slope_draws(t)
        for period, s in sl.items():
            med, lo, hi = interval(s, prob)
            rows.append((name, period, med, lo, hi))
    fig, ax = plt.subplots(figsize=(8.5, 1.4 + 0.45 * len(rows)))
    y = np.arange(len(rows))[::-1]
    colors = {"all": BLUE, "before": GREY, "after": ORANGE}
    for yi, (name, period, med, lo, hi) in zip(y, rows):
        ax.hlines(yi, lo, hi, color=colors[period], lw=3)
        ax.plot(med, yi, "o", color="black", ms=4)
        dt = doubling_from_slope(np.array([med]))[0] * MONTHS_PER_YEAR
        ax.annotate(f"doubling {dt:.1f} mo" if np.isfinite(dt) else "no doubling", (hi, yi), xytext=(5, -3),
                    textcoords="offset points", fontsize=7)
    ax.set_yticks(y, [f"{n} — {PERIOD_LABEL[p]}" for n, p, *_ in rows], fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.axvline(PAPER_A_PER_DAY * DAYS_PER_YEAR, color=RED, ls=":", lw=1, label=f"Xiao et al. 2024: {PAPER_A_PER_DAY}/day")
    ax.set_xlabel(f"trend slope A (ln density per year), median and {int(prob * 100)}% interval")
    lines = []
    for name, t in zip(names, trees):
        s = slope_draws(t)
        if "after" in s:
            lines.append(f"{name}: P(A_after > A_before) = {np.mean(s['after'] > s['before']):.2f}")
    ax.set_title("Density trend slopes per period" + ("\n" + "; ".join(lines) if lines else ""), fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3, axis="x", lw=0.5)
    xmax = max(r[4] for r in rows)
    ax.set_xlim(right=xmax + 0.25 * (xmax - min(min(r[3] for r in rows), 0)))
    refs = sorted({f"'{run_info(t)['reference']}' at D0 = {run_info(t)['d0']:.3g} tokens" for t in trees})
    note = ("" if len(trees) == 1 else f"Reference family: {'; '.join(refs)}. ") + \
        "A: slope of ln(density N_eff / N) per year; doubling time = ln 2 / A."
    fig.tight_layout(rect=(0, 0.45 / (1.4 + 0.45 * len(rows)), 1, 1))
    footnote(fig, trees[0] if len(trees) == 1 else None, note)
    return fig


# ---------------------------------------------------------------------------
# multiverse (specification curve)
# ---------------------------------------------------------------------------

def specification_curve(table: pd.DataFrame, prob: float | None = None, title: str | None = None) -> plt.Figure:
    """Doubling time per specification, sorted by its median, over an indicator matrix of the specifications.

    ``table``: :func:`bayes_density.multiverse.run_multiverse`'s table (or
    :func:`~bayes_density.multiverse.read_table` of its CSV). Top panel: median
    doubling time (months, log scale) and its ``prob`` interval per fitted
    specification (``prob`` labels the interval the table holds; default the
    table's ``attrs["prob"]`` or 0.9); open diamonds mark fits that did not
    converge (R-hat > 1.01, divergences or bulk ESS < 400), upward triangles intervals or
    medians with no doubling (slope <= 0) at the top edge. Bottom panel: which
    benchmarks (filled squares) and which reference family each specification
    uses, aligned with the top. Specifications that could not be fitted are
    listed in the footnote.
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    from ..sweeps.multiverse import BENCH_SEP, NOT_CONVERGED, converged

    prob = float(table.attrs.get("prob", 0.9) if prob is None else prob)
    pct = int(round(prob * 100))
    err = table["error"].fillna("").astype(str)
    fitted = table[err == ""].sort_values(["doubling_months_median", "name"], kind="stable").reset_index(drop=True)
    failed = table[err != ""]
    n = len(fitted)
    benches: list[str] = []
    for b in table["benchmarks"].fillna("").astype(str):
        benches += [x for x in b.split(BENCH_SEP) if x and x not in benches]
    refs = list(dict.fromkeys(table["reference"].astype(str)))
    rows = benches + refs
    fig, (ax, axm) = plt.subplots(2, 1, sharex=True, figsize=(max(8.0, 2.8 + 0.17 * n), 4.8 + 0.3 * len(rows)),
                                  gridspec_kw={"height_ratios": [4.0, 0.35 + 0.3 * len(rows)]})
    x = np.arange(n)
    med, lo, hi = (fitted[c].to_numpy(float) for c in ("doubling_months_median", "doubling_months_lo",
                                                        "doubling_months_hi"))
    paper_dt = PAPER["arxiv_v2"]["doubling_months"]  # as published (ln 2 / 0.0073 per day is 3.1 months)
    finite = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in (med, lo, hi)] + [np.array([paper_dt])])
    top = float(finite.max()) * 1.6
    bottom = float(finite.min()) / 1.6
    ok = np.array([converged(r) for _, r in fitted.iterrows()], bool)
    clip_hi = np.where(np.isfinite(hi), hi, top)
    clip_med = np.where(np.isfinite(med), med, top)
    for mask, color, marker, face, label in ((ok, BLUE, "o", BLUE, f"median and {pct}% interval"),
                                             (~ok, ORANGE, "D", "white",
                                              f"not converged ({NOT_CONVERGED})")):
        if mask.any():
            ax.vlines(x[mask], np.clip(lo[mask], bottom, top), clip_hi[mask], color=color, lw=1.6, alpha=0.8)
            ax.plot(x[mask], clip_med[mask], marker, ms=5, color=color, mfc=face, mew=1.2, ls="none", label=label)
    unbounded = ~np.isfinite(hi) | ~np.isfinite(med)
    if unbounded.any():
        ax.plot(x[unbounded], np.full(int(unbounded.sum()), top), "^", color=GREY, ms=6, ls="none",
                label="interval reaches 'no doubling' (slope <= 0)")
    if n and np.isfinite(np.median(med)):
        ax.axhline(float(np.median(med)), color=GREY, ls="--", lw=1,
                   label=f"median over specifications: {np.median(med):.2f} months")
    ax.axhline(paper_dt, color=RED, ls=":", lw=1.2, label=f"Xiao et al. 2024 published: {paper_dt:.1f} months")
    ax.set_yscale("log")
    ax.set_ylim(bottom, top * 1.15)
    ticks = [t for t in (0.25, 0.5, 1, 1.5, 2, 3, 4, 5, 7, 10, 15, 20, 30, 50, 100, 200, 500, 1000)
             if bottom <= t <= top * 1.15]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel("doubling time (months, log scale)")
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.legend(fontsize=7.5, loc="upper left", framealpha=0.85)
    n_bad = int((~ok).sum())
    ax.set_title(title or (f"Specification curve: doubling time of capability density over {len(table)} "
                           f"specifications\n(subsets of {len(benches)} benchmarks x {len(refs)} reference "
                           f"famil{'y' if len(refs) == 1 else 'ies'}): {n} fitted"
                           + (f", {n_bad} not converged" if n_bad else "")
                           + (f", {len(failed)} not fitted" if len(failed) else "")), fontsize=10)
    # indicator matrix
    for j, (_, r) in enumerate(fitted.iterrows()):
        used = set(str(r["benchmarks"]).split(BENCH_SEP)) | {f"ref:{r['reference']}"}
        for i, name in enumerate(rows):
            key = name if i < len(benches) else f"ref:{name}"
            y = len(rows) - 1 - i
            if key in used:
                axm.plot(j, y, "s", ms=5.5, color="black" if i < len(benches) else GREEN, ls="none")
            else:
                axm.plot(j, y, ".", ms=2.5, color="#cccccc", ls="none")
    if benches and refs:
        axm.axhline(len(refs) - 0.5, color=GREY, lw=0.8)
    axm.set_yticks(np.arange(len(rows))[::-1], benches + [f"reference: {r}" for r in refs], fontsize=8)
    axm.set_ylim(-0.6, len(rows) - 0.4)
    axm.set_xlim(-0.8, max(n, 1) - 0.2)
    axm.set_xlabel(f"specification, sorted by median doubling time ({n} fitted)")
    axm.tick_params(axis="x", labelsize=7)
    axm.grid(alpha=0.2, axis="x", lw=0.5)
    extra = ("Each column is one specification: the benchmarks whose scores are fitted (black squares) and the "
             "reference family that defines density 1 (green). Doubling time = ln 2 / A, A = trend slope of "
             f"ln density (N_eff / N) per year; median and equal-tailed {pct}% interval per fit.")
    if {"chains", "draws", "tune"} <= set(table.columns) and len(fitted):
        s = fitted.iloc[0]
        extra += f" Sampler: {int(s['chains'])} chains x {int(s['draws'])} draws (+{int(s['tune'])} tuning) per fit."
    if len(failed):
        names = ", ".join(failed["name"].astype(str).head(6)) + (" ..." if len(failed) > 6 else "")
        extra += f" Not fitted (unusable data selection or failed fit): {names}."
    return _finish(fig, None, extra, bottom=0.07)


# ---------------------------------------------------------------------------
# check figures and projection
# ---------------------------------------------------------------------------

def write_check_figures(tree: xr.DataTree, figdir: str | Path, pit: np.ndarray, table: pd.DataFrame) -> list[str]:
    """PPC per benchmark and LOO-PIT as PNG files in ``figdir``; returns their paths.

    ``pit`` and ``table``: what :func:`bayes_density.checks.ppc.run_checks` computed.
    """
    figdir = Path(figdir)
    figdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in (("ppc_by_benchmark.png", ppc_by_benchmark(tree, table=table)),
                      ("loo_pit.png", loo_pit_plot(pit, tree=tree, table=table))):
        path = figdir / name
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        paths.append(str(path))
    return paths


def plot_fan_chart(tree: xr.DataTree, target: str = "GPT-4", size: float = 8e9, ax=None, until=None,
                   prob: float = DEFAULT_PROB):
    """Fan chart of the trend against the level a ``size`` model needs to match ``target``.

    Upper panel: median, 50% and ``prob`` bands of exp f(t) from the data start
    to past the projected crossing (or to ``until``), fitted models' median
    densities, and the level exp(x_q) / size (median and band). Lower panel
    (a twin axis when ``ax`` is given): histogram of the crossing dates.
    Returns the matplotlib Figure.
    """
    size = _check_size(size)
    prob = _check_prob(prob)
    x_q = target_log_neff(tree, target)
    level = x_q - math.log(size)
    t_cross = crossing_times(tree, level)
    first, last = _data_span(tree)
    if until is not None:
        end = years_since_t0(tree, _parse_date(until, "until"))
    else:
        fin = t_cross[np.isfinite(t_cross)]
        reach = float(np.quantile(fin, (1 + prob) / 2)) if fin.size else last
        end = min(max(last + 1.0, reach + 0.5), last + 20.0)
    if end <= first:
        raise InputError(f"until = {until!r} is not after the data start {date_of(tree, first)}")
    tg = np.linspace(first, end, 400)
    f = trend_draws(tree, tg)
    lo_p, hi_p = (1 - prob) / 2, (1 + prob) / 2
    qf = np.exp(np.quantile(f, [lo_p, 0.25, 0.5, 0.75, hi_p], axis=0))
    ql = np.exp(np.quantile(level, [lo_p, 0.5, hi_p]))
    x = Run.of(tree).dates(tg)
    pct = int(round(100 * prob))

    twin = ax is not None
    if ax is None:
        fig, (ax, ax_h) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True,
                                       gridspec_kw={"height_ratios": [3, 1]})
    else:
        fig, ax_h = ax.figure, ax.twinx()
    ax.fill_between(x, qf[0], qf[4], color="C0", alpha=0.18, lw=0, label=f"trend, {pct}% band")
    ax.fill_between(x, qf[1], qf[3], color="C0", alpha=0.35, lw=0, label="trend, 50% band")
    ax.plot(x, qf[2], color="C0", lw=2, label=f"trend ({scatter_form(tree)})")
    post = tree.posterior
    if "log_density" in post and "constant_data" in tree.children and "release_date" in tree.constant_data:
        dens = np.exp(np.median(draws(tree, "log_density"), axis=0))
        ax.scatter(pd.to_datetime(tree.constant_data["release_date"].to_numpy()), dens, s=10, color="0.4",
                   alpha=0.6, zorder=3, label="fitted models (median density)")
    ax.axhspan(ql[0], ql[2], color="C3", alpha=0.15, lw=0)
    ax.axhline(ql[1], color="C3", lw=1.5, ls="--",
               label=f"{target} reached by {_article(format_size(size))} {format_size(size)} model ({pct}% band)")
    ax.set_yscale("log")
    ax.set_ylabel("density relative to the reference family (log scale)")
    ax.set_title(f"When does {_article(format_size(size))} {format_size(size)}-parameter model reach {target}'s level? "
                 f"({tree.attrs.get('trend', 'linear')} trend)")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3, which="both")

    inside = t_cross[np.isfinite(t_cross) & (t_cross >= first) & (t_cross <= end)]
    if inside.size:
        ax_h.hist(Run.of(tree).dates(inside), bins=60, color="C3", alpha=0.25 if twin else 0.6)
    label = "projected crossing dates (posterior draws)"
    outside = 1 - inside.size / t_cross.size
    if outside > 0:
        label += f"; {outside:.0%} outside the plotted range or never"
    ax_h.set_ylabel("draws")
    if twin:  # histogram on a twin axis of the caller's panel
        ax_h.text(0.99, 0.02, label, transform=ax_h.transAxes, ha="right", va="bottom", fontsize=8)
        ax.set_xlabel("release date")
    else:
        ax_h.set_title(label, fontsize=9)
        ax_h.set_xlabel("release date")
        ax_h.grid(alpha=0.3)
    ax.set_xlim(x[0], x[-1])
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------
# standard diagnostics (arviz-plots)
# ---------------------------------------------------------------------------

#: scalar trend and loss-law parameters shown in the rank plot, where the run has them
RANK_VARS = ("slope", "slope_after", "slope_change", "intercept", "changepoint", "frontier_sigma_v",
             "frontier_sigma_u", "trend_sigma", "alpha")


def rank_plot(tree: xr.DataTree, var_names=None) -> plt.Figure:
    """Rank ECDF plot (arviz-plots ``plot_rank``) of the trend parameters: each chain's fractional ranks
    inside the simultaneous envelope when the chains mix."""
    import arviz_plots as azp

    post = tree.posterior
    names = [v for v in (var_names or RANK_VARS) if v in post and set(post[v].dims) <= {"chain", "draw"}]
    if not names:
        raise ValueError("no scalar trend parameters in the posterior for a rank plot")
    pc = azp.plot_rank(tree, var_names=names, backend="matplotlib")
    axes = [a for a in pc.viz["plot"].to_dataset().data_vars.values()]
    fig = np.asarray(axes[0].values).item().figure
    fig.set_size_inches(min(3.0 * len(names), 12.0), 3.0 * ((len(names) - 1) // 4 + 1) + 0.6)
    fig.suptitle("Rank ECDF difference per chain (arviz-plots): near zero and p not small = chains agree",
                 fontsize=10)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------
# the Densing Law's other claims (compression, the best-value window)
# ---------------------------------------------------------------------------

def compression_forest(result: dict) -> plt.Figure:
    """Forest plot of ln density(child) - ln density(parent) per pair and pooled
    (the dict of :func:`bayes_density.posterior.compression.compression_effect`)."""
    rows = list(result["pairs"])
    labels = [f"{r['child']} <- {r['parent']}" for r in rows]
    if result.get("pooled"):
        rows = rows + [dict(result["pooled"])]
        labels.append(f"pooled ({result['pooled']['n_pairs']} pairs)")
    fig, ax = plt.subplots(figsize=(9.5, 0.5 * len(rows) + 1.6))
    y = np.arange(len(rows))[::-1]
    for yi, r, lab in zip(y, rows, labels):
        pooled = lab.startswith("pooled")
        ax.plot([r["diff_lo"], r["diff_hi"]], [yi, yi], color="C3" if pooled else "C0", lw=2)
        ax.plot(r["diff_median"], yi, "D" if pooled else "o", color="C3" if pooled else "C0")
    ax.axvline(0, color="grey", lw=1, ls="--")
    ax.set_yticks(y, labels)
    pct = int(round(100 * result.get("prob", DEFAULT_PROB)))
    ax.set_xlabel(f"ln density(child) - ln density(parent), nats (median, {pct}% interval)")
    ax.set_title("Compressed vs parent (< 0: less dense than the parent)", fontsize=10)
    fig.tight_layout()
    return fig


def value_window_plot(per_model: pd.DataFrame, by_year: pd.DataFrame) -> plt.Figure:
    """Per model: median best-value window (months, among draws superseded) against release date, coloured by
    P(superseded within the data), with the censoring limit; per year: the time by which half the year's
    models were superseded (median and interval over the draws where it is known)."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    dates = pd.to_datetime(per_model["release_date"])
    sc = ax.scatter(dates, per_model["window_months_median"], c=per_model["p_superseded"], cmap="viridis",
                    vmin=0, vmax=1, s=18)
    order = np.argsort(dates.to_numpy())
    ax.plot(dates.to_numpy()[order], per_model["censor_months"].to_numpy()[order], color="grey", ls="--", lw=1,
            label="censoring limit (data's last release)")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_xlabel("release date")
    ax.set_ylabel("window (months; median among draws superseded)")
    ax.legend(fontsize=8, loc="upper right")
    fig.colorbar(sc, ax=ax, label="P(superseded within the data)")
    known = by_year[by_year["p_half_known"] > 0]
    ax2.errorbar(known["year"], known["half_months_median"],
                 yerr=[known["half_months_median"] - known["half_months_lo"],
                       known["half_months_hi"] - known["half_months_median"]], fmt="o", capsize=3)
    for r in by_year.itertuples():
        ax2.annotate(f"n={r.n_models}", (r.year, 0), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=7,
                     xycoords=("data", "axes fraction"))
    ax2.set_xlabel("year of release")
    ax2.set_ylabel("months until half the year's models superseded")
    ax2.set_xticks(by_year["year"])
    fig.tight_layout()
    return fig


def backtest_figure(per_model: pd.DataFrame) -> plt.Figure:
    """Forecast band vs placed densities of the later models: one panel per (spec, cutoff).

    ``per_model``: the backtest's per-model table (``TABLE.models.csv``: release_date,
    pred_q05/q25/q75/q95, placed_median/lo/hi, spec, cutoff). Grey bars: the forecast's
    central 90% and 50% intervals at each later model's date; dots with lines: the model's
    density placed from its own scores (median, 90% interval). Density on a log axis,
    relative to the run's reference family.
    """
    need = {"release_date", "pred_q05", "pred_q25", "pred_q75", "pred_q95", "placed_median", "placed_lo",
            "placed_hi", "spec", "cutoff"}
    missing = sorted(need - set(per_model.columns))
    if missing:
        raise InputError(f"backtest table lacks column(s) {', '.join(missing)} (write it with 'backtest --out')")
    if per_model.empty:
        raise InputError("backtest table has no later models to draw")
    specs = list(dict.fromkeys(per_model["spec"]))
    cutoffs = sorted(dict.fromkeys(per_model["cutoff"]))
    fig, axes = plt.subplots(len(specs), len(cutoffs), figsize=(max(7.0, 4.2 * len(cutoffs) + 1), 3.4 * len(specs) + 0.8),
                             squeeze=False, sharey=True)
    for i, spec in enumerate(specs):
        for j, cut in enumerate(cutoffs):
            ax = axes[i][j]
            d = per_model[(per_model["spec"] == spec) & (per_model["cutoff"] == cut)]
            if d.empty:
                ax.set_axis_off()
                continue
            x = pd.to_datetime(d["release_date"])
            e = {k: np.exp(d[k].to_numpy(float)) for k in need if k.startswith(("pred", "placed"))}
            ax.vlines(x, e["pred_q05"], e["pred_q95"], color="0.75", lw=5, label="forecast, 90%")
            ax.vlines(x, e["pred_q25"], e["pred_q75"], color="0.45", lw=5, label="forecast, 50%")
            inside = (d["placed_median"] >= d["pred_q05"]) & (d["placed_median"] <= d["pred_q95"])
            for ok, colour, what in ((True, "C0", "placed, inside 90%"), (False, "C3", "placed, outside 90%")):
                m = inside.to_numpy() == ok
                if m.any():
                    yerr = np.clip([e["placed_median"][m] - e["placed_lo"][m], e["placed_hi"][m] - e["placed_median"][m]],
                                   0, None)
                    ax.errorbar(x[m], e["placed_median"][m], yerr=yerr, fmt="o", ms=3.5, color=colour, lw=0.8,
                                label=what)
            ax.axvline(pd.Timestamp(cut), color="k", ls=":", lw=1)
            ax.set_yscale("log")
            ax.set_title(f"{spec}, fitted to {cut}: {int(inside.sum())} of {len(d)} medians inside 90%", fontsize=9)
            ax.tick_params(axis="x", labelrotation=30, labelsize=7)
            if j == 0:
                ax.set_ylabel("capability density (x reference)")
    axes[0][0].legend(fontsize=7, loc="upper left")
    fig.suptitle("Backtest: forecasts of later models' density\nvs their density placed from their own scores",
                 fontsize=10)
    fig.tight_layout()
    return fig

"""One self-contained HTML report of one or more runs.

Figures are embedded as base64 PNG; the page loads nothing else (no scripts,
fonts or style sheets from anywhere). The file is written atomically: the page
is built in memory, written to a temporary file in the target folder and
renamed over the target, so a failure leaves no half-written report.

The first run is the primary one (forest plot, predictive checks and prior
checks are drawn for it); every run gets its summary numbers, density-vs-date
and doubling-time figures and diagnostics.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402

from ..constants import VERSION as __version__  # noqa: E402
from ..inference.run import Run, atomic_write  # noqa: E402
from ..checks import ppc as checks  # noqa: E402
from . import plots  # noqa: E402
from ..constants import DEFAULT_PROB  # noqa: E402
from ..posterior.projection import format_size  # noqa: E402
from ..posterior import summaries  # noqa: E402

CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1180px;
       padding: 0 24px 60px; color: #222; line-height: 1.45; }
h1 { font-size: 26px; margin: 28px 0 4px; } h2 { font-size: 20px; margin-top: 36px; border-bottom: 1px solid #ccc; }
h3 { font-size: 16px; margin-top: 24px; }
table { border-collapse: collapse; margin: 10px 0 16px; font-size: 13px; }
th, td { border: 1px solid #d0d0d0; padding: 3px 8px; text-align: right; }
th { background: #f1f3f6; } td:first-child, th:first-child { text-align: left; }
td.text, th.text { text-align: left; }
figure { margin: 14px 0 22px; } figure img { max-width: 100%; height: auto; border: 1px solid #e2e2e2; }
figcaption { font-size: 13px; color: #444; margin-top: 4px; }
.meta { color: #555; font-size: 13px; } .warn { color: #9a3412; } .ok { color: #166534; }
.note { background: #f7f7f9; border-left: 4px solid #a0aec0; padding: 8px 12px; font-size: 14px; }
nav ul { columns: 2; font-size: 14px; } .tw { overflow-x: auto; max-width: 100%; }
"""

CAVEATS = [
    ("Observational, not experimental.",
     "Trends over released models are not a controlled experiment: the fit sees only models that were "
     "released, and which models get released, reported and scored (selection on success, open vs closed, base vs instruct) shapes the "
     "trend; the frontier form models a one-sided gap below the trend but cannot undo selection."),
    ("Mixed evaluation harnesses.",
     "Scores come from different harnesses, prompts and shot counts (see Data sources). The beta-binomial "
     "precision per benchmark absorbs their spread on average, but a harness that is systematically "
     "easier or harder shifts the densities of the models it scored."),
    ("Contamination.",
     "Benchmarks leak into training data over time. Contaminated newer models look denser than they are, "
     "which biases the slope upward; the checks flag single outlying scores, not a gradual drift."),
    ("Relative to a reference family.",
     "Density is N_eff / N relative to the stated reference family's loss law at D0 tokens. A different "
     "reference family or D0 rescales all densities (and can move the intercept), not only the trend."),
    ("Extrapolation.",
     "Doubling times and projections extrapolate a fitted trend; the intervals include parameter "
     "uncertainty under the model, not the chance that the trend form itself changes."),
]


#: human labels for the quantities and columns of the tables (JSON keeps the raw names)
QUANTITY_LABELS = {"A_per_day": "slope A (ln density per day)", "A_per_year": "slope A (ln density per year)",
                   "doubling_time_days": "doubling time (days)", "doubling_time_months": "doubling time (months)",
                   "A_ratio": "slope ratio after / before", "A_change_per_day": "slope change (1/day)", "changepoint_date": "change point"}
PERIOD_LABELS = {"all": "whole period", "before": "before the break", "after": "after the break",
                 "after/before": "after vs before", "changepoint": "change point"}
COLUMN_LABELS = {"release_date": "release date", "params": "parameters", "density": "density (median)",
                 "density_lo": "lo", "density_hi": "hi", "n_scores": "scores", "observed_mean": "observed mean",
                 "predicted_mean": "predicted mean", "rmse": "RMSE", "z_sd": "z sd", "coverage_90": "90% coverage",
                 "n_abs_z_gt_3": "|z| > 3", "predicted_sd": "predicted sd", "loo_pit_ks_p": "LOO-PIT KS p",
                 "benchmark": "benchmark", "harness": "harness", "model": "model", "observed": "observed",
                 "z": "z", "elpd_loo": "elpd (LOO)", "elpd_diff": "elpd difference", "dse": "se of difference",
                 "pareto_k_max": "Pareto k max", "n_pareto_k_bad": "scores with k > 0.7", "p_loo": "p_loo"}


def human(name) -> str:
    """A column or quantity name for reading: the table above, else underscores as spaces."""
    name = str(name)
    return COLUMN_LABELS.get(name, QUANTITY_LABELS.get(name, name.replace("_", " ")))


PRIOR_COLUMNS = {"benchmark": "benchmark", "chance": "chance", "prior_q05": "prior 5%", "prior_median": "prior 50%",
                 "prior_q95": "prior 95%", "prior_share_at_floor": "prior share at chance",
                 "prior_share_above_95": "prior share > 0.95", "observed_min": "observed min",
                 "observed_max": "observed max", "observed_in_prior_90": "observed inside prior 90%"}


# ---------------------------------------------------------------------------
# HTML helpers
# ---------------------------------------------------------------------------

def _e(x) -> str:
    return html.escape(str(x), quote=True)


def fig_to_base64(fig: plt.Figure, dpi: int = 100) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)  # figures are laid out already (tight_layout)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(fig: plt.Figure, alt: str, caption: str = "", close: bool = True, dpi: int = 100) -> str:
    data = fig_to_base64(fig, dpi)
    if close:
        plt.close(fig)
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{data}">{cap}</figure>'


def _fmt(x, digits: int = 3) -> str:
    if x is None:
        return ""
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        if not np.isfinite(x):
            return "inf" if x > 0 else ("-inf" if x < 0 else "")
        if x != 0 and (abs(x) >= 1e5 or abs(x) < 1):
            return f"{x:.{digits}g}"
        return f"{x:.{digits}f}".rstrip("0").rstrip(".") if abs(x) < 1e4 else f"{x:.0f}"
    if isinstance(x, pd.Timestamp):
        return x.strftime("%Y-%m-%d")
    return str(x)


def _table(df: pd.DataFrame, digits: int = 3, text_cols=()) -> str:
    """An HTML table with escaped cells; numbers right-aligned."""
    if df is None or len(df) == 0:
        return "<p class='meta'>(none)</p>"
    text = {c for c in df.columns if c in text_cols or df[c].map(lambda v: isinstance(v, str) or v is None).all()}
    head = "".join(f"<th{' class=text' if c in text else ''}>{_e(human(c))}</th>" for c in df.columns)
    rows = []
    for _, r in df.iterrows():
        cells = []
        for c in df.columns:
            v = r[c]
            cls = " class=text" if (c in text or isinstance(v, str)) else ""
            cells.append(f"<td{cls}>{_e(_fmt(v, digits))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<div class=tw><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"


def _kv_table(items: list[tuple[str, object]]) -> str:
    rows = "".join(f"<tr><th class=text>{_e(k)}</th><td class=text>{_e(_fmt(v))}</td></tr>" for k, v in items)
    return f"<table><tbody>{rows}</tbody></table>"


# ---------------------------------------------------------------------------
# content
# ---------------------------------------------------------------------------

def _unique_names(trees: list, names) -> list[str]:
    names = list(names) if names is not None else [plots.run_info(t)["name"] for t in trees]
    if len(names) != len(trees):
        raise ValueError(f"{len(names)} names for {len(trees)} runs")
    out, seen = [], {}
    for n in names:
        n = str(n)
        if n in seen:
            seen[n] += 1
            n = f"{n} ({seen[n]})"
        else:
            seen[n] = 1
        out.append(n)
    return out


def run_table(trees: list, names: list[str]) -> pd.DataFrame:
    rows = []
    for name, t in zip(names, trees):
        i = plots.run_info(t)
        post = t.posterior
        rows.append({
            "run": name, "spec": i["name"], "trend": i["trend"], "frontier": i["frontier"],
            "reference family": i["reference"], "D0 (tokens)": i["d0"], "t0": i["t0"],
            "models": int(post.sizes.get("model", 0)), "scores": int(t.observed_data.sizes.get("obs", 0)),
            "chains": int(post.sizes["chain"]), "draws/chain": int(post.sizes["draw"]),
            "fit (s)": float(t.attrs.get("time_total_s", np.nan)),
        })
    return pd.DataFrame(rows)


def summary_rows(trees: list, names: list[str], prob: float) -> pd.DataFrame:
    rows = []
    for name, t in zip(names, trees):
        tt = summaries.trend_table(t, prob)
        for _, r in tt.iterrows():
            rows.append({"run": name, "period": PERIOD_LABELS.get(r["period"], r["period"]),
                         "quantity": QUANTITY_LABELS.get(r["quantity"], r["quantity"]), "median": r["median"],
                         f"{int(prob * 100)}% lo": r["lo"], f"{int(prob * 100)}% hi": r["hi"], "unit": r["unit"]})
    return pd.DataFrame(rows)


def baseline_rows(trees: list, names: list[str], baseline) -> pd.DataFrame:
    rows = []
    for i, (name, t) in enumerate(zip(names, trees)):
        _, summ = plots.baseline_points(t, baseline if i == 0 else None)
        if not summ:
            continue
        rows.append({"run": name, "A per day": summ.get("A_per_day"), "R2": summ.get("R2"),
                     "doubling time (months)": summ.get("doubling_time_months"),
                     "envelope models": summ.get("n"), "all-models OLS doubling (months)":
                     (summ.get("all_models_ols") or {}).get("doubling_time_months")})
    return pd.DataFrame(rows)


def diagnostics_rows(trees: list, names: list[str], diags: list[dict] | None = None) -> tuple[pd.DataFrame, dict]:
    rows, warns = [], {}
    diags = diags or [summaries.diagnostics(t) for t in trees]
    for name, t, d in zip(names, trees, diags):
        rows.append({"run": name, "R-hat max": d["rhat_max"], "(variable)": d["rhat_max_var"],
                     "bulk ESS min": round(d["ess_bulk_min"]), "tail ESS min": round(d["ess_tail_min"]),
                     "divergences": d["divergences"], "E-BFMI min": d["ebfmi_min"], "chains": d["chains"],
                     "draws": d["draws"]})
        warns[name] = summaries.convergence_problems(d)
    return pd.DataFrame(rows), warns


def data_sources(tree: xr.DataTree) -> str:
    """Benchmarks, harnesses, references and the data selection of a run."""
    const = tree.constant_data
    spec = Run.of(tree).spec_dict
    benches = list(const["benchmark"].to_numpy().astype(str))
    ob = const["obs_bench"].to_numpy().astype(int)
    harness = const["obs_harness"].to_numpy().astype(str) if "obs_harness" in const else np.full(len(ob), "")
    harness = np.where(harness == "", "(not recorded)", harness)
    rows = []
    for bi, b in enumerate(benches):
        sel = ob == bi
        counts = pd.Series(harness[sel]).value_counts()
        rows.append({"benchmark": b, "items": int(const["n_items"].to_numpy()[bi]),
                     "chance": float(const["chance"].to_numpy()[bi]), "scores": int(sel.sum()),
                     "harnesses (scores)": ", ".join(f"{h} ({c})" for h, c in counts.items())})
    refs = summaries.reference_table(tree)
    sel_items = [(k, spec.get(k)) for k in ("reference", "benchmarks", "open_only", "base_only", "size", "since",
                                             "until", "min_scores", "d0", "loss_mode", "drop_highest_losses",
                                             "targets", "source") if k in spec]
    n_loss = int(tree.observed_data.sizes.get("loss_point", 0))
    return (
        "<h3>Data selection (spec)</h3>" + _kv_table([(k, ", ".join(map(str, v)) if isinstance(v, list) else v)
                                                      for k, v in sel_items])
        + "<h3>Benchmarks and evaluation harnesses</h3>" + _table(pd.DataFrame(rows), text_cols=("harnesses (scores)",))
        + f"<h3>Reference family ('{_e(spec.get('reference', '?'))}')</h3>"
        + "<p class='meta'>Density 1 by definition at D0 tokens; models trained longer than D0 are denser.</p>"
        + _table(refs)
        + f"<p class='meta'>Loss points for the reference loss law: {n_loss}.</p>"
    )


def _warn_list(items: list[str]) -> str:
    if not items:
        return "<p class='ok'>No warnings.</p>"
    return "<ul>" + "".join(f"<li class='warn'>{_e(w)}</li>" for w in items) + "</ul>"


def checks_section(tree: xr.DataTree, name: str, sensitivity: bool, seed: int = 0, diag: dict | None = None) -> str:
    d, _, pit, table = checks.run_checks(tree, seed=seed, sensitivity=sensitivity, diag=diag)
    parts = [
        f"<h3>Run '{_e(name)}'</h3>",
        _kv_table([
            ("LOO-PIT KS p-value (uniform = calibrated)", d["loo_pit_ks_p"]),
            ("share of LOO-PIT outside the central 90% (nominal 0.10)", d["loo_pit_share_outside_90"]),
            ("Pareto k max", d["pareto_k_max"]),
            ("scores with Pareto k > 0.7", d["n_pareto_k_bad"]),
            ("scores with |z| > 3", d["n_abs_z_gt_3"]),
            (f"calibration (ok when KS p >= {checks.KS_P_WARN:g} and at most {100 * checks.LARGE_SHARE_WARN:g}% "
             f"of scores have |z| > {checks.Z_LARGE:g})", "ok" if d["calibration_ok"] else "flagged"),
        ]),
        _figure(plots.ppc_by_benchmark(tree, table=table, name=name), "posterior predictive check per benchmark",
                "Observed vs predicted score per benchmark; bars are 90% posterior predictive intervals."),
        _figure(plots.loo_pit_plot(pit, tree=tree, name=name), "LOO-PIT calibration",
                "LOO-PIT: a calibrated model gives uniform values (flat histogram, ECDF difference inside the band)."),
        "<h4>Posterior predictive summary per benchmark (scores as fractions)</h4>",
        _table(pd.DataFrame(d["ppc_by_benchmark"])),
        *(["<h4>Posterior predictive summary per evaluation harness</h4>"
           "<p class='meta'>z sd near 1: the predictive spread fits that harness's scores; well above 1: "
           "that harness is noisier than the model assumes.</p>", _table(pd.DataFrame(d["ppc_by_harness"]))]
          if d.get("ppc_by_harness") else []),
        "<h4>Largest standardised residuals</h4>",
        _table(pd.DataFrame(d["worst_residuals"])),
    ]
    if d.get("prior_sensitivity"):
        ps = pd.DataFrame(d["prior_sensitivity"])
        head = ps["quantity"].isin(["slope", "slope_after", "intercept"])
        parts += ["<h4>Prior sensitivity (power-scaling, psense)</h4>",
                  "<p class='meta'>Sensitivity of each quantity to power-scaling the trend priors or the link "
                  "priors (prior) and the likelihood; above 0.05 marks an informative prior, both above 0.05 a "
                  "possible prior-data conflict. Trend quantities:</p>", _table(ps[head]),
                  f"<details><summary>link quantities per benchmark ({int((~head).sum())} rows)</summary>"
                  f"{_table(ps[~head])}</details>"]
    if d.get("prior_predictive"):
        pr = pd.DataFrame(d["prior_predictive"]).rename(columns=PRIOR_COLUMNS)
        parts += ["<h4>Prior predictive score ranges (fraction correct, all scores under prior draws)</h4>",
                  _table(pr[[c for c in PRIOR_COLUMNS.values() if c in pr]])]
    if d.get("sensitivity_error"):
        parts.append(f"<p class='meta'>Prior checks skipped: {_e(d['sensitivity_error'])}</p>")
    parts += ["<h4>Check warnings</h4>", _warn_list(d["warnings"])]
    return "".join(parts)


def comparison_section(trees: list, names: list[str], comparison) -> str:
    if comparison is not None:
        df = comparison if isinstance(comparison, pd.DataFrame) else pd.DataFrame(comparison)
        if df.index.name is not None or not isinstance(df.index, pd.RangeIndex):
            df = df.reset_index()
        return "<p class='meta'>Comparison table supplied by the caller.</p>" + _table(df)
    if len(trees) < 2:
        return ""
    from ..checks.comparison import loo_table

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df = loo_table(dict(zip(names, trees)))
    except Exception as e:  # noqa: BLE001 - a comparison that cannot be made is reported, not fatal
        return f"<p class='warn'>No LOO comparison: {_e(e)}</p>"
    return ("<p class='meta'>PSIS-LOO over the scores (ArviZ compare, stacking weights); higher elpd is better. "
            "Pareto k > 0.7 marks scores for which the LOO estimate is unreliable.</p>" + _table(df))


MULTIVERSE_COLUMNS = {"name": "specification", "n_models": "models", "n_scores": "scores",
                      "doubling_months_median": "doubling (months)", "doubling_months_lo": "lo",
                      "doubling_months_hi": "hi", "A_per_day_median": "A per day", "rhat_max": "R-hat max",
                      "ess_bulk_min": "bulk ESS min", "divergences": "divergences", "fit_s": "fit (s)",
                      "error": "not fitted because"}


def multiverse_section(table: pd.DataFrame, prob: float | None = None) -> str:
    """The specification curve and its table (one row per specification, sorted by median doubling time)."""
    from ..sweeps.multiverse import NOT_CONVERGED, converged, sort_curve

    table = table.copy()
    table["error"] = table["error"].fillna("").astype(str)
    prob = float(table.attrs.get("prob", DEFAULT_PROB) if prob is None else prob)
    pct = int(round(prob * 100))
    curve = sort_curve(table)
    fitted = curve[curve["error"] == ""]
    ok = [converged(r) for _, r in fitted.iterrows()]
    med = fitted["doubling_months_median"].to_numpy(float)
    parts = []
    if len(fitted):
        parts.append(
            f"<p class='note'>{len(table)} specifications, {len(fitted)} fitted"
            + (f" ({len(ok) - sum(ok)} not converged: {html.escape(NOT_CONVERGED)})" if not all(ok) else "")
            + f": median doubling time from <b>{_fmt(float(np.min(med)), 2)}</b> to "
            f"<b>{_fmt(float(np.max(med)), 2)} months</b> across specifications (median of the medians "
            f"{_fmt(float(np.median(med)), 2)}).</p>")
    settings = ""
    if {"chains", "draws", "tune", "seed"} <= set(table.columns) and len(fitted):
        r = fitted.iloc[0]
        settings = (f" Each fit: {int(r['chains'])} chains x {int(r['draws'])} draws after {int(r['tune'])} "
                    f"tuning steps, seed {int(r['seed'])} (a screening run: refit flagged specifications at "
                    "full settings).")
    wall = table.attrs.get("wall_s")
    if wall is not None:
        settings += f" Wall time {float(wall):.0f} s on {table.attrs.get('workers', '?')} worker(s)."
    parts.append("<p class='meta'>The same analysis refitted on every non-empty subset of the benchmarks with "
                 "each reference family (the multiverse, or specification curve): how much the doubling time "
                 f"depends on these choices.{_e(settings)}</p>")
    parts.append(_figure(plots.specification_curve(table, prob=prob), "specification curve",
                         f"Median and {pct}% interval of the doubling time per specification, sorted; below, which "
                         "benchmarks and reference family each uses."))
    show = curve[[c for c in MULTIVERSE_COLUMNS if c in curve.columns]].copy()
    show.insert(show.columns.get_loc("divergences") + 1 if "divergences" in show else len(show.columns),
                "converged", [converged(r) if r["error"] == "" else None for _, r in curve.iterrows()])
    for c in ("n_models", "n_scores", "divergences"):
        if c in show:
            show[c] = pd.to_numeric(show[c], errors="coerce").astype(float)
    if (show["error"] == "").all():
        show = show.drop(columns="error")
    parts.append(_table(show.rename(columns=MULTIVERSE_COLUMNS), text_cols=("specification", "not fitted because")))
    return "".join(parts)


def published_section(tree: xr.DataTree, name: str, dt, a_day, prob: float) -> str:
    """The posterior's headline beside the paper's published figures, and why they differ (one sentence)."""
    from .paper import paper_context

    ctx = paper_context(tree)
    pct = int(round(prob * 100))
    rows = [{"source": f"this run '{name}' (posterior median, {pct}% interval)",
             "doubling time (months)": f"{_fmt(dt['median'], 2)} [{_fmt(dt['lo'], 2)}, {_fmt(dt['hi'], 2)}]",
             "A per day": f"{a_day['median']:.4f} [{a_day['lo']:.4f}, {a_day['hi']:.4f}]",
             "models": int(tree.posterior.sizes.get("model", 0)), "notes": ""}]
    for r in ctx["published"]:
        rows.append({"source": f"published: {r['source']}", "doubling time (months)": f"{r['doubling_months']:g}",
                     "A per day": "" if r["A_per_day"] is None else f"{r['A_per_day']:g}",
                     "models": r["n_models"], "notes": r["note"] + (f"; {r['dates']}" if r["dates"] else "")})
    return ("<h3>Against the published figures</h3>"
            "<p class='meta'>The paper published point estimates without intervals.</p>"
            + _table(pd.DataFrame(rows), text_cols=("source", "doubling time (months)", "A per day", "notes"))
            + f"<p class='note' id='why-differ'>{_e(ctx['differences'])}</p>")


def projection_section(tree: xr.DataTree, projection, prob: float) -> str:
    """The projection in words (median date and intervals) and its fan chart.

    ``projection``: the dict of :func:`bayes_density.posterior.projection.project` (the fan chart is
    drawn here), or a matplotlib Figure (a fan chart drawn by the caller, shown as it is).
    """
    if not isinstance(projection, dict):
        return _figure(projection, "projection fan chart",
                       "Fan chart: the fitted trend extrapolated, the density a model of the given size needs to "
                       "match the target (red band), and the posterior of the crossing date (lower panel).",
                       close=False)
    from .text import article, trend_line

    d = projection
    size = format_size(d["size"])
    pct = int(round(100 * d.get("prob", prob)))
    text = (f"On the fitted {_e(trend_line(d))}, {article(size)} {_e(size)}-parameter model reaches "
            f"{_e(d['target'])}'s level around <b>{_e(d['date_median'])}</b> (posterior median; {pct}% interval "
            f"<b>{_e(d['date_lo'])}</b> to <b>{_e(d['date_hi'])}</b>, 50% interval {_e(d['date_q25'])} to "
            f"{_e(d['date_q75'])}). P(reached by {_e(d['by'])}) = {d['p_by']:.2f}."
            + (f" In {d['p_never']:.1%} of draws the trend never gets there." if d.get("p_never") else "")
            + f" {_e(d['target'])}'s effective size: {format_size(d['target_neff']['median'])} parameters "
            f"[{format_size(d['target_neff']['lo'])}, {format_size(d['target_neff']['hi'])}]"
            + (" (placed against this run's posterior from its reported scores, not fitted with it)"
               if d.get("placed") else "") + ".")
    if d.get("note"):
        text += f" Note: {_e(d['note'])}."
    fig = plots.plot_fan_chart(tree, target=d["target"], size=d["size"], prob=d.get("prob", prob))
    return (f"<p class='note' id='projection-text'>{text}</p>"
            + _figure(fig, f"projection fan chart: {d['target']}, {size} parameters",
                      f"Upper panel: the fitted trend (median, 50% and {pct}% bands) extrapolated past the data "
                      f"({d['data_start']} to {d['data_end']}); red: the density {article(size)} {size} model needs "
                      f"to match {d['target']} (median and {pct}% band). Lower panel: posterior draws of the "
                      "crossing date; the text above gives its median and intervals."))


def claims_section(tree: xr.DataTree, prob: float) -> str:
    """Compression is not densing (compressed models vs their parents) and the best-value window."""
    from ..posterior.compression import compression_effect
    from ..posterior.value_window import value_window, value_window_by_year

    pct = int(round(100 * prob))
    c = compression_effect(tree, prob=prob)
    body = ("<h3>Compression is not densing</h3><p class='meta'>Pruned or distilled models against the model "
            "they came from (data/models.csv <code>derived_from</code>, <code>derivation</code>, each with its "
            "source). Difference = ln density(child) &minus; ln density(parent), in nats (natural log of the "
            f"density ratio); median and {pct}% interval; P = posterior probability the child is less dense.</p>")
    if c["pairs"]:
        t = pd.DataFrame(c["pairs"]).drop(columns=["source"])
        if c["pooled"]:
            p = c["pooled"]
            t = pd.concat([t, pd.DataFrame([{"child": f"pooled (mean of {p['n_pairs']} pairs)", "parent": "",
                                             "derivation": "", "p_child_lower": p["p_lower"],
                                             **{k: p[k] for k in p if k.startswith(("diff", "ratio"))}}])])
        t = t.rename(columns={"p_child_lower": "P(child < parent)", "diff_median": "diff (nats)",
                              "diff_lo": f"{pct}% lo", "diff_hi": f"{pct}% hi", "ratio_median": "density ratio",
                              "ratio_lo": f"ratio {pct}% lo", "ratio_hi": f"ratio {pct}% hi"})
        body += _table(t, digits=2, text_cols=("child", "parent", "derivation"))
        body += _figure(plots.compression_forest(c), "compressed models against their parents",
                        f"ln density(child) − ln density(parent) per pair and pooled (mean over pairs per draw), "
                        f"median and {pct}% interval; left of 0: the compressed model is less dense.")
    else:
        body += "<p>No compressed model with its parent in this run.</p>"
    if c["missing"]:
        body += "<p class='meta'>Not in this run: " + _e(", ".join(f"{m['child']} <- {m['parent']}"
                                                                 for m in c["missing"])) + "</p>"
    per_model, by_year = value_window(tree, prob), value_window_by_year(tree, prob)
    body += ("<h3>Best-value window</h3><p class='meta'>For each model, the time (months) until a later model "
             "of at most its size (parameters) with higher density was released, per posterior draw; censored at "
             "the data's last release date. P(superseded) = share of draws in which that happened within the "
             "data; the window is the median among those draws. Per year: the time by which half of the year's "
             f"models had been superseded (median and {pct}% interval over the draws where it falls before the "
             "year's earliest censoring time; P(known) = share of such draws).</p>")
    yt = by_year.rename(columns={"n_models": "models", "p_superseded_mean": "mean P(superseded)",
                                 "window_months_median_of_models": "median window (months)",
                                 "p_half_known": "P(known)", "half_months_median": "half superseded by (months)",
                                 "half_months_lo": f"{pct}% lo", "half_months_hi": f"{pct}% hi",
                                 "min_censor_months": "earliest censoring (months)"})
    body += _table(yt, digits=2)
    body += _figure(plots.value_window_plot(per_model, by_year), "best-value window per model and per year",
                    "Left: each model's median window (months, among draws where it was superseded) against its "
                    "release date, coloured by P(superseded within the data); dashed: the censoring limit. Right: "
                    f"months until half of each year's models were superseded (median and {pct}% interval).")
    return body


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>{body}</body></html>\n")


def build_report(trees: list, names=None, comparison=None, projection=None, baseline=None, prob: float = DEFAULT_PROB,
                 sensitivity: bool = True, seed: int = 0, multiverse: pd.DataFrame | None = None) -> str:
    """The report as an HTML string (see :func:`write_report`)."""
    if isinstance(trees, xr.DataTree):
        trees = [trees]
    trees = list(trees)
    if not trees:
        raise ValueError("write_report needs at least one run")
    names = _unique_names(trees, names)
    primary, pname = trees[0], names[0]
    info = plots.run_info(primary)
    any_break = any(plots.run_info(t)["trend"] != "linear" for t in trees)
    sections: list[tuple[str, str, str]] = []  # (id, title, html)

    diags = [summaries.diagnostics(t) for t in trees]
    # summary
    tt = summaries.trend_table(primary, prob)
    period = summaries.headline_period(tt)
    dt = tt[(tt["period"] == period) & (tt["quantity"] == "doubling_time_months")].iloc[0]
    a_day = tt[(tt["period"] == period) & (tt["quantity"] == "A_per_day")].iloc[0]
    s = {"n_models": int(primary.posterior.sizes.get("model", 0)),
         "n_scores": int(primary.observed_data.sizes.get("obs", 0))}
    lead = (f"<p class='note'>Run <b>{_e(pname)}</b> ({_e(info['trend'])} trend, "
            f"{'frontier' if info['frontier'] else 'mean'} form): capability density doubles every "
            f"<b>{_fmt(dt['median'], 2)} months</b> ({int(prob * 100)}% interval {_fmt(dt['lo'], 2)}–"
            f"{_fmt(dt['hi'], 2)}){' after the break' if info['trend'] != 'linear' else ''}, "
            f"over {s['n_models']} models and {s['n_scores']} scores. Density = N_eff / N relative to the "
            f"'{_e(info['reference'])}' reference family at D0 = {info['d0']:.3g} tokens.</p>")
    body = lead + published_section(primary, pname, dt, a_day, prob)
    body += ("<h3>Runs</h3>" + _table(run_table(trees, names))
            + f"<h3>Trend slope and doubling time ({int(prob * 100)}% intervals)</h3>"
            + _table(summary_rows(trees, names, prob), text_cols=("run", "period", "quantity", "unit")))
    base = baseline_rows(trees, names, baseline)
    if len(base):
        body += ("<h3>Paper method (Xiao et al. 2024) on the same data</h3><p class='meta'>Least-squares curves, "
                 "running-maximum envelope, OLS of ln density on release day: point estimates only.</p>"
                 + _table(base))
    top = summaries.density_table(primary, prob).head(10)[["model", "release_date", "params", "density",
                                                           "density_lo", "density_hi", "n_scores"]]
    top = top.assign(params=top["params"].map(format_size)).rename(
        columns={"density_lo": f"{int(prob * 100)}% lo", "density_hi": f"{int(prob * 100)}% hi"})
    if len(top):
        body += f"<h3>Densest models (run '{_e(pname)}')</h3>" + _table(top)
    sections.append(("summary", "Summary", body))

    # density and doubling time per run
    body = ""
    for i, (name, t) in enumerate(zip(names, trees)):
        ri = plots.run_info(t)
        body += f"<h3>Run '{_e(name)}'</h3>"
        fig = plots.density_vs_date(t, baseline=baseline if i == 0 else None, prob=prob, name=name)
        body += _figure(fig, f"density vs release date, run {name}",
                        f"Capability density (N_eff / N, relative to the '{ri['reference']}' family at D0 = "
                        f"{ri['d0']:.3g} tokens) of every model with its {int(prob * 100)}% interval, and the "
                        "fitted trend with its band. " + " ".join(getattr(fig, "notes", [])))
        fig = plots.doubling_time_posterior(t, baseline=baseline if i == 0 else None, prob=prob, name=name)
        body += _figure(fig, f"doubling time posterior, run {name}",
                        "Posterior of the doubling time of capability density, in months. "
                        + " ".join(getattr(fig, "notes", [])))
    sections.append(("density", "Density vs release date and doubling time", body))

    sections.append(("forest", f"Density per model (run '{pname}')",
                     _figure(plots.density_forest(primary, prob=prob, name=pname), "forest plot of model densities",
                             f"Median and {int(prob * 100)}% interval of each model's density (N_eff / N, "
                             f"'{info['reference']}' reference).")))

    # comparison and breaks
    if len(trees) > 1 or comparison is not None or any_break:
        body = comparison_section(trees, names, comparison)
        if any_break or len(trees) > 1:
            body += "<h3>Slopes per period</h3>" + _figure(
                plots.break_comparison(trees, names, prob), "trend slopes per period",
                "Trend slope of ln density per year before/after the break (break and change-point runs) "
                "or over the whole period (linear runs).")
            pa = [(n, float(np.mean(sd["after"] > sd["before"]))) for n, t in zip(names, trees)
                  if "after" in (sd := summaries.slope_draws(t))]
            if pa:
                body += _table(pd.DataFrame(pa, columns=["run", "P(A_after > A_before)"]))
        sections.append(("comparison", "Comparison of runs and trend breaks", body))

    if projection is not None:
        sections.append(("projection", "Projection", projection_section(primary, projection, prob)))

    if multiverse is not None:
        sections.append(("multiverse", "Multiverse", multiverse_section(multiverse)))

    sections.append(("claims", "Other claims: compression, best-value window", claims_section(primary, prob)))

    # checks (primary run)
    sections.append(("checks", "Model checks", checks_section(primary, pname, sensitivity, seed, diags[0])))

    diag, warns = diagnostics_rows(trees, names, diags)
    body = _table(diag) + "".join(f"<h4>{_e(n)}</h4>{_warn_list(w)}" for n, w in warns.items())
    try:
        body += _figure(plots.rank_plot(primary), f"rank plots of the trend parameters, run {pname}",
                        "Rank ECDF difference of each chain's draws for the trend parameters (arviz-plots plot_rank): "
                        "chains that sample the same distribution stay near zero; each panel's p-value tests that "
                        "(small p: the chains disagree).")
    except ValueError:
        pass
    sections.append(("diagnostics", "Sampler diagnostics", body))

    body = ""
    for name, t in zip(names, trees):
        body += (f"<h3>Run '{_e(name)}'</h3>" if len(trees) > 1 else "") + data_sources(t)
    sections.append(("data", "Data sources", body))

    sections.append(("caveats", "Caveats", "<ul>" + "".join(
        f"<li><b>{_e(h)}</b> {_e(t)}</li>" for h, t in CAVEATS) + "</ul>"))


    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    title = f"bayes-density report: {', '.join(names)}"
    nav = "<nav><ul>" + "".join(f"<li><a href='#{sid}'>{_e(t)}</a></li>" for sid, t, _ in sections) + "</ul></nav>"
    head = (f"<h1>{_e(title)}</h1><p class='meta'>Generated {now} by bayes-density {__version__}. "
            f"Reference family (first run): '{_e(info['reference'])}' at D0 = {info['d0']:.3g} tokens; density = N_eff / N "
            f"(dimensionless); times in years since t0 = {_e(info['t0'])}, doubling times in months.</p>")
    body = head + nav + "".join(f"<section id='{sid}'><h2>{_e(t)}</h2>{h}</section>" for sid, t, h in sections)
    return _page(title, body)


def write_report(trees: list, out_path, names=None, comparison=None, projection=None, baseline=None,
                 prob: float = DEFAULT_PROB, sensitivity: bool = True, seed: int = 0,
                 multiverse: pd.DataFrame | None = None) -> Path:
    """Write one self-contained HTML report of ``trees`` (runs) to ``out_path``, atomically.

    ``names``: a label per run (default: the spec names). ``comparison``: a
    table (DataFrame or records) to show instead of the computed PSIS-LOO
    comparison (computed when several runs are given). ``projection``: the dict of
    :func:`bayes_density.posterior.projection.project` (its dates in words and a fan chart), a
    matplotlib Figure (fan chart) to embed, or None. ``baseline``: the paper
    method's result (:func:`bayes_density.baseline.paper_method`) for the first
    run; None uses what the run carries. ``sensitivity``: include power-scaling
    prior sensitivity and prior predictive ranges (rebuilds the model). ``multiverse``: a
    :func:`bayes_density.multiverse.run_multiverse` table (or its CSV read back with
    :func:`~bayes_density.multiverse.read_table`) for a "Multiverse" section with the specification curve.
    """
    out = Path(out_path)
    page = build_report(trees, names=names, comparison=comparison, projection=projection, baseline=baseline,
                        prob=prob, sensitivity=sensitivity, seed=seed, multiverse=multiverse)
    return atomic_write(out, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))

"""Derived quantities from a fitted run, as tidy pandas tables.

Everything reads only the run's DataTree (posterior, constant_data, attrs), so
it works the same on a fresh fit and on a NetCDF file. Intervals are
equal-tailed, ``prob`` = 0.9 by default (5% and 95% quantiles).
"""

from __future__ import annotations

import json
import math

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from ..constants import DAYS_PER_YEAR, DEFAULT_PROB, MONTHS_PER_YEAR
from ..inference.run import Run
from ..inference.diagnostics import DIAGNOSTIC_EXCLUDE, convergence_problems, diagnostics  # noqa: F401  (old home)
from ..model.trend import latest_slope

def draws(tree: xr.DataTree, name: str) -> np.ndarray:
    """Posterior draws of ``name`` flattened over chain and draw (sample axis first)."""
    da = tree.posterior[name]
    return da.stack(sample=("chain", "draw")).transpose("sample", ...).to_numpy()


def thin_draws(post: xr.Dataset, max_draws: int) -> xr.Dataset:
    """``max_draws // chains`` draws of each chain (at least one), evenly spaced from its first to its last.

    Every chain keeps the same number of draws; ``post`` itself when nothing is dropped.
    """
    if max_draws < 1:
        raise ValueError(f"max_draws must be positive; got {max_draws}")
    n_draw = post.sizes["draw"]
    per_chain = max(1, min(n_draw, max_draws // post.sizes["chain"]))
    if per_chain == n_draw:
        return post
    return post.isel(draw=np.linspace(0, n_draw - 1, per_chain).round().astype(int))


def interval(x: np.ndarray, prob: float = DEFAULT_PROB, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and equal-tailed ``prob`` interval along ``axis``."""
    lo, med, hi = np.quantile(x, [(1 - prob) / 2, 0.5, (1 + prob) / 2], axis=axis)
    return med, lo, hi


def _row(name: str, x: np.ndarray, prob: float, unit: str) -> dict:
    med, lo, hi = interval(np.asarray(x, float), prob)
    return {"quantity": name, "median": float(med), "lo": float(lo), "hi": float(hi), "unit": unit}


def _doubling_row(name: str, slope: np.ndarray, prob: float, per_year: float, unit: str) -> dict:
    """Doubling-time quantiles as ln 2 / slope quantiles (monotone), inf where the slope is <= 0."""
    qs = np.quantile(slope, [(1 + prob) / 2, 0.5, (1 - prob) / 2])  # high slope = short doubling
    lo, med, hi = (float(doubling_from_slope(q) * per_year) for q in qs)
    return {"quantity": name, "median": med, "lo": lo, "hi": hi, "unit": unit}


def slope_draws(tree: xr.DataTree) -> dict[str, np.ndarray]:
    """Trend slope draws (natural log per year) per period: 'all', or 'before'/'after' a break."""
    trend = tree.attrs.get("trend", "linear")
    if trend == "linear":
        return {"all": draws(tree, "slope")}
    p = {"slope": draws(tree, "slope"), "slope_change": draws(tree, "slope_change")}
    return {"before": p["slope"], "after": latest_slope(trend, p)}


def doubling_from_slope(slope_per_year: np.ndarray) -> np.ndarray:
    """Doubling time in years; infinite where the slope is <= 0 (no doubling)."""
    s = np.asarray(slope_per_year, float)
    with np.errstate(divide="ignore"):
        return np.where(s > 0, math.log(2) / np.where(s > 0, s, 1.0), np.inf)


def trend_table(tree: xr.DataTree, prob: float = DEFAULT_PROB) -> pd.DataFrame:
    """Slope A (per day, per year) and doubling time (days, months) per period, with intervals."""
    rows = []
    for period, s in slope_draws(tree).items():
        for r in (
            _row("A_per_day", s / DAYS_PER_YEAR, prob, "1/day"),
            _row("A_per_year", s, prob, "1/year"),
            _doubling_row("doubling_time_days", s, prob, DAYS_PER_YEAR, "days"),
            _doubling_row("doubling_time_months", s, prob, MONTHS_PER_YEAR, "months"),
        ):
            rows.append({"period": period, **r})
    if tree.attrs.get("trend") in ("break", "changepoint"):
        sl = slope_draws(tree)
        # the change is what a break estimates; the ratio only reads well when the slope before is
        # clearly positive (a 'before' interval around 0 makes it unbounded and of either sign)
        rows.append({"period": "after/before", **_row("A_change_per_day", (sl["after"] - sl["before"]) / DAYS_PER_YEAR,
                                                          prob, "1/day")})
        ratio = sl["after"] / sl["before"]
        rows.append({"period": "after/before", **_row("A_ratio", ratio, prob, "")})
        rows.append({"period": "after/before", "quantity": "P(A_after > A_before)",
                     "median": float(np.mean(sl["after"] > sl["before"])), "lo": np.nan, "hi": np.nan,
                     "unit": "probability"})
    if "changepoint" in tree.posterior:
        t0 = Run.of(tree).t0
        cp = draws(tree, "changepoint")
        med, lo, hi = interval(cp, prob)
        rows.append({"period": "changepoint", "quantity": "changepoint_date",
                     "median": float(med), "lo": float(lo), "hi": float(hi), "unit": f"years since {t0.date()}"})
    return pd.DataFrame(rows)


def density_table(tree: xr.DataTree, prob: float = DEFAULT_PROB) -> pd.DataFrame:
    """Per model: release date, size, effective size and density (median and interval)."""
    const = tree.constant_data
    r = draws(tree, "log_density")
    med, lo, hi = interval(r, prob)
    size = np.exp(const["log_params"].to_numpy())
    df = pd.DataFrame(
        {
            "model": const["model"].to_numpy().astype(str),
            "release_date": pd.to_datetime(const["release_date"].to_numpy()),
            "params": size,
            "log_density": med,
            "density": np.exp(med),
            "density_lo": np.exp(lo),
            "density_hi": np.exp(hi),
            "neff": size * np.exp(med),
            "neff_lo": size * np.exp(lo),
            "neff_hi": size * np.exp(hi),
        }
    )
    counts = pd.Series(const["obs_unit_name"].to_numpy().astype(str)).value_counts()
    df["n_scores"] = df["model"].map(counts).fillna(0).astype(int)
    return df.sort_values("density", ascending=False, ignore_index=True)


def reference_table(tree: xr.DataTree) -> pd.DataFrame:
    """Reference models and their (derived) density: 1 at D0, above 1 when trained longer."""
    const = tree.constant_data
    r = draws(tree, "ref_log_density")
    return pd.DataFrame({
        "model": const["reference"].to_numpy().astype(str),
        "params": np.exp(const["ref_log_params"].to_numpy()),
        "tokens": np.exp(const["ref_log_tokens"].to_numpy()),
        "density": np.exp(np.median(r, axis=0)),
    })


def headline_period(tt: pd.DataFrame) -> str:
    """The period a run's headline doubling time is quoted for: 'all' (linear trends), else 'after' the break."""
    return "all" if "all" in set(tt["period"]) else "after"


def summary_dict(tree: xr.DataTree, prob: float = DEFAULT_PROB, top: int = 10) -> dict:
    """The numbers ``bayes-density summary --json`` prints."""
    tt = trend_table(tree, prob)
    period = headline_period(tt)

    def pick(q):
        r = tt[(tt["period"] == period) & (tt["quantity"] == q)].iloc[0]
        return {"median": r["median"], "lo": r["lo"], "hi": r["hi"]}

    diag = diagnostics(tree)
    dens = density_table(tree, prob)
    run = Run.of(tree)
    out = {
        "model_name": tree.attrs.get("model_name"),
        "trend": tree.attrs.get("trend"),
        "frontier": bool(tree.attrs.get("frontier", 1)),
        "scatter": run.scatter,
        "quantile": run.quantile,
        "reference": run.spec_dict.get("reference"),
        "t0": tree.attrs.get("t0"),
        "doubling_time_months": pick("doubling_time_months"),
        "doubling_time_days": pick("doubling_time_days"),
        "A_per_day": pick("A_per_day"),
        "prob": prob,
        **diag,
        "n_models": int(tree.posterior.sizes["model"]),
        "n_scores": int(tree.observed_data.sizes["obs"]),
        "top_density": dens.head(top)[["model", "release_date", "params", "density", "density_lo",
                                        "density_hi"]].assign(
            release_date=lambda d: d["release_date"].dt.strftime("%Y-%m-%d")).to_dict(orient="records"),
        "fit_seconds": tree.attrs.get("time_total_s"),
    }
    if period == "after":
        out["trend_periods"] = tt.to_dict(orient="records")
    if "baseline" in tree.attrs:
        out["paper_baseline"] = json.loads(tree.attrs["baseline"])
    return out

"""The paper's own method, as a non-Bayesian baseline on the same data.

Xiao et al. (2024) estimate densities in two least-squares steps and fit the
trend by OLS on the running maximum. Here, on the same selection as the joint
model (:class:`~bayes_density.design.ModelInputs`):

1. loss law: least squares (Huber, on log loss, as Besiroglu et al. 2024) on the loss points;
2. link: per benchmark, least squares of the sigmoid on the reference models' scores;
3. each model's effective size: invert the fitted curves so that the mean fitted
   score over the model's benchmarks equals its mean observed score;
4. envelope: models that set a new maximum density at their release;
   OLS of ln(density) on release day over the envelope: A per day and R^2.

Point estimates only, like the paper.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import xarray as xr
from scipy import optimize

from ..model.design import DAYS_PER_YEAR, ModelInputs
from ..model.joint import LOG_DREF, LOG_NREF, anchor

HUBER_DELTA = 1e-3  # Besiroglu et al. (2024) Huber delta on log loss


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def fit_loss_law(inputs: ModelInputs) -> dict:
    """Huber fit of log L = log(E + sN e^{-alpha(x - xN)} + sD e^{-beta(d - xD)}) on the loss points."""
    x, d, y = inputs.loss_log_params, inputs.loss_log_tokens, np.log(inputs.loss)

    def pred(theta):
        logE, la, lb, lsN, lsD = theta
        return np.log(np.exp(logE) + np.exp(lsN - np.exp(la) * (x - LOG_NREF)) + np.exp(lsD - np.exp(lb) * (d - LOG_DREF)))

    def huber(theta):
        r = y - pred(theta)
        a = np.abs(r)
        return np.sum(np.where(a < HUBER_DELTA, 0.5 * r**2, HUBER_DELTA * (a - 0.5 * HUBER_DELTA)))

    best = None
    for la in (math.log(0.2), math.log(0.35), math.log(0.5)):
        for lsN in (math.log(0.1), math.log(0.4)):
            res = optimize.minimize(huber, [math.log(1.8), la, la, lsN, lsN], method="L-BFGS-B")
            if best is None or res.fun < best.fun:
                best = res
    logE, la, lb, lsN, lsD = best.x
    return {"E": math.exp(logE), "alpha": math.exp(la), "beta": math.exp(lb), "sN": math.exp(lsN),
            "sD": math.exp(lsD)}


def _zeta(x, alpha, x_a):
    return -np.expm1(-alpha * (x - x_a)) / alpha


def fit_links(inputs: ModelInputs, law: dict) -> pd.DataFrame:
    """Per benchmark: least-squares sigmoid (midpoint mu, slope kappa) on the reference models' scores."""
    a, x_a = law["alpha"], anchor(inputs)
    ratio = np.exp(-a * (inputs.ref_log_params - LOG_NREF)) + law["sD"] / law["sN"] * (
        np.exp(-law["beta"] * (inputs.ref_log_tokens - LOG_DREF)) - np.exp(-law["beta"] * (inputs.log_d0 - LOG_DREF)))
    x_ref = LOG_NREF - np.log(np.maximum(ratio, 1e-9)) / a
    z_ref = _zeta(x_ref, a, x_a)
    n_m = inputs.n_models
    rows = []
    for b, name in enumerate(inputs.benchmarks):
        sel = (inputs.obs_bench == b) & (inputs.obs_unit >= n_m) & (inputs.obs_unit < n_m + len(inputs.references))
        z = z_ref[inputs.obs_unit[sel] - n_m]
        s = inputs.obs_k[sel] / inputs.obs_n[sel]
        g = inputs.chance[b]
        if len(s) < 2:
            rows.append({"benchmark": name, "mu": np.nan, "kappa": np.nan, "n_ref_scores": len(s)})
            continue

        def loss(theta):
            mu, lk = theta
            return np.sum((s - (g + (1 - g) * _sigmoid(np.exp(lk) * (z - mu)))) ** 2)

        res = optimize.minimize(loss, [1.0, 0.0], method="Nelder-Mead")
        rows.append({"benchmark": name, "mu": res.x[0], "kappa": math.exp(res.x[1]), "n_ref_scores": len(s)})
    return pd.DataFrame(rows)


def point_densities(inputs: ModelInputs, law: dict, links: pd.DataFrame) -> pd.DataFrame:
    """Invert the fitted curves for each fitted model: log density from its mean score."""
    a, x_a = law["alpha"], anchor(inputs)
    mu, kappa = links["mu"].to_numpy(), links["kappa"].to_numpy()
    out = []
    for i, name in enumerate(inputs.models):
        sel = (inputs.obs_unit == i) & np.isfinite(mu[inputs.obs_bench])
        if not sel.any():
            continue
        b = inputs.obs_bench[sel]
        target = float(np.mean(inputs.obs_k[sel] / inputs.obs_n[sel]))
        g = inputs.chance[b]

        def gap(z):
            return float(np.mean(g + (1 - g) * _sigmoid(kappa[b] * (z - mu[b])))) - target

        lo, hi = -60.0, 1.0 / a - 1e-9
        if gap(lo) > 0 or gap(hi) < 0:
            continue  # at or beyond the fitted curves' range: no finite inversion
        z = optimize.brentq(gap, lo, hi)
        x = x_a - math.log1p(-a * z) / a
        out.append({"model": name, "release_date": inputs.release_dates[name],
                    "log_density": x - inputs.log_params[i]})
    return pd.DataFrame(out)


def envelope(points: pd.DataFrame) -> pd.DataFrame:
    """Models that set a new maximum density at their release (ties by date order)."""
    p = points.sort_values(["release_date", "log_density"], ascending=[True, False])
    best = -np.inf
    keep = []
    for _, row in p.iterrows():
        if row["log_density"] > best:
            keep.append(row)
            best = row["log_density"]
    return pd.DataFrame(keep)


def ols_trend(points: pd.DataFrame) -> dict:
    """OLS of ln(density) on release day: slope A per day, R^2, doubling time."""
    t = (pd.to_datetime(points["release_date"]) - pd.to_datetime(points["release_date"]).min()).dt.days.to_numpy(float)
    y = points["log_density"].to_numpy(float)
    if len(y) < 2 or np.ptp(t) == 0:
        return {"A_per_day": float("nan"), "R2": float("nan"), "n": int(len(y))}
    A, B = np.polyfit(t, y, 1)
    resid = y - (A * t + B)
    r2 = 1 - resid.var() / y.var() if y.var() > 0 else float("nan")
    return {"A_per_day": float(A), "R2": float(r2), "n": int(len(y)),
            "doubling_time_days": float(math.log(2) / A) if A > 0 else float("inf"),
            "doubling_time_months": float(math.log(2) / A / DAYS_PER_YEAR * 12) if A > 0 else float("inf")}


def paper_method(inputs: ModelInputs, break_date: str | None = None) -> dict:
    """Run the paper's pipeline on a fit's inputs; returns numbers and the point densities.

    With ``break_date`` also the paper's Figure 4 comparison: separate running-max
    envelopes and OLS lines for models released before and after the date.
    """
    if len(inputs.loss) == 0:
        raise ValueError("the paper baseline needs loss points (loss mode 'joint')")
    law = fit_loss_law(inputs)
    links = fit_links(inputs, law)
    points = point_densities(inputs, law, links)
    env = envelope(points)
    res = {"method": "Xiao et al. 2024: least-squares curves, running-max envelope, OLS",
           "loss_law": law, "envelope_models": list(env["model"]) if len(env) else [],
           "n_points": int(len(points)), **ols_trend(env)}
    res["all_models_ols"] = ols_trend(points)
    if break_date is not None and len(points):
        cut = pd.Timestamp(break_date)
        dates = pd.to_datetime(points["release_date"])
        for name, part in (("before", points[dates < cut]), ("after", points[dates >= cut])):
            env_part = envelope(part) if len(part) else part
            res[f"{name}_break"] = {**ols_trend(env_part), "envelope_models": list(env_part.get("model", []))}
        b, a = res["before_break"]["A_per_day"], res["after_break"]["A_per_day"]
        res["ratio_after_before"] = float(a / b) if b and np.isfinite(b) else float("nan")
    return {"summary": res, "points": points, "links": links}


def attach_baseline(tree: xr.DataTree, inputs: ModelInputs, break_date: str | None = None) -> None:
    """Run the paper's method on the same inputs; store numbers and point densities in attrs."""
    if len(inputs.loss) == 0:
        return
    res = paper_method(inputs, break_date)
    points = res["points"].assign(release_date=lambda d: pd.to_datetime(d["release_date"]).dt.strftime("%Y-%m-%d"))
    tree.attrs["baseline"] = json.dumps(res["summary"], default=float)
    tree.attrs["baseline_points"] = json.dumps(points.to_dict(orient="records"), default=float)

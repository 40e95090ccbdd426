"""The "best value" window: how long was a model the densest option at its size?

For model *i* (released at t_i with N_i parameters), its window is the time until the first model
*j* released strictly later (t_j > t_i) with at most its size (N_j <= N_i) and a higher density
(ln density_j > ln density_i) came out. Per posterior draw of the run's ``log_density`` this is
either a time (the model was superseded within the data) or right-censored at the data's last
release date (t_last - t_i: no denser model of at most its size by then). Models released on the
same day as model *i* never supersede it. The run's reference models (``ref_log_density``) can
supersede a model; they get no row of their own.

Per model: ``p_superseded`` (share of draws superseded within the data), the median (and interval)
of the window among the draws where it was, in months, and the censoring time. Per year of release:
the time by which half of that year's models had been superseded, per draw (the median over the
year's models, a censored model counting as never superseded); it is known only when it falls
before the earliest censoring time among the year's models, so the table gives P(known) and the
median and interval over the draws where it is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..constants import DAYS_PER_YEAR, DEFAULT_PROB, MONTHS_PER_YEAR
from ..inference.run import Run

__all__ = ["supersession_times", "value_window", "value_window_by_year"]


def supersession_times(log_density: np.ndarray, t: np.ndarray, log_params: np.ndarray,
                       t_end: float | None = None, tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """Per draw and model, the time to the first later, no-larger, denser model.

    ``log_density``: (draws, models); ``t``: release times (any unit, e.g. years); ``log_params``:
    per model. ``t_end``: the censoring time (default: the last release). Returns ``(time, event)``,
    both (draws, models): ``event`` True where superseded within the data, ``time`` the window there
    and the censoring time ``t_end - t_i`` elsewhere.
    """
    ld = np.asarray(log_density, float)
    t = np.asarray(t, float)
    lp = np.asarray(log_params, float)
    t_end = float(np.max(t)) if t_end is None else float(t_end)
    n_draws, n = ld.shape
    time = np.empty((n_draws, n))
    event = np.zeros((n_draws, n), bool)
    for i in range(n):
        cand = np.flatnonzero((t > t[i]) & (lp <= lp[i] + tol))
        cens = t_end - t[i]
        if cand.size == 0:
            time[:, i] = cens
            continue
        cand = cand[np.argsort(t[cand], kind="stable")]
        denser = ld[:, cand] > ld[:, [i]]  # (draws, candidates), in release order
        hit = denser.any(axis=1)
        first = np.argmax(denser, axis=1)
        time[:, i] = np.where(hit, t[cand][first] - t[i], cens)
        event[:, i] = hit
    return time, event


def _stack(da: xr.DataArray, dim: str) -> np.ndarray:
    return da.stack(sample=("chain", "draw")).transpose("sample", dim).to_numpy()


def _run_arrays(run):
    """log density draws, names, release dates and log params of the run's models, then its
    reference models (which can supersede a model but get no row of their own)."""
    r = Run.of(run)
    tree = r.tree
    da = tree.posterior["log_density"]
    ld = _stack(da, "model")
    names = [str(m) for m in da["model"].values]
    cd = tree.constant_data
    dates = pd.DatetimeIndex(cd["release_date"].sel(model=names).values)
    lp = cd["log_params"].sel(model=names).to_numpy()
    n_models = len(names)
    if "ref_log_density" in tree.posterior and "ref_t" in cd and "ref_log_params" in cd:
        ld = np.concatenate([ld, _stack(tree.posterior["ref_log_density"], "reference")], axis=1)
        names += [str(m) for m in tree.posterior["ref_log_density"]["reference"].values]
        dates = dates.append(pd.DatetimeIndex(r.dates(cd["ref_t"].to_numpy())).normalize())
        lp = np.concatenate([lp, cd["ref_log_params"].to_numpy()])
    return ld, names, dates, lp, n_models


def _window(run):
    ld, names, dates, lp, n = _run_arrays(run)
    days = (dates - dates.min()).days.to_numpy(float)
    months = days / DAYS_PER_YEAR * MONTHS_PER_YEAR
    time, event = supersession_times(ld, months, lp)
    return names[:n], dates[:n], lp[:n], months[:n], time[:, :n], event[:, :n], float(months.max())


def value_window(run, prob: float = DEFAULT_PROB) -> pd.DataFrame:
    """Per model: P(superseded within the data) and the window (months) among the draws where it was."""
    names, dates, lp, months, time, event, end = _window(run)
    q = [(1 - prob) / 2, 0.5, (1 + prob) / 2]
    rows = []
    for i, name in enumerate(names):
        e = event[:, i]
        w = time[e, i]
        lo, med, hi = np.quantile(w, q) if w.size else (np.nan, np.nan, np.nan)
        rows.append({"model": name, "release_date": dates[i].date().isoformat(), "year": int(dates[i].year),
                     "params": float(np.exp(lp[i])), "p_superseded": float(e.mean()),
                     "window_months_median": float(med), "window_months_lo": float(lo), "window_months_hi": float(hi),
                     "censor_months": float(end - months[i])})
    return pd.DataFrame(rows).sort_values(["release_date", "model"], kind="mergesort").reset_index(drop=True)


def _half_time(time: np.ndarray, event: np.ndarray, censor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per draw, the time by which half of the models were superseded, and whether it is known.

    Censored models count as never superseded (inf); the value is known when it does not exceed the
    smallest censoring time among the models (until then every model is observed)."""
    x = np.where(event, time, np.inf)
    k = int(np.ceil(x.shape[1] / 2)) - 1  # the lower median: at least half superseded by then
    half = np.sort(x, axis=1)[:, k]
    known = half <= censor.min()
    return half, known


def value_window_by_year(run, prob: float = DEFAULT_PROB) -> pd.DataFrame:
    """Per year of release: models, mean P(superseded), the median over the year's models of each model's
    median window among its superseded draws (``window_months_median_of_models``; ignores censoring), and the
    time by which half the year's models were superseded (months; median and interval over the draws where it
    is known, and P(known); censoring-aware)."""
    names, dates, lp, months, time, event, end = _window(run)
    years = dates.year.to_numpy()
    censor = end - months
    q = [(1 - prob) / 2, 0.5, (1 + prob) / 2]
    rows = []
    for y in sorted(set(years)):
        cols = np.flatnonzero(years == y)
        half, known = _half_time(time[:, cols], event[:, cols], censor[cols])
        h = half[known]
        lo, med, hi = np.quantile(h, q) if h.size else (np.nan, np.nan, np.nan)
        per_model = [np.median(time[event[:, i], i]) for i in cols if event[:, i].any()]
        rows.append({"year": int(y), "n_models": int(cols.size), "p_superseded_mean": float(event[:, cols].mean()),
                     "window_months_median_of_models": float(np.median(per_model)) if per_model else float("nan"),
                     "p_half_known": float(known.mean()), "half_months_median": float(med),
                     "half_months_lo": float(lo), "half_months_hi": float(hi),
                     "min_censor_months": float(censor[cols].min())})
    return pd.DataFrame(rows)

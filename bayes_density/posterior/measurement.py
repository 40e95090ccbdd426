"""Posterior summaries of the measurement model, as tidy tables.

- :func:`source_offset_table`: per (source kind, benchmark family), how many nats of
  capability (log effective size at the anchor) that kind's scores sit above the
  reference kind's (the uniform third-party harness); with the kind means.
- :func:`domain_table`: per modelled domain (code, math), the spread of models'
  deviations from their general capability and, for runs with domain trends, the
  domain's density slope and doubling time next to the general one.
- :func:`floor_table`: learned chance floors next to their nominal values.
- :func:`specialist_table`: the models whose domain deviation is largest.
- :func:`score_noise_table`: robust score noise: outliers' share and precision, main precisions.

All take a fitted run and return empty tables for runs without that part.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xarray as xr

from ..constants import DAYS_PER_YEAR, DEFAULT_PROB, MONTHS_PER_YEAR
from .summaries import doubling_from_slope, draws, interval


def _interval_row(x: np.ndarray, prob: float) -> dict:
    med, lo, hi = interval(np.asarray(x, float), prob)
    return {"median": float(med), "lo": float(lo), "hi": float(hi)}


def source_offset_table(tree: xr.DataTree, prob: float = DEFAULT_PROB) -> pd.DataFrame:
    """Source-kind offsets (nats on the loss axis) with intervals and P(offset > 0).

    Rows: one per (kind, family), plus one per kind with family ``(mean)``. The
    reference kind (offset 0 by definition) is named in every row.
    """
    post = tree.posterior
    if "source_offset" not in post:
        return pd.DataFrame(columns=["kind", "reference", "family", "median", "lo", "hi", "p_positive", "n_scores"])
    kinds = json.loads(tree.attrs.get("source_kinds", "[]"))
    ref = kinds[0] if kinds else "harness"
    off = draws(tree, "source_offset")  # (S, kind, family)
    fams = list(post["family"].to_numpy().astype(str))
    const = tree.constant_data
    fam_of_obs = const["bench_family"].to_numpy().astype(int)[const["obs_bench"].to_numpy().astype(int)]
    kind_of_obs = const["obs_kind"].to_numpy().astype(int)
    rows = []
    for k, kind in enumerate(kinds[1:]):
        if "source_offset_mean" in post:
            m = draws(tree, "source_offset_mean")[:, k]
            rows.append({"kind": kind, "reference": ref, "family": "(mean)", **_interval_row(m, prob),
                         "p_positive": float(np.mean(m > 0)), "n_scores": int(np.sum(kind_of_obs == k + 1)),
                         "identified": True})
        for f, fam in enumerate(fams):
            x = off[:, k, f]
            rows.append({"kind": kind, "reference": ref, "family": fam, **_interval_row(x, prob),
                         "p_positive": float(np.mean(x > 0)),
                         "n_scores": int(np.sum((kind_of_obs == k + 1) & (fam_of_obs == f))),
                         # offsets the data cannot identify are fixed at 0 (model.design.offset_identified)
                         "identified": bool(np.any(x != 0))})
    return pd.DataFrame(rows)


def domain_table(tree: xr.DataTree, prob: float = DEFAULT_PROB) -> pd.DataFrame:
    """Per domain: sd of deviations (nats), the specialists' mean deviation (models.csv ``specialty``,
    nats) where the run has specialists, and with domain trends the domain's slope and doubling time.

    ``slope_per_year`` is the general slope plus the domain's own (``domain_slope``);
    the domain slope acts on the loss axis, which near the anchor is log effective
    size, so the domain doubling time is comparable to the general one there.
    """
    post = tree.posterior
    if "domain_sigma" not in post:
        return pd.DataFrame(columns=["domain", "quantity", "median", "lo", "hi", "unit"])
    doms = list(post["domain"].to_numpy().astype(str))
    sig = draws(tree, "domain_sigma")
    rows = []
    for d, dom in enumerate(doms):
        rows.append({"domain": dom, "quantity": "deviation_sd", **_interval_row(sig[:, d], prob), "unit": "nats"})
        if "specialist_shift" in post and dom in post["specialist_domain"].to_numpy().astype(str):
            j = list(post["specialist_domain"].to_numpy().astype(str)).index(dom)
            shift = draws(tree, "specialist_shift")[:, j]
            rows.append({"domain": dom, "quantity": "specialists_mean", **_interval_row(shift, prob), "unit": "nats",
                         "p_positive": float(np.mean(shift > 0))})
        if "domain_slope" in post:
            extra = draws(tree, "domain_slope")[:, d]
            rows.append({"domain": dom, "quantity": "slope_minus_general", **_interval_row(extra, prob),
                         "unit": "1/year", "p_positive": float(np.mean(extra > 0))})
            total = draws(tree, "slope") + extra
            qs = np.quantile(total, [(1 + prob) / 2, 0.5, (1 - prob) / 2])
            lo, med, hi = (float(doubling_from_slope(q) * MONTHS_PER_YEAR) for q in qs)
            rows.append({"domain": dom, "quantity": "doubling_time_months", "median": med, "lo": lo, "hi": hi,
                         "unit": "months"})
            rows.append({"domain": dom, "quantity": "A_per_day", **_interval_row(total / DAYS_PER_YEAR, prob),
                         "unit": "1/day"})
    return pd.DataFrame(rows)


def floor_table(tree: xr.DataTree, prob: float = DEFAULT_PROB) -> pd.DataFrame:
    """Learned chance floor per benchmark variant next to its nominal value (fractions of items)."""
    post = tree.posterior
    if "floor" not in post:
        return pd.DataFrame(columns=["benchmark", "nominal", "median", "lo", "hi"])
    g = draws(tree, "floor")
    nominal = tree.constant_data["chance"].to_numpy()
    names = list(post["benchmark"].to_numpy().astype(str))
    return pd.DataFrame([{"benchmark": b, "nominal": float(nominal[i]), **_interval_row(g[:, i], prob)}
                         for i, b in enumerate(names)])


def specialist_table(tree: xr.DataTree, top: int = 5, prob: float = DEFAULT_PROB) -> pd.DataFrame:
    """Models with the largest |domain deviation| per domain (nats): the specialists."""
    post = tree.posterior
    if "domain_dev" not in post:
        return pd.DataFrame(columns=["domain", "model", "median", "lo", "hi"])
    dev = draws(tree, "domain_dev")  # (S, unit, domain)
    units = list(post["unit"].to_numpy().astype(str))
    rows = []
    for d, dom in enumerate(post["domain"].to_numpy().astype(str)):
        med = np.median(dev[:, :, d], axis=0)
        for u in np.argsort(-np.abs(med))[:top]:
            rows.append({"domain": dom, "model": units[u], **_interval_row(dev[:, u, d], prob)})
    return pd.DataFrame(rows)


def score_noise_table(tree: xr.DataTree, prob: float = DEFAULT_PROB) -> pd.DataFrame:
    """Robust score noise (spec robust_scores): the wide component's share of scores and its
    precision, beside each benchmark's main precision phi_b (median and interval)."""
    post = tree.posterior
    if "outlier_share" not in post:
        return pd.DataFrame(columns=["quantity", "benchmark", "median", "lo", "hi"])
    rows = [{"quantity": "outlier_share", "benchmark": "(all)", **_interval_row(draws(tree, "outlier_share"), prob)},
            {"quantity": "outlier_phi", "benchmark": "(all)", **_interval_row(draws(tree, "outlier_phi"), prob)}]
    phi = draws(tree, "phi")
    for i, b in enumerate(post["benchmark"].to_numpy().astype(str)):
        rows.append({"quantity": "phi", "benchmark": b, **_interval_row(phi[:, i], prob)})
    return pd.DataFrame(rows)


def measurement_dict(tree: xr.DataTree, prob: float = DEFAULT_PROB) -> dict:
    """The measurement model's summaries as plain records (for ``summary --json``)."""
    return {
        "source_offsets": source_offset_table(tree, prob).to_dict(orient="records"),
        "domains": domain_table(tree, prob).to_dict(orient="records"),
        "floors": floor_table(tree, prob).to_dict(orient="records"),
        "specialists": specialist_table(tree, prob=prob).to_dict(orient="records"),
        "score_noise": score_noise_table(tree, prob).to_dict(orient="records"),
    }

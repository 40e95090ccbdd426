"""Compare trend forms: PSIS-LOO by model or by score, leave-future-out by refitting, P(acceleration).

- LOO by model (the default): integrated PSIS-LOO, one unit per fitted LLM
  (:mod:`bayes_density.checks.model_cv`), optionally with exact refits for the
  models whose Pareto k stays above 0.7; stacking weights over the per-model
  elpd. Every run must be fitted on the same scores.
- LOO by score: ArviZ 1.x ``compare`` (stacking weights) on the pointwise score
  log-likelihoods; unreliable here (a model's own scores set its density).
- LFO: time-ordered. For each cut date, refit on models released up to the
  cut and score the next block of models by their exact log predictive
  density (the trend prior integrated over each new model's density on a grid,
  :func:`bayes_density.placement.log_predictive`). Sum over blocks.
- P(acceleration): P(slope after the break > slope before) for break and
  change-point runs.
"""

from __future__ import annotations

import math

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from ..errors import InputError
from ..inference.fit import inputs_from_tree, sample, spec_of
from ..posterior.placement import _Link, log_predictive
from ..posterior.summaries import slope_draws


def p_acceleration(tree: xr.DataTree) -> float | None:
    """P(A_after > A_before), or None for a linear trend."""
    if tree.attrs.get("trend", "linear") == "linear":
        return None
    s = slope_draws(tree)
    return float(np.mean(s["after"] > s["before"]))


def _check_same_data(trees: dict[str, xr.DataTree]) -> None:
    ref = None
    for name, t in trees.items():
        k = t.observed_data["k"].to_numpy()
        if ref is None:
            ref = (name, k)
        elif len(k) != len(ref[1]) or not np.array_equal(k, ref[1]):
            raise InputError(
                f"runs {ref[0]!r} and {name!r} were fitted on different scores; LOO compares only fits "
                "of the same data (same spec data section, same --until)"
            )


def stacking_weights(pointwise: np.ndarray) -> np.ndarray:
    """Stacking weights (Yao, Vehtari, Simpson and Gelman 2018) from an (n units, n runs) elpd matrix."""
    from scipy.optimize import minimize
    from scipy.special import logsumexp, softmax

    m = pointwise.shape[1]
    if m == 1:
        return np.ones(1)

    def loss(z):
        w = softmax(np.append(z, 0.0))
        return -logsumexp(pointwise, b=w[None, :], axis=1).sum()

    z = minimize(loss, np.zeros(m - 1), method="Nelder-Mead" if m <= 3 else "BFGS").x
    return softmax(np.append(z, 0.0))


def model_loo_table(trees: dict[str, xr.DataTree], refit_bad: int = 0, max_draws: int | None = None,
                    **refit) -> pd.DataFrame:
    """Model-level LOO per run (elpd summed over fitted models), best first, paired differences."""
    from .model_cv import DEFAULT_MAX_DRAWS, model_loo, model_loo_summary

    _check_same_data(trees)
    tables = {n: model_loo(t, max_draws or DEFAULT_MAX_DRAWS, refit_bad=refit_bad, **refit) for n, t in trees.items()}
    point = np.column_stack([tables[n]["elpd"].to_numpy() for n in trees])
    weights = dict(zip(trees, stacking_weights(point)))
    rows = []
    for j, (name, table) in enumerate(tables.items()):
        rows.append({"name": name, **model_loo_summary(table), "weight": float(weights[name]),
                     "trend": trees[name].attrs.get("trend"), "p_acceleration": p_acceleration(trees[name]),
                     "_pointwise": point[:, j]})
    best = max(rows, key=lambda r: r["elpd_loo"])
    for r in rows:
        diff = best["_pointwise"] - r["_pointwise"]
        r["elpd_diff"] = float(diff.sum())
        r["dse"] = float(np.sqrt(len(diff) * diff.var(ddof=1))) if r is not best and len(diff) > 1 else 0.0
        r["p_loo"] = math.nan
        r["unit"] = "model"
    df = pd.DataFrame(rows).sort_values("elpd_loo", ascending=False, ignore_index=True)
    return df.drop(columns=["_pointwise"])


def loo_table(trees: dict[str, xr.DataTree], unit: str = "score", **kwargs) -> pd.DataFrame:
    """elpd_loo, se, difference, weight, worst Pareto-k per run; best first.

    ``unit="score"``: ArviZ's PSIS-LOO over the scores; ``unit="model"``:
    :func:`model_loo_table` (keyword arguments go to it).
    """
    if unit == "model":
        return model_loo_table(trees, **kwargs)
    if unit != "score":
        raise InputError(f"LOO unit must be 'model' or 'score', not {unit!r}")
    _check_same_data(trees)
    cmp = az.compare(trees, var_name="k", round_to="none")  # full precision; text output rounds
    rows = []
    for name, row in cmp.iterrows():
        loo = az.loo(trees[name], var_name="k", pointwise=True)
        k = np.asarray(loo.pareto_k)
        rows.append({
            "name": name, "elpd_loo": float(row["elpd"]), "se": float(row["se"]),
            "elpd_diff": float(row["elpd_diff"]), "dse": float(row["dse"]), "weight": float(row["weight"]),
            "p_loo": float(row["p"]), "pareto_k_max": float(np.nanmax(k)), "n_pareto_k_bad": int(np.sum(k > 0.7)),
            "trend": trees[name].attrs.get("trend"), "p_acceleration": p_acceleration(trees[name]),
            "unit": "score", "n_units": int(len(k)),
        })
    return pd.DataFrame(rows)


def lfo(tree: xr.DataTree, n_blocks: int = 4, min_share: float = 0.6, seed: int = 1, draws: int = 500,
        chains: int = 2, progress: bool = False) -> pd.DataFrame:
    """Leave-future-out by refitting: elpd of each future block given the past.

    Models are ordered by release date; the first ``min_share`` always train.
    The rest is cut into ``n_blocks`` blocks; block b is predicted by a fit on
    all models before it. Returns one row per predicted model.
    """
    spec = spec_of(tree)
    inputs = inputs_from_tree(tree)
    order = np.argsort(inputs.t, kind="stable")
    n = inputs.n_models
    start = int(np.ceil(min_share * n))
    blocks = np.array_split(order[start:], n_blocks)
    per_model = inputs.obs_by_model()
    rows = []
    for bi, block in enumerate(blocks):
        if len(block) == 0:
            continue
        cut = inputs.t[block].min()
        train = inputs.t < cut
        fit = sample(inputs.subset_models(train), spec, seed=seed + bi, draws=draws, chains=chains,
                     progress=progress, log_likelihood=False)
        link = _Link(fit)
        for i in block:
            rows.append({"block": bi, "model": inputs.models[i], "t": float(inputs.t[i]),
                         "elpd": log_predictive(link, float(inputs.log_params[i]), float(inputs.t[i]), per_model[i])})
    return pd.DataFrame(rows)


def lfo_table(trees: dict[str, xr.DataTree], **kwargs) -> pd.DataFrame:
    """Sum of LFO elpd per run, with its standard error and difference to the best."""
    rows = []
    for name, t in trees.items():
        d = lfo(t, **kwargs)
        rows.append({"name": name, "elpd_lfo": float(d["elpd"].sum()),
                     "se": float(np.sqrt(len(d) * d["elpd"].var(ddof=1))), "n_predicted": len(d),
                     "_pointwise": d["elpd"].to_numpy()})
    best = max(rows, key=lambda r: r["elpd_lfo"])
    for r in rows:  # best minus this run (>= 0), as the LOO tables
        diff = best["_pointwise"] - r["_pointwise"]
        r["elpd_diff"] = float(diff.sum())
        r["dse"] = float(np.sqrt(len(diff) * diff.var(ddof=1))) if r is not best else 0.0
    return pd.DataFrame(rows).drop(columns="_pointwise").sort_values("elpd_lfo", ascending=False,
                                                                     ignore_index=True)


LOO_METHODS = {
    "model": "integrated PSIS-LOO by model: each fitted LLM's scores predicted from all other models, its "
             "own density integrated out",
    "score": "PSIS-LOO by score (ArviZ): each score predicted from all other scores, including its model's others",
}


def compare_dict(trees: dict[str, xr.DataTree], unit: str = "model", **kwargs) -> dict:
    """The JSON ``bayes-density compare`` prints (``unit``, keyword arguments: :func:`loo_table`)."""
    table = loo_table(trees, unit=unit, **kwargs)
    out = {"loo_unit": unit, "loo_method": LOO_METHODS[unit], "models": [{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
                      for row in table.to_dict(orient="records")]}
    accel = {n: p_acceleration(t) for n, t in trees.items() if p_acceleration(t) is not None}
    if accel:
        out["p_acceleration"] = accel if len(accel) > 1 else next(iter(accel.values()))
    return out

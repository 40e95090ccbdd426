"""Forecast checks: does a fit up to a cutoff predict the densities of the models released after it?

For a run fitted on models released on or before a cutoff, every later model
in the data (the spec's filters, not a reference model, with scores on the
fitted benchmarks) gets two distributions of its log density r at its release
date t, per posterior draw s:

- **predictive** (from the trend only): frontier spec r = f_s(t) + v - u,
  v ~ N(0, sigma_v), u ~ |N(0, sigma_u)| (the skew-normal of a new model);
  mean spec r ~ N(f_s(t), sigma_s);
- **placed** (from its own scores): r drawn from the model's likelihood of
  its scores on the density grid of :mod:`~bayes_density.posterior.placement`
  (``_Link.grid_logp`` with the trend prior divided out, i.e. a flat prior on
  r over ``placement.FLAT_PRIOR_RANGE``, -10 to 8 nats, so that the target does not
  already lean on the forecast; ``prior="trend"`` keeps it, as ``bayes-density
  density`` does). The bounds matter only for models whose scores sit near chance
  everywhere (OLMo-1B, Gemma-3-1B, Llama-3.2-1B): their likelihood is flat below some
  level, and with the bounds at -25 their CRPS rose from ~3-8 to ~6-12 nats.

Per model: the PIT, P(predictive <= placed) averaged over the placed draws (inside the central
q interval when |PIT - 1/2| <= q/2); P(placed above the trend line), pairing
draws; and the CRPS of the placed density under the predictive, energy form
from draws, E|X - Y| - E|X - X'| / 2 (X predictive, Y placed; nats of log density).

The paper's method as a baseline (:mod:`~bayes_density.posterior.baseline`):
its curves and envelope OLS line fitted on the same models up to the cutoff,
a later model's point density from inverting those curves, and the predictive
N(line(t), residual sd of the envelope) (PIT Phi(z), CRPS of a normal,
"above" = the point above the line).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from ..errors import InputError
from ..inference.run import Run
from ..model.design import prepare, select_models, years_since
from ..model.joint import quantile_random
from ..posterior.placement import _Link, log_predictive, sample_log_density, specialty_of
from ..posterior.summaries import draws
from ..posterior.trend_draws import quantile_of, scatter_form

#: the PIT's central intervals reported as coverage
LEVELS = (0.5, 0.9)
#: "above the frontier" when P(placed > trend line) exceeds this
P_ABOVE = 0.95


# ---------------------------------------------------------------------------
# scoring rules from draws
# ---------------------------------------------------------------------------

def mean_abs_diff(x: np.ndarray, y: np.ndarray) -> float:
    """E|X - Y| over all pairs of two samples, O((n + m) log n)."""
    xs = np.sort(np.asarray(x, float))
    y = np.asarray(y, float)
    cs = np.concatenate([[0.0], np.cumsum(xs)])
    k = np.searchsorted(xs, y)
    below = y * k - cs[k]
    above = (cs[-1] - cs[k]) - y * (len(xs) - k)
    return float(np.mean(below + above) / len(xs))


def crps_draws(pred: np.ndarray, obs: np.ndarray) -> float:
    """Energy-form CRPS of observation draws ``obs`` under the predictive sample ``pred``."""
    return mean_abs_diff(pred, obs) - 0.5 * mean_abs_diff(pred, pred)


def pit_draws(pred: np.ndarray, obs: np.ndarray) -> float:
    """P(X <= Y): the predictive CDF at the observation, averaged over the observation's draws."""
    xs = np.sort(np.asarray(pred, float))
    return float(np.mean(np.searchsorted(xs, np.asarray(obs, float), side="right")) / len(xs))


def crps_normal(mu: float, sd: float, y: float) -> float:
    z = (y - mu) / sd
    return float(sd * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / math.sqrt(math.pi)))


# ---------------------------------------------------------------------------
# the later models and their scores
# ---------------------------------------------------------------------------

def later_models(data, spec, cutoff, benchmarks=None) -> pd.DataFrame:
    """Models released after ``cutoff`` that the spec's filters admit (not reference models), with scores
    on ``benchmarks`` (default: the spec's). Columns of models.csv plus ``size``."""
    cut = pd.Timestamp(cutoff)
    benchmarks = list(spec.benchmarks if benchmarks is None else benchmarks)
    m = select_models(data, spec.replace(until=None))
    refs = set(data.reference_models(spec.reference)["model"]) if spec.reference in data.reference_sets else set()
    m = m[(m["release_date"] > cut) & ~m["name"].isin(refs)]
    scored = set(data.scores.loc[data.scores["benchmark"].isin(benchmarks), "model"])
    return m[m["name"].isin(scored)].sort_values(["release_date", "name"], ignore_index=True)


def _obs(link: _Link, scores: pd.DataFrame) -> list[tuple]:
    obs = []
    for _, s in scores.iterrows():
        b = link.benchmarks.index(s["benchmark"])
        n = int(link.n_items[b])
        obs.append((b, int(np.clip(round(float(s["score"]) * n), 0, n)), n, link.kind_index(s.get("source_kind"))))
    return obs


def predictive_draws(tree: xr.DataTree, f: np.ndarray, rng) -> np.ndarray:
    """One new model's log density per posterior draw around the trend values ``f`` (S,)."""
    form = scatter_form(tree)
    if form == "quantile":
        return quantile_random(f, draws(tree, "quantile_scale"), quantile_of(tree), rng=rng)
    if form == "frontier":
        sv, su = draws(tree, "frontier_sigma_v"), draws(tree, "frontier_sigma_u")
        return f + sv * rng.standard_normal(len(f)) - su * np.abs(rng.standard_normal(len(f)))
    return f + draws(tree, "trend_sigma") * rng.standard_normal(len(f))


def evaluate_later(tree: xr.DataTree, data, later: pd.DataFrame, *, prior: str = "flat", seed: int = 0,
                   keep_draws: bool = False) -> pd.DataFrame:
    """One row per later model: PIT, P(above the trend line), CRPS, predictive and placed quantiles."""
    if prior not in ("flat", "trend"):
        raise InputError(f"prior must be 'flat' or 'trend', got {prior!r}")
    rng = np.random.default_rng(seed)
    link = _Link(tree)
    rows = []
    for _, m in later.iterrows():
        sc = data.scores[(data.scores["model"] == m["name"]) & data.scores["benchmark"].isin(link.benchmarks)]
        if sc.empty:
            continue
        t = float(years_since(m["release_date"], link.t0)[0])
        placed, f = sample_log_density(link, float(np.log(m["size"])), t, _obs(link, sc), rng,
                                       flat_prior=prior == "flat", specialty=specialty_of(m))
        pred = predictive_draws(tree, f, rng)
        pq = np.quantile(pred, [0.05, 0.25, 0.5, 0.75, 0.95])
        row = {"name": m["name"], "release_date": pd.Timestamp(m["release_date"]).date().isoformat(),
               "t_years": t, "size": float(m["size"]), "n_scores": int(len(sc)),
               "placed_median": float(np.median(placed)), "placed_lo": float(np.quantile(placed, 0.05)),
               "placed_hi": float(np.quantile(placed, 0.95)), "trend_median": float(np.median(f)),
               "pred_q05": pq[0], "pred_q25": pq[1], "pred_median": pq[2], "pred_q75": pq[3], "pred_q95": pq[4],
               "pit": pit_draws(pred, placed), "p_above": float(np.mean(placed > f)),
               "crps": crps_draws(pred, placed)}
        if keep_draws:
            row["_placed"], row["_pred"] = placed, pred
        rows.append(row)
    return pd.DataFrame(rows)


def baseline_later(data, spec, cutoff, later: pd.DataFrame) -> pd.DataFrame:
    """The paper's method fitted up to ``cutoff``: one row per later model it can place (point density)."""
    from ..posterior.baseline import envelope, fit_links, fit_loss_law, point_densities

    inputs = prepare(data, spec.replace(until=str(pd.Timestamp(cutoff).date())))
    if len(inputs.loss) == 0:
        return pd.DataFrame()
    law = fit_loss_law(inputs)
    links = fit_links(inputs, law)
    env = envelope(point_densities(inputs, law, links))
    if len(env) < 3:
        return pd.DataFrame()
    origin = pd.Timestamp("2020-01-01")
    days = (pd.to_datetime(env["release_date"]) - origin).dt.days.to_numpy(float)
    y = env["log_density"].to_numpy(float)
    A, B = np.polyfit(days, y, 1)
    sd = float(np.std(y - (A * days + B), ddof=2))
    if not sd > 0:
        return pd.DataFrame()
    try:
        full = prepare(data, spec.replace(until=None))
    except InputError:
        return pd.DataFrame()
    pts = point_densities(full, law, links)
    pts = pts[pts["model"].isin(set(later["name"]))]
    rows = []
    for _, p in pts.iterrows():
        mu = float(A * (pd.Timestamp(p["release_date"]) - origin).days + B)
        yv = float(p["log_density"])
        rows.append({"name": p["model"], "point": yv, "line": mu, "sd": sd,
                     "pit": float(stats.norm.cdf((yv - mu) / sd)), "p_above": float(yv > mu),
                     "crps": crps_normal(mu, sd, yv)})
    return pd.DataFrame(rows)


def summarize(per_model: pd.DataFrame, levels=LEVELS, p_above: float = P_ABOVE) -> dict:
    """n_later, coverage_50, coverage_90 (PIT inside the central interval), share_above_p95, crps (mean)."""
    n = int(len(per_model))
    out = {"n_later": n}
    pit = per_model["pit"].to_numpy(float) if n else np.array([])
    for q in levels:
        out[f"coverage_{int(round(100 * q))}"] = float(np.mean(np.abs(pit - 0.5) <= q / 2)) if n else math.nan
    out[f"share_above_p{int(round(100 * p_above))}"] = (
        float(np.mean(per_model["p_above"].to_numpy(float) > p_above)) if n else math.nan)
    out["crps"] = float(per_model["crps"].mean()) if n else math.nan
    out["pit_mean"] = float(pit.mean()) if n else math.nan
    return out


# ---------------------------------------------------------------------------
# K-fold by model
# ---------------------------------------------------------------------------

def heldout_log_predictive(tree: xr.DataTree, data, models: pd.DataFrame) -> pd.DataFrame:
    """log p(scores of each held-out model | fit without it), its density integrated out (grid)."""
    link = _Link(tree)
    rows = []
    for _, m in models.iterrows():
        sc = data.scores[(data.scores["model"] == m["name"]) & data.scores["benchmark"].isin(link.benchmarks)]
        if sc.empty:
            continue
        t = float(years_since(m["release_date"], link.t0)[0])
        rows.append({"name": m["name"], "n_scores": int(len(sc)),
                     "elpd": log_predictive(link, float(np.log(m["size"])), t, _obs(link, sc))})
    return pd.DataFrame(rows, columns=["name", "n_scores", "elpd"])


def kfold_folds(names, k: int, seed: int = 0) -> list[list[str]]:
    """``names`` shuffled (seeded) and dealt into ``k`` folds of near-equal size."""
    if k < 2:
        raise InputError(f"K-fold needs K >= 2, got {k}")
    names = list(names)
    if len(names) < k:
        raise InputError(f"K-fold with K = {k} needs at least {k} models, got {len(names)}")
    order = np.random.default_rng(seed).permutation(len(names))
    return [[names[i] for i in order[j::k]] for j in range(k)]


def spec_of_run(tree: xr.DataTree):
    return Run.of(tree).spec

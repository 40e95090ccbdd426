"""Place new models on the density scale under a fitted posterior, without refitting.

Given the fitted parameters, a new model's log density r depends only on its
own scores and the trend prior at its release date. For every posterior draw
we evaluate that one-dimensional conditional posterior on a fine grid and draw
r from it: exact draws from p(r | new scores, fitted posterior), a standard
"posterior as prior" update that ignores only the new model's (tiny) feedback
on the shared parameters. Works for dates past the data (the trend is
extrapolated).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from ..inference.run import Run
from ..errors import InputError
from ..model.design import years_since
from ..model.joint import expected_score, zeta
from .summaries import draws, interval
from .trend_draws import trend_draws  # noqa: F401  (its old home)

GRID = np.linspace(-10.0, 8.0, 721)  # log density grid (nats), step 0.025


def trend_logpdf(tree: xr.DataTree, r: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Log prior density of log density r around trend value f, per draw (broadcasts)."""
    if bool(tree.attrs.get("frontier", 1)):
        sv = draws(tree, "frontier_sigma_v")
        su = draws(tree, "frontier_sigma_u")
        shape = (-1,) + (1,) * (np.ndim(r) - 1)
        sv, su = sv.reshape(shape), su.reshape(shape)
        return stats.skewnorm.logpdf(r, -su / sv, loc=f, scale=np.sqrt(sv**2 + su**2))
    sd = draws(tree, "trend_sigma").reshape((-1,) + (1,) * (np.ndim(r) - 1))
    return stats.norm.logpdf(r, loc=f, scale=sd)


class _Link:
    """Posterior draws of everything a new model's likelihood needs, read once."""

    def __init__(self, tree: xr.DataTree):
        const = tree.constant_data
        self.tree = tree
        self.benchmarks = list(const["benchmark"].to_numpy().astype(str))
        self.chance = const["chance"].to_numpy()
        self.n_items = const["n_items"].to_numpy()
        self.alpha = draws(tree, "alpha")[:, None]
        self.mu, self.kappa = draws(tree, "link_mu"), draws(tree, "link_kappa")
        self.ceil, self.phi = draws(tree, "ceiling"), draws(tree, "phi")
        self.x_a = float(np.mean(const["ref_log_params"].to_numpy()))
        self.t0 = Run.of(tree).t0

    def grid_logp(self, log_n: float, t_years: float, obs) -> tuple[np.ndarray, np.ndarray]:
        """Log of trend prior x likelihood on GRID per draw (S, G), and f(t) per draw (S,).

        ``obs``: iterable of (benchmark index, k, n).
        """
        f = trend_draws(self.tree, np.array([t_years]))  # (S, 1)
        logp = trend_logpdf(self.tree, GRID[None, :], f)
        z = zeta(log_n + GRID[None, :], self.alpha, self.x_a, xp=np)
        for b, k, n in obs:
            p = expected_score(z, self.chance[b], self.ceil[:, b:b + 1], self.kappa[:, b:b + 1],
                               self.mu[:, b:b + 1], xp=np)
            logp = logp + stats.betabinom.logpmf(k, n, p * self.phi[:, b:b + 1], (1 - p) * self.phi[:, b:b + 1])
        return logp, f[:, 0]


def log_predictive(link: _Link, log_n: float, t_years: float, obs) -> float:
    """log p(scores of a new model | fitted posterior): the trend prior integrated over r on the grid."""
    from scipy.special import logsumexp

    logp, _ = link.grid_logp(log_n, t_years, obs)
    per_draw = logsumexp(logp, axis=1) + np.log(GRID[1] - GRID[0])
    return float(logsumexp(per_draw) - np.log(len(per_draw)))


def place_models(tree: xr.DataTree, models: pd.DataFrame, scores: pd.DataFrame, prob: float = 0.9,
                 seed: int = 0) -> pd.DataFrame:
    """Effective size and density of new models, with intervals and P(above the trend line).

    ``models`` and ``scores`` follow the schema of models.csv and scores.csv;
    scores on benchmarks the fit did not use are ignored.
    """
    rng = np.random.default_rng(seed)
    link = _Link(tree)
    size_col = "active_params" if Run.of(tree).spec.size == "active" else "params"
    last_date = pd.to_datetime(tree.constant_data["release_date"].to_numpy()).max()
    rows = []
    for _, m in models.iterrows():
        sc = scores[(scores["model"] == m["name"]) & scores["benchmark"].isin(link.benchmarks)]
        if sc.empty:
            raise InputError(f"model {m['name']!r} has no scores on the fitted benchmarks {link.benchmarks}")
        size = m[size_col] if pd.notna(m.get(size_col)) else m["params"]
        t = float(years_since(m["release_date"], link.t0)[0])
        obs = []
        for _, s in sc.iterrows():
            b = link.benchmarks.index(s["benchmark"])
            n = int(link.n_items[b])
            obs.append((b, int(np.clip(round(float(s["score"]) * n), 0, n)), n))
        logp, f = link.grid_logp(float(np.log(size)), t, obs)
        logp -= logp.max(axis=1, keepdims=True)
        w = np.exp(logp)
        cdf = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
        idx = np.minimum((cdf < rng.random((len(w), 1))).sum(axis=1), len(GRID) - 1)
        r = GRID[idx] + rng.uniform(-0.0125, 0.0125, len(idx))
        med, lo, hi = interval(r, prob)
        rows.append({
            "name": m["name"], "release_date": pd.Timestamp(m["release_date"]).date().isoformat(),
            "params": float(size), "n_scores": int(len(sc)),
            "log_density": float(med),
            "density": {"median": float(np.exp(med)), "lo": float(np.exp(lo)), "hi": float(np.exp(hi))},
            "neff": {"median": float(size * np.exp(med)), "lo": float(size * np.exp(lo)),
                     "hi": float(size * np.exp(hi))},
            "p_above_trend": float(np.mean(r > f)),
            "beyond_data": bool(pd.Timestamp(m["release_date"]) > last_date),
        })
    return pd.DataFrame(rows)


def placement_json(df: pd.DataFrame) -> str:
    return json.dumps({"models": df.to_dict(orient="records")}, indent=2, default=str)

"""The fitted trend line f(t) for every posterior draw (shared by placement, projection and plots)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..inference.run import Run
from ..model.priors import prior
from ..model.trend import trend_value
from .summaries import draws

__all__ = ["trend_draws", "scatter_form", "quantile_of"]


def scatter_form(tree: xr.DataTree) -> str:
    """'frontier', 'quantile' or 'mean': :attr:`Run.scatter <bayes_density.inference.run.Run.scatter>`."""
    return Run.of(tree).scatter


def quantile_of(tree: xr.DataTree) -> float | None:
    """The quantile q of a quantile-frontier run, else None: :attr:`Run.quantile`."""
    return Run.of(tree).quantile


def trend_draws(tree: xr.DataTree, t_years: np.ndarray) -> np.ndarray:
    """Trend line f(t) for every posterior draw: shape (draws, len(t))."""
    run = Run.of(tree)
    spec = run.spec
    post = tree.posterior
    p = {k: draws(tree, k)[:, None] for k in ("intercept", "slope", "slope_change", "jump", "changepoint")
         if k in post}
    if spec.trend == "break":
        p["break_t"] = float(run.years(spec.break_date)[0])
    if spec.trend == "changepoint":
        p["switch_width"] = prior("switch_width", spec.priors)[1][0]
    return trend_value(np.asarray(t_years, float)[None, :], spec.trend, p, xp=np)

"""Model-level leave-one-out: the LLM, not the score, is the unit of prediction.

Per-score PSIS-LOO is unreliable here: a model with one or two scores alone sets
its own log density r_i, so leaving out one of its scores moves r_i a lot and the
importance ratios have heavy tails (Pareto k > 0.7 for a large share of scores).
And a score is not what a user predicts: the question is how well a fit predicts
a *new model's* scores.

Integrated (marginal) PSIS-LOO by model. For fitted model i and posterior draw s,

    ell_s(i) = log  integral  p(scores_i | r, theta_s) p(r | trend_s(t_i)) dr,

the model's own log density r (and, with domains, its domain deviations, by
Gauss-Hermite) integrated out on the placement grid
(:class:`bayes_density.posterior.placement._Link`), theta_s the draw's shared
parameters (link, floors, source offsets, trend, frontier noise). Leaving model i
out divides the joint posterior, r_i marginalised, by exactly exp(ell_s(i)), so
PSIS over the draws with ell as the pointwise log likelihood estimates

    elpd_i = log p(scores_i | all other models),

the log predictive density of model i's scores as a new model's (Vehtari, Mononen,
Tolvanen, Sivula and Winther 2016, JMLR 17(103), "Bayesian leave-one-out
cross-validation approximations for Gaussian latent variable models"; Merkle,
Furr and Rabe-Hesketh 2019, Psychometrika 84, on marginal vs conditional
likelihoods). The ratios depend on the shared parameters only, which one model
barely moves, so Pareto k stays small. Models whose k is still > 0.7 can be
refitted exactly without them (:func:`model_loo` with ``refit_bad``).

Reference models (their densities are pinned by the loss law) and targets are
not left out: the units are the fitted models of the ``model`` dimension.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import InputError
from ..inference.fit import inputs_from_tree, sample, spec_of
from ..posterior.placement import _Link, log_marginal, log_predictive
from ..posterior.summaries import thin_draws

#: draws used for the integrated log likelihood (thinned evenly across chains)
DEFAULT_MAX_DRAWS = 1000
#: Pareto k above which a model's PSIS estimate is unreliable (Vehtari et al. 2024, JMLR 25(72))
K_BAD = 0.7


def thin(tree: xr.DataTree, max_draws: int = DEFAULT_MAX_DRAWS) -> xr.DataTree:
    """The run with at most ``max_draws`` draws in all, evenly spaced in each chain (:func:`thin_draws`)."""
    post = tree["posterior"].to_dataset()
    small = thin_draws(post, max_draws)
    if small.sizes["draw"] == post.sizes["draw"]:
        return tree
    out = tree.copy()
    out["posterior"] = xr.DataTree(small)
    return out


def model_log_lik(tree: xr.DataTree, max_draws: int = DEFAULT_MAX_DRAWS) -> xr.DataTree:
    """The integrated log likelihood ell_s(i) of every fitted model (nats).

    Returns a DataTree with groups ``posterior`` (the thinned draws) and
    ``log_likelihood`` (variable ``model_scores``, dims chain, draw, model), ready
    for ArviZ's ``loo``/``compare``.
    """
    small = thin(tree, max_draws)
    inputs = inputs_from_tree(small)
    link = _Link(small)
    post = small["posterior"]
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    ell = np.empty((n_chain * n_draw, inputs.n_models))
    for i, obs in enumerate(inputs.obs_by_model()):
        if not obs:
            raise InputError(f"model {inputs.models[i]!r} has no scores in the run")
        ell[:, i] = log_marginal(link, float(inputs.log_params[i]), float(inputs.t[i]), obs, link.unit_specialty(i))
    ll = xr.Dataset({"model_scores": (("chain", "draw", "model"), ell.reshape(n_chain, n_draw, -1))},
                    coords={"chain": post["chain"].values, "draw": post["draw"].values,
                            "model": np.asarray(inputs.models, dtype=str)})
    return xr.DataTree.from_dict({"posterior": post.to_dataset(), "log_likelihood": ll})


def _psis(ll_tree: xr.DataTree):
    import arviz as az

    with warnings.catch_warnings():  # the k values are reported in the table, not as warnings
        warnings.simplefilter("ignore")
        return az.loo(ll_tree, var_name="model_scores", pointwise=True)


def model_loo(tree: xr.DataTree, max_draws: int = DEFAULT_MAX_DRAWS, refit_bad: int = 0, seed: int | None = None,
              draws: int = 500, tune: int = 500, chains: int = 2) -> pd.DataFrame:
    """Per fitted model: elpd (nats, log predictive density of its scores), Pareto k, method.

    ``method`` is ``psis`` (integrated PSIS-LOO) or ``refit`` where the model's k was
    above :data:`K_BAD` and one of the ``refit_bad`` exact refits without it replaced
    the estimate (worst k first; each refit samples ``chains x draws`` after ``tune``).
    """
    ll_tree = model_log_lik(tree, max_draws)
    loo = _psis(ll_tree)
    elpd = np.asarray(loo.elpd_i).ravel().astype(float)
    k = np.asarray(loo.pareto_k).ravel().astype(float)
    names = [str(m) for m in ll_tree["log_likelihood"]["model"].values]
    inputs = inputs_from_tree(tree)
    per = inputs.obs_by_model()
    table = pd.DataFrame({"model": names, "n_scores": [len(o) for o in per],
                          "elpd": elpd, "pareto_k": k, "method": "psis"})
    bad = [int(i) for i in np.argsort(-k) if k[i] > K_BAD][: max(0, int(refit_bad))]
    if bad:
        spec = spec_of(tree)
        s = spec.seed if seed is None else int(seed)
        for i in bad:
            keep = np.ones(inputs.n_models, bool)
            keep[i] = False
            fit = sample(inputs.subset_models(keep), spec, seed=s, draws=draws, tune=tune, chains=chains,
                         progress=False, log_likelihood=False)
            table.loc[i, "elpd"] = log_predictive(_Link(fit), float(inputs.log_params[i]), float(inputs.t[i]), per[i])
            table.loc[i, "method"] = "refit"
    return table


def model_loo_summary(table: pd.DataFrame) -> dict:
    """elpd (sum over models), its standard error, and the Pareto-k count of a :func:`model_loo` table."""
    e = table["elpd"].to_numpy()
    unresolved = (table["pareto_k"] > K_BAD) & (table["method"] == "psis")
    return {"elpd_loo": float(e.sum()), "se": float(math.sqrt(len(e) * np.var(e, ddof=1))) if len(e) > 1 else 0.0,
            "n_units": int(len(e)), "pareto_k_max": float(table["pareto_k"].max()),
            "n_pareto_k_bad": int(unresolved.sum()), "n_refit": int((table["method"] == "refit").sum())}

"""Prior checks that rebuild the PyMC model from a run: prior predictive and power-scaling sensitivity.

Prior predictive (implied score ranges per benchmark) and power-scaling prior
sensitivity (``psense_summary``) rebuild the PyMC model from the run; they need
the current model code to match the run's variables.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from ..inference.quiet import quiet
from ..inference.run import Run
from ..model.joint import build_model

__all__ = ["LATENT_VARS", "LOSS_LAW_VARS", "SENSITIVITY_VARS", "prior_groups", "prior_predictive", "prior_sensitivity"]

# free variables that are not power-scaled as priors: the loss law's, and the latent effects whose
# "prior" is the trend (log densities) or a broad placeholder (targets)
LOSS_LAW_VARS = ("log_alpha", "log_beta", "log_sN", "log_sD", "log_E", "loss_sigma", "loss_nu")
LATENT_VARS = ("log_density", "target_log_neff")
# posterior quantities whose sensitivity is reported
SENSITIVITY_VARS = ("slope", "slope_after", "intercept", "link_kappa", "link_mu", "ceiling")


# ---------------------------------------------------------------------------
# prior predictive and prior sensitivity (rebuild the model from the run)
# ---------------------------------------------------------------------------

def _rebuild(tree: xr.DataTree):
    run = Run.of(tree)
    inputs, spec = run.inputs, run.spec
    return inputs, spec, build_model(inputs, spec)


def prior_predictive(tree: xr.DataTree, draws: int = 500, seed: int = 0) -> pd.DataFrame:
    """Implied score ranges per benchmark under the prior (``pm.sample_prior_predictive``).

    Scores (k / n) of all observations under prior draws, pooled per benchmark:
    quantiles, the share at the chance floor (within 0.02) and above 0.95, next
    to the observed range. A prior whose scores cover the observed range
    without piling up at 0/1 is weakly informative on the score scale.
    """
    import pymc as pm

    inputs, spec, model = _rebuild(tree)
    with model, quiet(loggers=("pymc",), all_warnings=True):
        prior = pm.sample_prior_predictive(draws=draws, var_names=["k"], random_seed=seed)
    k = prior.prior_predictive["k"] if "prior_predictive" in prior.children else prior["prior_predictive"]["k"]
    s = k.to_numpy().reshape(-1, inputs.n_obs) / inputs.obs_n[None, :]
    obs = inputs.obs_k / inputs.obs_n
    rows = []
    for bi, name in enumerate(inputs.benchmarks):
        sel = inputs.obs_bench == bi
        if not sel.any():
            continue
        x = s[:, sel].ravel()
        q = np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95])
        rows.append({
            "benchmark": name, "chance": float(inputs.chance[bi]),
            "prior_q05": q[0], "prior_q25": q[1], "prior_median": q[2], "prior_q75": q[3], "prior_q95": q[4],
            "prior_share_at_floor": float(np.mean(x < inputs.chance[bi] + 0.02)),
            "prior_share_above_95": float(np.mean(x > 0.95)),
            "observed_min": float(obs[sel].min()), "observed_max": float(obs[sel].max()),
            "observed_in_prior_90": float(np.mean((obs[sel] >= q[0]) & (obs[sel] <= q[4]))),
        })
    return pd.DataFrame(rows)


def prior_groups(free: list[str]) -> dict[str, list[str]]:
    """Split a model's free variables into the priors power-scaled together: 'trend' and 'link'.

    Link: the ``link_*`` variables and ``log_phi``, except centred hierarchical
    effects (those with a ``NAME_mu`` hyperparameter: their hyperpriors are
    scaled instead). Trend: everything else that is neither the loss law nor a
    latent effect (intercept, slope, slope change, jump, change point, spreads).
    """
    free = list(free)
    link = [v for v in free if (v.startswith("link_") or v == "log_phi") and f"{v}_mu" not in free]
    hier = [v for v in free if f"{v}_mu" in free]
    trend = [v for v in free if v not in link and v not in hier and v not in LOSS_LAW_VARS
             and v not in LATENT_VARS]
    return {"trend": trend, "link": link}


def prior_sensitivity(tree: xr.DataTree, var_names=SENSITIVITY_VARS) -> pd.DataFrame:
    """Power-scaling sensitivity (ArviZ ``psense_summary``) of the trend and link results.

    Two rows per quantity element: the trend priors power-scaled together
    (``priors = "trend"``) and the link priors (``priors = "link"``), each
    against the whole likelihood (scores and, in joint mode, loss points).
    Sensitivity above 0.05 marks an informative prior; with likelihood
    sensitivity also above 0.05, a prior-data conflict.
    """
    import pymc as pm

    _, _, model = _rebuild(tree)
    free = [rv.name for rv in model.free_RVs]
    missing = [v for v in free if v not in tree.posterior]
    if missing:
        raise ValueError(f"the run's posterior lacks {missing}: it was fitted with another version of the model")
    t = xr.DataTree.from_dict({"posterior": tree.posterior.to_dataset()})
    with quiet(loggers=(), all_warnings=True):
        pm.compute_log_prior(t, model=model, progressbar=False)
        pm.compute_log_likelihood(t, model=model, progressbar=False)
    names = [v for v in var_names if v in tree.posterior]
    out = []
    for label, priors in prior_groups(free).items():
        if not priors:
            continue
        with quiet(loggers=("arviz_stats",), all_warnings=True):
            df = az.psense_summary(t, var_names=names, prior_var_names=priors)
        df = df.reset_index(names="quantity")
        df.insert(0, "priors", label)
        out.append(df)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()

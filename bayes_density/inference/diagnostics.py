"""Convergence diagnostics of a run: R-hat, ESS, divergences, E-BFMI, and what to do about them.

NUTS runs get the usual checks; an approximate run (:mod:`bayes_density.inference.fast`)
gets the same keys as NaN plus the approximation's own k-hat.
"""

from __future__ import annotations

import math
import warnings

import arviz as az
import numpy as np
import xarray as xr

__all__ = ["DIAGNOSTIC_EXCLUDE", "NOT_APPLICABLE", "approximate_diagnostics", "convergence_problems", "diagnostics",
           "stuck_chains"]

# parameters whose convergence is checked: every sampled quantity a user reads
DIAGNOSTIC_EXCLUDE = ("log_neff", "ref_log_density", "ceiling", "phi", "link_kappa", "alpha", "beta", "sN",
                      "sD", "E", "slope_after")


#: a chain whose adapted step size is below this share of the other chains' median is flagged as stuck
STUCK_STEP_RATIO = 0.2

#: keys of :func:`diagnostics` that have no meaning for an approximation
NOT_APPLICABLE = ("rhat_max", "ess_bulk_min", "ess_tail_min", "divergences", "ebfmi_min")


def diagnostics(tree: xr.DataTree) -> dict:
    """Convergence: max R-hat, min bulk/tail ESS (with the variable), divergences, min E-BFMI.

    For an approximate run (:mod:`bayes_density.inference.fast`) these do not apply: see
    :func:`approximate_diagnostics` (NaN, plus the approximation's k-hat).
    """
    if int(tree.attrs.get("approximate", 0)):
        return approximate_diagnostics(tree)
    names = [v for v in tree.posterior.data_vars if v not in DIAGNOSTIC_EXCLUDE]
    # a parameter held constant (a fixed source offset, a floor at its nominal value) has R-hat 0/0:
    # NaN, left out below, without numpy's warning
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rhat = az.rhat(tree, var_names=names)
        ess_b = az.ess(tree, var_names=names, method="bulk")
        ess_t = az.ess(tree, var_names=names, method="tail")

    def extreme(ds, fn):
        best_v, best_x = None, None
        for v in ds.data_vars:
            vals = np.asarray(ds[v]).ravel()
            vals = vals[np.isfinite(vals)]
            if vals.size == 0:
                continue
            x = fn(vals)
            if best_x is None or fn([x, best_x]) == x:
                best_v, best_x = v, x
        return best_v, float(best_x) if best_x is not None else float("nan")

    rv, rmax = extreme(rhat, np.max)
    bv, bmin = extreme(ess_b, np.min)
    tv, tmin = extreme(ess_t, np.min)
    stats = tree.sample_stats
    div = int(stats["diverging"].sum()) if "diverging" in stats else 0
    try:
        bfmi = np.asarray(az.bfmi(tree)["energy"]).ravel() if "energy" in stats else np.array([np.nan])
    except Exception:  # noqa: BLE001 - a diagnostic must never break a report
        bfmi = np.array([np.nan])
    n_draws = int(tree.posterior.sizes["chain"] * tree.posterior.sizes["draw"])
    stuck, steps = stuck_chains(stats)
    return {
        "rhat_max": rmax, "rhat_max_var": rv,
        "ess_bulk_min": bmin, "ess_bulk_min_var": bv,
        "ess_tail_min": tmin, "ess_tail_min_var": tv,
        "divergences": div, "ebfmi_min": float(np.nanmin(bfmi)),
        "chains": int(tree.posterior.sizes["chain"]), "draws": n_draws,
        "stuck_chains": stuck, "chain_step_sizes": steps,
    }


def stuck_chains(stats) -> tuple[list[int], list[float]]:
    """Chains whose warm-up adapted a step size far below the others': (indices, mean step size per chain).

    A chain that spends its warm-up outside the posterior's bulk adapts its step size and
    mass matrix to that region and keeps them: it moves by tiny steps, often at the maximum
    tree depth, and its draws trail the others' (on the shipped data, specialists spec, seed
    3: step size 0.009 against 0.11-0.14, 1,023 leapfrog steps per draw, its log density still
    rising through the draws). Flagged: step size below ``STUCK_STEP_RATIO`` x the median of the
    other chains'. Needs ``step_size`` in ``stats`` (nutpie and PyMC record it); [] otherwise.
    """
    if "step_size" not in stats or "chain" not in stats["step_size"].dims or stats.sizes["chain"] < 2:
        return [], []
    steps = np.asarray(stats["step_size"].mean("draw"), dtype=float)
    out = []
    for c in range(steps.size):
        others = np.delete(steps, c)
        if np.isfinite(steps[c]) and steps[c] < STUCK_STEP_RATIO * np.nanmedian(others):
            out.append(c)
    return out, [float(x) for x in steps]


def convergence_problems(diag: dict) -> list[str]:
    """Plain-language warnings, each with what to try."""
    out = []
    if diag.get("approximate") and diag.get("fast_method") == "subsample":
        out.append(f"subsample fast path: NUTS on {diag.get('subsample_n')} of the models, the others placed "
                   "on its posterior (their information about the trend is not used); confirm with a full fit "
                   "(bayes-density fit)")
        r, e, d = (diag.get(k, math.nan) for k in ("subsample_rhat_max", "subsample_ess_bulk_min",
                                                  "subsample_divergences"))
        if not (r <= 1.01 and e >= 400 and d == 0):
            out.append(f"the subsample's NUTS fit is not converged (R-hat {r:.3f}, bulk ESS {e:.0f}, "
                       f"{d} divergences): run more tuning/draws")
        return out
    if diag.get("approximate"):
        k = diag.get("fast_khat", float("nan"))
        out.append(f"approximate fit ({diag.get('fast_method')}): not a posterior sample, intervals are too "
                   f"narrow{f'; k-hat {k:.2f}' if np.isfinite(k) else ''}; confirm with NUTS (bayes-density fit)")
        return out
    if diag.get("stuck_chains"):
        steps = diag.get("chain_step_sizes", [])
        for c in diag["stuck_chains"]:
            others = [x for i, x in enumerate(steps) if i != c]
            out.append(f"chain {c} is stuck: step size {steps[c]:.3g} against the others' "
                       f"{min(others):.3g}-{max(others):.3g}; its warm-up adapted to a region outside the "
                       "posterior's bulk (its draws lag the others'); rerun with another --seed (and if the spec "
                       "says [sampler] init = \"jitter\", try init = \"advi\")")
    if diag["rhat_max"] > 1.01:
        out.append(f"R-hat {diag['rhat_max']:.3f} > 1.01 ({diag['rhat_max_var']}): chains disagree; "
                   "run more tuning/draws or check the model for multiple modes")
    if diag["ess_bulk_min"] < 400:
        out.append(f"bulk ESS {diag['ess_bulk_min']:.0f} < 400 ({diag['ess_bulk_min_var']}): "
                   "intervals are noisy; run more draws")
    if diag["divergences"] > 0:
        out.append(f"{diag['divergences']} divergent transitions: the posterior has regions NUTS cannot explore; "
                   "results may be biased -- check priors and data for the flagged models")
    if np.isfinite(diag["ebfmi_min"]) and diag["ebfmi_min"] < 0.3:
        out.append(f"E-BFMI {diag['ebfmi_min']:.2f} < 0.3: poor energy exploration (heavy tails or a funnel)")
    return out


def approximate_diagnostics(tree: xr.DataTree) -> dict:
    """:func:`diagnostics`, made explicit for an approximate run.

    For a NUTS run this is ``diagnostics(tree)``. For a run of :func:`fit_fast`
    (``attrs["approximate"]``) R-hat, bulk/tail ESS, divergences and E-BFMI are NaN
    (their ``*_var`` keys None): independent draws from a fitted approximation have no
    chains to compare and no transitions, and their ESS would measure the draws from
    the approximation, not the posterior. The same keys are kept, so
    :func:`convergence_problems` accepts the dict (and, rightly,
    raises nothing from them). Added: ``approximate`` (True), ``fast_method``,
    ``fast_khat`` (NaN when not computed), ``advi_loss_final`` (ADVI) and ``note``.
    """
    if not int(tree.attrs.get("approximate", 0)):
        return diagnostics(tree)
    sizes = tree.posterior.sizes
    out = {}
    for key in NOT_APPLICABLE:
        out[key] = math.nan
        if key != "divergences" and key != "ebfmi_min":
            out[f"{key}_var"] = None
    out.update(
        chains=int(sizes["chain"]), draws=int(sizes["chain"] * sizes["draw"]), approximate=True,
        fast_method=tree.attrs.get("fast_method"), fast_khat=float(tree.attrs.get("fast_khat", math.nan)),
        note="approximation: R-hat, ESS, divergences and E-BFMI do not apply (NaN); "
             "fast_khat > 0.7 means the approximation is far from the posterior",
    )
    if "advi_loss_final" in tree.attrs:
        out["advi_loss_final"] = float(tree.attrs["advi_loss_final"])
    if out["fast_method"] == "subsample":  # its NUTS part has MCMC diagnostics of its own
        out["note"] = ("subsample fast path: R-hat, ESS and divergences of the whole run do not apply (NaN); "
                       "subsample_* are those of the NUTS fit to the subsample")
        for key in ("subsample_n", "subsample_rhat_max", "subsample_ess_bulk_min", "subsample_divergences"):
            out[key] = tree.attrs[key].item() if hasattr(tree.attrs[key], "item") else tree.attrs[key]
    return out

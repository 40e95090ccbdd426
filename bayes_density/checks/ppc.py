"""Model checks on a fitted run: posterior predictive, LOO-PIT, Pareto-k, residuals, priors.

Everything here reads the run's DataTree only (posterior, constant_data,
observed_data, log_likelihood), so ``bayes-density check RUN.nc`` works on a
saved file. The run does not store a posterior predictive; it is recomputed
from the posterior with the model's link (see :mod:`bayes_density.model.joint`)::

    x_u     = log_neff (fitted models), ref_log_params + ref_log_density (references),
              target_log_neff (targets)                      -- units in obs_unit order
    zeta_u  = (1 - exp(-alpha (x_u - x_a))) / alpha,   x_a = mean(ref_log_params)
    p_o     = g_b + (h_b - g_b) sigmoid(kappa_b (zeta_u - mu_b))
    k_o     ~ BetaBinomial(n_o, p_o phi_b, (1 - p_o) phi_b)   (robust_scores: the two-component
              mixture of model.joint's "Score noise")

Checks (all on the score likelihood ``k``):

- LOO-PIT (discrete ties randomised): uniform on [0, 1] when the model predicts
  held-out scores well. ``loo_pit_ks_p`` is the Kolmogorov-Smirnov p-value
  against the uniform. Fitted models' scores use the integrated LOO predictive
  (:mod:`bayes_density.checks.integrated_loo`: the model's density and domain
  deviation integrated out given each posterior draw), references' and targets'
  ArviZ's PSIS ``loo_pit``; ``loo_pit_ks_p_psis`` is the all-PSIS value, kept for
  comparison (PSIS is unreliable where one score sets a model's density).
- Pareto-k of PSIS-LOO (``az.loo``): above 0.7 the LOO estimate for that
  score is unreliable (a score with high leverage on its own model's density).
- Standardised residuals z = (observed - predictive mean) / predictive sd,
  per score, from the posterior predictive; summarised per benchmark and,
  when the scores carry several harnesses, per harness (a harness whose z
  spread is well above 1 is noisier than the model's one precision per
  benchmark allows).
- Prior predictive and prior sensitivity: :mod:`bayes_density.checks.sensitivity`.

Compute only: tidy tables and plain dicts; figures and text are in
:mod:`bayes_density.present`.
"""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from ..model.joint import domain_columns, draw_scores, expected_score, score_variance, with_reference_kind, zeta
from ..inference.diagnostics import convergence_problems, diagnostics
from .integrated_loo import integrated_loo_pit
from .sensitivity import (LATENT_VARS, LOSS_LAW_VARS, SENSITIVITY_VARS, prior_groups,  # noqa: F401  (old home)
                          prior_predictive, prior_sensitivity)

SAMPLE_DIMS = ("chain", "draw")
PARETO_K_BAD = 0.7
KS_P_WARN = 0.01  # LOO-PIT KS p-value below which calibration is flagged
Z_LARGE = 3.0  # |standardised residual| counted as large
LARGE_SHARE_WARN = 0.03  # share of scores with |z| > 3 above which the fit is flagged

# ---------------------------------------------------------------------------
# posterior predictive
# ---------------------------------------------------------------------------

def _post(tree: xr.DataTree, name: str) -> xr.DataArray:
    return tree.posterior[name].transpose("chain", "draw", ...)


def unit_log_neff(tree: xr.DataTree) -> xr.DataArray:
    """Log effective size x per unit (models, then references, then targets): (chain, draw, unit)."""
    const = tree.constant_data
    parts = [_post(tree, "log_neff").rename(model="unit").to_numpy()]
    ref_x = const["ref_log_params"].to_numpy()[None, None, :] + _post(tree, "ref_log_density").to_numpy()
    parts.append(ref_x)
    names = list(const["model"].to_numpy().astype(str)) + list(const["reference"].to_numpy().astype(str))
    if "target_log_neff" in tree.posterior:
        parts.append(_post(tree, "target_log_neff").to_numpy())
        names += list(tree.posterior["target"].to_numpy().astype(str))
    x = np.concatenate(parts, axis=-1)
    post = tree.posterior
    return xr.DataArray(x, dims=("chain", "draw", "unit"),
                        coords={"chain": post["chain"], "draw": post["draw"], "unit": names})


def observation_shifts(tree: xr.DataTree, u: np.ndarray, b: np.ndarray):
    """Per (chain, draw, obs): the domain deviation and the source-kind offset (both on the loss axis).

    Zero where the run has neither (the measurement model in :mod:`bayes_density.model`).
    """
    const, post = tree.constant_data, tree.posterior
    x_shift = z_shift = 0.0
    if "domain_dev" in post:
        dev = _post(tree, "domain_dev").to_numpy()  # (C, D, unit, domain)
        full = np.concatenate([dev, np.zeros(dev.shape[:-1] + (1,))], axis=-1)
        x_shift = full[..., u, domain_columns(const["bench_domain"].to_numpy(), dev.shape[-1])[b]]
    if "source_offset" in post:
        off = _post(tree, "source_offset").to_numpy()  # (C, D, kind, family)
        full = with_reference_kind(off, axis=2)
        fam = const["bench_family"].to_numpy().astype(int)[b]
        z_shift = full[..., const["obs_kind"].to_numpy().astype(int), fam]
    return x_shift, z_shift


def predicted_p(tree: xr.DataTree) -> xr.DataArray:
    """Expected score p per (chain, draw, obs) from the link (before beta-binomial noise)."""
    const = tree.constant_data
    x = unit_log_neff(tree).to_numpy()
    u = const["obs_unit"].to_numpy().astype(int)
    b = const["obs_bench"].to_numpy().astype(int)
    if u.max(initial=-1) >= x.shape[-1]:
        raise ValueError(f"obs_unit refers to unit {u.max()} but the posterior has {x.shape[-1]} units")
    alpha = _post(tree, "alpha").to_numpy()[..., None]
    x_a = float(np.mean(const["ref_log_params"].to_numpy()))
    x_shift, z_shift = observation_shifts(tree, u, b)
    z = zeta(x, alpha, x_a, xp=np)[..., u] + x_shift + z_shift  # (C, D, obs)
    g = _post(tree, "floor").to_numpy()[..., b] if "floor" in tree.posterior else const["chance"].to_numpy()[b]
    h = _post(tree, "ceiling").to_numpy()[..., b]
    kappa = _post(tree, "link_kappa").to_numpy()[..., b]
    mu = _post(tree, "link_mu").to_numpy()[..., b]
    p = expected_score(z, g, h, kappa, mu, xp=np)
    post = tree.posterior
    return xr.DataArray(p, dims=("chain", "draw", "obs"),
                        coords={"chain": post["chain"], "draw": post["draw"], "obs": const["obs"]}, name="p")


def posterior_predictive(tree: xr.DataTree, seed: int | None = 0) -> xr.DataArray:
    """Replicated score counts ``k`` per (chain, draw, obs), drawn from the posterior with numpy.

    For each posterior draw: p from the link, q ~ Beta(p phi, (1 - p) phi),
    k ~ Binomial(n, q) (a beta-binomial draw). Returns a DataArray named ``k``
    with the run's obs coordinate; :func:`with_posterior_predictive` puts it in
    a ``posterior_predictive`` group.
    """
    rng = np.random.default_rng(seed)
    const = tree.constant_data
    p = predicted_p(tree)
    b = const["obs_bench"].to_numpy().astype(int)
    n = const["obs_n"].to_numpy().astype(np.int64)
    phi = _post(tree, "phi").to_numpy()[..., b]
    k = draw_scores(rng, n, p.to_numpy(), phi, *_outlier_draws(tree))
    return xr.DataArray(k.astype(np.int64), dims=p.dims, coords=p.coords, name="k")


def _outlier_draws(tree: xr.DataTree) -> tuple:
    """(share, precision) of the robust score noise's wide component per (chain, draw, 1), or (None, None)."""
    if "outlier_share" not in tree.posterior:
        return None, None
    return tuple(_post(tree, v).to_numpy()[..., None] for v in ("outlier_share", "outlier_phi"))


def predictive_moments(tree: xr.DataTree) -> tuple[np.ndarray, np.ndarray]:
    """Exact posterior predictive mean and sd of ``k`` per obs (mixture of beta-binomials over draws)."""
    const = tree.constant_data
    b = const["obs_bench"].to_numpy().astype(int)
    n = const["obs_n"].to_numpy().astype(float)
    p = predicted_p(tree).to_numpy()
    phi = _post(tree, "phi").to_numpy()[..., b]
    m = n * p
    v = score_variance(n, p, phi, *_outlier_draws(tree))
    mean = m.mean(axis=(0, 1))
    var = v.mean(axis=(0, 1)) + m.var(axis=(0, 1))
    return mean, np.sqrt(var)


def with_posterior_predictive(tree: xr.DataTree, seed: int | None = 0,
                              pp: xr.DataArray | None = None) -> xr.DataTree:
    """A shallow copy of the run with a ``posterior_predictive`` group (``k``) added."""
    pp = posterior_predictive(tree, seed) if pp is None else pp
    out = tree.copy()
    out["posterior_predictive"] = xr.DataTree(xr.Dataset({"k": pp}))
    return out


# ---------------------------------------------------------------------------
# LOO, LOO-PIT, residuals
# ---------------------------------------------------------------------------

def pareto_k(tree: xr.DataTree) -> np.ndarray:
    """PSIS-LOO Pareto-k per score observation."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loo = az.loo(tree, var_name="k", pointwise=True)
    return np.asarray(loo.pareto_k).ravel()


def loo_pit(tree: xr.DataTree, pp: xr.DataArray | None = None, seed: int | None = 0) -> np.ndarray:
    """LOO-PIT value per score observation (ArviZ ``loo_pit``; ties randomised with ``seed``)."""
    t = with_posterior_predictive(tree, seed, pp)
    t = xr.DataTree.from_dict({
        "posterior": t.posterior.to_dataset(),
        "posterior_predictive": t.posterior_predictive.to_dataset(),
        "log_likelihood": t.log_likelihood.to_dataset()[["k"]],
        "observed_data": t.observed_data.to_dataset()[["k"]],
    })
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pit = az.loo_pit(t, var_names="k", random_state=0 if seed is None else seed)
    return np.asarray(pit["k"]).ravel()


def uniformity(pit: np.ndarray) -> dict:
    """KS test of PIT values against U(0, 1), and the share outside the central 90% / 98%."""
    pit = np.asarray(pit, float)
    pit = pit[np.isfinite(pit)]
    ks = stats.kstest(pit, "uniform")
    return {
        "loo_pit_ks_stat": float(ks.statistic),
        "loo_pit_ks_p": float(ks.pvalue),
        "loo_pit_share_outside_90": float(np.mean((pit < 0.05) | (pit > 0.95))),
        "loo_pit_share_outside_98": float(np.mean((pit < 0.01) | (pit > 0.99))),
        "loo_pit_n": int(pit.size),
    }


def obs_table(tree: xr.DataTree, pp: xr.DataArray | None = None, pit: np.ndarray | None = None,
              kvals: np.ndarray | None = None) -> pd.DataFrame:
    """One row per score: unit, benchmark, harness, observed and predicted score (fraction), z, PIT, Pareto-k."""
    const = tree.constant_data
    n = const["obs_n"].to_numpy().astype(float)
    k = tree.observed_data["k"].to_numpy().astype(float)
    mean, sd = predictive_moments(tree)
    benches = np.asarray(const["benchmark"].to_numpy().astype(str))
    n_models = int(const.sizes.get("model", 0))
    n_refs = int(const.sizes.get("reference", 0))
    u = const["obs_unit"].to_numpy().astype(int)
    kind = np.where(u < n_models, "model", np.where(u < n_models + n_refs, "reference", "target"))
    df = pd.DataFrame({
        "obs": const["obs"].to_numpy(),
        "model": const["obs_unit_name"].to_numpy().astype(str),
        "unit_kind": kind,
        "benchmark": benches[const["obs_bench"].to_numpy().astype(int)],
        "harness": const["obs_harness"].to_numpy().astype(str) if "obs_harness" in const else "",
        "n_items": n.astype(int),
        "observed": k / n,
        "predicted_mean": mean / n,
        "predicted_sd": sd / n,
        "z": (k - mean) / np.where(sd > 0, sd, np.nan),
    })
    if pp is not None:
        lo, hi = np.quantile(pp.to_numpy().reshape(-1, pp.shape[-1]), [0.05, 0.95], axis=0)
        df["predicted_lo"] = lo / n
        df["predicted_hi"] = hi / n
    if pit is not None:
        df["loo_pit"] = pit
    if kvals is not None:
        df["pareto_k"] = kvals
    return df


def worst_residuals(table: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """The ``top`` scores with the largest |z|, one tidy row each."""
    cols = [c for c in ("model", "benchmark", "harness", "observed", "predicted_mean", "predicted_sd", "z",
                        "loo_pit", "pareto_k") if c in table]
    order = table["z"].abs().sort_values(ascending=False).index[:top]
    return table.loc[order, cols].reset_index(drop=True)


def ppc_by_benchmark(table: pd.DataFrame, by: str = "benchmark") -> pd.DataFrame:
    """Per benchmark (or per ``by`` column, e.g. harness): mean observed vs predicted score, residual spread
    (z sd: 1 when the predictive spread is right; in sample), 90% coverage, LOO-PIT KS p.

    ``coverage_90``: share of the scores inside their central 90% leave-one-out predictive interval
    (LOO-PIT between 0.05 and 0.95) where the table has LOO-PIT values, else inside the in-sample
    posterior predictive's 5-95% quantiles (which a score helped place, and which, as quantiles of
    counts, include their end points: above 0.9 by construction for a well-fitted model).
    """
    rows = []
    for b, g in table.groupby(by, sort=False):
        row = {
            by: b,
            "n_scores": int(len(g)),
            "observed_mean": float(g["observed"].mean()),
            "predicted_mean": float(g["predicted_mean"].mean()),
            "observed_sd": float(g["observed"].std(ddof=0)),
            "predicted_sd_mean": float(g["predicted_sd"].mean()),
            "rmse": float(np.sqrt(np.mean((g["observed"] - g["predicted_mean"]) ** 2))),
            "z_sd": float(g["z"].std(ddof=0)),
            "n_abs_z_gt_3": int((g["z"].abs() > Z_LARGE).sum()),
        }
        pit = g["loo_pit"].dropna() if "loo_pit" in g else pd.Series(dtype=float)
        if len(pit):
            row["coverage_90"] = float(np.mean((pit >= 0.05) & (pit <= 0.95)))
        elif "predicted_lo" in g:
            row["coverage_90"] = float(np.mean((g["observed"] >= g["predicted_lo"]) & (g["observed"] <= g["predicted_hi"])))
        if "loo_pit" in g:
            row["loo_pit_ks_p"] = float(stats.kstest(g["loo_pit"].dropna(), "uniform").pvalue) if len(g) > 1 else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# the check report
# ---------------------------------------------------------------------------

def _plain(v):
    """A JSON-ready Python value at full precision (NaN -> None, numpy scalars -> Python, dates -> ISO)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return v


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: _plain(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def check_dict(tree: xr.DataTree, seed: int = 0, top: int = 10,
               sensitivity: bool = True, prior_draws: int = 300, diag: dict | None = None) -> dict:
    """All checks of one run as plain numbers (JSON-ready).

    Keys: ``loo_pit_ks_p`` (and KS statistic, tail shares), ``pareto_k_max``,
    ``n_pareto_k_bad`` (k > 0.7), ``rhat_max``, ``divergences`` (and the rest of
    :func:`bayes_density.summaries.diagnostics`), ``n_abs_z_gt_3``,
    ``worst_residuals`` (top rows), ``ppc_by_benchmark``, ``calibration_ok``,
    ``warnings`` (each with what to try); with ``sensitivity``, also
    ``prior_sensitivity`` and ``prior_predictive`` (or ``sensitivity_error``
    when the model cannot be rebuilt). Figures: :func:`bayes_density.present.plots.write_check_figures`.
    ``diag``: precomputed
    :func:`~bayes_density.summaries.diagnostics` of the run (saves recomputing).
    """
    return run_checks(tree, seed=seed, top=top, sensitivity=sensitivity, prior_draws=prior_draws, diag=diag)[0]


def run_checks(tree: xr.DataTree, seed: int = 0, top: int = 10, sensitivity: bool = True,
               prior_draws: int = 300, diag: dict | None = None):
    """:func:`check_dict` and what it computed on the way: (dict, posterior predictive, LOO-PIT, obs table)."""
    diag = diagnostics(tree) if diag is None else diag
    pp = posterior_predictive(tree, seed)
    kvals = pareto_k(tree)
    pit_psis = loo_pit(tree, pp, seed)
    pit_int = integrated_loo_pit(tree, seed=seed)
    pit = np.where(np.isfinite(pit_int), pit_int, pit_psis)
    uni = uniformity(pit)
    table = obs_table(tree, pp, pit, kvals)
    n_large = int((table["z"].abs() > Z_LARGE).sum())
    share_large = n_large / max(len(table), 1)
    n_bad = int(np.sum(kvals > PARETO_K_BAD))
    out = {
        "model_name": tree.attrs.get("model_name"),
        "trend": tree.attrs.get("trend"),
        "n_scores": int(len(table)),
        **uni,
        "loo_pit_n_integrated": int(np.isfinite(pit_int).sum()),
        "loo_pit_ks_p_psis": uniformity(pit_psis)["loo_pit_ks_p"],
        "pareto_k_max": float(np.nanmax(kvals)),
        "n_pareto_k_bad": n_bad,
        "n_abs_z_gt_3": n_large,
        "share_abs_z_gt_3": float(share_large),
        **diag,
    }
    warn = list(convergence_problems(diag))
    if uni["loo_pit_ks_p"] < KS_P_WARN:
        shape, advice = _pit_shape(pit)
        warn.append(f"LOO-PIT is not uniform (KS p = {uni['loo_pit_ks_p']:.2g}; {shape}): held-out scores are "
                    f"mis-predicted; {advice}")
    if share_large > LARGE_SHARE_WARN:
        warn.append(
            f"{n_large} of {len(table)} scores ({100 * share_large:.1f}%) lie more than {Z_LARGE:g} predictive sd "
            "from the prediction: the beta-binomial spread (phi) or the link shape does not fit; check those "
            "models' harnesses and sources for errors or contamination")
    if n_bad:
        warn.append(
            f"{n_bad} scores have Pareto k > {PARETO_K_BAD} (max {out['pareto_k_max']:.2f}): PSIS-LOO is "
            "unreliable for them (often models with one or two scores, which alone set their density); "
            "treat LOO comparisons with care, or use K-fold / leave-future-out (bayes-density compare --lfo)")
    out["calibration_ok"] = bool(uni["loo_pit_ks_p"] >= KS_P_WARN and share_large <= LARGE_SHARE_WARN)
    out["worst_residuals"] = _records(worst_residuals(table, top))
    out["ppc_by_benchmark"] = _records(ppc_by_benchmark(table))
    if table["harness"].nunique() > 1:
        by_h = ppc_by_benchmark(table, by="harness")
        out["ppc_by_harness"] = _records(by_h)
        for _, r in by_h[(by_h["n_scores"] >= 20) & (by_h["z_sd"] > 1.3)].iterrows():
            warn.append(f"harness {r['harness']!r}: its {r['n_scores']} scores scatter {r['z_sd']:.1f}x the "
                        "predictive sd (coverage of the 90% intervals "
                        f"{r.get('coverage_90', float('nan')):.2f}): it is noisier than the model's one spread per "
                        "benchmark; consider dropping it or modelling its precision separately")
    if sensitivity:
        try:
            ps = prior_sensitivity(tree)
            out["prior_sensitivity"] = _records(ps)
            flagged = ps[ps["diagnosis"] != "✓"] if len(ps) else ps
            for _, r in flagged.iterrows():
                if r["quantity"] in ("slope", "slope_after"):  # the headline: slope -> doubling time
                    warn.append(f"prior sensitivity: {r['quantity']} under the {r['priors']} priors: "
                                f"{r['diagnosis']} (prior {r['prior']:.3f}, likelihood {r['likelihood']:.3f}); "
                                "refit with wider/narrower priors in the spec's [priors] table and compare")
            out["prior_predictive"] = _records(prior_predictive(tree, draws=prior_draws, seed=seed))
        except Exception as e:  # noqa: BLE001 - the other checks stand on their own
            out["sensitivity_error"] = f"{type(e).__name__}: {e}"
    out["warnings"] = warn
    return out, pp, pit, table


def _pit_shape(pit: np.ndarray) -> tuple[str, str]:
    """How LOO-PIT values depart from uniform, in plain words, and what to try."""
    pit = np.asarray(pit, float)
    pit = pit[np.isfinite(pit)]
    tails = float(np.mean((pit < 0.05) | (pit > 0.95)))  # nominal 0.10
    centre = float(np.mean((pit > 0.4) & (pit < 0.6)))  # nominal 0.20
    m = float(np.mean(pit))
    shares = f"{100 * tails:.0f}% in the outer 10%, {100 * centre:.0f}% in the central 20%"
    if tails > 0.12 and centre > 0.24:
        return (f"{shares}: some scores are tighter and others looser than one beta-binomial spread per "
                "benchmark allows",
                "check whether the spread differs between harnesses or sources (precision per harness, or drop "
                "the noisy source) and look at the worst residuals' harnesses")
    if tails > 0.15:
        return (f"{shares}: predictive intervals too narrow",
                "look for outlying scores (data errors, contamination) in the worst residuals, or loosen the "
                "beta-binomial precision prior (log_phi)")
    if tails < 0.06 or centre > 0.28:
        return (f"{shares}: predictive intervals too wide",
                "the precision prior (log_phi) or the link may be too loose; check the PPC per benchmark")
    if abs(m - 0.5) > 0.04:
        return (f"mean PIT {m:.2f}: scores {'above' if m > 0.5 else 'below'} the prediction on average",
                "look for a benchmark or harness with a systematic offset in the PPC per benchmark")
    return (f"{shares}, mean {m:.2f}",
            "look at the PPC per benchmark and the worst residuals; try a more flexible link (ceiling prior) "
            "or per-harness offsets")

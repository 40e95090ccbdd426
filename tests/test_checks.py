"""Model checks: posterior predictive (numpy vs PyMC), LOO-PIT calibration on a right and a wrong model."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import xarray as xr

from bayes_density.checks import ppc as checks
from bayes_density.present.plots import write_check_figures
from bayes_density.present.text import format_checks
from bayes_density.model.joint import anchor

from .conftest import sim_spec


def mixed_harness_inputs(inputs, truth, seed: int = 7, noisy_share: float = 0.3, phi_noisy: float = 10.0,
                         phi_tight: float = 5000.0):
    """Scores from a model the fit does not have: two harnesses with very different spreads.

    The mean score follows the true link exactly, but 30% of the scores come
    from a noisy harness (beta-binomial precision 10) and the rest from a tight
    one (5000), where the fitted model has one precision per benchmark. (A wrong
    link shape -- linear instead of sigmoid, or a ceiling at half the way from
    chance to 1 -- was tried too: the per-model densities and the free
    per-benchmark link absorb it, LOO-PIT KS p 0.42 and 0.47 on this design,
    so it is not a usable "wrong model" for a detection test.)
    """
    rng = np.random.default_rng(seed)
    alpha = float(np.exp(truth["log_alpha"]))
    x = np.concatenate([inputs.log_params + truth["log_density"], inputs.ref_log_params + truth["ref_log_density"]])
    zeta = -np.expm1(-alpha * (x - anchor(inputs))) / alpha
    u, b = inputs.obs_unit, inputs.obs_bench
    g, h = inputs.chance[b], truth["ceiling"][b]
    p = g + (h - g) / (1 + np.exp(-truth["link_kappa"][b] * (zeta[u] - truth["link_mu"][b])))
    p = np.clip(p, 1e-6, 1 - 1e-6)
    noisy = rng.random(len(p)) < noisy_share
    phi = np.where(noisy, phi_noisy, phi_tight)
    q = rng.beta(p * phi, (1 - p) * phi)
    out = copy.deepcopy(inputs)
    out.obs_k = rng.binomial(inputs.obs_n, q).astype(np.int64)
    out.obs_harness = list(np.where(noisy, "noisy-harness", "tight-harness"))
    return out


@pytest.fixture(scope="module")
def wrong_fit(simulated):
    from bayes_density.inference.fit import sample

    inputs, truth, _ = simulated
    return sample(mixed_harness_inputs(inputs, truth), sim_spec(draws=400), progress=False)


@pytest.fixture(scope="module")
def correct_checks(simulated_fit, tmp_path_factory):
    figdir = tmp_path_factory.mktemp("check_figures")
    d, _, pit, table = checks.run_checks(simulated_fit, sensitivity=True, prior_draws=200)
    d["figures"] = write_check_figures(simulated_fit, figdir, pit=pit, table=table)
    return d


def test_posterior_predictive_matches_pymc(simulated_fit):
    """The numpy posterior predictive draws the same distribution as PyMC's sample_posterior_predictive."""
    import pymc as pm

    from bayes_density.inference.fit import inputs_from_tree, spec_of
    from bayes_density.model.joint import build_model

    tree = simulated_fit
    pp = checks.posterior_predictive(tree, seed=3)
    n_chain, n_draw = tree.posterior.sizes["chain"], tree.posterior.sizes["draw"]
    n_obs = tree.observed_data.sizes["obs"]
    assert pp.dims == ("chain", "draw", "obs") and pp.shape == (n_chain, n_draw, n_obs)
    assert pp.name == "k" and (pp >= 0).all() and (pp <= tree.constant_data["obs_n"]).all()

    model = build_model(inputs_from_tree(tree), spec_of(tree))
    post_only = xr.DataTree.from_dict({"posterior": tree.posterior.to_dataset()})
    with model:
        ref = pm.sample_posterior_predictive(post_only, var_names=["k"], random_seed=4, progressbar=False)
    ref_k = ref.posterior_predictive["k"].transpose("chain", "draw", "obs").to_numpy()
    # the numpy link reproduces the PyMC graph exactly: its beta-binomial log-likelihood of the
    # observed scores equals the run's log_likelihood group (computed by PyMC)
    from scipy import stats

    p_np = checks.predicted_p(tree).to_numpy()
    assert np.all(np.isfinite(p_np)) and p_np.min() > 0 and p_np.max() < 1
    phi_o = tree.posterior["phi"].transpose("chain", "draw", ...).to_numpy()[..., tree.constant_data["obs_bench"]]
    ll = stats.betabinom.logpmf(tree.observed_data["k"].to_numpy(), tree.constant_data["obs_n"].to_numpy(),
                                p_np * phi_o, (1 - p_np) * phi_o)
    ll_pymc = tree.log_likelihood["k"].transpose("chain", "draw", "obs").to_numpy()
    assert np.allclose(ll, ll_pymc, rtol=1e-6, atol=1e-6)

    # same posterior draws: the difference of the means per obs is beta-binomial noise only,
    # with variance 2 E_s[Var(k | theta_s)] / S (computed exactly from p and phi)
    n_s = n_chain * n_draw
    b = tree.constant_data["obs_bench"].to_numpy()
    n = tree.constant_data["obs_n"].to_numpy().astype(float)
    phi = tree.posterior["phi"].transpose("chain", "draw", ...).to_numpy()[..., b]
    cond_var = (n * p_np * (1 - p_np) * (phi + n) / (phi + 1)).mean(axis=(0, 1))
    se = np.sqrt(2 * cond_var / n_s)
    mean, sd = checks.predictive_moments(tree)
    normal = (mean > 5) & (n - mean > 5)  # counts far from 0 and n: the normal approximation holds
    assert normal.sum() > 0.8 * n_obs
    z = ((pp.to_numpy().mean(axis=(0, 1)) - ref_k.mean(axis=(0, 1))) / np.maximum(se, 1e-9))[normal]
    assert np.max(np.abs(z)) < 4.5, f"posterior predictive means differ beyond MC error (max |z| {np.abs(z).max():.1f})"
    assert abs(np.mean(z)) < 4 / np.sqrt(len(z))
    # rare counts (expected < 5 correct): pooled, the totals agree
    rare = ~normal
    if rare.any():
        tot_np, tot_pm = pp.to_numpy()[..., rare].sum(), ref_k[..., rare].sum()
        assert abs(tot_np - tot_pm) < 5 * np.sqrt(2 * cond_var[rare].sum() * n_s) + 5
    # spreads agree too (pooled over observations)
    sd_np, sd_pm = pp.to_numpy().reshape(n_s, -1).std(0), ref_k.reshape(n_s, -1).std(0)
    keep = sd_pm > 1
    assert abs(np.mean(sd_np[keep] / sd_pm[keep]) - 1) < 0.03
    # and the exact predictive mean (same posterior draws) matches the draws' mean
    z_exact = ((pp.to_numpy().mean(axis=(0, 1)) - mean) / np.maximum(np.sqrt(cond_var / n_s), 1e-9))[normal]
    assert np.max(np.abs(z_exact)) < 4.5
    assert np.all(sd >= np.sqrt(cond_var) - 1e-9)


def test_calibration_passes_on_data_from_the_model(correct_checks):
    d = correct_checks
    for key in ("loo_pit_ks_p", "pareto_k_max", "n_pareto_k_bad", "rhat_max", "divergences", "worst_residuals",
                "ppc_by_benchmark", "warnings", "figures", "calibration_ok"):
        assert key in d, key
    assert d["loo_pit_ks_p"] > 0.01, d["loo_pit_ks_p"]
    assert d["share_abs_z_gt_3"] <= 0.03
    assert d["calibration_ok"]
    assert not any("LOO-PIT is not uniform" in w for w in d["warnings"])
    # tidy residual rows
    assert len(d["worst_residuals"]) == 10
    row = d["worst_residuals"][0]
    assert {"model", "benchmark", "harness", "observed", "predicted_mean", "predicted_sd", "z"} <= set(row)
    zs = [abs(r["z"]) for r in d["worst_residuals"]]
    assert zs == sorted(zs, reverse=True)
    # one PPC row per benchmark; predicted means close to observed on the model's own data
    assert len(d["ppc_by_benchmark"]) == 5
    for r in d["ppc_by_benchmark"]:
        assert abs(r["observed_mean"] - r["predicted_mean"]) < 0.03
        assert r["coverage_90"] > 0.8
    json.dumps(d)  # JSON-ready


def test_figures_and_prior_checks(correct_checks):
    d = correct_checks
    assert len(d["figures"]) == 2
    for path in d["figures"]:
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert "sensitivity_error" not in d, d.get("sensitivity_error")
    sens = d["prior_sensitivity"]
    groups = {(r["priors"], r["quantity"]) for r in sens}
    assert ("trend", "slope") in groups and ("link", "slope") in groups
    for r in sens:
        assert r["prior"] >= 0 and r["likelihood"] >= 0
    # the data, not the priors, set the slope
    slope = [r for r in sens if r["quantity"] == "slope"]
    assert all(r["likelihood"] > r["prior"] for r in slope)
    prior = d["prior_predictive"]
    assert len(prior) == 5
    for r in prior:
        assert 0 <= r["prior_q05"] <= r["prior_median"] <= r["prior_q95"] <= 1
        assert r["observed_in_prior_90"] > 0.5  # weakly informative: observed scores inside the prior range
    text = format_checks(d)
    assert "LOO-PIT KS p" in text and "Largest standardised residuals" in text and "Prior sensitivity" in text


def test_check_flags_a_wrong_model(wrong_fit):
    d = checks.check_dict(wrong_fit, sensitivity=False)
    flagged = d["loo_pit_ks_p"] < 0.01 or d["share_abs_z_gt_3"] > 0.03
    assert flagged, (d["loo_pit_ks_p"], d["share_abs_z_gt_3"])
    assert not d["calibration_ok"]
    assert any("LOO-PIT is not uniform" in w or "predictive sd" in w for w in d["warnings"])
    # the harness is carried into the residual table, and the per-harness PPC points at the noisy one
    assert {r["harness"] for r in d["worst_residuals"]} <= {"noisy-harness", "tight-harness"}
    by_h = {r["harness"]: r for r in d["ppc_by_harness"]}
    assert by_h["noisy-harness"]["z_sd"] > 1.1 > 0.7 > by_h["tight-harness"]["z_sd"]
    assert by_h["noisy-harness"]["coverage_90"] < by_h["tight-harness"]["coverage_90"]
    assert "By harness" in format_checks(d)

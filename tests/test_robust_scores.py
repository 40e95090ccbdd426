"""Robust score noise (spec robust_scores): recovery on data with outliers, and one likelihood everywhere."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from bayes_density.model.spec import SpecError

from .conftest import sim_spec

TRUTH = {"outlier_share": 0.08, "outlier_log_phi": math.log(15.0)}


@pytest.fixture(scope="module")
def robust_fit():
    from bayes_density.inference.fit import sample
    from bayes_density.model.simulate import simulate, synthetic_inputs

    spec = sim_spec(robust_scores=True, seed=21)
    inputs, truth = simulate(synthetic_inputs(60, seed=9), spec, truth=TRUTH, seed=9)
    return inputs, truth, sample(inputs, spec, progress=False)


def test_spec_flag_is_checked():
    with pytest.raises(SpecError, match="robust_scores"):
        sim_spec(robust_scores="yes").validate()


def test_recovers_the_outlier_share_precision_and_the_trend(robust_fit):
    from bayes_density.posterior.summaries import diagnostics, draws

    _, truth, tree = robust_fit
    d = diagnostics(tree)
    assert d["rhat_max"] < 1.05 and d["divergences"] <= 5, d
    for name in ("outlier_share", "outlier_log_phi", "slope"):
        lo, hi = np.quantile(draws(tree, name), [0.005, 0.995])
        assert lo <= float(truth[name]) <= hi, (name, lo, hi, truth[name])
    # the main precisions are not dragged down to cover the outliers
    lo, hi = np.quantile(draws(tree, "phi"), [0.005, 0.995], axis=0)
    assert np.mean((lo <= truth["phi"]) & (truth["phi"] <= hi)) >= 0.8, (lo, hi, truth["phi"])


def test_placement_likelihood_is_the_models(robust_fit):
    """The numpy likelihood that placement, projection and integrated LOO use equals the run's
    pointwise log likelihood (PyMC's mixture) at the same draw."""
    from bayes_density.model.joint import zeta
    from bayes_density.posterior.placement import _Link

    _, _, tree = robust_fit
    link = _Link(tree)
    const = tree.constant_data
    u, b, n = (const[v].to_numpy().astype(int) for v in ("obs_unit", "obs_bench", "obs_n"))
    k = tree.observed_data["k"].to_numpy().astype(int)
    ll = tree.log_likelihood["k"].to_numpy().reshape(-1, len(k))
    x = tree.posterior["log_neff"].to_numpy().reshape(link.n_draws, -1)
    for o in np.flatnonzero(u < x.shape[1])[:20]:
        z = zeta(x[:, u[o]][:, None], link.alpha, link.x_a, xp=np)
        mine = link._loglik(z, int(b[o]), int(k[o]), int(n[o]), 0)[:, 0]
        np.testing.assert_allclose(mine, ll[:, o], rtol=1e-6, atol=1e-6)


def test_held_out_scores_are_calibrated(robust_fit):
    from bayes_density.checks.integrated_loo import integrated_loo_pit

    _, _, tree = robust_fit
    pit = integrated_loo_pit(tree, seed=2, draws=300)
    pit = pit[np.isfinite(pit)]
    assert stats.kstest(pit, "uniform").pvalue > 0.01

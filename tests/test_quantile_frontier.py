"""The quantile frontier: f(t) is the q-quantile of log density (asymmetric Laplace scatter)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from bayes_density.errors import SpecError
from bayes_density.model.joint import quantile_random, quantile_scale
from bayes_density.model.spec import load_spec

from .conftest import sim_spec


def _logp(r, mu, s, q):
    """The model's log density, evaluated through PyTensor."""
    import pytensor.tensor as pt

    from bayes_density.model.joint import quantile_logp

    return quantile_logp(pt.as_tensor(np.asarray(r, float)), mu, s, q).eval()


@pytest.mark.parametrize("q", [0.5, 0.8, 0.9, 0.95])
def test_density_integrates_to_one_with_share_q_below_the_line(q):
    s = quantile_scale(1.3, q)
    r = np.linspace(-60, 60, 240_001)
    p = np.exp(_logp(r, 0.7, s, q))
    assert integrate.trapezoid(p, r) == pytest.approx(1.0, abs=1e-4)
    assert integrate.trapezoid(np.where(r < 0.7, p, 0.0), r) == pytest.approx(q, abs=1e-3)  # grid step 5e-4
    # the scale is chosen so that the scatter's sd is the sampled quantile_sd (1.3 nats)
    m = integrate.trapezoid(r * p, r)
    assert np.sqrt(integrate.trapezoid((r - m) ** 2 * p, r)) == pytest.approx(1.3, rel=1e-3)


def test_random_draws_match_the_density():
    rng = np.random.default_rng(0)
    q, s = 0.9, quantile_scale(0.8, 0.9)
    x = quantile_random(np.zeros(200_000), s, q, rng=rng)
    assert np.mean(x < 0) == pytest.approx(q, abs=0.003)
    assert np.std(x) == pytest.approx(0.8, rel=0.02)


def test_spec_option():
    assert load_spec("quantile").quantile == 0.9 and not load_spec("quantile").frontier
    with pytest.raises(SpecError, match="frontier = false"):
        sim_spec(quantile=0.9).validate()
    for bad in (1.0, 0.2, "high", True):
        with pytest.raises(SpecError, match="quantile"):
            sim_spec(quantile=bad, frontier=False).validate()


def test_recovery_and_the_share_below_the_fitted_line():
    """Simulated from the quantile model: slope and scatter recovered, ~q of models below the fitted line."""
    from bayes_density.inference.fit import sample
    from bayes_density.model.simulate import simulate, synthetic_inputs
    from bayes_density.posterior.placement import trend_logpdf
    from bayes_density.posterior.summaries import diagnostics, draws
    from bayes_density.posterior.trend_draws import scatter_form, trend_draws

    spec = sim_spec(frontier=False, quantile=0.9, draws=500, tune=500)  # 2 x 250 gave R-hat 1.03-1.065 run to run
    inputs, truth = simulate(synthetic_inputs(60, seed=5), spec, seed=5)
    tree = sample(inputs, spec, progress=False, log_likelihood=False)
    assert scatter_form(tree) == "quantile" and diagnostics(tree)["rhat_max"] < 1.05
    for v in ("slope", "quantile_sd"):
        lo, hi = np.quantile(draws(tree, v), [0.005, 0.995])
        assert lo <= truth[v] <= hi, (v, lo, hi, truth[v])
    # with 60 models the share below the line is binomial(60, 0.9): 0.9 +- 0.04; 0.75 is p < 1e-4
    f = np.median(trend_draws(tree, inputs.t), axis=0)
    assert 0.75 <= np.mean(truth["log_density"] < f) <= 0.99
    # placement's numpy prior is the model's density
    r = np.linspace(-3, 3, 7)
    s = draws(tree, "quantile_scale")[:3]
    want = np.stack([_logp(r, 0.2, si, 0.9) for si in s])
    sub = tree.copy()
    sub["posterior"] = tree["posterior"].to_dataset().isel(chain=[0], draw=slice(0, 3))
    np.testing.assert_allclose(trend_logpdf(sub, r[None, :], np.full((3, 1), 0.2)), want, rtol=1e-10)


@pytest.mark.slow
def test_simulation_based_calibration_quantile_frontier():
    """SBC of the quantile form's trend: slope, intercept and the scatter's sd."""
    from .test_recovery import _sbc_spec

    _sbc_spec([("slope", None), ("intercept", None), ("quantile_sd", None)],
              sim_spec(draws=400, tune=400, frontier=False, quantile=0.9), n_models=40, seed=9)

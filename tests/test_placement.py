"""Placing models under a fitted posterior (no refit), and leave-future-out scoring."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytest

from bayes_density.checks.comparison import lfo
from bayes_density.posterior.placement import place_models
from bayes_density.posterior.summaries import draws


def _tables(inputs, names):
    idx = [inputs.models.index(n) for n in names]
    models = pd.DataFrame({"name": names, "release_date": [inputs.release_dates[n] for n in names],
                           "params": np.exp(inputs.log_params[idx]), "active_params": np.nan})
    rows = []
    for i, n in zip(idx, names):
        sel = inputs.obs_unit == i
        for b, k, nn in zip(inputs.obs_bench[sel], inputs.obs_k[sel], inputs.obs_n[sel]):
            rows.append({"model": n, "benchmark": inputs.benchmarks[b], "score": k / nn})
    return models, pd.DataFrame(rows)


def test_placing_a_fitted_model_reproduces_its_posterior(simulated, simulated_fit):
    inputs, truth, _ = simulated
    names = inputs.models[10:16]
    models, scores = _tables(inputs, names)
    placed = place_models(simulated_fit, models, scores, seed=1).set_index("name")
    post = draws(simulated_fit, "log_density")
    # Monte Carlo error of the joint posterior's 5% and 95% quantiles (nats), per model
    mcse = {q: az.mcse(simulated_fit, var_names=["log_density"], method="quantile", prob=q)["log_density"].to_numpy()
            for q in (0.05, 0.95)}
    for n in names:
        j = inputs.models.index(n)
        # same data, same trend prior: the one-model update matches the joint posterior
        assert abs(placed.loc[n, "log_density"] - np.median(post[:, j])) < 0.1, n
        lo, hi = placed.loc[n, "density"]["lo"], placed.loc[n, "density"]["hi"]
        qlo, qhi = np.quantile(post[:, j], [0.05, 0.95])
        # interval ends agree within 0.15 nats, or within 4 Monte Carlo standard errors of the
        # joint posterior's quantile where that is larger (the placement's draws add their own)
        assert abs(np.log(lo) - qlo) < max(0.15, 4 * mcse[0.05][j]), (n, np.log(lo), qlo, mcse[0.05][j])
        assert abs(np.log(hi) - qhi) < max(0.15, 4 * mcse[0.95][j]), (n, np.log(hi), qhi, mcse[0.95][j])


def test_placement_errors_on_models_without_fitted_benchmarks(simulated, simulated_fit):
    inputs, _, _ = simulated
    models, scores = _tables(inputs, inputs.models[:1])
    scores["benchmark"] = "NotFitted"
    try:
        place_models(simulated_fit, models, scores)
    except ValueError as e:
        assert "no scores on the fitted benchmarks" in str(e)
    else:
        raise AssertionError("expected a ValueError")


@pytest.mark.slow  # a refit; compare's model-level LOO (tests/test_model_cv.py) stays in CI
def test_leave_future_out_scores_the_latest_models(simulated_fit):
    d = lfo(simulated_fit, n_blocks=1, min_share=0.8, draws=150, chains=2)
    assert len(d) == 12 and np.all(np.isfinite(d["elpd"]))
    t = simulated_fit.constant_data["t"].to_numpy()
    assert d["t"].min() >= np.quantile(t, 0.75)


def test_placement_with_domain_scores_reproduces_the_joint_posterior(simulated_measurement, simulated_measurement_fit):
    """Every simulated model with a code or math score, placed with all its scores on the fit's posterior
    (its domain deviation integrated out), lands where the joint NUTS fit puts it: the one-model update
    neglects only the model's own pull on the shared parameters. Gauss-Hermite nodes on the deviation's
    prior (the old integration) failed this where a model's domain scores were sharp: a comb in z."""
    from bayes_density.posterior.placement import _Link, sample_log_density

    inputs, _, _ = simulated_measurement
    tree = simulated_measurement_fit
    link = _Link(tree)
    link.read_scatter()
    post = draws(tree, "log_density")
    rng = np.random.default_rng(3)
    kinds = inputs.obs_kind if inputs.obs_kind is not None else np.zeros(len(inputs.obs_k), int)
    diffs, ratios = [], []
    for u in range(inputs.n_models):
        sel = np.flatnonzero(inputs.obs_unit == u)
        obs = [(int(inputs.obs_bench[o]), int(inputs.obs_k[o]), int(inputs.obs_n[o]), int(kinds[o]))
               for o in sel]
        if not any(link.domain[b] >= 0 for b, *_ in obs):
            continue
        r, _ = sample_log_density(link, float(inputs.log_params[u]), float(inputs.t[u]), obs, rng,
                                  specialty=link.unit_specialty(u))
        sd = post[:, u].std()
        diffs.append((np.median(r) - np.median(post[:, u])) / sd)
        ratios.append(r.std() / sd)
    diffs, ratios = np.abs(diffs), np.array(ratios)
    assert len(diffs) >= 20
    # 1,000 joint draws: a median's Monte Carlo error is ~0.1 sd
    assert diffs.mean() < 0.15 and diffs.max() < 0.5, (diffs.mean(), diffs.max())
    assert 0.75 < ratios.min() and ratios.max() < 1.3, (ratios.min(), ratios.max())


def test_flat_prior_placement_stays_inside_its_bounds(simulated, simulated_fit):
    """A score at chance says only 'below some level': with a flat prior the draws fill its range
    (placement.FLAT_PRIOR_RANGE), not the whole grid."""
    from bayes_density.posterior.placement import FLAT_PRIOR_RANGE, GRID, _Link, sample_log_density

    inputs, _, _ = simulated
    link = _Link(simulated_fit)
    b = 0
    r, _ = sample_log_density(link, float(np.log(1e8)), 0.0, [(b, 0, int(link.n_items[b]))], np.random.default_rng(0),
                              flat_prior=True)
    step = GRID[1] - GRID[0]
    assert r.min() >= FLAT_PRIOR_RANGE[0] - step and r.max() <= FLAT_PRIOR_RANGE[1] + step
    assert np.quantile(r, 0.05) < FLAT_PRIOR_RANGE[0] + 2.0  # flat down to the bound

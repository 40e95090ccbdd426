"""Integrated LOO-PIT: uniform on data from the model, sensitive to a score the model cannot predict."""

from __future__ import annotations

import copy

import numpy as np
from scipy import stats

from bayes_density.checks.integrated_loo import fitted_model_scores, integrated_loo_pit


def _fitted_mask(tree):
    const = tree.constant_data
    return const["obs_unit"].to_numpy() < const.sizes["model"]


def test_uniform_on_data_from_the_model_with_domains_and_sources(simulated_measurement_fit):
    tree = simulated_measurement_fit
    pit = integrated_loo_pit(tree, seed=3, draws=300)
    fitted = _fitted_mask(tree)
    # every fitted model's score has a value in [0, 1]; references' are left to PSIS
    assert np.isfinite(pit[fitted]).all() and np.isnan(pit[~fitted]).all()
    assert ((pit[fitted] >= 0) & (pit[fitted] <= 1)).all()
    assert stats.kstest(pit[fitted], "uniform").pvalue > 0.01
    # 90% of held-out scores inside their central 90% predictive interval, within sampling error
    outside = np.mean((pit[fitted] < 0.05) | (pit[fitted] > 0.95))
    assert 0.04 < outside < 0.17, outside


def test_threads_do_not_change_the_result(simulated_fit):
    a = integrated_loo_pit(simulated_fit, seed=1, draws=100, threads=1)
    b = integrated_loo_pit(simulated_fit, seed=1, draws=100, threads=2)
    np.testing.assert_array_equal(a, b)


def test_a_score_the_model_cannot_predict_sits_in_the_tail(simulated_fit):
    """One fitted model's weakest score replaced by a perfect score: held out, it lies above its predictive."""
    tree = simulated_fit.copy()
    by_unit = fitted_model_scores(tree)
    # a model with several scores, so that the others pin its density; its weakest score set to n
    u = max(by_unit, key=lambda v: len(by_unit[v]))
    k = tree.observed_data["k"].to_numpy().copy()
    n = tree.constant_data["obs_n"].to_numpy()
    o = min(by_unit[u], key=lambda i: k[i] / n[i])
    k[o] = n[o]
    obs = tree["observed_data"].to_dataset().copy()
    obs["k"] = (obs["k"].dims, k)
    tree["observed_data"] = type(tree["observed_data"])(copy.deepcopy(obs))
    pit = integrated_loo_pit(tree, seed=0, draws=200)
    assert pit[o] > 0.99, pit[o]
    # held out in turn, each other score is predicted from a density the perfect score pulled up: low PITs
    others = [i for i in by_unit[u] if i != o]
    assert np.all(pit[others] < 0.5), pit[others]

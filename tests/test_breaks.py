"""Trend breaks on simulated data: slopes recovered, change point covered, no false acceleration."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_density.checks.comparison import loo_table, p_acceleration
from bayes_density.inference.fit import sample
from bayes_density.model.simulate import simulate, synthetic_inputs
from bayes_density.posterior.summaries import draws, trend_table

from .conftest import sim_spec

BREAK = "2024-01-01"


def _fit(inputs, **kw):
    return sample(inputs, sim_spec(draws=400, tune=400, **kw), progress=False)


@pytest.fixture(scope="module")
def with_break():
    """Slope 1.5/yr before 2024-01-01, 4.0/yr after."""
    spec = sim_spec(trend="break", break_date=BREAK)
    inputs, truth = simulate(synthetic_inputs(80, seed=31, start="2022-06-01"), spec,
                             truth={"slope": 1.5, "slope_change": 2.5}, seed=31)
    return inputs, truth


@pytest.fixture(scope="module")
def without_break():
    spec = sim_spec(trend="break", break_date=BREAK)
    inputs, truth = simulate(synthetic_inputs(80, seed=32, start="2022-06-01"), spec,
                             truth={"slope": 2.6, "slope_change": 0.0}, seed=32)
    return inputs, truth


def _covers(x, v, prob=0.9):
    lo, hi = np.quantile(x, [(1 - prob) / 2, (1 + prob) / 2])
    return lo <= v <= hi


def test_break_model_recovers_both_slopes(with_break):
    inputs, truth = with_break
    tree = _fit(inputs, trend="break", break_date=BREAK)
    assert _covers(draws(tree, "slope"), 1.5)
    assert _covers(draws(tree, "slope_after"), 4.0)
    assert p_acceleration(tree) > 0.95
    tt = trend_table(tree)
    assert {"before", "after", "after/before"} <= set(tt["period"])
    change = tt.set_index("quantity").loc["A_change_per_day"]
    assert change["lo"] <= (4.0 - 1.5) / 365.25 <= change["hi"]  # the true change, per day


@pytest.mark.slow  # a second fit of the 80-model data (the break fit above stays in CI)
def test_changepoint_posterior_covers_the_true_date(with_break):
    inputs, truth = with_break
    tree = _fit(inputs, trend="changepoint")
    t_true = float(inputs.years([BREAK])[0])
    assert _covers(draws(tree, "changepoint"), t_true), (np.quantile(draws(tree, "changepoint"), [0.05, 0.95]),
                                                         t_true)


@pytest.mark.slow  # two fits with LOO (~2-3 min on 2 cores)
def test_no_break_is_not_preferred_beyond_noise(without_break):
    inputs, _ = without_break
    trees = {"linear": _fit(inputs), "break": _fit(inputs, trend="break", break_date=BREAK)}
    table = loo_table(trees).set_index("name")
    # LOO does not prefer the break model by more than two standard errors of the difference
    diff = table.loc["break", "elpd_loo"] - table.loc["linear", "elpd_loo"]
    dse = max(table["dse"].max(), 1e-9)
    assert diff < 2 * dse + 1.0, table
    # and the acceleration is not confidently claimed
    assert 0.05 < p_acceleration(trees["break"]) < 0.95

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from bayes_density.posterior.baseline import envelope, ols_trend
from bayes_density.posterior.summaries import doubling_from_slope, trend_table
from bayes_density.model.trend import trend_value


def test_trend_forms_numpy():
    t = np.array([-1.0, 0.0, 1.0, 2.0])
    p = {"intercept": 0.5, "slope": 2.0, "slope_change": 1.0, "break_t": 0.0}
    np.testing.assert_allclose(trend_value(t, "linear", p), 0.5 + 2 * t)
    np.testing.assert_allclose(trend_value(t, "break", p), [-1.5, 0.5, 3.5, 6.5])
    # a sharp change point equals the hinge
    q = {"intercept": 0.5, "slope": 2.0, "slope_change": 1.0, "changepoint": 0.0, "switch_width": 1e-4}
    np.testing.assert_allclose(trend_value(t, "changepoint", q), [-1.5, 0.5, 3.5, 6.5], atol=1e-3)


def test_doubling_time_handles_non_positive_slopes():
    d = doubling_from_slope(np.array([np.log(2), -1.0, 0.0]))
    assert d[0] == 1.0 and np.isinf(d[1]) and np.isinf(d[2])


def test_envelope_and_ols():
    pts = pd.DataFrame({"model": list("abcde"),
                        "release_date": pd.to_datetime(["2023-01-01", "2023-02-01", "2023-03-01", "2023-04-01",
                                                        "2023-05-01"]),
                        "log_density": [0.0, -1.0, 0.5, 0.2, 1.0]})
    env = envelope(pts)
    assert list(env["model"]) == ["a", "c", "e"]
    res = ols_trend(env)
    assert res["n"] == 3 and res["A_per_day"] > 0 and 0 < res["R2"] <= 1


def test_baseline_on_simulated_fit(simulated, simulated_fit):
    inputs, truth, _ = simulated
    b = json.loads(simulated_fit.attrs["baseline"])
    # the paper's pipeline recovers a positive slope of the right order on data from the model
    truth_per_day = truth["slope"] / 365.25
    assert 0.3 * truth_per_day < b["A_per_day"] < 3 * truth_per_day
    assert b["n"] >= 3 and 0 <= b["R2"] <= 1
    tt = trend_table(simulated_fit)
    a = tt[(tt["quantity"] == "A_per_day")].iloc[0]
    assert a["lo"] < truth_per_day < a["hi"]

"""Fits on the shipped data: convergence, the paper baseline beside the posterior, reference invariance."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bayes_density.analysis import DensityAnalysis
from bayes_density.data.io import load_data
from bayes_density.posterior.summaries import diagnostics, draws, doubling_from_slope, summary_dict


@pytest.fixture(scope="module")
def data():
    return load_data()


@pytest.fixture(scope="module")
def quick_fit(data):
    a = DensityAnalysis(data, "default")
    # 800 tuning steps: the measurement model's phi and ceilings need them (at 400, R-hat 1.34 on log_phi).
    # 600 draws: the code-domain ridge (domain_sigma, HumanEval's precision, MBPP's link slope) mixes
    # slowly; on the 859-score data 400 draws gave R-hat 1.122 (MBPP slope, chain means -0.77 / -0.70,
    # not a stuck chain), 600 gave 1.067 (seed 1).
    a.fit(seed=1, draws=600, tune=800, chains=2, progress=False)
    return a


def test_default_fit_runs_and_is_sane(quick_fit):
    diag = quick_fit.diagnostics()
    # a smoke check of 2 short chains (stuck chains give R-hat >> 1.1); the convergence bar
    # (R-hat <= 1.01, ESS >= 400, no divergences) is the slow every-seed test below
    assert diag["rhat_max"] < 1.1, diag
    s = summary_dict(quick_fit.tree)
    # densities grow: the whole 90% interval of the slope is positive
    assert s["A_per_day"]["lo"] > 0
    assert s["n_models"] >= 40
    # the paper's own method is computed on the same data and reported beside the posterior
    b = s["paper_baseline"]
    assert np.isfinite(b["A_per_day"]) and 0 <= b["R2"] <= 1 and b["n"] >= 3
    # reference models sit at density ~1 (exactly 1 at D0 = 1T tokens, higher when trained longer)
    ref = np.exp(np.median(draws(quick_fit.tree, "ref_log_density"), axis=0))
    assert np.all((ref > 0.9) & (ref < 5))


@pytest.mark.slow  # a second fit on the shipped data (~1.5 min on 2 cores)
def test_reference_invariance(data, quick_fit):
    """Changing the reference family moves density levels, not the doubling time."""
    sets = sorted(set(data.references["set"]) - {"llama"})
    assert sets, "the shipped data declare a second reference set"
    other = DensityAnalysis(data, quick_fit.spec.replace(reference=sets[0]))
    other.fit(seed=1, draws=400, tune=400, chains=2, progress=False)
    d1 = doubling_from_slope(draws(quick_fit.tree, "slope")) * 12
    d2 = doubling_from_slope(draws(other.tree, "slope")) * 12
    m1, m2 = np.median(d1), np.median(d2)
    # medians agree within 25% of each other, and each lies inside the other's 90% interval
    assert abs(m1 - m2) / min(m1, m2) < 0.25, (m1, m2)
    assert np.quantile(d2, 0.05) < m1 < np.quantile(d2, 0.95)
    # ... while the level of density differs between references
    lvl1 = np.median(draws(quick_fit.tree, "intercept"))
    lvl2 = np.median(draws(other.tree, "intercept"))
    print(f"doubling months: llama {m1:.2f}, {sets[0]} {m2:.2f}; intercepts {lvl1:.2f} vs {lvl2:.2f}")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_default_fit_converges_for_every_seed(data, seed):
    """The bar of issue 3: 4 x 1000 draws, R-hat < 1.01, no divergences, bulk ESS >= 400."""
    a = DensityAnalysis(data, "default")
    a.fit(seed=seed, progress=False)
    diag = diagnostics(a.tree)
    dt = doubling_from_slope(draws(a.tree, "slope")) * 12
    print(json.dumps({"seed": seed, **{k: diag[k] for k in ("rhat_max", "ess_bulk_min", "divergences")},
                      "doubling_months_median": float(np.median(dt)),
                      "fit_seconds": a.tree.attrs["time_total_s"]}))
    assert diag["rhat_max"] < 1.01 and diag["divergences"] == 0 and diag["ess_bulk_min"] >= 400, diag

"""The subsample fast path (:mod:`bayes_density.posterior.subsample`) and the fast placement it uses."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bayes_density.posterior import placement, subsample, summaries


def test_betabinomial_matches_scipy():
    rng = np.random.default_rng(0)
    p, phi = rng.uniform(0.01, 0.99, (40, 30)), rng.uniform(5.0, 5000.0, (40, 1))
    for k, n in ((0, 164), (3529, 14000), (75, 500), (500, 500)):
        ours = placement.betabinom_logpmf(k, n, p, phi)
        np.testing.assert_allclose(ours, stats.betabinom.logpmf(k, n, p * phi, (1 - p) * phi), atol=1e-8)


def test_choose_subsample_is_seeded_and_sized():
    a, b = subsample.choose_subsample(50, 20, 3), subsample.choose_subsample(50, 20, 3)
    assert a.sum() == 20 and np.array_equal(a, b)
    assert not np.array_equal(a, subsample.choose_subsample(50, 20, 4))
    assert subsample.choose_subsample(10, 30, 1).all()  # more than there are: all of them
    with pytest.raises(ValueError, match="at least 2"):
        subsample.choose_subsample(10, 1, 1)


def test_thin_draws_keeps_evenly_spaced_draws_of_every_chain():
    import xarray as xr
    post = xr.Dataset({"a": (("chain", "draw"), np.arange(4 * 250).reshape(4, 250))})
    small = summaries.thin_draws(post, 300)  # 75 of each chain's 250, first and last kept
    assert small.sizes == {"chain": 4, "draw": 75}
    np.testing.assert_array_equal(small["a"].values[1, [0, 1, -1]], [250, 253, 499])
    assert np.all(np.diff(small["a"].values[0]) >= 3)
    assert summaries.thin_draws(post, 1000) is post  # nothing to drop
    with pytest.raises(ValueError, match="max_draws"):
        summaries.thin_draws(post, 0)


def test_fast_placement_draws_match_the_full_grid(simulated, simulated_fit):
    """Coarse pass on 25 draws, every 2nd grid point: the same conditional distribution."""
    inputs, _, _ = simulated
    link = placement._Link(simulated_fit)
    obs = inputs.obs_by_model()
    for u in (0, 17, 41):
        full, f_full = placement.sample_log_density(link, float(inputs.log_params[u]), float(inputs.t[u]), obs[u],
                                                    np.random.default_rng(1))
        fast, f_fast = placement.sample_log_density(link, float(inputs.log_params[u]), float(inputs.t[u]), obs[u],
                                                    np.random.default_rng(2), stride=2, locate_draws=25,
                                                    negligible=20.0)
        np.testing.assert_allclose(f_full, f_fast)
        # two samples of 1,000 draws from one distribution: quantiles within Monte Carlo error
        # (the 5% quantile's difference has se ~0.09 posterior sd for a normal; 0.3 sd is ~3 se)
        for q in (0.05, 0.5, 0.95):
            assert abs(np.quantile(full, q) - np.quantile(fast, q)) < 0.3 * np.std(full), (u, q)
        assert stats.ks_2samp(full, fast).pvalue > 0.001, u


def test_subsample_fit_places_the_rest_close_to_a_full_fit(simulated, simulated_fit):
    inputs, truth, spec = simulated
    tree = subsample.fit_subsample(inputs, spec, n_fit=30, placement_draws=400, draws=300, tune=300, chains=2)
    a = tree.attrs
    assert a["approximate"] == 1 and a["fast_method"] == "subsample" and a["subsample_n"] == 30
    assert tree.posterior.sizes["chain"] * tree.posterior.sizes["draw"] == 400
    r = summaries.draws(tree, "log_density")
    assert r.shape == (400, inputs.n_models) and np.isfinite(r).all()
    assert list(tree.posterior["model"].to_numpy()) == inputs.models
    np.testing.assert_allclose(summaries.draws(tree, "log_neff"), r + inputs.log_params[None, :])
    keep = subsample.choose_subsample(inputs.n_models, 30, spec.seed)
    # the placed half lands where the full NUTS fit puts those models ...
    full = summaries.draws(simulated_fit, "log_density")
    diff = np.median(r, 0)[~keep] - np.median(full, 0)[~keep]
    assert np.mean(np.abs(diff)) < 0.15, diff
    # ... and its 90% intervals hold the true log densities about as often as NUTS's
    lo, hi = np.quantile(r, [0.05, 0.95], axis=0)
    true = np.asarray(truth["log_density"])
    assert np.mean((true >= lo) & (true <= hi)) >= 0.75
    # the trend summaries work on the result, and the doubling time is the NUTS fit's within its spread
    tt = summaries.trend_table(tree).set_index(["period", "quantity"])
    ref = summaries.trend_table(simulated_fit).set_index(["period", "quantity"])
    dt, dt_ref = tt.loc[("all", "doubling_time_months")], ref.loc[("all", "doubling_time_months")]
    assert dt_ref["lo"] - 0.5 < dt["median"] < dt_ref["hi"] + 0.5


def test_subsample_errors():
    with pytest.raises(ValueError, match="placement_draws"):
        subsample.fit_subsample(None, type("S", (), {"seed": 1})(), placement_draws=0)


def test_cli_fit_with_the_subsample_path(simulated, tmp_path, capsys):
    """``bayes-density fit --sampler subsample`` writes a run summary reads and says what it is."""
    import json

    from bayes_density.cli import main

    from .conftest import cli_fit_args

    inputs, _, _ = simulated
    base = cli_fit_args(inputs, tmp_path, "draws = 150\ntune = 150\nchains = 2\nseed = 3\n")
    assert main(base + ["--subsample-n", "20", "--out", str(tmp_path / "x.nc")]) == 2  # needs --sampler subsample
    assert "--subsample-n needs --sampler subsample" in capsys.readouterr().err
    assert not (tmp_path / "x.nc").exists()
    out = tmp_path / "sub.nc"
    assert main(base + ["--sampler", "subsample", "--subsample-n", "25", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "subsample fast path: NUTS on 25 of the models" in err
    assert main(["summary", str(out), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["rhat_max"] is None  # no whole-run MCMC diagnostics claimed
    assert s["n_models"] == inputs.n_models  # every model has a density, not only the 25 fitted
    assert 0 < s["doubling_time_months"]["lo"] < s["doubling_time_months"]["median"] < s["doubling_time_months"]["hi"]


def test_threaded_placement_does_not_depend_on_the_threads(simulated, simulated_fit, monkeypatch):
    inputs, _, _ = simulated
    monkeypatch.setattr(subsample, "BLOCK", 4)  # several blocks over the 20 units
    units = np.arange(0, inputs.n_models, 3)
    one = subsample.place_units(simulated_fit, inputs, units, seed=5, threads=1)
    two = subsample.place_units(simulated_fit, inputs, units, seed=5, threads=2)
    np.testing.assert_array_equal(one, two)
    assert not np.array_equal(one, subsample.place_units(simulated_fit, inputs, units, seed=6, threads=2))

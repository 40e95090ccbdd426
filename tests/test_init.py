"""Chain starts: the ADVI initialisation (bayes_density.inference.init) and its spec option."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

from bayes_density.errors import SpecError
from bayes_density.inference.fit import sample
from bayes_density.inference.init import advi_start, initial_point_function
from bayes_density.model.simulate import simulate, synthetic_inputs
from bayes_density.model.spec import ModelSpec, load_spec

from .conftest import sim_spec


def test_advi_start_finds_the_posterior_and_chains_start_apart():
    """On a conjugate normal model ADVI's mean is the posterior mean; each chain seed gets its own start."""
    import nutpie

    rng = np.random.default_rng(0)
    y = rng.normal(3.0, 1.0, size=50)
    with pm.Model() as model:
        m = pm.Normal("m", 0.0, 10.0)
        s = pm.HalfNormal("s", 5.0)
        pm.Normal("y", m, s, observed=y)
    compiled = nutpie.compile_pymc_model(model, backend="numba")
    names, slices, _ = compiled.shape_info
    at = dict(zip(names, slices))
    mu, sd = advi_start(compiled, model, seed=1, n_iter=3000)
    assert mu.shape == sd.shape == (compiled.n_dim,)
    assert abs(mu[at["m"]][0] - y.mean()) < 0.1
    assert 0.05 < sd[at["m"]][0] < 0.3  # posterior sd of m: ~1 / sqrt(50) = 0.14
    assert abs(np.exp(mu[at["s_log__"]][0]) - y.std()) < 0.25
    np.testing.assert_array_equal(mu, advi_start(compiled, model, seed=1, n_iter=3000)[0])  # seeded
    start = initial_point_function(mu, sd, seed=1)
    a, b = start(11), start(12)
    assert a.shape == (2,) and not np.allclose(a, b)
    np.testing.assert_array_equal(a, start(11))
    assert abs(a[at["m"]][0] - mu[at["m"]][0]) < 6 * sd[at["m"]][0]
    with pytest.raises(ValueError, match="shape"):
        initial_point_function(mu, sd[:1], seed=1)


def test_fit_with_advi_start_is_recorded_and_reproducible():
    spec = sim_spec(draws=100, tune=100, chains=2, seed=4, init="advi")
    inputs, _ = simulate(synthetic_inputs(20, seed=4), spec, seed=4)
    a = sample(inputs, spec, progress=False, log_likelihood=False)
    b = sample(inputs, spec, progress=False, log_likelihood=False)
    assert a.attrs["init"] == "advi" and a.attrs["time_init_s"] > 0
    np.testing.assert_array_equal(a.posterior["log_density"].values, b.posterior["log_density"].values)
    plain = sample(inputs, spec, progress=False, log_likelihood=False, init="jitter")
    assert plain.attrs["init"] == "jitter" and plain.attrs["time_init_s"] < 0.01
    assert not np.array_equal(a.posterior["log_density"].values, plain.posterior["log_density"].values)
    with pytest.raises(ValueError, match="init must be"):
        sample(inputs, spec, progress=False, init="map")


def test_spec_init_option(tmp_path):
    with pytest.raises(SpecError, match="init"):
        ModelSpec(init="map").validate()
    path = tmp_path / "s.toml"
    path.write_text('extends = "default"\n[sampler]\ninit = "jitter"\n')
    assert load_spec(str(path)).init == "jitter"
    assert load_spec("default").init == "advi" and ModelSpec().init == "advi"


def test_stuck_chain_is_flagged_with_what_to_do():
    """A chain whose warm-up ended at a step size far below the others' is named in the warnings."""
    import xarray as xr

    from bayes_density.inference.diagnostics import convergence_problems, stuck_chains

    steps = np.array([0.128, 0.111, 0.137, 0.0089])  # the shipped data's specialists fit, seed 3
    stats = xr.Dataset({"step_size": (("chain", "draw"), np.repeat(steps[:, None], 50, axis=1))})
    stuck, per_chain = stuck_chains(stats)
    assert stuck == [3] and per_chain == pytest.approx(steps.tolist())
    healthy = stats.assign(step_size=stats["step_size"].where(stats["chain"] != 3, 0.12))
    assert stuck_chains(healthy)[0] == []
    assert stuck_chains(stats.isel(chain=[0]))[0] == []  # one chain: nothing to compare with
    diag = {"rhat_max": 1.6, "rhat_max_var": "link_mu", "ess_bulk_min": 7, "ess_bulk_min_var": "link_loc",
            "divergences": 0, "ebfmi_min": 0.17, "stuck_chains": stuck, "chain_step_sizes": per_chain}
    msg = convergence_problems(diag)[0]
    assert msg.startswith("chain 3 is stuck") and "init = \"advi\"" in msg and "another --seed" in msg


def test_failed_advi_start_falls_back_to_the_jittered_start(monkeypatch):
    from bayes_density.inference import fit

    def diverged(*args, **kwargs):
        raise FloatingPointError("ADVI initialisation diverged (non-finite mean or sd)")

    monkeypatch.setattr(fit, "advi_start", diverged)
    spec = sim_spec(draws=50, tune=50, chains=2, seed=4, init="advi")
    inputs, _ = simulate(synthetic_inputs(20, seed=4), spec, seed=4)
    with pytest.warns(RuntimeWarning, match="ADVI start failed"):
        tree = fit.sample(inputs, spec, progress=False, log_likelihood=False)
    assert "jittered support point" in tree.attrs["init_note"] and tree.posterior.sizes["draw"] == 50

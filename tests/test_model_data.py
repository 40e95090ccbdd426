"""The model's data containers: packed views, the compiled-model cache, saved runs."""

from __future__ import annotations

import numpy as np

from bayes_density.inference import fit
from bayes_density.model.joint import build_model, data_arrays, packed_data, structure_key
from bayes_density.model.simulate import simulate, synthetic_inputs
from bayes_density.posterior.summaries import draws

from .conftest import sim_spec


def _views(inputs, spec) -> dict[str, np.ndarray]:
    """Evaluate the named data views the model reads (model_data) back to arrays."""
    import pymc as pm
    import pytensor

    from bayes_density.model.joint import model_data

    with pm.Model():
        views = model_data(inputs, spec)
    names = list(views)
    values = pytensor.function([], [views[k] for k in names])()
    return dict(zip(names, values))


def test_packed_data_round_trips_every_array():
    spec = sim_spec()
    inputs, _ = simulate(synthetic_inputs(15, seed=3), spec, seed=3)
    arrays = data_arrays(inputs, spec)
    packed = packed_data(inputs, spec)
    assert set(packed) == {"data_float", "data_int", "data_offsets"}
    got = _views(inputs, spec)
    assert set(got) == set(arrays)
    for name, want in arrays.items():
        np.testing.assert_array_equal(got[name], np.asarray(want), err_msg=name)
        assert np.shape(got[name]) == np.shape(want), name


def test_second_data_set_of_a_structure_swaps_data_and_fits_its_own_posterior():
    """Fit A (frozen), then B through the cache (shared data): B's posterior, not A's."""
    spec = sim_spec(draws=300, tune=300, chains=2, seed=3)
    base = synthetic_inputs(30, seed=21)
    a_in, a_truth = simulate(base, spec, truth={"slope": 0.8}, seed=21)
    b_in, b_truth = simulate(base, spec, truth={"slope": 4.0}, seed=22)
    key = structure_key(a_in, spec)
    assert structure_key(b_in, spec) == key
    fit._COMPILED.pop(key, None)

    fit.sample(a_in, spec, progress=False, log_likelihood=False)
    assert fit._COMPILED[key][0] is not None  # frozen, remembered with its data's digest
    b_cached = fit.sample(b_in, spec, progress=False, log_likelihood=False)
    assert fit._COMPILED[key][0] is None  # recompiled with shared data for later swaps
    b_fresh = fit.sample(b_in, spec, progress=False, log_likelihood=False, cache=False)

    s_cached, s_fresh = draws(b_cached, "slope"), draws(b_fresh, "slope")
    sd = np.std(s_fresh)
    # the two fits sample one posterior: medians agree within Monte Carlo error (~0.15 sd)
    assert abs(np.median(s_cached) - np.median(s_fresh)) < 0.5 * sd, (np.median(s_cached), np.median(s_fresh), sd)
    # and it is B's: A's slope (0.8 per year) is far outside it
    assert np.quantile(s_cached, 0.005) > 0.8 + 1.0, np.quantile(s_cached, [0.005, 0.5])

    # a third data set is swapped in without compiling
    c_in, _ = simulate(base, spec, truth={"slope": 2.0}, seed=23)
    c = fit.sample(c_in, spec, progress=False, log_likelihood=False)
    assert c.attrs["time_compile_s"] < 2.0, c.attrs["time_compile_s"]
    fit._COMPILED.pop(key, None)


def test_pymc_posterior_predictive_on_a_saved_run_sees_unchanged_data(tmp_path):
    """A run file carries the model's data containers: PyMC resamples only the scores."""
    import warnings

    import pymc as pm

    spec = sim_spec(draws=50, tune=50, chains=2, seed=2)
    inputs, _ = simulate(synthetic_inputs(15, seed=3), spec, seed=3)
    path = fit.save(fit.sample(inputs, spec, progress=False), tmp_path / "run.nc")
    tree = fit.load(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", pm.exceptions.ImplicitFreezeWarning)  # "data changed" would raise
        with build_model(fit.inputs_from_tree(tree), fit.spec_of(tree)):
            pp = pm.sample_posterior_predictive(tree, var_names=["k"], random_seed=1, progressbar=False)
    k = pp.posterior_predictive["k"]
    assert k.shape == (2, 50, inputs.n_obs)
    assert (k <= tree.constant_data["obs_n"]).all()

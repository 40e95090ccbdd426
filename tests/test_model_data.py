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
    """Fit A (frozen), then B and C through the cache (shared data): each gets its own posterior."""
    spec = sim_spec(draws=150, tune=250, chains=2, seed=3)
    base = synthetic_inputs(30, seed=21)
    a_in, a_truth = simulate(base, spec, truth={"slope": 0.8}, seed=21)
    b_in, b_truth = simulate(base, spec, truth={"slope": 4.0}, seed=22)
    key = structure_key(a_in, spec)
    assert structure_key(b_in, spec) == key
    fit._COMPILED.pop(key, None)

    a = fit.sample(a_in, spec, progress=False, log_likelihood=False)
    assert fit._COMPILED[key][0] is not None  # frozen, remembered with its data's digest
    b = fit.sample(b_in, spec, progress=False, log_likelihood=False)
    assert fit._COMPILED[key][0] is None  # recompiled with shared data for later swaps

    # each posterior is its own data's: A's slope (0.8 per year) and B's (4.0) each inside their
    # own 99% interval and far outside the other's
    s_a, s_b = draws(a, "slope"), draws(b, "slope")
    for s, own, other in ((s_a, 0.8, 4.0), (s_b, 4.0, 0.8)):
        lo, hi = np.quantile(s, [0.005, 0.995])
        assert lo <= own <= hi and not lo <= other <= hi, (own, lo, hi)

    # a third data set is swapped in without compiling, and its posterior moves to its slope
    c_in, _ = simulate(base, spec, truth={"slope": 2.0}, seed=23)
    c = fit.sample(c_in, spec, progress=False, log_likelihood=False)
    assert c.attrs["time_compile_s"] < 2.0, c.attrs["time_compile_s"]
    lo, hi = np.quantile(draws(c, "slope"), [0.005, 0.995])
    assert lo <= 2.0 <= hi and hi < 4.0 and lo > 0.8, (lo, hi)
    fit._COMPILED.pop(key, None)


def test_pymc_posterior_predictive_on_a_saved_run_sees_unchanged_data(simulated_fit, tmp_path):
    """A run file carries the model's data containers: PyMC resamples only the scores."""
    import warnings

    import pymc as pm

    path = fit.save(simulated_fit, tmp_path / "run.nc")
    tree = fit.load(path)
    tree["posterior"] = tree["posterior"].isel(draw=slice(0, 50))
    with warnings.catch_warnings():
        warnings.simplefilter("error", pm.exceptions.ImplicitFreezeWarning)  # "data changed" would raise
        with build_model(fit.inputs_from_tree(tree), fit.spec_of(tree)):
            pp = pm.sample_posterior_predictive(tree, var_names=["k"], random_seed=1, progressbar=False)
    k = pp.posterior_predictive["k"]
    assert k.shape == (2, 50, tree.constant_data.sizes["obs"])
    assert (k <= tree.constant_data["obs_n"]).all()

"""Shared fixtures: data simulated from the model, fitted once per session."""

from __future__ import annotations

import os
import warnings

import pytest

from bayes_density.model.spec import ModelSpec

warnings.filterwarnings("ignore", category=UserWarning)
warnings.filterwarnings("ignore", category=FutureWarning)

SIM_BENCHMARKS = ("SimMC", "SimMixed", "SimMath", "SimCodeSmall", "SimCode")


def sim_spec(**kw) -> ModelSpec:
    # the first model's sampled parameters: floors fixed at their nominal values, as in the data the
    # plain simulated design draws (the measurement model's tests turn learn_floors on)
    # chains start from ADVI draws, the default (ModelSpec.init; a second or less per small fit)
    base = dict(name="sim", benchmarks=SIM_BENCHMARKS, reference="sim", targets=(), draws=500, tune=500,
                chains=2, seed=11, learn_floors=False)
    base.update(kw)
    return ModelSpec(**base)


def cli_fit_args(inputs, folder, sampler: str) -> list[str]:
    """Write ``inputs`` as CSV tables and a sim spec with ``[sampler]`` settings ``sampler`` (TOML
    lines) into ``folder``; the ``bayes-density fit`` arguments that fit them (without --out)."""
    from bayes_density.model.simulate import write_tables

    write_tables(inputs, folder / "data")
    (folder / "sim.toml").write_text(
        f'name = "sim"\n[data]\nbenchmarks = {list(SIM_BENCHMARKS)!r}\nreference = "sim"\n'
        f"[target]\nnames = []\n[sampler]\n{sampler}")
    return ["fit", "--data", str(folder / "data"), "--model", str(folder / "sim.toml"), "--no-progress"]


@pytest.fixture(scope="session")
def simulated():
    """(inputs, truth, spec) for 60 simulated models with the default truth."""
    from bayes_density.model.simulate import simulate, synthetic_inputs

    spec = sim_spec()
    inputs, truth = simulate(synthetic_inputs(60, seed=5), spec, seed=5)
    return inputs, truth, spec


@pytest.fixture(scope="session")
def simulated_fit(simulated, tmp_path_factory):
    """A nutpie fit of :func:`simulated` (2 chains x 500 draws).

    Under pytest-xdist the workers share one fit: the first to need it fits and saves it as a
    run file in the session's common temporary folder (under a file lock); the others load it.
    Every worker uses the loaded run, so all tests see the same object a saved run gives.
    """
    from filelock import FileLock

    from bayes_density.inference.fit import sample
    from bayes_density.inference.run import Run
    from bayes_density.posterior.baseline import attach_baseline

    def fit():
        inputs, truth, spec = simulated
        tree = sample(inputs, spec, progress=False)
        attach_baseline(tree, inputs)
        return tree

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return fit()
    shared = tmp_path_factory.getbasetemp().parent / "simulated_fit.nc"
    with FileLock(str(shared) + ".lock"):
        if not shared.exists():
            Run(fit()).save(shared)
    return Run.load(shared).tree


@pytest.fixture(scope="session")
def simulated_measurement():
    """(inputs, truth, spec) for 60 simulated models with variants, source kinds and domains."""
    from bayes_density.model.simulate import simulate, synthetic_inputs

    spec = sim_spec(seed=12, learn_floors=True)
    inputs, truth = simulate(synthetic_inputs(60, seed=6, second_source=0.5, measurement=True), spec, seed=6)
    return inputs, truth, spec


@pytest.fixture(scope="session")
def simulated_measurement_fit(simulated_measurement):
    """A nutpie fit of :func:`simulated_measurement` (2 chains x 500 draws)."""
    from bayes_density.inference.fit import sample

    inputs, truth, spec = simulated_measurement
    return sample(inputs, spec, progress=False)

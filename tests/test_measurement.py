"""The measurement model (variants, source-kind offsets, domain deviations, learned floors):
recovery on data simulated from the model, and the layout built from tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayes_density.checks.ppc import predicted_p
from bayes_density.model.design import select_benchmarks
from bayes_density.model.spec import ModelSpec
from bayes_density.posterior.summaries import diagnostics, draws

from .test_recovery import covered


def test_layout_of_the_simulated_design(simulated_measurement):
    inputs, truth, _ = simulated_measurement
    assert inputs.family_names() == ["SimMC", "SimMixed", "SimMath", "SimCode"]
    assert list(inputs.variant_index()) == [4]  # SimCode (the second code benchmark) is a variant
    assert inputs.domains == ["code", "math"]
    assert set(np.unique(inputs.kind_of())) == {0, 1, 2}
    # the simulation drew what the design asks for
    assert truth["source_offset"].shape == (2, 4)
    assert truth["domain_dev"].shape == (len(inputs.units), 2)
    assert truth["floor"].shape == (5,)


def test_recovery_of_source_offsets_domains_and_floors(simulated_measurement, simulated_measurement_fit):
    inputs, truth, _ = simulated_measurement
    tree = simulated_measurement_fit
    diag = diagnostics(tree)
    assert diag["rhat_max"] < 1.05, diag
    assert diag["divergences"] <= 10, diag
    # kind means (developer +0.3, third party -0.2 nats) inside their 99% intervals, and told apart
    m = draws(tree, "source_offset_mean")
    assert covered(m, truth["source_offset_mean"], 0.99).all(), (np.median(m, 0), truth["source_offset_mean"])
    assert np.mean(m[:, 0] > m[:, 1]) > 0.95
    # per (kind, family) offsets: ~90% covered (8 cells, at most 2 missed)
    off = draws(tree, "source_offset").reshape(-1, 8)
    assert covered(off, truth["source_offset"].ravel()).sum() >= 6
    # domain spreads, and every learned floor
    assert covered(draws(tree, "domain_sigma"), truth["domain_sigma"], 0.99).all()
    assert covered(draws(tree, "floor"), truth["floor"], 0.99).all()
    # the trend and per-model densities as in the first model's recovery test
    assert covered(draws(tree, "slope"), truth["slope"], 0.99)
    cov = covered(draws(tree, "log_density"), truth["log_density"])
    assert cov.sum() >= 45, f"{cov.sum()}/60 densities covered"
    # models' code deviations track the truth where they have code scores
    code = inputs.domains.index("code")
    has_code = np.isin(np.arange(inputs.n_models), inputs.obs_unit[np.isin(inputs.obs_bench, [3, 4])])
    dev = np.median(draws(tree, "domain_dev")[:, : inputs.n_models, code], axis=0)
    assert np.corrcoef(dev[has_code], truth["domain_dev"][: inputs.n_models, code][has_code])[0, 1] > 0.5


def test_numpy_link_matches_the_model(simulated_measurement_fit):
    """The predictive checks' numpy link (floors, offsets, domain deviations) gives the same
    pointwise log-likelihood as the PyMC model itself."""
    from scipy import stats

    tree = simulated_measurement_fit
    p = predicted_p(tree).to_numpy()
    b = tree.constant_data["obs_bench"].to_numpy().astype(int)
    phi = tree.posterior["phi"].transpose("chain", "draw", ...).to_numpy()[..., b]
    k = tree.observed_data["k"].to_numpy()
    n = tree.constant_data["obs_n"].to_numpy()
    mine = stats.betabinom.logpmf(k, n, p * phi, (1 - p) * phi)
    model = tree.log_likelihood["k"].transpose("chain", "draw", ...).to_numpy()
    np.testing.assert_allclose(mine, model, rtol=1e-6, atol=1e-6)


def _bench_table():
    return pd.DataFrame({
        "name": ["MMLU", "BBH", "BBH-MC", "HumanEval", "HumanEval+"],
        "family": ["MMLU", "BBH", "BBH", None, "HumanEval"],
        "domain": ["knowledge", "reasoning", "reasoning", "code", "code"],
    }).set_index("name")


def test_a_family_name_selects_its_variants_primary_first():
    spec = ModelSpec(benchmarks=("BBH", "HumanEval"))
    names, family = select_benchmarks(_bench_table(), spec)
    assert names == ["BBH", "BBH-MC", "HumanEval", "HumanEval+"]
    assert family["HumanEval"] == "HumanEval"  # no family: its own


def test_variants_can_be_named_alone_or_excluded():
    names, _ = select_benchmarks(_bench_table(), ModelSpec(benchmarks=("BBH-MC",)))
    assert names == ["BBH-MC"]
    names, _ = select_benchmarks(_bench_table(), ModelSpec(benchmarks=("BBH", "MMLU"), exclude_variants=("BBH-MC",)))
    assert names == ["BBH", "MMLU"]


def test_fixed_floors_stay_nominal_and_are_a_structure_change():
    """[measurement] fixed_floors: the named variants' floors are not sampled (the model has no
    floor variable for them and uses the nominal chance); an unknown name is an error."""
    import pytest

    from bayes_density.errors import SelectionError
    from bayes_density.model.joint import build_model, structure_key
    from bayes_density.model.simulate import synthetic_inputs

    from .conftest import sim_spec

    spec = sim_spec(learn_floors=True)
    inputs = synthetic_inputs(15, seed=2, measurement=True)
    gen = list(inputs.floor_index(True))
    key = structure_key(inputs, spec)
    inputs.floor_fixed = np.isin(np.arange(len(inputs.benchmarks)), gen[:1])
    assert list(inputs.floor_index(True)) == gen[1:]
    model = build_model(inputs, spec)
    assert list(model.coords["generated_variant"]) == [inputs.benchmarks[b] for b in gen[1:]]
    assert structure_key(inputs, spec) != key
    with pytest.raises(SelectionError, match="NoSuchBench"):
        select_benchmarks(_bench_table(), ModelSpec(benchmarks=("BBH",), fixed_floors=("NoSuchBench",)))


def test_recovery_of_the_specialists_shift_and_its_use_in_placement():
    """Every 4th simulated model specialises in code (a shared shift of +2 nats in its code
    deviation): the fit recovers the shift and the generalists' spread, saves the flags in the
    run, and placement uses the shift only for a model that declares the specialty."""
    from bayes_density.inference.fit import sample
    from bayes_density.model.simulate import simulate, synthetic_inputs
    from bayes_density.posterior.placement import _Link, sample_log_density

    from .conftest import sim_spec

    spec = sim_spec(seed=13, learn_floors=True, specialists=True)
    design = synthetic_inputs(60, seed=8, second_source=0.5, measurement=True)
    code = design.domains.index("code")
    flags = np.zeros((len(design.units), len(design.domains)), bool)
    flags[: design.n_models : 4, code] = True
    design.specialist = flags
    inputs, truth = simulate(design, spec, truth={"specialist_shift": [2.0]}, seed=8)
    tree = sample(inputs, spec, progress=False)
    diag = diagnostics(tree)
    assert diag["rhat_max"] < 1.05, diag
    shift = draws(tree, "specialist_shift")[:, 0]
    assert covered(shift, 2.0, 0.99), np.quantile(shift, [0.05, 0.5, 0.95])
    assert np.mean(shift > 1.0) > 0.95  # told apart from no shift
    assert covered(draws(tree, "domain_sigma"), truth["domain_sigma"], 0.99).all()
    # the run keeps the flags; placed by their code scores alone, specialists' general capability
    # is their code level less the shift: lower than read as generalists' (by 0.1-0.6 nats in a
    # trial run: the shift is on the loss axis and the trend prior pulls toward the line)
    link = _Link(tree)
    obs = inputs.obs_by_model()
    assert link.unit_specialty(0) == "code" and link.unit_specialty(1) is None
    gaps = []
    for u in range(0, inputs.n_models, 4):
        code_obs = [o for o in obs[u] if inputs.bench_domain[o[0]] == code]
        if code_obs:
            placed = {s: np.median(sample_log_density(link, float(inputs.log_params[u]), float(inputs.t[u]), code_obs,
                                                      np.random.default_rng(0), specialty=s)[0]) for s in ("code", None)}
            gaps.append(placed[None] - placed["code"])
    assert len(gaps) >= 8 and np.mean(np.array(gaps) > 0) >= 0.8 and np.mean(gaps) > 0.2, gaps

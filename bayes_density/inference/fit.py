"""Sampling: compile the model once with nutpie, sample with a seed, return a DataTree.

The returned :class:`xarray.DataTree` holds ``posterior``, ``sample_stats``,
``observed_data``, ``log_likelihood`` (scores, for LOO) and ``constant_data``
(everything derived quantities need: sizes, times, indices), with the spec and
``t0`` in its attributes, so a saved run file is self-contained.
"""

from __future__ import annotations

import json
import os
import time
import warnings

import numpy as np
import pymc as pm
import xarray as xr

from ..model.design import ModelInputs
from ..model.joint import LOG_DREF, LOG_NREF, build_model, packed_data
from ..model.spec import CHAIN_STARTS, ModelSpec
from .init import advi_start, initial_point_function
from .run import atomic_write, inputs_from_tree, load, save, spec_of  # noqa: F401  (their old home)

SAMPLE_DIMS = ("chain", "draw")


_COMPILED: dict = {}  # structure key -> (data digest or None, compiled nutpie model); this process only
_CACHE_SIZE = 8

# Regularisation of nutpie's low-rank mass-matrix estimate (nutpie's default is 1e-5).
# On the shipped data (default spec, 4 x 1000 + 1000 tuning, seed 1, idle machine)
# 1e-5 took 77 s to sample at 0.77 ms per leapfrog step; 1e-3 took 25 s at 0.29 ms
# per step (the cost of the gradient alone) with the same 15 steps per draw and min
# bulk ESS 1236 vs 1103. 1e-4: 0.52 ms per step; 1e-2: ESS 945 with 500 tuning steps.
LOW_RANK_GAMMA = 1e-3


def compile_model(model: pm.Model, inputs: ModelInputs, spec: ModelSpec, cache: bool = True,
                  shared_data: bool = False):
    """Compile for nutpie (numba), reusing a compiled model of the same structure where possible.

    A first fit of a structure compiles the model with its data frozen in as
    constants: PyTensor folds everything that depends on data alone (the
    beta-binomial's binomial coefficients, gathered chance levels, ...). On the
    shipped data that is 11-13 s to compile and 0.32 ms per leapfrog step, against
    18 s and 0.40 ms with the data as shared containers (warm numba cache, idle
    machine). A refit on the same data (another seed) reuses it. When a second data
    set of the same structure arrives (simulation studies), the model is compiled
    once more with shared data, and later data sets only swap arrays (``with_data``).
    ``cache=False`` compiles a frozen model and keeps nothing. ``shared_data=True``: the
    caller will fit other data sets of this structure (a sweep: masks, simulations), so
    a first fit compiles with shared data at once and the frozen compile is skipped.
    """
    import nutpie

    from ..model.joint import structure_key

    if not cache:
        return nutpie.compile_pymc_model(model, backend="numba", freeze_model=True)
    key = structure_key(inputs, spec)
    packed = packed_data(inputs, spec)
    digest = _digest(packed)
    if key in _COMPILED:
        seen, compiled = _COMPILED[key]
        if seen is None:
            return compiled.with_data(**packed)
        if seen == digest:
            return compiled
        compiled = nutpie.compile_pymc_model(model, backend="numba", freeze_model=False)
        _COMPILED[key] = (None, compiled)
        return compiled
    compiled = nutpie.compile_pymc_model(model, backend="numba", freeze_model=not shared_data)
    if len(_COMPILED) >= _CACHE_SIZE:
        _COMPILED.pop(next(iter(_COMPILED)))
    _COMPILED[key] = (None if shared_data else digest, compiled)
    return compiled


def _digest(arrays: dict[str, np.ndarray]) -> str:
    import hashlib

    h = hashlib.sha256()
    for name, a in sorted(arrays.items()):
        h.update(name.encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def sample(
    inputs: ModelInputs,
    spec: ModelSpec,
    *,
    seed: int | None = None,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    progress: bool = True,
    sampler: str = "nutpie",
    adaptation: str = "low_rank",
    target_accept: float = 0.9,
    log_likelihood: bool = True,
    cache: bool = True,
    shared_data: bool = False,
    cores: int | None = None,
    mass_matrix_gamma: float = LOW_RANK_GAMMA,
    init: str | None = None,
) -> xr.DataTree:
    """Fit the joint model; ``sampler`` is ``nutpie`` (default) or ``pymc`` (PyMC's own NUTS).

    ``adaptation="low_rank"`` (nutpie) learns the few strongly correlated
    directions of the posterior (the loss-law exponent against the link) on
    top of a diagonal mass matrix. ``target_accept`` 0.9 (not 0.8) keeps the
    step small enough for the steep-link tail of benchmarks with few models in
    their transition (sporadic divergences there in simulation at 0.8).
    ``cores``: chains run in parallel (default: one per CPU, at most ``chains``);
    1 when several fits run side by side in separate processes.
    ``mass_matrix_gamma``: regularisation of the low-rank estimate (see ``LOW_RANK_GAMMA``).
    ``shared_data``: compile for swapping data sets at once (see :func:`compile_model`; sweeps).
    ``init``: where chains start, ``"jitter"`` or ``"advi"`` (default: the spec's; nutpie only;
    :mod:`bayes_density.inference.init`).
    """
    import nutpie

    seed = spec.seed if seed is None else seed
    init = spec.init if init is None else init
    if init not in CHAIN_STARTS:
        raise ValueError(f"init must be one of {', '.join(CHAIN_STARTS)}, got {init!r}")
    draws = spec.draws if draws is None else draws
    tune = spec.tune if tune is None else tune
    chains = spec.chains if chains is None else chains
    cores = min(chains, os.cpu_count() or 1) if cores is None else max(1, int(cores))
    model = build_model(inputs, spec)
    t_start = time.perf_counter()
    if sampler == "nutpie":
        compiled = compile_model(model, inputs, spec, cache=cache, shared_data=shared_data)
        t_compiled = time.perf_counter()
        init_note = ""
        if init == "advi":
            try:
                compiled = _advi_started(compiled, model, seed)
            except (FloatingPointError, ValueError) as exc:  # ADVI diverged: start as PyMC would
                init_note = f"ADVI start failed ({str(exc).splitlines()[0]}); chains started from the jittered support point"
                warnings.warn(init_note, RuntimeWarning, stacklevel=2)
        t_init = time.perf_counter()
        tree = nutpie.sample(
            compiled, draws=draws, tune=tune, chains=chains, seed=seed,
            progress_bar=progress, cores=cores, adaptation=adaptation,
            target_accept=target_accept,
            **({"mass_matrix_gamma": mass_matrix_gamma} if adaptation == "low_rank" else {}),
        )
        tree = _drop_warmup(tree)
        tree = _relabel(tree, model)
    elif sampler == "pymc":
        from pymc.model.transform.optimization import freeze_dims_and_data

        t_compiled = t_init = time.perf_counter()
        init_note = "PyMC's sampler starts from its own initial points" if init == "advi" else ""
        with freeze_dims_and_data(model):  # the same frozen graph nutpie samples (compile_model)
            tree = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed,
                             progressbar=progress, cores=cores,
                             nuts_sampler="pymc", compute_convergence_checks=False,
                             target_accept=target_accept)
    else:
        raise ValueError(f"sampler must be 'nutpie' or 'pymc', got {sampler!r}")
    t_sampled = time.perf_counter()
    if log_likelihood:
        with model:
            pm.compute_log_likelihood(tree, var_names=["k"], extend_inferencedata=True, progressbar=False)
    tree = attach_inputs(tree, inputs, spec)
    tree.attrs.update(
        seed=int(seed), sampler=sampler, draws=int(draws), tune=int(tune), chains=int(chains), init=init,
        init_note=init_note,
        time_compile_s=float(t_compiled - t_start), time_init_s=float(t_init - t_compiled),
        time_sample_s=float(t_sampled - t_init),
        time_total_s=float(time.perf_counter() - t_start),
    )
    return tree


def _advi_started(compiled, model: pm.Model, seed: int):
    """``compiled`` with each chain starting at its own draw from a short ADVI fit (``init.py``)."""
    import dataclasses

    mu, sd = advi_start(compiled, model, seed)
    return dataclasses.replace(compiled, initial_point_func=initial_point_function(mu, sd, seed))


def _relabel(tree: xr.DataTree, model: pm.Model) -> xr.DataTree:
    """Coordinates from this fit's model (a reused compiled model carries its first fit's labels)."""
    for group in ("posterior",):
        ds = tree[group].to_dataset()
        coords = {d: np.asarray(model.coords[d]) for d in ds.dims if d in model.coords and model.coords[d] is not None
                  and len(model.coords[d]) == ds.sizes[d]}
        tree[group] = xr.DataTree(ds.assign_coords(coords))
    return tree


def _drop_warmup(tree: xr.DataTree) -> xr.DataTree:
    keep = {k: tree[k] for k in tree.children if not k.startswith("warmup")}
    return xr.DataTree.from_dict({k: v.to_dataset() for k, v in keep.items()}) if keep else tree


def attach_inputs(tree: xr.DataTree, inputs: ModelInputs, spec: ModelSpec) -> xr.DataTree:
    """Add ``constant_data``, ``observed_data`` and attributes describing the fit."""
    const = xr.Dataset(
        {
            "log_params": ("model", inputs.log_params),
            "t": ("model", inputs.t),
            "release_date": ("model", np.array([inputs.release_dates[m] for m in inputs.models],
                                              dtype="datetime64[ns]")),
            "ref_log_params": ("reference", inputs.ref_log_params),
            "ref_log_tokens": ("reference", inputs.ref_log_tokens),
            "ref_t": ("reference", inputs.ref_t),
            "chance": ("benchmark", inputs.chance),
            "n_items": ("benchmark", inputs.n_items),
            "link_level": ("benchmark", inputs.level()),
            "obs_unit": ("obs", inputs.obs_unit.astype(np.int32)),  # int32 like the model's pm.Data
            "obs_bench": ("obs", inputs.obs_bench.astype(np.int32)),
            "obs_n": ("obs", inputs.obs_n.astype(np.int32)),
            "obs_unit_name": ("obs", np.array(inputs.units, dtype=object)[inputs.obs_unit].astype(str)),
            "obs_harness": ("obs", np.array(inputs.obs_harness or [""] * inputs.n_obs, dtype=str)),
            "obs_kind": ("obs", inputs.kind_of().astype(np.int32)),
            "bench_family": ("benchmark", inputs.family_of().astype(np.int32)),
            "bench_domain": ("benchmark", inputs.domain_of().astype(np.int32)),
            "loss_log_params": ("loss_point", inputs.loss_log_params),
            "loss_log_tokens": ("loss_point", inputs.loss_log_tokens),
        },
        coords={"model": inputs.models, "reference": inputs.references, "benchmark": inputs.benchmarks,
                "obs": np.arange(inputs.n_obs), "loss_point": np.arange(len(inputs.loss))},
    )
    for name, values in packed_data(inputs, spec).items():
        # the model's own data containers, so PyMC's sample_posterior_predictive on a saved
        # run sees unchanged data (the arrays above, packed: model.packed_data)
        const[name] = (f"{name}_index", values)
    obs = xr.Dataset({"k": ("obs", inputs.obs_k)}, coords={"obs": np.arange(inputs.n_obs)})
    if len(inputs.loss):
        obs["log_loss"] = ("loss_point", np.log(inputs.loss))
        obs = obs.assign_coords(loss_point=np.arange(len(inputs.loss)))
    tree["constant_data"] = xr.DataTree(const)
    tree["observed_data"] = xr.DataTree(obs)
    tree.attrs.update(
        spec=json.dumps(spec.to_dict(), default=str),
        t0=str(inputs.t0.date()),
        x_centre=inputs.x_centre(),
        log_d0=inputs.log_d0,
        log_nref=LOG_NREF,
        log_dref=LOG_DREF,
        targets=json.dumps(inputs.targets),
        families=json.dumps(inputs.family_names()),
        domains=json.dumps(inputs.domains),
        floor_fixed=json.dumps(inputs.floor_fixed.astype(int).tolist() if inputs.floor_fixed is not None else None),
        specialist=json.dumps(inputs.specialist.astype(int).tolist() if inputs.specialist is not None else None),
        source_kinds=json.dumps(inputs.kinds),
        trend=spec.trend,
        frontier=int(spec.frontier),
        quantile=float(spec.quantile) if spec.quantile is not None else -1.0,
        model_name=spec.name,
    )
    return tree

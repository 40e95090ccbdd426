"""Fast path for very many models: NUTS on a random subsample, every other model placed on it.

    tree = fit_subsample(inputs, spec, n_fit=300)

Method, in two steps:

1. **Globals by NUTS on a subsample.** ``n_fit`` of the fitted models are drawn at
   random (seeded; the reference models, targets and loss points all stay) and the
   full joint model is fitted to them with :func:`bayes_density.inference.fit.sample`.
   That gives the posterior of every global parameter (loss law, links, floors,
   source offsets, domain scales, trend and scatter) given those models' scores.
2. **Every other model placed conditionally.** For each posterior draw of the
   globals, each remaining model gets one exact draw of its log density r from
   p(r | its own scores, that draw): the trend prior at its release date times its
   likelihood, on a grid (:func:`bayes_density.posterior.placement.sample_log_density`;
   its domain deviations integrated out). Together these are draws from
   p(globals | subsample) x prod_i p(r_i | scores_i, globals).

What it ignores: the information the other models carry about the globals. So the
globals' intervals are those of an ``n_fit``-model fit (wider than the full data's:
conservative), and each placed model's interval carries that extra uncertainty.
With a few hundred models the trend and the links are already well determined, so
the per-model intervals are close to a full fit's (``benchmarks/scale.py``
measures it: coverage of the true log densities and the difference from full NUTS).

The result is a DataTree like a NUTS run's for every model-level question: the
posterior holds the globals (thinned to ``placement_draws`` draws in all) and
``log_density`` / ``log_neff`` over **all** models, with the full inputs attached,
so ``summaries.trend_table`` and ``density_table`` work on it. Per-unit latents
other than the density (domain deviations) and the subsample's fitted-score
quantities are left out: they exist only for the subsample. Attributes:
``fast_method`` = ``"subsample"``, ``approximate`` = 1, ``subsample_n``,
``subsample_seed``, ``time_compile_s``, ``time_sample_s`` (NUTS), ``time_place_s``,
and the NUTS fit's convergence (``subsample_rhat_max``, ``subsample_ess_bulk_min``,
``subsample_divergences``), which is the fast path's own check.
"""

from __future__ import annotations

import time

import numpy as np
import xarray as xr

from ..inference.diagnostics import diagnostics
from ..inference.fit import attach_inputs, sample
from ..model.design import ModelInputs
from ..model.spec import ModelSpec
from .placement import _Link, sample_log_density, unit_specialty
from .summaries import thin_draws

#: models fitted by NUTS (the rest are placed) and posterior draws used for the placement
DEFAULT_N_FIT, DEFAULT_PLACEMENT_DRAWS = 300, 250
#: every STRIDE-th point of placement.GRID on the fine pass: cells of 0.05 nats, each draw
#: jittered uniformly within its cell (tests/test_subsample.py compares it with the full grid)
STRIDE = 2
#: draws on which the coarse pass locates each model's posterior (placement.sample_log_density)
LOCATE_DRAWS = 25
#: how far below a draw's maximum (nats) the fast path treats the integrand as negligible
NEGLIGIBLE_FAST = 20.0
#: models per block of the threaded placement (each block has its own seeded generator)
BLOCK = 64


def choose_subsample(n_models: int, n_fit: int, seed: int) -> np.ndarray:
    """Boolean mask of ``n_fit`` of ``n_models`` models drawn without replacement (seeded)."""
    if n_fit < 2:
        raise ValueError(f"n_fit must be at least 2; got {n_fit}")
    keep = np.zeros(n_models, bool)
    keep[np.random.default_rng(seed).choice(n_models, min(n_fit, n_models), replace=False)] = True
    return keep


def place_units(tree: xr.DataTree, inputs: ModelInputs, units: np.ndarray, seed: int,
                stride: int = STRIDE, threads: int | None = None) -> np.ndarray:
    """Draws of the log density of ``units`` (fitted-model indices of ``inputs``) under ``tree``.

    Returns (draws, len(units)), draws in ``summaries.draws`` order (chain-major).
    ``tree``'s benchmarks must be ``inputs``' (same order). The units are placed in
    blocks of ``BLOCK`` on ``threads`` threads (default: one per CPU; numpy's and scipy's
    array functions release the GIL), block b with its own generator seeded by
    (``seed``, b): the result does not depend on the number of threads.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    link = _Link(tree)
    if list(link.benchmarks) != list(inputs.benchmarks):
        raise ValueError(f"run benchmarks {link.benchmarks} differ from the inputs' {inputs.benchmarks}")
    obs = inputs.obs_by_model()
    units = np.asarray(units, int)
    empty = [inputs.models[u] for u in units if not obs[u]]
    if empty:
        raise ValueError(f"model {empty[0]!r} has no scores to place it by")
    link.read_scatter()  # once, before the threads share the link
    f = link.trend_at(inputs.t[units])  # (draws, units): the trend read once
    out = np.empty((link.n_draws, len(units)))

    def block(b: int) -> None:
        rng = np.random.default_rng([seed, b])
        for j in range(b * BLOCK, min((b + 1) * BLOCK, len(units))):
            u = units[j]
            out[:, j], _ = sample_log_density(link, float(inputs.log_params[u]), float(inputs.t[u]), obs[u], rng,
                                              stride=stride, f=f[:, j], locate_draws=LOCATE_DRAWS,
                                              negligible=NEGLIGIBLE_FAST, specialty=unit_specialty(inputs, u))

    n_blocks = -(-len(units) // BLOCK)
    with ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 1) as pool:
        list(pool.map(block, range(n_blocks)))
    return out


def fit_subsample(inputs: ModelInputs, spec: ModelSpec, n_fit: int = DEFAULT_N_FIT, *,
                  placement_draws: int = DEFAULT_PLACEMENT_DRAWS, seed: int | None = None,
                  draws: int | None = None, tune: int | None = None, chains: int | None = None,
                  stride: int = STRIDE, progress: bool = False) -> xr.DataTree:
    """NUTS on ``n_fit`` random models, the rest placed conditionally (module docstring).

    ``draws``/``tune``/``chains``: the NUTS fit's (default the spec's); ``seed``: default
    the spec's, used for the subsample, the sampler and the placement. ``placement_draws``:
    posterior draws kept (thinned evenly within each chain) and used to place the others.
    With ``n_fit`` at least the number of models nothing is placed (a thinned NUTS fit).
    """
    seed = int(spec.seed if seed is None else seed)
    if placement_draws < 1:
        raise ValueError(f"placement_draws must be positive; got {placement_draws}")
    t_start = time.perf_counter()
    keep = choose_subsample(inputs.n_models, n_fit, seed)
    run = sample(inputs.subset_models(keep), spec, seed=seed, draws=draws, tune=tune, chains=chains,
                 progress=progress, log_likelihood=False, cache=False)
    diag = diagnostics(run)
    post = thin_draws(run.posterior.to_dataset(), placement_draws)
    run["posterior"] = xr.DataTree(post)
    t_fit = time.perf_counter()

    n_c, n_d = post.sizes["chain"], post.sizes["draw"]
    fitted = np.flatnonzero(keep)
    placed = np.flatnonzero(~keep)
    r = np.empty((n_c * n_d, inputs.n_models))
    r[:, fitted] = post["log_density"].stack(sample=("chain", "draw")).transpose("sample", "model").to_numpy()
    if len(placed):
        r[:, placed] = place_units(run, inputs, placed, seed + 1, stride=stride)
    r = r.reshape(n_c, n_d, inputs.n_models)
    t_place = time.perf_counter()

    per_unit = {"model", "unit", "obs", "score"}
    globals_ = post[[v for v in post.data_vars if not per_unit.intersection(post[v].dims)]]
    full = globals_.assign(
        log_density=(("chain", "draw", "model"), r),
        log_neff=(("chain", "draw", "model"), r + inputs.log_params[None, None, :]),
    ).assign_coords(model=inputs.models)
    tree = xr.DataTree.from_dict({"posterior": full})
    tree["sample_stats"] = xr.DataTree(xr.Dataset(coords={"chain": full["chain"], "draw": full["draw"]}))
    tree = attach_inputs(tree, inputs, spec)
    tree.attrs.update(
        sampler="fast-subsample", fast_method="subsample", approximate=1, seed=seed,
        chains=int(n_c), draws=int(n_d), tune=int(run.attrs.get("tune", 0)),
        subsample_n=int(keep.sum()), subsample_seed=seed,
        subsample_rhat_max=float(diag["rhat_max"]), subsample_ess_bulk_min=float(diag["ess_bulk_min"]),
        subsample_divergences=int(diag["divergences"]),
        time_compile_s=float(run.attrs.get("time_compile_s", 0.0)),
        time_sample_s=float(run.attrs.get("time_sample_s", 0.0)),
        time_place_s=float(t_place - t_fit), time_total_s=float(time.perf_counter() - t_start),
    )
    return tree

"""Approximate fast path for large data sets: ADVI (``pm.fit``) or Pathfinder (pymc-extras).

:func:`fit_fast` returns a DataTree shaped like a nutpie run: a ``posterior``
group (one chain of ``draws`` independent draws from the approximation) with
the same variable names, dimensions and coordinate labels, an empty
``sample_stats`` group, plus ``constant_data``, ``observed_data`` and the
attributes of :func:`bayes_density.fit.attach_inputs`. So
:func:`bayes_density.summaries.trend_table`, ``density_table`` and ``draws``
work on it unchanged, and :func:`bayes_density.fit.save` writes it.

It is an approximation, marked ``attrs["approximate"] = 1``. Its draws are
independent draws from a fitted distribution, not a Markov chain targeting the
posterior, so R-hat, ESS, divergences and E-BFMI do not exist for it:
:func:`diagnostics` (this module; ``summaries.diagnostics`` hands such a tree to
it) reports them as NaN and adds the approximation's own checks (PSIS k-hat,
final loss), and ``summaries.convergence_problems`` warns that the run is an
approximation. Mean-field ADVI's intervals are too narrow where the posterior is
correlated (the loss law, the link, the trend's intercept and slope); use the
fast path to screen large data sets, then confirm with NUTS.

Methods:

- ``"advi"`` (default): mean-field ADVI, ``pm.fit(method="advi")`` with Adam,
  one gradient per step, compiled with numba. The learning rate (0.05) is held
  for the first half of the ``n_iter`` (10,000) steps, then decays
  geometrically to ``lr_decay`` (0.02) x itself, which removes most of the
  optimiser's end-point jitter.
- ``"pathfinder"``: multi-path Pathfinder (``pymc_extras.fit``, paths run one
  after the other in this process, L-BFGS to ``ftol`` 1e-9), importance-
  resampled with PSIS. Compiled with the C backend by default (``backend=`` to
  change). It is biased low on the slope for this model (below).

Measured in this session on simulated data (2-core machine shared with other
jobs, nice 19; the same data-generating truth as ``benchmarks/scale.py``,
slope 2.6/yr), defaults unless stated:

- 100 models / 429 scores, against NUTS 4 x 1000 draws (slope median 2.577):
  ADVI's slope median 2.572 and 2.577 (seeds 1, 2), per-model log-density
  medians 0.024 from NUTS's (mean absolute difference), 90% intervals holding
  85-87% of the true log densities, slope sd 0.083 against NUTS's 0.123 (too
  narrow), k-hat 1.4; 10,000 steps in ~7.5 s after 8-11 s of compilation. Without
  the decay (constant 0.02) the log-density medians were 0.043-0.052 from
  NUTS's (0.026-0.029 with the decay from 0.02). 2,000 steps at 0.02 had not
  converged (slope median 2.31).
- Same 100 models, ``benchmarks/scale.py --sizes 100 --draws 300 --tune 300
  --fast-methods advi,pathfinder`` (one run; NUTS 4 x 300): doubling-time
  median ADVI +0.012 months from NUTS's, Pathfinder +0.145 months (its slope
  ~4% low); 90% intervals held 85% (ADVI), 61% (Pathfinder) and 91% (NUTS)
  of the true log densities; k-hat ADVI 1.4, Pathfinder 2.9; 18 s (ADVI) and
  37 s (Pathfinder) in all, NUTS 61 s.
- 60 models / 279 scores (the tests' data set): ADVI's slope median 2.47 after
  3,000 steps, 2.50 after 10,000; Pathfinder 2.34; NUTS 2.50.

Larger sizes: ``benchmarks/scale.py`` (README, Speed: 1,000 and 10,000 models, beside NUTS and the
subsample fast path of :mod:`bayes_density.posterior.subsample`, whose intervals are calibrated).

``attrs["fast_khat"]``: the PSIS k-hat of the approximation (Yao et al. 2018),
from the importance ratios p/q over draws from q in the unconstrained space
(ADVI, when ``khat=True``), or Pathfinder's own Pareto k of its importance
weights. k-hat > 0.7 says the approximation as a whole is far from the
posterior; its medians can still be close (they were for ADVI above, k-hat 1.4).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pymc as pm
import xarray as xr

from ..model.design import ModelInputs
from ..model.joint import build_model
from ..model.spec import ModelSpec
from .fit import attach_inputs
from .quiet import quiet
from .diagnostics import NOT_APPLICABLE  # noqa: F401  (old home)
from .diagnostics import approximate_diagnostics as diagnostics  # noqa: F401  (old name)

METHODS = ("advi", "pathfinder")
DEFAULT_N_ITER = {"advi": 10_000, "pathfinder": 1_000}
DEFAULT_BACKEND = {"advi": "numba", "pathfinder": "c"}
BACKENDS = ("numba", "c")
# L-BFGS stopping tolerance for Pathfinder (pymc-extras' default 1e-5 stopped one path at 51
# steps on the tests' 60-model set: slope median 2.28, k-hat 2.9; 1e-9: 2.34 and 2.1 at twice
# the time; NUTS 2.50)
PATHFINDER_FTOL = 1e-9


def fit_fast(
    inputs: ModelInputs,
    spec: ModelSpec,
    method: str = "advi",
    *,
    seed: int | None = None,
    draws: int = 1000,
    n_iter: int | None = None,
    learning_rate: float = 0.05,
    lr_decay: float = 0.02,
    num_paths: int = 2,
    num_elbo_draws: int = 4,
    backend: str | None = None,
    khat: bool = True,
    log_likelihood: bool = False,
    progress: bool = False,
) -> xr.DataTree:
    """Fit the joint model approximately; a DataTree like :func:`bayes_density.fit.sample`'s.

    ``method``: ``"advi"`` (mean-field ADVI: ``n_iter`` Adam steps, default 10,000, at
    ``learning_rate`` for the first half, then decaying geometrically to ``lr_decay`` x
    ``learning_rate``; ``lr_decay=1`` keeps it constant) or ``"pathfinder"`` (``num_paths``
    paths run one after the other, ``num_elbo_draws`` draws per L-BFGS step for the ELBO;
    ``n_iter`` caps the L-BFGS iterations, default 1,000). ``draws``: draws from the fitted
    approximation. ``seed``: default the spec's; the same seed gives the same result.
    ``backend``: PyTensor backend, ``"numba"`` or ``"c"``; default numba for ADVI, C for
    Pathfinder. ``khat``: ADVI only, compute the PSIS k-hat of the approximation
    (``attrs["fast_khat"]``; Pathfinder always reports its own). ``log_likelihood``: add
    the pointwise score log-likelihood (for LOO).

    Attributes: ``fast_method``, ``approximate`` = 1, ``sampler`` = ``"fast-<method>"``,
    ``time_compile_s`` (ADVI: compilation and the first step; Pathfinder: its compile
    time), ``time_sample_s`` (the rest of the fit and the draws), ``time_total_s`` (all of
    this call), ``seed``, ``draws``, ``chains`` = 1 and method details (ADVI: ``n_iter``,
    ``learning_rate``, ``lr_decay``, ``advi_loss_final``; Pathfinder: ``num_paths``,
    ``num_elbo_draws``, ``lbfgs_niter``, ``pathfinder_pareto_k``). ADVI also stores its
    loss history (negative ELBO per step) in a ``variational`` group.

    Raises ``ValueError`` for an unknown method or backend or a non-positive
    ``draws``/``n_iter``, and ``FloatingPointError`` when ADVI diverges (NaN).
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    backend = DEFAULT_BACKEND[method] if backend is None else backend
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    n_iter = DEFAULT_N_ITER[method] if n_iter is None else int(n_iter)
    if int(draws) < 1 or n_iter < 1:
        raise ValueError(f"draws and n_iter must be positive; got draws={draws!r}, n_iter={n_iter!r}")
    if method == "advi" and not (learning_rate > 0 and 0 < lr_decay <= 1):
        raise ValueError(f"need learning_rate > 0 and 0 < lr_decay <= 1; got {learning_rate!r}, {lr_decay!r}")
    draws = int(draws)
    seed = int(spec.seed if seed is None else seed)
    model = build_model(inputs, spec)
    t_start = time.perf_counter()
    with quiet(progress):
        if method == "advi":
            post, info = _advi(model, seed, draws, n_iter, learning_rate, lr_decay, backend, progress)
        else:
            post, info = _pathfinder(model, seed, draws, n_iter, num_paths, num_elbo_draws, backend, progress)
    t_fit = time.perf_counter()
    tree = xr.DataTree.from_dict({"posterior": _as_nutpie_posterior(post, model)})
    # an empty sample_stats group (no sampler statistics exist): summaries.diagnostics reads the group
    tree["sample_stats"] = xr.DataTree(xr.Dataset(coords={"chain": tree.posterior["chain"],
                                                          "draw": tree.posterior["draw"]}))
    if "loss" in info:
        tree["variational"] = xr.DataTree(xr.Dataset({"loss": ("iteration", info.pop("loss"))}))
    flat = info.pop("flat", None)
    if khat and flat is not None:
        with quiet(progress):
            info["fast_khat"] = _psis_khat(model, flat, seed, backend)
    if log_likelihood:
        with model, quiet(progress):
            pm.compute_log_likelihood(tree, var_names=["k"], extend_inferencedata=True, progressbar=False)
    tree = attach_inputs(tree, inputs, spec)
    t_compile = info.pop("t_compile")
    tree.attrs.update(
        sampler=f"fast-{method}", fast_method=method, approximate=1, backend=backend, seed=seed,
        draws=draws, chains=1, tune=0, time_compile_s=float(t_compile - t_start),
        time_sample_s=float(t_fit - t_compile), time_total_s=float(time.perf_counter() - t_start), **info,
    )
    return tree


# ---------------------------------------------------------------------------
# methods
# ---------------------------------------------------------------------------

def _advi(model, seed, draws, n_iter, learning_rate, lr_decay, backend, progress):
    import pytensor

    lr = pytensor.shared(np.asarray(learning_rate, dtype="float64"), name="advi_learning_rate")
    hold = n_iter // 2
    marks = {}

    def step_done(approx, losses, i):  # called after every step (i counts from 1)
        if "t" not in marks:  # the first call marks compilation + one step
            marks["t"] = time.perf_counter()
        if lr_decay < 1 and i > hold:
            lr.set_value(np.asarray(learning_rate * lr_decay ** ((i - hold) / max(1, n_iter - hold))))

    with model:
        try:
            approx = pm.fit(n=n_iter, method="advi", random_seed=seed, progressbar=progress,
                            obj_optimizer=pm.adam(learning_rate=lr), callbacks=[step_done], backend=backend)
        except FloatingPointError as exc:
            raise FloatingPointError(f"ADVI diverged (NaN); try a smaller learning_rate than {learning_rate}: "
                                     f"{str(exc).splitlines()[0]}") from exc
        posterior = approx.sample(draws, random_seed=seed + 1).posterior.to_dataset()
    mu, sd = np.asarray(approx.mean.eval()), np.asarray(approx.std.eval())
    hist = np.asarray(approx.hist, float)
    tail = hist[-max(1, min(500, len(hist) // 10)):]
    info = {
        "t_compile": marks.get("t", time.perf_counter()), "loss": hist, "n_iter": int(n_iter),
        "learning_rate": float(learning_rate), "lr_decay": float(lr_decay),
        "advi_loss_final": float(np.mean(tail)),
        "flat": (mu, sd, approx.groups[0].ordering, draws),
    }
    return posterior, info


def _pathfinder(model, seed, draws, n_iter, num_paths, num_elbo_draws, backend, progress):
    from pymc.pytensorf import resolve_backend_compile_kwargs

    try:
        import pymc_extras as pmx
        from pymc_extras.inference.pathfinder.lbfgs import LBFGSConfig
    except ImportError as exc:
        raise ImportError("method='pathfinder' needs pymc-extras: pip install 'bayes-density[fast]'") from exc

    t0 = time.perf_counter()
    with model:
        idata = pmx.fit(
            method="pathfinder", model=model, num_paths=int(num_paths), num_draws=draws,
            num_draws_per_path=draws, num_elbo_draws=int(num_elbo_draws), random_seed=seed,
            progressbar=progress, parallel=False, compile_kwargs=resolve_backend_compile_kwargs(backend, None),
            lbfgs_config=LBFGSConfig(maxiter=n_iter, ftol=PATHFINDER_FTOL),
        )
    pf = idata["pathfinder"].to_dataset()
    if "all_paths_failed" in pf and bool(pf["all_paths_failed"]):
        raise RuntimeError("Pathfinder: every path failed (see pymc_extras' path status); try ADVI")
    compile_s = float(pf["compile_time"]) if "compile_time" in pf else 0.0
    info = {"t_compile": t0 + compile_s, "num_paths": int(num_paths), "num_elbo_draws": int(num_elbo_draws),
            "lbfgs_maxiter": int(n_iter)}
    if "pareto_k" in pf and np.isfinite(float(pf["pareto_k"])):
        info["pathfinder_pareto_k"] = info["fast_khat"] = float(pf["pareto_k"])
    if "lbfgs" in idata.children and "niter" in idata["lbfgs"]:
        info["lbfgs_niter"] = [int(v) for v in np.ravel(idata["lbfgs"]["niter"].to_numpy())]
    return idata.posterior.to_dataset(), info


def _as_nutpie_posterior(post: xr.Dataset, model: pm.Model) -> xr.Dataset:
    """Same variables, dims, coordinate labels and (chain, draw, ...) order as a nutpie posterior."""
    keep = [v.name for v in model.free_RVs] + [v.name for v in model.deterministics]
    post = post[[v for v in keep if v in post]]
    coords = {d: np.asarray(model.coords[d]) for d in post.dims
              if d in model.coords and model.coords[d] is not None and len(model.coords[d]) == post.sizes[d]}
    post = post.assign_coords(coords)
    post = post.assign_coords(chain=np.arange(post.sizes["chain"]), draw=np.arange(post.sizes["draw"]))
    return post.transpose("chain", "draw", ...)


def _psis_khat(model: pm.Model, flat, seed: int, backend: str) -> float:
    """PSIS k-hat of a mean-field approximation: log p - log q on draws from q (unconstrained)."""
    import arviz_stats  # noqa: F401 - registers the .azstats accessor
    from pymc.pytensorf import resolve_backend_compile_kwargs

    mu, sd, ordering, draws = flat
    rng = np.random.default_rng(seed + 2)
    n = int(min(max(draws, 100), 1000))
    eps = rng.standard_normal((n, mu.size))
    z = mu + sd * eps
    logq = -0.5 * np.sum(eps**2, axis=1) - np.sum(np.log(sd)) - 0.5 * mu.size * math.log(2 * math.pi)
    logp_fn = model.compile_logp(jacobian=True, **resolve_backend_compile_kwargs(backend, None))
    logp = np.empty(n)
    for i in range(n):
        point = {name: z[i, sl].reshape(shape).astype(dtype) for name, sl, shape, dtype in ordering.values()}
        logp[i] = float(logp_fn(point))
    logw = logp - logq
    if np.isnan(logw).any():  # the log density failed somewhere: no importance weights to judge
        return math.nan
    logw = logw[np.isfinite(logw)]  # log p = -inf: weight 0, outside the right tail that k-hat measures
    if logw.size < 50:
        return math.nan
    # psislw follows the LOO convention: its input is a log-likelihood and the log importance
    # ratio it smooths is MINUS its input. So pass -log w to get the k-hat of w = p/q.
    _, k = xr.DataArray(-logw, dims=["sample"]).azstats.psislw(dim="sample")
    return float(k)

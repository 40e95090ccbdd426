"""Simulation-based calibration (Talts et al. 2018, arXiv 1804.06788) as a sweep on the engine.

For each of ``n_sims`` parameter sets drawn from a spec's prior: simulate a data
set from the model on a synthetic design (:func:`~bayes_density.model.simulate.synthetic_inputs`),
fit it with the spec's model, and record the rank of the true value among the
(thinned) posterior draws. A calibrated fit gives uniform ranks; the table tests
that with a chi-square over equal-width rank bins. Each simulation is one engine
task (Dask), written as it finishes, so a sweep resumes where it stopped.

The spec's model is kept (trend form, frontier or quantile form, breaks, priors);
its data selection is replaced by the simulated panel. ``measurement=False``
(default) uses the plain panel (one benchmark per family, floors fixed at their
nominal values, no source kinds or domains): enough to calibrate a trend form,
and several times faster than ``measurement=True`` (variants, source kinds,
domains and learned floors, as the measurement model's own SBC test uses).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..model.spec import ModelSpec

DEFAULT_SIMS, DEFAULT_MODELS, DEFAULT_BINS = 60, 40, 5
#: sampler settings of one SBC fit (as the slow SBC tests)
DEFAULT_DRAWS, DEFAULT_TUNE, DEFAULT_CHAINS = 400, 400, 2
#: keep every THIN-th posterior draw for the rank (fewer, less autocorrelated draws)
THIN = 4
#: the trend and scatter parameters checked by default, where the spec's model has them
DEFAULT_PARAMS = ("slope", "slope_change", "intercept", "intercept_mean", "frontier_scale", "frontier_share",
                  "quantile_sd", "trend_sigma", "log_alpha")
COLUMNS = ("parameter", "n_sims", "n_ranks", "counts", "chi2_p", "mean_rank")


def parse_param(text: str) -> tuple[str, int | None]:
    """``"slope"`` -> ``("slope", None)``; ``"link_loc[0]"`` -> ``("link_loc", 0)``."""
    text = text.strip()
    if text.endswith("]") and "[" in text:
        name, idx = text[:-1].split("[", 1)
        try:
            return name, int(idx)
        except ValueError:
            raise InputError(f"--params {text!r}: the index must be an integer, e.g. link_loc[0]") from None
    return text, None


def label(name: str, idx: int | None) -> str:
    return name if idx is None else f"{name}[{idx}]"


def sbc_spec(spec: ModelSpec, *, measurement: bool = False, draws: int = DEFAULT_DRAWS,
             tune: int = DEFAULT_TUNE, chains: int = DEFAULT_CHAINS) -> ModelSpec:
    """``spec``'s model on the simulated panel: data selection replaced, sampler settings set."""
    from ..model.simulate import SIM_BENCHMARKS

    return spec.replace(benchmarks=tuple(SIM_BENCHMARKS["name"]), reference="sim", targets=(), exclude_variants=(),
                        since=None, until=None, learn_floors=bool(measurement and spec.learn_floors),
                        draws=int(draws), tune=int(tune), chains=int(chains))


def design(n_models: int, seed: int, measurement: bool):
    """The simulated design every simulation of a sweep shares (dates, sizes, which scores exist)."""
    from ..model.simulate import synthetic_inputs

    return synthetic_inputs(int(n_models), seed=int(seed), second_source=0.5 if measurement else 0.2,
                            measurement=bool(measurement))


def prior_truths(base, spec: ModelSpec, n_sims: int, seed: int) -> list[dict]:
    """``n_sims`` draws of every free parameter but the per-model densities from the spec's prior."""
    import pymc as pm

    from ..model.joint import build_model

    model = build_model(base, spec)
    prior = pm.sample_prior_predictive(draws=int(n_sims), model=model, random_seed=int(seed)).prior
    free = [v.name for v in model.free_RVs if v.name != "log_density"]
    return [{k: prior[k].values[0, i] for k in free} for i in range(int(n_sims))]


def sbc_task(base, spec: ModelSpec, truth: dict, params: list, seed: int) -> dict:
    """One simulation (runs on a worker): simulate from ``truth``, fit, rank each parameter's truth."""
    from ..inference.diagnostics import diagnostics
    from ..inference.fit import sample
    from ..model.simulate import simulate
    from ..posterior.summaries import draws

    inputs, full = simulate(base, spec, truth=truth, seed=int(seed))
    tree = sample(inputs, spec, seed=int(seed), progress=False, log_likelihood=False, cores=1, shared_data=True)
    ranks, n_ranks = {}, 0
    for name, idx in params:
        d, true = draws(tree, name)[::THIN], np.asarray(full[name], float)
        if idx is not None:
            d, true = d[:, idx], true[idx]
        ranks[label(name, idx)] = int(np.sum(d < float(true)))
        n_ranks = len(d)
    diag = diagnostics(tree)
    return {"ranks": ranks, "n_ranks": n_ranks, "rhat_max": float(diag["rhat_max"]),
            "rhat_max_var": diag["rhat_max_var"], "ess_bulk_min": float(diag["ess_bulk_min"]),
            "ess_bulk_min_var": diag["ess_bulk_min_var"], "divergences": int(diag["divergences"])}


def rank_table(per_sim: pd.DataFrame, n_ranks: int, bins: int = DEFAULT_BINS) -> pd.DataFrame:
    """One row per parameter: rank counts in ``bins`` equal-width bins over 0..n_ranks and the chi-square p."""
    from scipy import stats

    rows = []
    for param, r in per_sim.groupby("parameter", sort=False)["rank"]:
        counts = np.histogram(r.to_numpy(), bins=bins, range=(0, n_ranks + 1))[0]
        p = float(stats.chisquare(counts).pvalue) if len(r) else math.nan
        rows.append({"parameter": param, "n_sims": len(r), "n_ranks": int(n_ranks),
                     "counts": " ".join(str(int(c)) for c in counts), "chi2_p": p,
                     "mean_rank": float(r.mean() / n_ranks) if len(r) else math.nan})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def run_sbc(spec: ModelSpec, *, params: Sequence[str] | None = None, n_sims: int = DEFAULT_SIMS,
            n_models: int = DEFAULT_MODELS, measurement: bool = False, draws: int = DEFAULT_DRAWS,
            tune: int = DEFAULT_TUNE, chains: int = DEFAULT_CHAINS, seed: int = 7, bins: int = DEFAULT_BINS,
            scheduler="local", workers: int | None = None, out_dir: str | Path | None = None,
            progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """SBC of ``spec``'s model. Returns ``(table, per_sim)``.

    ``params``: names such as ``"slope"`` or ``"link_loc[0]"`` (default: those of
    :data:`DEFAULT_PARAMS` the model has). ``seed`` draws the prior parameters and the
    design; simulation ``i`` simulates and fits with seed ``seed + i``. ``per_sim``: one row per
    (simulation, parameter) with its rank and the fit's R-hat, bulk ESS and divergences.
    ``table``: :func:`rank_table`, with ``attrs`` wall_s, computed, skipped, failed.
    """
    from .engine import Task, check_settings, run_sweep

    if int(n_sims) < 1 or int(n_models) < 10:
        raise InputError(f"SBC needs at least 1 simulation and 10 models, got {n_sims} and {n_models}")
    if int(bins) < 2:
        raise InputError(f"SBC needs at least 2 rank bins, got {bins}")
    check_settings(draws, tune, chains)
    spec = sbc_spec(spec, measurement=measurement, draws=draws, tune=tune, chains=chains)
    base = design(n_models, seed, measurement)
    truths = prior_truths(base, spec, n_sims, seed)
    keys = [parse_param(p) for p in params] if params else [(p, None) for p in DEFAULT_PARAMS]
    from ..model.simulate import simulate

    _, full = simulate(base, spec, truth=truths[0], seed=int(seed))  # which parameters the model has
    missing = [label(n, i) for n, i in keys if n not in full]
    if params and missing:
        raise InputError(f"--params: {', '.join(missing)} not in {spec.name!r}'s model; it has "
                         f"{', '.join(sorted(k for k in full if not k.startswith('_')))}")
    keys = [(n, i) for n, i in keys if n in full and np.ndim(full[n]) == (0 if i is None else 1)]
    if not keys:
        raise InputError(f"no scalar parameter to check in {spec.name!r}'s model")
    tasks = [Task(key=f"sbc-{spec.name}-{i:04d}", fn=sbc_task,
                  kwargs={"spec": spec, "truth": truths[i], "params": keys, "seed": int(seed) + i},
                  meta={"spec": spec.to_dict(), "sim": i, "seed": int(seed), "models": int(n_models),
                        "measurement": bool(measurement), "params": [label(n, j) for n, j in keys]})
             for i in range(int(n_sims))]
    res = run_sweep(tasks, base, out_dir, scheduler=scheduler, workers=workers, progress=progress, desc="SBC fits")
    rows, n_ranks, failed = [], 0, 0
    for i, rec in enumerate(res.records):
        if rec["status"] != "done":
            failed += 1
            continue
        out = rec["result"]
        n_ranks = out["n_ranks"]
        for param, rank in out["ranks"].items():
            rows.append({"sim": i, "parameter": param, "rank": rank, "rhat_max": out["rhat_max"],
                         "rhat_max_var": out.get("rhat_max_var"), "ess_bulk_min": out["ess_bulk_min"],
                         "ess_bulk_min_var": out.get("ess_bulk_min_var"), "divergences": out["divergences"]})
    per_sim = pd.DataFrame(rows, columns=["sim", "parameter", "rank", "rhat_max", "rhat_max_var", "ess_bulk_min",
                                          "ess_bulk_min_var", "divergences"])
    table = rank_table(per_sim, n_ranks, bins)
    table.attrs.update(spec=spec.name, wall_s=res.wall_s, workers=res.workers, computed=res.computed,
                       skipped=res.skipped, failed=failed, n_models=int(n_models), measurement=bool(measurement),
                       draws=int(draws), tune=int(tune), chains=int(chains), thin=THIN)
    return table, per_sim

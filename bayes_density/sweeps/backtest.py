"""Backtests and K-fold cross-validation by model, run as sweeps on the engine.

:func:`run_backtest`: for each spec and cutoff, one fit on the models released
on or before the cutoff (``spec.replace(until=cutoff)``), then the forecast
checks of :mod:`bayes_density.checks.backtest` on every later model; one row
per (spec, cutoff) with the paper's method beside it. :func:`run_kfold`: K fits
per spec, each without one fold of models, and the log predictive density of
each held-out model's scores. Every fit is one engine task (Dask), written as
it finishes; a rerun with the same ``out_dir`` fits only what is missing.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .engine import describe_error
from ..model.spec import ModelSpec

DEFAULT_CUTOFFS = ("2023-06-30", "2023-12-31", "2024-03-31", "2024-06-30")
#: sampler settings of a backtest fit (a screen, like the multiverse)
DEFAULT_DRAWS, DEFAULT_TUNE, DEFAULT_CHAINS = 500, 500, 4
DEFAULT_K = 10

COLUMNS = ("spec", "cutoff", "n_fit", "n_later", "coverage_50", "coverage_90", "share_above_p95", "crps",
           "pit_mean", "baseline_n", "baseline_coverage_50", "baseline_coverage_90", "baseline_share_above",
           "baseline_crps", "rhat_max", "divergences", "fit_s", "error")


def _fit(data, spec: ModelSpec, draws: int, tune: int, chains: int, seed: int):
    from ..inference import fit as fit_mod
    from ..model.design import prepare

    inputs = prepare(data, spec)
    tree = fit_mod.sample(inputs, spec, seed=seed, draws=draws, tune=tune, chains=chains, progress=False, cores=1)
    return inputs, tree


def backtest_task(data, spec: ModelSpec, cutoff: str, draws: int, tune: int, chains: int, seed: int,
                  prior: str = "flat") -> dict:
    """One backtest fit (runs on a worker): the summary row and the per-model rows (both methods)."""
    from ..checks.backtest import baseline_later, evaluate_later, later_models, summarize
    from ..posterior.summaries import diagnostics

    t_start = time.perf_counter()
    row = {c: math.nan for c in COLUMNS}
    row.update(spec=spec.name, cutoff=cutoff, error="")
    fitted = spec.replace(until=cutoff)
    out = {"row": row, "models": [], "baseline": []}
    try:
        inputs, tree = _fit(data, fitted, draws, tune, chains, seed)
    except InputError as exc:  # fixed by the inputs (too few models before the cutoff): an error row
        row.update(error=str(exc), fit_s=time.perf_counter() - t_start)
        return out
    # anything else raises: the sweep engine retries the fit, records the error, and a rerun tries again
    diag = diagnostics(tree)
    row.update(n_fit=inputs.n_models, rhat_max=diag["rhat_max"], divergences=diag["divergences"])
    later = later_models(data, spec, cutoff, inputs.benchmarks)
    per = evaluate_later(tree, data, later, prior=prior, seed=seed)
    row.update(summarize(per))
    try:
        base = baseline_later(data, spec, cutoff, later)
    except Exception as exc:  # noqa: BLE001 - the baseline is a comparison, not the result
        base = pd.DataFrame()
        row["error"] = f"baseline failed: {describe_error(exc)}"
    if len(base):
        b = summarize(base, p_above=0.5)
        row.update(baseline_n=b["n_later"], baseline_coverage_50=b["coverage_50"],
                   baseline_coverage_90=b["coverage_90"], baseline_share_above=b["share_above_p50"],
                   baseline_crps=b["crps"])
    else:
        row["baseline_n"] = 0
    row["fit_s"] = time.perf_counter() - t_start
    out.update(models=per.assign(spec=spec.name, cutoff=cutoff).to_dict(orient="records"),
               baseline=base.assign(spec=spec.name, cutoff=cutoff).to_dict(orient="records"))
    return out


def check_cutoffs(cutoffs: Sequence[str]) -> list[str]:
    out = []
    for c in cutoffs:
        try:
            out.append(pd.Timestamp(str(c).strip()).date().isoformat())
        except (ValueError, TypeError):
            raise InputError(f"cutoff {c!r} is not a date (YYYY-MM-DD)") from None
    if not out:
        raise InputError("no cutoffs")
    if len(set(out)) < len(out):
        raise InputError(f"cutoffs listed twice: {out}")
    return out


def run_backtest(data, specs: Sequence[ModelSpec], cutoffs: Sequence[str] = DEFAULT_CUTOFFS, *,
                 draws: int = DEFAULT_DRAWS, tune: int = DEFAULT_TUNE, chains: int = DEFAULT_CHAINS,
                 seed: int | None = None, prior: str = "flat", scheduler="local", workers: int | None = None,
                 out_dir: str | Path | None = None, progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Backtest every (spec, cutoff) in parallel. Returns ``(table, per_model)``.

    ``table``: one row per (spec, cutoff), columns :data:`COLUMNS` (``baseline_*``: the paper's
    method; ``baseline_share_above``: later models whose point density is above its line).
    ``per_model``: one row per (spec, cutoff, later model) with the predictive and placed
    quantiles (for the plot). ``out_dir``: records folder (resumable; default temporary).
    """
    from ..data.io import DensityData, load_data
    from .engine import Task, check_settings, fingerprint, run_sweep

    specs, cutoffs = list(specs), check_cutoffs(cutoffs)
    if not specs:
        raise InputError("no specs to backtest")
    check_settings(draws, tune, chains)
    if not isinstance(data, DensityData):
        data = load_data(data)
    token = fingerprint(data)
    tasks = []
    for spec in specs:
        s = spec.seed if seed is None else int(seed)
        kw = {"spec": spec, "draws": int(draws), "tune": int(tune), "chains": int(chains), "seed": s,
              "prior": prior}
        for c in cutoffs:
            tasks.append(Task(key=f"backtest-{spec.name}-{c}", fn=backtest_task, kwargs={**kw, "cutoff": c},
                              meta={"spec": spec.to_dict(), "cutoff": c, "data": token,
                                    **{k: v for k, v in kw.items() if k != "spec"}}))
    res = run_sweep(tasks, data, out_dir, scheduler=scheduler, workers=workers, progress=progress, desc="backtest fits")
    rows, models = [], []
    for t, rec in zip(tasks, res.records):
        if rec["status"] == "done":
            rows.append(rec["result"]["row"])
            models.extend(rec["result"]["models"])
        else:
            row = {c: math.nan for c in COLUMNS}
            row.update(spec=t.kwargs["spec"].name, cutoff=t.kwargs["cutoff"], error=f"fit failed: {rec['error']}")
            rows.append(row)
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table["error"] = table["error"].fillna("").astype(str)
    table.attrs.update(wall_s=res.wall_s, workers=res.workers, computed=res.computed, skipped=res.skipped,
                       draws=int(draws), tune=int(tune), chains=int(chains), prior=prior)
    return table, pd.DataFrame(models)


# ---------------------------------------------------------------------------
# K-fold cross-validation by model
# ---------------------------------------------------------------------------

def kfold_task(data, spec: ModelSpec, held_out: list[str], draws: int, tune: int, chains: int, seed: int) -> dict:
    """Fit without the held-out models (runs on a worker); their log predictive densities."""
    from ..checks.backtest import heldout_log_predictive
    from ..model.design import select_models

    held = set(held_out)
    train = dataclasses.replace(data, models=data.models[~data.models["name"].isin(held)],
                                scores=data.scores[~data.scores["model"].isin(held)])
    try:
        _, tree = _fit(train, spec, draws, tune, chains, seed)
    except InputError as exc:  # fixed by the inputs; anything else raises (the engine retries, records it)
        return {"elpd": [], "error": str(exc)}
    models = select_models(data, spec)
    d = heldout_log_predictive(tree, data, models[models["name"].isin(held)])
    return {"elpd": d.to_dict(orient="records"), "error": ""}


def kfold_table(names: Sequence[str], owner: Sequence[str], records: Sequence[dict], k: int) -> pd.DataFrame:
    """The K-fold table from the sweep's records (``owner[i]``: the spec name of ``records[i]``), unsorted."""
    per: dict[str, list] = {n: [] for n in names}
    failed: dict[str, int] = {n: 0 for n in names}
    for name, rec in zip(owner, records):
        if rec["status"] != "done" or rec["result"]["error"]:
            failed[name] += 1
            continue
        per[name].extend(rec["result"]["elpd"])
    rows, point = [], {}
    for name in names:
        d = pd.DataFrame(per[name], columns=["name", "n_scores", "elpd"]).set_index("name")["elpd"]
        point[name] = d
        # a spec with a failed fold sums fewer models: no total, so that it is not ranked on a part
        complete = len(d) > 0 and failed[name] == 0
        rows.append({"name": name, "elpd_kfold": float(d.sum()) if complete else math.nan,
                     "se": float(np.sqrt(len(d) * d.var(ddof=1))) if len(d) > 1 else math.nan,
                     "n_models": int(len(d)), "k": int(k), "n_failed": failed[name]})
    table = pd.DataFrame(rows)
    best = table["elpd_kfold"].idxmax() if table["elpd_kfold"].notna().any() else None
    diffs, dses = [], []
    for r in rows:
        if best is None:
            diffs.append(math.nan), dses.append(math.nan)
            continue
        a, b = point[r["name"]], point[rows[best]["name"]]
        common = a.index.intersection(b.index)
        diff = a[common] - b[common]
        diffs.append(float(diff.sum()))
        dses.append(float(np.sqrt(len(diff) * diff.var(ddof=1))) if len(diff) > 1 and r is not rows[best] else 0.0)
    table["elpd_diff"], table["dse"] = diffs, dses
    return table


def run_kfold(data, specs: Sequence[ModelSpec], k: int = DEFAULT_K, *, draws: int = DEFAULT_DRAWS,
              tune: int = DEFAULT_TUNE, chains: int = DEFAULT_CHAINS, seed: int | None = None, fold_seed: int = 0,
              scheduler="local", workers: int | None = None, out_dir: str | Path | None = None,
              progress: bool = True) -> pd.DataFrame:
    """K-fold CV by model for each spec: ``name, elpd_kfold, se, n_models, k, elpd_diff, dse, n_failed``.

    The folds are the spec's fitted models (after its filters), shuffled with ``fold_seed`` and
    dealt into ``k`` folds; specs with the same models get the same folds, so differences are paired.
    A spec with a failed fold (``n_failed``) has no ``elpd_kfold`` (NaN: a sum over fewer models is not
    comparable) and is never the reference; its ``elpd_diff`` is paired on the models it has.
    """
    from ..checks.backtest import kfold_folds
    from ..data.io import DensityData, load_data
    from ..model.design import prepare
    from .engine import Task, check_settings, fingerprint, run_sweep

    specs = list(specs)
    check_settings(draws, tune, chains)
    if not isinstance(data, DensityData):
        data = load_data(data)
    token = fingerprint(data)
    tasks, owner = [], []
    for spec in specs:
        names = sorted(prepare(data, spec).models)
        s = spec.seed if seed is None else int(seed)
        for j, fold in enumerate(kfold_folds(names, k, fold_seed)):
            kw = {"spec": spec, "held_out": fold, "draws": int(draws), "tune": int(tune), "chains": int(chains),
                  "seed": s}
            tasks.append(Task(key=f"kfold-{spec.name}-{k}-{j}", fn=kfold_task, kwargs=kw,
                              meta={"spec": spec.to_dict(), "fold": fold, "data": token,
                                    **{x: v for x, v in kw.items() if x not in ("spec", "held_out")}}))
            owner.append(spec.name)
    res = run_sweep(tasks, data, out_dir, scheduler=scheduler, workers=workers, progress=progress, desc="K-fold fits")
    table = kfold_table([s.name for s in specs], owner, res.records, k)
    table.attrs.update(wall_s=res.wall_s, workers=res.workers, computed=res.computed, skipped=res.skipped)
    return table.sort_values("elpd_kfold", ascending=False, ignore_index=True)


def write_table(table: pd.DataFrame, path) -> Path:
    """Write a backtest table as CSV, atomically."""
    from ..inference.run import atomic_write

    return atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))

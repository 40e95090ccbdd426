"""The multiverse (specification curve): refit one analysis over many data selections.

Every non-empty subset of a set of benchmarks (31 for the paper's five) crossed
with every reference family (``llama``, ``qwen2``) is one specification; each
is fitted with the same sampler settings and seed, and the table gives the
doubling time of capability density per specification (median and 90%
interval) with its convergence diagnostics. :func:`bayes_density.plots.specification_curve`
draws it; ``bayes-density multiverse`` runs it from the command line.

Parallelism is across fits, not chains: the fits run as tasks of the sweep
engine (:mod:`bayes_density.sweeps.engine`, Dask): by default a local cluster of
single-threaded worker processes, one per core, or an existing cluster
(``scheduler="tcp://HOST:PORT"``). Each worker receives the data once and runs
whole fits one after another, with the chains of a fit sampled sequentially
(``cores=1``). Fits of different specifications have different model
structures (one compilation each) unless fitted as masks on one selection
(``compile_once``: one compilation per reference set and worker; not the default,
see :func:`run_multiverse`); running fits side by side keeps every core busy
through compilation as well as sampling. Every finished
fit is written as it completes (one JSON record per spec in ``out_dir``), so an
interrupted sweep resumes where it stopped.

Sampler settings: 4 chains x 500 draws after 500 tuning steps by default,
half of a full fit's. This is a screening run: the curve compares medians of
the doubling time across specifications, whose differences are large against
the Monte Carlo error of a median from 2,000 draws (bulk ESS of several
hundred for the slope), and nutpie's mass-matrix adaptation usually settles
well within 500 tuning steps for this model. Whether it did is reported per
fit (``rhat_max``, ``ess_bulk_min``, ``divergences``): refit any specification
that is flagged, or whose conclusion matters, with ``bayes-density fit`` at
full settings.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..constants import DEFAULT_PROB
from ..model.spec import PAPER_BENCHMARKS, ModelSpec

#: screening settings (module docstring says why)
DEFAULT_DRAWS = 500
DEFAULT_TUNE = 500
DEFAULT_CHAINS = 4
DEFAULT_REFERENCES = ("llama", "qwen2")
#: a fit is flagged as not converged above this R-hat, below this bulk ESS, or with any divergence
RHAT_OK = 1.01
ESS_OK = 400
NOT_CONVERGED = f"R-hat > {RHAT_OK}, divergences or bulk ESS < {ESS_OK}"
#: adaptive reruns of a fit that is not converged: each doubles draws and tuning (and raises
#: target_accept to 0.95 after divergences); the row records how many were needed
DEFAULT_RERUNS = 2

COLUMNS = ("name", "benchmarks", "n_benchmarks", "reference", "n_models", "n_scores", "doubling_months_median",
           "doubling_months_lo", "doubling_months_hi", "A_per_day_median", "rhat_max", "ess_bulk_min",
           "divergences", "fit_s", "compile_s", "error", "chains", "draws", "tune", "seed", "reruns", "run_file")
BENCH_SEP, REF_SEP = "+", "|"


def benchmark_subsets(benchmarks: Sequence[str] = PAPER_BENCHMARKS) -> list[tuple[str, ...]]:
    """All non-empty subsets of ``benchmarks`` as tuples in the given order, by size, then by order.

    >>> benchmark_subsets(["A", "B", "C"])
    [('A',), ('B',), ('C',), ('A', 'B'), ('A', 'C'), ('B', 'C'), ('A', 'B', 'C')]
    """
    benchmarks = tuple(benchmarks)
    if len(set(benchmarks)) != len(benchmarks):
        raise InputError(f"benchmarks listed twice: {benchmarks}")
    return [s for k in range(1, len(benchmarks) + 1) for s in itertools.combinations(benchmarks, k)]


def spec_name(benchmarks: Iterable[str], reference: str) -> str:
    """``MMLU+BBH|llama``: the benchmarks joined by '+', then '|' and the reference set."""
    return f"{BENCH_SEP.join(benchmarks)}{REF_SEP}{reference}"


def multiverse_specs(base_spec: ModelSpec, benchmarks: Sequence[str] | None = None,
                     references: Sequence[str] = DEFAULT_REFERENCES) -> list[ModelSpec]:
    """One spec per (benchmark subset, reference set): ``base_spec`` with those two fields (and the name) changed.

    ``benchmarks``: the set whose subsets are taken (default: the base spec's
    benchmarks). Ordered by subset (size, then order), then by reference.
    """
    benchmarks = tuple(base_spec.benchmarks if benchmarks is None else benchmarks)
    references = tuple(references)
    if not benchmarks:
        raise InputError("no benchmarks to take subsets of")
    if not references:
        raise InputError("no reference sets")
    if len(set(references)) != len(references):
        raise InputError(f"reference sets listed twice: {references}")
    return [base_spec.replace(benchmarks=subset, reference=ref, name=spec_name(subset, ref))
            for subset in benchmark_subsets(benchmarks) for ref in references]


# ---------------------------------------------------------------------------
# one fit (runs in a worker process)
# ---------------------------------------------------------------------------

def _empty_row(spec: ModelSpec) -> dict:
    row = {c: math.nan for c in COLUMNS}
    row.update(name=spec.name, benchmarks=BENCH_SEP.join(spec.benchmarks), n_benchmarks=len(spec.benchmarks),
               reference=spec.reference, error="", run_file="")
    return row


def headline(tree, prob: float = DEFAULT_PROB) -> dict:
    """Doubling time (months) and slope per day of a run: the whole period, or after a break."""
    from ..posterior.summaries import headline_period, trend_table

    tt = trend_table(tree, prob)
    period = headline_period(tt)
    pick = tt[tt["period"] == period].set_index("quantity")
    dt = pick.loc["doubling_time_months"]
    return {"doubling_months_median": float(dt["median"]), "doubling_months_lo": float(dt["lo"]),
            "doubling_months_hi": float(dt["hi"]), "A_per_day_median": float(pick.loc["A_per_day", "median"])}


def run_file_name(name: str) -> str:
    """File name of a spec's run: ``MMLU+BBH|llama`` -> ``MMLU+BBH__llama.nc``."""
    return re.sub(r"[^A-Za-z0-9+._-]", "_", name.replace(REF_SEP, "__")) + ".nc"


def fit_spec(data, spec: ModelSpec, *, draws: int, tune: int, chains: int, seed: int, prob: float = DEFAULT_PROB,
             cores: int = 1, runs_dir: str | Path | None = None, return_tree: bool = False,
             base: ModelSpec | None = None, reruns: int = 0):
    """Fit one specification and return its multiverse row; an unusable data selection gives an error row.

    Anything else that goes wrong (the sampler, saving the run) raises: the sweep engine retries the
    fit and records the error, and a rerun of the sweep tries it again.

    ``runs_dir``: also save the run (NetCDF, as ``bayes-density fit`` writes it: with the pointwise
    log-likelihood and the paper baseline) there, named by :func:`run_file_name`; its path is the
    row's ``run_file``. ``return_tree``: return ``(row, tree)`` (tree None when not fitted).
    ``base``: fit ``spec``'s scores as a mask on ``base``'s selection (:func:`~bayes_density.model.design.masked`,
    ``base`` taken with ``spec``'s reference set), so that every spec of a sweep with one reference
    set shares one compiled model; the row's ``n_models`` and ``n_scores`` are still ``spec``'s own.
    ``reruns``: while the fit is not :func:`converged`, refit up to this many times, each with twice
    the draws and tuning of the last (target_accept 0.95 after divergences); the row's ``draws``,
    ``tune`` and ``reruns`` are those of the last fit.
    """
    from ..model.design import SelectionError, masked, prepare
    from ..data.io import DataError
    from ..model.spec import SpecError

    t_start = time.perf_counter()
    row = _empty_row(spec)
    row.update(chains=chains, draws=draws, tune=tune, seed=seed)
    tree = None
    try:
        if getattr(data, "borrowed", ()) and spec.reference in data.reference_sets:
            data = data.for_reference(spec.reference)  # only this family's borrowed reference models
        inputs = prepare(data, spec)
    except (DataError, SpecError, SelectionError) as exc:
        row.update(error=str(exc), fit_s=time.perf_counter() - t_start)
        return (row, None) if return_tree else row
    row.update(n_models=inputs.n_models, n_scores=inputs.n_obs)
    from ..inference import fit as fit_mod
    from ..posterior.summaries import diagnostics

    if base is not None:
        inputs = masked(data, spec, base.replace(reference=spec.reference))
    accept, compile_s = 0.9, 0.0
    for attempt in range(int(reruns) + 1):
        d, t = draws * 2**attempt, tune * 2**attempt
        tree = fit_mod.sample(inputs, spec, seed=seed, draws=d, tune=t, chains=chains, progress=False,
                              cores=cores, log_likelihood=runs_dir is not None, shared_data=base is not None,
                              target_accept=accept)
        compile_s += float(tree.attrs.get("time_compile_s", math.nan))
        diag = diagnostics(tree)
        row.update(rhat_max=diag["rhat_max"], ess_bulk_min=diag["ess_bulk_min"],
                   divergences=diag["divergences"], draws=d, tune=t, reruns=attempt)
        if converged(row):
            break
        accept = 0.95 if diag["divergences"] else accept
    row.update(headline(tree, prob), compile_s=compile_s)
    if runs_dir is not None:
        from ..posterior.baseline import attach_baseline

        try:
            attach_baseline(tree, inputs, spec.break_date if spec.trend != "linear" else None)
        except Exception:  # noqa: BLE001 - the paper baseline is optional in a run file
            pass
        row["run_file"] = str(fit_mod.save(tree, Path(runs_dir) / run_file_name(spec.name)))
    row["fit_s"] = time.perf_counter() - t_start
    return (row, tree) if return_tree else row


# ---------------------------------------------------------------------------
# the sweep
# ---------------------------------------------------------------------------

_VARYING = ("name", "description", "benchmarks", "reference", "source")


def shared_base(specs: Sequence[ModelSpec]) -> ModelSpec | None:
    """The spec every one of ``specs`` is a mask of: the union of their benchmarks, in first-seen
    order; None when they differ in anything but name, description, benchmarks and reference set."""
    first = {k: v for k, v in specs[0].to_dict().items() if k not in _VARYING}
    if any({k: v for k, v in s.to_dict().items() if k not in _VARYING} != first for s in specs[1:]):
        return None
    union: list[str] = []
    for s in specs:
        union += [b for b in s.benchmarks if b not in union]
    return specs[0].replace(benchmarks=tuple(union), name="multiverse-base")


def _report(row: dict, done: int, total: int) -> None:
    if row["error"]:
        what = f"error: {row['error']}"
    else:
        what = (f"doubling {row['doubling_months_median']:.2f} months "
                f"[{row['doubling_months_lo']:.2f}, {row['doubling_months_hi']:.2f}]"
                + ("" if converged(row) else "  (not converged)"))
    from .engine import echo

    echo(f"[{done}/{total}] {row['name']}: {what} ({row['fit_s']:.0f} s)")


def converged(row) -> bool:
    """R-hat <= 1.01, no divergences and min bulk ESS >= 400 (False for error rows)."""
    try:
        return bool(row["rhat_max"] <= RHAT_OK and row["divergences"] == 0 and row["ess_bulk_min"] >= ESS_OK)
    except TypeError:
        return False


def run_multiverse(data, specs: Sequence[ModelSpec], *, draws: int = DEFAULT_DRAWS, tune: int = DEFAULT_TUNE,
                   chains: int = DEFAULT_CHAINS, seed: int | None = None, workers: int | None = None,
                   prob: float = DEFAULT_PROB, runs_dir: str | Path | None = None,
                   progress: bool | Callable[[dict, int, int], None] = True, scheduler="local",
                   out_dir: str | Path | None = None, compile_once: bool = False,
                   reruns: int = DEFAULT_RERUNS) -> pd.DataFrame:
    """Fit every spec in parallel; one row per spec, in the order of ``specs``.

    ``data``: a :class:`~bayes_density.io.DensityData`, a data folder, or None
    (the shipped data); a folder is loaded (and checked) here, before any
    worker starts, and each worker receives the tables once, in its
    initializer. Every spec is fitted with the same ``draws``, ``tune``,
    ``chains`` and ``seed`` (default: the first spec's seed), so the table is
    reproducible. ``scheduler``: ``"local"`` (a local Dask cluster of
    ``workers`` single-threaded processes, default ``os.cpu_count()``, at most
    one per spec) or a scheduler address ``"tcp://HOST:PORT"``; chains run
    sequentially inside a worker. ``out_dir``: the folder of per-fit records
    (:mod:`~bayes_density.sweeps.engine`); a rerun with the same folder skips
    the fits already done (default: a temporary folder, no resuming).
    ``progress``: True shows a progress bar and one line per finished fit on
    stderr; a callable is called as ``progress(row, done, total)``. ``runs_dir``: also save every fit's run
    file there (see :func:`fit_spec`), to look at one specification closely
    (``bayes-density summary``, ``check``, ``report``).

    ``reruns``: a fit that is not :func:`converged` (R-hat > 1.01, a divergence or min bulk
    ESS < 400) is refitted with twice the draws and tuning, up to ``reruns`` times
    (:func:`fit_spec`); the row's ``reruns`` column says how many it took, ``draws`` and
    ``tune`` are the last fit's.

    ``compile_once``: where the specs differ only in their benchmarks and
    reference set (as :func:`multiverse_specs` makes them), every spec is fitted as a
    mask on the union of their benchmarks (:func:`shared_base`, :func:`fit_spec`'s
    ``base``): a change of data, not of model structure, so a worker compiles one
    model per reference set (numba, with shareable data) instead of one per spec.
    Not the default: the parameters of the benchmarks a spec leaves out stay in the
    masked model, following their prior, and NUTS must explore them too. On the shipped
    data (default spec, 4 x 500 draws, one worker; MMLU, MBPP and both) the masked fits
    took 618 s in all against 185 s compiled each (31 s against 54 s of compilation), and
    the MMLU-only fit had bulk ESS 46 and 18 divergences against 961 and 0. It pays only
    where compilation dominates (short fits of a small model). Not with ``runs_dir`` (a run file holds the units and
    benchmarks it was fitted on, and a masked fit's would include the other specs').

    Columns: ``name, benchmarks ('MMLU+BBH'), n_benchmarks, reference, n_models,
    n_scores, doubling_months_median/lo/hi`` (``prob`` interval, months),
    ``A_per_day_median, rhat_max, ess_bulk_min, divergences, fit_s`` (seconds,
    selection + compile + sampling + summaries), ``compile_s`` (of which building and
    compiling the model; near 0 where a worker reused a compiled model), ``error`` (empty when the fit
    ran; otherwise why not, e.g. too few models), the sampler settings
    ``chains, draws, tune, seed`` and ``run_file`` (empty unless saved).
    ``df.attrs`` holds ``wall_s`` (total wall time), ``workers``, ``computed``
    and ``skipped`` (fits run now, and found done in ``out_dir``), ``prob`` and
    the sampler settings.
    """
    from ..data.io import DensityData, load_data

    specs = list(specs)
    if not specs:
        raise InputError("no specifications to fit")
    names = [s.name for s in specs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"specification names must be unique; repeated: {dup}")
    files = [run_file_name(n) for n in names]
    if runs_dir is not None and len(set(files)) < len(files):
        raise InputError(f"specification names that give the same run file name: "
                         f"{sorted(n for n, f in zip(names, files) if files.count(f) > 1)}")
    from .engine import Task, check_settings, fingerprint, run_sweep

    check_settings(draws, tune, chains)
    if not 0 < prob < 1:
        raise InputError(f"prob must be between 0 and 1, got {prob}")
    seed = specs[0].seed if seed is None else int(seed)
    if workers is not None and int(workers) < 1:
        raise InputError(f"workers must be >= 1, got {workers}")
    n_workers = max(1, min(int(workers) if workers is not None else (os.cpu_count() or 1), len(specs)))
    if int(reruns) < 0:
        raise InputError(f"reruns must be >= 0, got {reruns}")
    settings = {"draws": int(draws), "tune": int(tune), "chains": int(chains), "seed": seed, "prob": prob, "cores": 1,
                "runs_dir": None if runs_dir is None else str(Path(runs_dir).resolve()), "reruns": int(reruns)}
    base = shared_base(specs) if compile_once and runs_dir is None else None
    report = _report if progress is True else (progress if callable(progress) else None)
    if not isinstance(data, DensityData):
        data = load_data(data)

    token = fingerprint(data)
    tasks = [Task(key=run_file_name(spec.name)[:-3], fn=fit_spec, kwargs={"spec": spec, "base": base, **settings},
                  meta={"name": spec.name, "spec": spec.to_dict(), "data": token, "masked": base is not None,
                        **({} if base is None else {"base": base.to_dict()}),
                        **settings}) for spec in specs]
    # longest fits first (more benchmarks, more scores) so that no worker is left with a long fit at the end
    order = sorted(range(len(specs)), key=lambda i: -len(specs[i].benchmarks))
    by_spec = {t.key: s for t, s in zip(tasks, specs)}

    def row_of(rec: dict) -> dict:
        if rec["status"] == "done":
            return rec["result"]
        row = _empty_row(by_spec[rec["key"]])  # e.g. its worker died twice
        row.update(error=f"fit failed: {rec['error']}", chains=chains, draws=draws, tune=tune, seed=seed)
        return row

    on_record = None
    if report is not None:
        def on_record(rec, done, total):
            report(row_of(rec), done, total)

    t_start = time.perf_counter()
    result = run_sweep([tasks[i] for i in order], data, out_dir, scheduler=scheduler, workers=n_workers,
                       progress=progress is True, desc="multiverse fits", on_record=on_record)
    rows = {by_spec[rec["key"]].name: row_of(rec) for rec in result.records}
    n_workers = result.workers or n_workers
    wall = time.perf_counter() - t_start
    df = pd.DataFrame([rows[n] for n in names], columns=list(COLUMNS))
    for col in ("n_models", "n_scores", "divergences"):
        df[col] = df[col].astype("Int64")
    for col in ("error", "run_file"):
        df[col] = df[col].fillna("").astype(str)
    df.attrs.update(wall_s=float(wall), workers=n_workers, computed=result.computed, skipped=result.skipped,
                    prob=prob, draws=int(draws), tune=int(tune),
                    chains=int(chains), seed=seed, compile_once=base is not None)
    return df


# ---------------------------------------------------------------------------
# the table on disk
# ---------------------------------------------------------------------------

def sort_curve(table: pd.DataFrame) -> pd.DataFrame:
    """Fitted specs by median doubling time (no-doubling medians last), then the error rows."""
    ok = table["error"].fillna("").astype(str) == ""
    fitted = table[ok].sort_values(["doubling_months_median", "name"], kind="stable")
    return pd.concat([fitted, table[~ok]], ignore_index=True)


def write_table(table: pd.DataFrame, path) -> Path:
    """Write the multiverse table as CSV, atomically."""
    from ..inference.run import atomic_write

    return atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))


def read_table(path) -> pd.DataFrame:
    """Read a table written by :func:`write_table` (checks the columns the plot and report need)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such multiverse table")
    try:
        df = pd.read_csv(path, keep_default_na=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a multiverse table (CSV): {exc}") from None
    need = ("name", "benchmarks", "reference", "doubling_months_median", "doubling_months_lo",
            "doubling_months_hi", "rhat_max", "divergences", "error")
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InputError(f"{path}: not a multiverse table: missing column(s) {missing} "
                         "(write one with 'bayes-density multiverse --out TABLE.csv')")
    for col in ("error", "benchmarks", "run_file"):
        if col in df:
            df[col] = df[col].fillna("").astype(str)
    return df

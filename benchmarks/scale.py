"""Scale: NUTS and the approximate fast path on simulated data sets of growing size, in one run.

    python benchmarks/scale.py [--sizes 100,1000,10000] [--fast-methods advi[,pathfinder][,subsample]]
                               [--nuts-max-models 1000] [--chains 4] [--draws 1000] [--tune 1000]
                               [--pilot-tune 50] [--pilot-draws 50] [--no-pilot-calibration]
                               [--advi-iter 10000] [--fast-draws 1000] [--subsample-n 300]
                               [--subsample-chains 4] [--subsample-draws 500] [--subsample-tune 500]
                               [--placement-draws 250] [--seed 1] [--inits jitter,advi] [--data-seed 5]
                               [--timeout 3600] [--json out.json]

For each size a data set is drawn from the model itself
(:func:`bayes_density.simulate.synthetic_inputs` + :func:`~bayes_density.simulate.simulate`,
default truth: slope 2.6/yr, i.e. a doubling time of 3.20 months), so that the
truth is known. Then, each in a fresh process (``_common.run_worker``: per-
configuration peak memory, no in-process compile cache):

- ``nuts``: ``fit.sample`` with its defaults (nutpie, low-rank adaptation,
  target_accept 0.9, chains in parallel on min(chains, CPUs) cores), ``--chains``
  x ``--draws`` after ``--tune``; ``nuts-advi``: the same with each chain started at
  its own draw from a short ADVI fit (``init="advi"``, :mod:`bayes_density.inference.init`);
  ``--inits`` says which of the two run (default both);
- above ``--nuts-max-models`` models NUTS is not run in full: ``nuts-pilot``
  runs one chain of ``--pilot-tune`` + ``--pilot-draws`` on one core and
  reports its measured seconds per iteration; the ``4x1000 s (extrap.)``
  column is an *extrapolation*, not a measurement (see the footnote printed
  under the table). The pilot also runs at the sizes where NUTS runs in full
  (unless ``--no-pilot-calibration``), and the footnote gives extrapolated /
  measured there, so the extrapolation's bias is measured in the same run;
- each ``--fast-methods`` entry: :func:`bayes_density.fast.fit_fast` (ADVI,
  ``--advi-iter`` steps; Pathfinder with its defaults), ``--fast-draws`` draws;
  ``subsample``: :func:`bayes_density.posterior.subsample.fit_subsample`, NUTS on
  ``--subsample-n`` random models (``--subsample-chains`` x ``--subsample-draws`` after
  ``--subsample-tune``), every other model placed conditionally on ``--placement-draws``
  of its posterior draws. Its R-hat, ESS and divergences are those of the subsample's
  NUTS fit (the placed models' draws are exact conditional draws, not a chain).

One table: size, scores, method, compile s, fit s (sampling / optimisation and
draws), total s (wall time of the whole fit call, including model building,
for ADVI its k-hat, and attaching the data), min bulk ESS over every element of
every free parameter, ESS/s (that ESS per second of fit s), divergences, max
R-hat, the fast path's PSIS k-hat, peak RSS (``ru_maxrss`` of the process, MiB),
and errors: the doubling-time median (months) and its difference from NUTS's
median (same size, full NUTS only) and from the truth (ln 2 / slope), the mean
absolute difference of the per-model log-density medians from NUTS's and from
the true log densities, and the share of models whose true log density lies in
the 90% interval. R-hat, ESS and divergences do not exist for the fast path's
independent draws from an approximation: shown as ``-``.

Missingness. The synthetic design is :func:`synthetic_inputs`', whose scores
are missing by benchmark coverage shaped like the shipped data's: each model
has each of five benchmarks independently with probability 0.95 / 0.6 / 0.4 /
0.8 / 0.4 (the shipped default selection, 141 models: MMLU 0.99, BBH 0.62,
MATH 0.26, HumanEval 0.75, MBPP 0.27), with a second source for 20% of the
scored pairs (shipped: 1.5 scores per scored pair). Checked for this script
(not changed): the per-benchmark coverage is close, MATH and MBPP are covered
more often than in the shipped data, and the shipped data's missingness is
correlated across benchmarks (26% of models have all five, 18% only one;
independent draws give ~7% and ~4%). The run prints both sets of numbers.

Examples::

    python benchmarks/scale.py                                   # 100, 1,000, 10,000 models, ADVI
    python benchmarks/scale.py --fast-methods advi,pathfinder --json scale.json
    python benchmarks/scale.py --sizes 100 --draws 200 --tune 200 --advi-iter 2000   # smoke run
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

FAST_METHODS = ("advi", "pathfinder", "subsample")
SHIPPED_NAMES = ("MMLU", "BBH", "MATH", "HumanEval", "MBPP")  # the shipped benchmarks the sim ones mimic
MONTHS_PER_YEAR = 12.0


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------

def missingness(inputs) -> dict:
    """Per-benchmark share of fitted models with a score, scores per scored pair, benchmarks per model."""
    import numpy as np

    n = inputs.n_models
    fitted = inputs.obs_unit < n
    pairs = np.unique(np.stack([inputs.obs_unit[fitted], inputs.obs_bench[fitted]]), axis=1)
    per_model = np.bincount(pairs[0], minlength=n)
    nb = len(inputs.benchmarks)
    return {
        "coverage": [float(np.mean(np.bincount(pairs[0][pairs[1] == b], minlength=n) > 0)) for b in range(nb)],
        "scores_per_pair": float(fitted.sum() / pairs.shape[1]),
        "share_with_all": float(np.mean(per_model == nb)),
        "share_with_one": float(np.mean(per_model == 1)),
    }


def _fmt_miss(m: dict) -> str:
    return (" / ".join(f"{c:.2f}" for c in m["coverage"]) + f"; {m['scores_per_pair']:.2f} scores per pair; "
            f"all five {m['share_with_all']:.0%}, one {m['share_with_one']:.0%}")


def shipped_missingness() -> dict | None:
    """Missingness of the shipped default selection, or None when the data cannot be loaded."""
    try:
        from bayes_density.model.design import prepare
        from bayes_density.data.io import load_data
        from bayes_density.model.spec import load_spec

        spec = load_spec("default")
        inputs = prepare(load_data(), spec)
        if tuple(inputs.benchmarks) != SHIPPED_NAMES:
            return None
        return {"n_models": inputs.n_models, **missingness(inputs)}
    except Exception:  # noqa: BLE001 - comparison only; the benchmark does not need the shipped data
        return None


# ---------------------------------------------------------------------------
# worker (one configuration, fresh process)
# ---------------------------------------------------------------------------

def _summaries(tree) -> dict:
    """What the parent needs to compare runs: slope and doubling time, per-model log-density quantiles."""
    import numpy as np

    from bayes_density.posterior import summaries

    tt = summaries.trend_table(tree)
    row = tt[(tt["period"] == "all") & (tt["quantity"] == "doubling_time_months")].iloc[0]
    slope = summaries.draws(tree, "slope")
    r = summaries.draws(tree, "log_density")
    lo, med, hi = np.quantile(r, [0.05, 0.5, 0.95], axis=0)
    return {
        "slope_median": float(np.median(slope)), "slope_sd": float(np.std(slope)),
        "dt_median_months": float(row["median"]), "dt_lo_months": float(row["lo"]),
        "dt_hi_months": float(row["hi"]),
        "r_lo": lo.tolist(), "r_med": med.tolist(), "r_hi": hi.tolist(),
    }


def worker(a) -> dict:
    import warnings

    warnings.filterwarnings("ignore")
    from bayes_density.model.joint import build_model

    inputs, _truth, spec = C.load_payload(a.payload)
    base = C.rss_mb()["peak_rss_mb"]
    cfg = a.worker
    res = {"method": cfg, "base_rss_mb": base}
    t = time.perf_counter()
    if cfg in ("nuts", "nuts-advi", "nuts-pilot"):
        from bayes_density.inference import fit

        if cfg in ("nuts", "nuts-advi"):
            tree = fit.sample(inputs, spec, progress=False, log_likelihood=False, cache=False,
                              init="advi" if cfg == "nuts-advi" else "jitter")
            # fit s counts the ADVI start too (ESS per second compares like with like)
            tree.attrs["time_sample_s"] = float(tree.attrs["time_sample_s"]) + float(tree.attrs.get("time_init_s", 0.0))
        else:
            tree = fit.sample(inputs, spec, chains=1, tune=a.pilot_tune, draws=a.pilot_draws, cores=1,
                              progress=False, log_likelihood=False, cache=False)
        wall = time.perf_counter() - t
        res.update(C.convergence(tree, C.free_rv_names(build_model(inputs, spec))))
        stats = tree.sample_stats
        if "n_steps" in stats:
            res["mean_leapfrog_steps"] = float(stats["n_steps"].mean())
        if cfg == "nuts-pilot":
            iters = a.pilot_tune + a.pilot_draws
            res["s_per_iteration"] = tree.attrs["time_sample_s"] / iters
    elif cfg == "subsample":
        from bayes_density.posterior.subsample import fit_subsample

        tree = fit_subsample(inputs, spec, a.subsample_n, placement_draws=a.placement_draws,
                             draws=a.subsample_draws, tune=a.subsample_tune, chains=a.subsample_chains)
        wall = time.perf_counter() - t
        at = tree.attrs
        res.update(ess_bulk_min=float(at["subsample_ess_bulk_min"]), rhat_max=float(at["subsample_rhat_max"]),
                   divergences=int(at["subsample_divergences"]), fast_khat=math.nan,
                   subsample_n=int(at["subsample_n"]), place_s=float(at["time_place_s"]))
        tree.attrs["time_sample_s"] = float(at["time_sample_s"]) + float(at["time_place_s"])
    else:
        from bayes_density.inference import fast

        kw = {"n_iter": a.advi_iter} if cfg == "advi" else {}
        tree = fast.fit_fast(inputs, spec, cfg, seed=spec.seed, draws=a.fast_draws, **kw)
        wall = time.perf_counter() - t
        res.update(ess_bulk_min=math.nan, rhat_max=math.nan, divergences=None,
                   fast_khat=float(tree.attrs.get("fast_khat", math.nan)))
        for k in ("n_iter", "learning_rate", "lr_decay", "advi_loss_final", "lbfgs_niter", "num_paths"):
            if k in tree.attrs:
                v = tree.attrs[k]
                res[k] = v.tolist() if hasattr(v, "tolist") else v
    res.update(
        compile_s=float(tree.attrs["time_compile_s"]), fit_s=float(tree.attrs["time_sample_s"]), total_s=wall,
        chains=int(tree.posterior.sizes["chain"]), draws=int(tree.posterior.sizes["draw"]),
        **_summaries(tree), **C.rss_mb(),
    )
    res["ess_per_s"] = res["ess_bulk_min"] / res["fit_s"] if res["fit_s"] > 0 else math.nan
    return res


# ---------------------------------------------------------------------------
# parent: comparisons and the table
# ---------------------------------------------------------------------------

def _mae(x, y) -> float:
    import numpy as np

    return float(np.mean(np.abs(np.asarray(x) - np.asarray(y))))


def compare(rows: list[dict], truth: dict) -> None:
    """Add the error columns to the rows of one size (in place)."""
    import numpy as np

    true_r = np.asarray(truth["log_density"], float)
    true_dt = math.log(2) / float(truth["slope"]) * MONTHS_PER_YEAR
    nuts = next((r for r in rows if r["method"] == "nuts" and "error" not in r), None)
    for r in rows:
        if "error" in r:
            continue
        r["true_dt_months"] = true_dt
        r["d_dt_truth"] = r["dt_median_months"] - true_dt
        r["mae_r_truth"] = _mae(r["r_med"], true_r)
        r["cov90"] = float(np.mean((true_r >= np.asarray(r["r_lo"])) & (true_r <= np.asarray(r["r_hi"]))))
        if nuts is not None and r is not nuts:
            r["d_dt_nuts"] = r["dt_median_months"] - nuts["dt_median_months"]
            r["mae_r_nuts"] = _mae(r["r_med"], nuts["r_med"])


def extrapolate(r: dict, a, cores: int) -> None:
    """Extrapolated wall time of a full NUTS run from a pilot (marked as such)."""
    if "error" in r or "s_per_iteration" not in r:
        return
    parallel = max(1, min(a.chains, cores))
    r["extrap_full_s"] = r["compile_s"] + r["s_per_iteration"] * (a.tune + a.draws) * a.chains / parallel


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100,1000,10000", help="comma-separated numbers of models")
    ap.add_argument("--fast-methods", default="advi,subsample", help="comma-separated: advi, pathfinder, subsample")
    ap.add_argument("--nuts-max-models", type=int, default=1000,
                    help="above this many models NUTS runs only a pilot and its full time is extrapolated")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--pilot-tune", type=int, default=50,
                    help="pilot: tuning steps (1 chain, 1 core); --pilot-tune 0 --pilot-draws 0: no pilot")
    ap.add_argument("--pilot-draws", type=int, default=50, help="pilot: draws after tuning")
    ap.add_argument("--no-pilot-calibration", dest="pilot_calibration", action="store_false",
                    help="run the pilot only where NUTS does not run in full (default: at every size, so that "
                         "its extrapolation can be compared with full runs)")
    ap.add_argument("--advi-iter", type=int, default=10_000, help="ADVI optimisation steps")
    ap.add_argument("--fast-draws", type=int, default=1000, help="draws from the fitted approximation")
    ap.add_argument("--subsample-n", type=int, default=300, help="subsample fast path: models fitted by NUTS")
    ap.add_argument("--subsample-chains", type=int, default=4, help="subsample fast path: NUTS chains")
    ap.add_argument("--subsample-draws", type=int, default=500, help="subsample fast path: NUTS draws per chain")
    ap.add_argument("--subsample-tune", type=int, default=500, help="subsample fast path: NUTS tuning per chain")
    ap.add_argument("--placement-draws", type=int, default=250,
                    help="subsample fast path: posterior draws kept and used to place the other models")
    ap.add_argument("--seed", type=int, default=1, help="sampler / optimiser seed")
    ap.add_argument("--inits", default="jitter,advi",
                    help="NUTS chain starts to compare: jitter (nuts), advi (nuts-advi); comma-separated")
    ap.add_argument("--data-seed", type=int, default=5, help="seed of the simulated data sets")
    ap.add_argument("--timeout", type=float, default=3600, help="per worker process (s)")
    ap.add_argument("--json", help="write all results to this file")
    C.add_worker_args(ap)
    a = ap.parse_args(argv)
    if C.serve_worker(a, worker):
        return 0

    sizes = [int(s) for s in a.sizes.split(",") if s.strip()]
    methods = [m.strip() for m in a.fast_methods.split(",") if m.strip()]
    from bayes_density.model.spec import CHAIN_STARTS

    inits = [m.strip() for m in a.inits.split(",") if m.strip()]
    if not set(inits) <= set(CHAIN_STARTS):
        ap.error(f"--inits from {', '.join(CHAIN_STARTS)} (got {inits})")
    nuts_configs = ["nuts" if i == "jitter" else "nuts-advi" for i in inits]
    bad = [m for m in methods if m not in FAST_METHODS]
    if bad or not sizes or min(sizes) < 2:
        ap.error(f"--fast-methods from {', '.join(FAST_METHODS)} (got {bad}); --sizes positive integers")
    cores = os.cpu_count() or 1
    from bayes_density.model.simulate import simulate, synthetic_inputs

    spec = C.sim_spec(draws=a.draws, tune=a.tune, chains=a.chains, seed=a.seed)
    print(f"NUTS: {a.chains} chains x {a.draws} draws (+{a.tune} tune) on {min(a.chains, cores)} of {cores} cores "
          f"up to {a.nuts_max_models} models; above: pilot 1 chain x {a.pilot_tune} tune + {a.pilot_draws} draws. "
          f"Fast path: {', '.join(methods)} ({a.advi_iter} ADVI steps), {a.fast_draws} draws. Seed {a.seed}, "
          f"data seed {a.data_seed}; timeout {a.timeout:.0f} s per worker.", flush=True)
    shipped = shipped_missingness()
    if shipped:
        print(f"missingness, shipped default selection ({shipped['n_models']} models; "
              f"{'/'.join(SHIPPED_NAMES)} coverage): {_fmt_miss(shipped)}", flush=True)
    results, truths = [], {}
    for n in sizes:
        t_prep = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # numba object-mode notes of the simulator's draws
            inputs, truth = simulate(synthetic_inputs(n, seed=a.data_seed), spec, seed=a.data_seed)
        truths[n] = truth
        miss = missingness(inputs)
        print(f"\n{n} models: {inputs.n_obs} scores, {len(inputs.loss)} loss points; simulated coverage "
              f"{_fmt_miss(miss)}; prepared in {time.perf_counter() - t_prep:.1f} s", flush=True)
        payload = C.save_payload((inputs, truth, spec))
        full = n <= a.nuts_max_models
        pilot = (a.pilot_tune + a.pilot_draws > 0) and (not full or a.pilot_calibration)
        configs = nuts_configs * full + ["nuts-pilot"] * pilot + methods
        rows = []
        try:
            for cfg in configs:
                args = ["--worker", cfg, "--payload", payload, "--pilot-tune", str(a.pilot_tune),
                        "--pilot-draws", str(a.pilot_draws), "--advi-iter", str(a.advi_iter),
                        "--fast-draws", str(a.fast_draws), "--subsample-n", str(a.subsample_n),
                        "--subsample-chains", str(a.subsample_chains), "--subsample-draws", str(a.subsample_draws),
                        "--subsample-tune", str(a.subsample_tune), "--placement-draws", str(a.placement_draws)]
                print(f"  running {cfg} ...", end=" ", flush=True)
                res = C.run_worker(__file__, args, timeout=a.timeout)
                res.update(method=cfg, size=n, n_scores=int(inputs.n_obs), missingness=miss)
                print(res["error"] if "error" in res else f"{res['total_s']:.1f} s", flush=True)
                rows.append(res)
        finally:
            os.unlink(payload)
        compare(rows, truth)
        for r in rows:
            extrapolate(r, a, cores)
        results += rows

    ok = [r for r in results if "error" not in r]
    for r in ok:
        if r["method"] == "nuts-pilot":
            r["label"] = f"nuts-pilot 1x{a.pilot_tune}+{a.pilot_draws}"
        else:
            r["label"] = f"subsample {r['subsample_n']}" if r["method"] == "subsample" else r["method"]
    print()
    print(C.fmt_table(ok, [
        ("size", "size", "d"), ("n_scores", "scores", "d"), ("label", "method", "s"),
        ("compile_s", "compile s", ".1f"), ("fit_s", "fit s", ".1f"), ("total_s", "total s", ".1f"),
        ("ess_bulk_min", "min ESS", ".0f"), ("ess_per_s", "ESS/s", ".2f"), ("divergences", "div", "d"),
        ("rhat_max", "max R-hat", ".3f"), ("fast_khat", "k-hat", ".2f"), ("peak_rss_mb", "peak RSS MiB", ".0f"),
        ("dt_median_months", "DT mo", ".3f"), ("d_dt_nuts", "dDT-NUTS", "+.3f"), ("d_dt_truth", "dDT-true", "+.3f"),
        ("mae_r_nuts", "MAE r-NUTS", ".3f"), ("mae_r_truth", "MAE r-true", ".3f"), ("cov90", "cov90", ".2f"),
        ("extrap_full_s", f"{a.chains}x{a.draws} s (extrap.)", ".0f"),
    ]))
    true_dts = sorted({round(r["true_dt_months"], 3) for r in ok if "true_dt_months" in r})
    print(f"""
subsample N: NUTS on N random models, the others placed conditionally on its posterior; its fit s is the
  subsample's sampling plus the placement, its min ESS / div / R-hat those of the subsample's NUTS fit.
fit s: sampling (NUTS) or optimisation + draws (fast path); total s: wall time of the whole fit call in its
  process (model building, compilation, fit, for ADVI its k-hat). ESS/s: min bulk ESS / fit s. min ESS and
  max R-hat over every element of every free parameter; '-' where they do not exist (the fast path's
  independent draws from an approximation; R-hat of a single chain). k-hat: PSIS k-hat of the approximation
  (> 0.7: far from the posterior as a whole). peak RSS: ru_maxrss of the configuration's process.
DT mo: doubling-time median (months); true doubling time {', '.join(f'{d:.3f}' for d in true_dts)} months.
  dDT-NUTS / dDT-true: DT median minus NUTS's median (same size; only where NUTS ran in full) / minus the truth.
  MAE r-NUTS / r-true: mean |log-density median - NUTS's median / true value| over the models.
  cov90: share of models whose true log density lies in the 90% interval.""")
    pilots = [r for r in ok if r["method"] == "nuts-pilot"]
    if pilots:
        print(f"""nuts-pilot: NOT a full run. One chain of {a.pilot_tune} tuning steps + {a.pilot_draws} draws on one
  core, barely tuned: its ESS, DT and errors describe that short chain only, not a converged posterior.
  '{a.chains}x{a.draws} s (extrap.)' is an EXTRAPOLATION, not a measurement: measured compile s + measured
  seconds per iteration of the pilot (tuning + draws) x {a.tune + a.draws} iterations x {a.chains} chains /
  {max(1, min(a.chains, cores))} parallel chains ({cores} cores). Early tuning iterations cost more than later
  ones; where NUTS also ran in full, extrapolated / measured below shows the bias at that size.""")
        full_runs = {r["size"]: r for r in ok if r["method"] == "nuts"}
        for r in pilots:
            line = (f"  {r['size']} models: pilot {r['s_per_iteration']:.3f} s per iteration (measured, mean "
                    f"{r.get('mean_leapfrog_steps', math.nan):.0f} leapfrog steps per draw); extrapolated full run "
                    f"{r['extrap_full_s']:.0f} s")
            if r["size"] in full_runs:
                f = full_runs[r["size"]]
                line += (f"; the full run measured {f['total_s']:.0f} s (compile + sampling; extrapolated / "
                         f"measured = {r['extrap_full_s'] / f['total_s']:.2f})")
            print(line)
    target = [r for r in ok if r["method"] in FAST_METHODS and r["size"] >= 10_000]
    for r in target:
        print(f"fast path target (10,000 models in <= 5 min): {r['method']} at {r['size']} models took "
              f"{r['total_s']:.0f} s measured -> {'met' if r['total_s'] <= 300 else 'NOT met'}")
    failed = [r for r in results if "error" in r]
    for r in failed:
        print(f"failed: {r['size']} models, {r['method']}: {r['error']}")
    if a.json:
        keep = {k: v for k, v in vars(a).items() if k not in C.WORKER_ARGS}
        Path(a.json).write_text(json.dumps({
            "args": keep, "cores": cores, "shipped_missingness": shipped,
            "truth": {str(n): {"slope": float(t["slope"]),
                               "doubling_time_months": math.log(2) / float(t["slope"]) * MONTHS_PER_YEAR,
                               "log_density": [float(x) for x in t["log_density"]]} for n, t in truths.items()},
            "results": results}, indent=1, default=float))
        print(f"\nwrote {a.json}")
    return 0 if ok and not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())

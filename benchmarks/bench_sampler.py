"""Samplers side by side on one model and one data set, in one run.

    python benchmarks/bench_sampler.py [--data shipped|sim] [--models 60] [--chains 4] [--draws 1000]
                                       [--tune 1000] [--seed 1] [--configs nutpie-lowrank,nutpie-lowrank-gamma1e-5,nutpie-diag,pymc]
                                       [--no-pipeline] [--json out.json]

Configurations (same model, data and seed):

- ``nutpie-lowrank``: ``fit.sample`` defaults (nutpie, adaptation="low_rank",
  mass_matrix_gamma ``fit.LOW_RANK_GAMMA``)
- ``nutpie-lowrank-gamma1e-5``: the same with nutpie's own default regularisation
  of the low-rank estimate (``mass_matrix_gamma=1e-5``)
- ``nutpie-diag``: ``fit.sample(adaptation="diag")``
- ``pymc``: PyMC's own NUTS with the arguments of ``fit.sample(sampler="pymc")``
  (jitter+adapt_diag, target_accept 0.9, cores = min(chains, CPUs)) on the same
  graph nutpie samples (data and dims frozen in as constants); the NUTS
  step is built first with ``pm.init_nuts`` so that compilation (which
  ``fit.sample`` counts as sampling time for PyMC) is timed on its own.

Each configuration runs in a fresh process. Columns: compile and sampling wall
time (s), min bulk ESS over every element of every sampled (free) parameter,
ESS/s of that slowest parameter per second of sampling and per second of
total (compile + sampling), divergences, max R-hat over the same parameters,
peak memory = ``getrusage(RUSAGE_SELF).ru_maxrss`` of the configuration's
process (MiB; it includes ~the import baseline shown as ``base``) and, for
PyMC, its largest worker process (``RUSAGE_CHILDREN``).

Pipeline (``nutpie-lowrank`` process, after its fit): the rest of the default
run: pointwise log-likelihood (``pm.compute_log_likelihood``, what
``fit.sample`` does by default), posterior predictive with numpy
(``checks.posterior_predictive``; PyMC's ``sample_posterior_predictive`` on
``build_model`` timed too for comparison) and PSIS-LOO (``az.loo(tree,
var_name="k")``).

``--data shipped`` loads the shipped tables with ``models/default.toml``
(falls back to simulated data, with a message, when they are missing).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

T_PROCESS = time.perf_counter()  # a worker's start: before PyMC, nutpie and the package are imported

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

CONFIGS = ("nutpie-lowrank", "nutpie-lowrank-gamma1e-5", "nutpie-diag", "pymc")


def _fit(cfg: str, inputs, spec, a) -> tuple:
    import pymc as pm

    from bayes_density.inference import fit

    if cfg.startswith("nutpie"):
        kw = {"cache": False} if "cache" in fit.sample.__code__.co_varnames else {}
        if cfg.endswith("gamma1e-5"):
            kw["mass_matrix_gamma"] = 1e-5
        tree = fit.sample(inputs, spec, seed=a.seed, draws=a.draws, tune=a.tune, chains=a.chains, progress=False,
                          adaptation="diag" if cfg == "nutpie-diag" else "low_rank", log_likelihood=False, **kw)
        return tree, tree.attrs["time_compile_s"], tree.attrs["time_sample_s"]
    from bayes_density.model.joint import build_model

    from pymc.model.transform.optimization import freeze_dims_and_data

    model = freeze_dims_and_data(build_model(inputs, spec))
    cores = min(a.chains, os.cpu_count() or 1)
    with model:
        t0 = time.perf_counter()
        init, step = pm.init_nuts(init="jitter+adapt_diag", chains=a.chains, random_seed=a.seed, progressbar=False,
                                  tune=a.tune, target_accept=0.9)
        t1 = time.perf_counter()
        tree = pm.sample(draws=a.draws, tune=a.tune, chains=a.chains, step=step, initvals=init, random_seed=a.seed,
                         progressbar=False, cores=cores, compute_convergence_checks=False)
        t2 = time.perf_counter()
    tree = fit.attach_inputs(tree, inputs, spec)
    return tree, t1 - t0, t2 - t1


def worker(a) -> dict:
    import warnings

    warnings.filterwarnings("ignore")
    from bayes_density.model.joint import build_model

    inputs, spec = C.load_payload(a.payload)
    base = C.rss_mb()["peak_rss_mb"]
    t = time.perf_counter()
    tree, t_compile, t_sample = _fit(a.worker, inputs, spec, a)
    wall = time.perf_counter() - t
    names = C.free_rv_names(build_model(inputs, spec))
    res = {"config": a.worker, "compile_s": t_compile, "sample_s": t_sample, "total_s": t_compile + t_sample,
           "fit_wall_s": wall, "base_rss_mb": base, **C.convergence(tree, names), **C.rss_mb(),
           "n_free_params": int(sum(tree.posterior[n].size // (tree.posterior.sizes["chain"] * tree.posterior.sizes["draw"])
                                    for n in names if n in tree.posterior))}
    res["ess_per_s_sampling"] = res["ess_bulk_min"] / t_sample
    res["ess_per_s_total"] = res["ess_bulk_min"] / (t_compile + t_sample)
    if a.pipeline:
        res["pipeline"] = pipeline(tree, inputs, spec, res)
    return res


def pipeline(tree, inputs, spec, fit_res) -> dict:
    """Time log-likelihood, posterior predictive (numpy and PyMC) and LOO on a fitted run."""
    import arviz as az
    import pymc as pm

    from bayes_density.model.joint import build_model

    out = {"fit_s": fit_res["total_s"]}
    model = build_model(inputs, spec)
    t = time.perf_counter()
    with model:
        pm.compute_log_likelihood(tree, var_names=["k"], extend_inferencedata=True, progressbar=False)
    out["log_likelihood_s"] = time.perf_counter() - t
    try:
        from bayes_density.checks.ppc import posterior_predictive

        t = time.perf_counter()
        posterior_predictive(tree, seed=0)
        out["ppc_numpy_s"] = time.perf_counter() - t
    except ImportError:
        out["ppc_numpy_s"] = None
    t = time.perf_counter()
    loo = az.loo(tree, var_name="k")
    out["loo_s"] = time.perf_counter() - t
    out["elpd_loo"] = float(getattr(loo, "elpd", float("nan")))
    out["process_wall_s"] = time.perf_counter() - T_PROCESS  # imports + data + fit + log-lik + PPC + LOO
    t = time.perf_counter()
    with model:
        pm.sample_posterior_predictive(tree, var_names=["k"], random_seed=0, progressbar=False)
    out["ppc_pymc_s"] = time.perf_counter() - t
    ppc = out["ppc_numpy_s"] if out["ppc_numpy_s"] is not None else out["ppc_pymc_s"]
    out["total_s"] = out["fit_s"] + out["log_likelihood_s"] + ppc + out["loo_s"]
    out.update({f"after_{k}": v for k, v in C.rss_mb().items()})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", choices=("shipped", "sim"), default="shipped")
    ap.add_argument("--models", type=int, default=60, help="simulated models (--data sim)")
    ap.add_argument("--spec", default="default", help="spec for --data shipped")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--no-pipeline", dest="pipeline", action="store_false")
    ap.add_argument("--timeout", type=float, default=3600, help="per configuration (s)")
    ap.add_argument("--json", help="write all results to this file")
    C.add_worker_args(ap)
    a = ap.parse_args(argv)
    if C.serve_worker(a, worker):
        return 0

    t_prep = time.perf_counter()
    got = C.shipped_inputs(a.spec) if a.data == "shipped" else None
    data_label = f"shipped ({a.spec})"
    if got is None:
        got = C.simulated_inputs(a.models)
        data_label = f"simulated ({a.models} models)"
    inputs, _, spec = got
    payload = C.save_payload((inputs, spec))
    print(f"data: {data_label}: {inputs.n_models} models, {inputs.n_obs} scores, {len(inputs.loss)} loss points; "
          f"{a.chains} chains x {a.draws} draws (+{a.tune} tune), seed {a.seed}; prepared in "
          f"{time.perf_counter() - t_prep:.1f} s", flush=True)
    rows = []
    try:
        for cfg in a.configs.split(","):
            if cfg not in CONFIGS:
                raise SystemExit(f"unknown config {cfg!r}; choose from {', '.join(CONFIGS)}")
            args = ["--worker", cfg, "--payload", payload, "--chains", str(a.chains), "--draws", str(a.draws),
                    "--tune", str(a.tune), "--seed", str(a.seed)]
            if not (a.pipeline and cfg == "nutpie-lowrank"):
                args.append("--no-pipeline")
            print(f"running {cfg} ...", flush=True)
            res = C.run_worker(__file__, args, timeout=a.timeout)
            res.setdefault("config", cfg)
            rows.append(res)
            if "error" in res:
                print(f"  {cfg}: {res['error']}", flush=True)
    finally:
        os.unlink(payload)
    ok = [r for r in rows if "error" not in r]
    for r in ok:
        r["memory"] = f"{r['peak_rss_mb']:.0f}" + (f" / {r['child_peak_rss_mb']:.0f}" if r["config"] == "pymc" else "")
    print()
    print(C.fmt_table(ok, [
        ("config", "config", "s"), ("compile_s", "compile s", ".1f"), ("sample_s", "sample s", ".1f"),
        ("total_s", "total s", ".1f"), ("ess_bulk_min", "min ESS", ".0f"), ("ess_bulk_min_var", "slowest", "s"),
        ("ess_per_s_sampling", "ESS/s samp", ".1f"), ("ess_per_s_total", "ESS/s total", ".1f"),
        ("divergences", "div", "d"), ("rhat_max", "max R-hat", ".3f"), ("memory", "peak RSS MiB", "s"),
        ("base_rss_mb", "base", ".0f"),
    ]))
    print("peak RSS: ru_maxrss of the configuration's process (PyMC: process / largest worker); "
          "base: after imports and data, before the fit")
    pipe = [r["pipeline"] for r in ok if r.get("pipeline")]
    if pipe:
        p = pipe[0]
        print("\ndefault pipeline (nutpie low_rank):")
        print(C.fmt_table([p], [
            ("fit_s", "fit s", ".1f"), ("log_likelihood_s", "log-lik s", ".1f"), ("ppc_numpy_s", "PPC numpy s", ".2f"),
            ("ppc_pymc_s", "PPC pymc s", ".1f"), ("loo_s", "LOO s", ".2f"), ("total_s", "total s", ".1f"),
            ("process_wall_s", "process wall s", ".1f"), ("after_peak_rss_mb", "peak RSS MiB", ".0f"),
        ]))
        print("total = fit (compile + sample) + log-lik + PPC (numpy) + LOO; process wall: the worker from its "
              "start (imports, data) to the end of LOO, PyMC's PPC not included")
    if a.json:
        Path(a.json).write_text(json.dumps({"data": data_label, "n_models": inputs.n_models, "n_obs": inputs.n_obs,
                                            "args": {k: v for k, v in vars(a).items() if k not in C.WORKER_ARGS},
                                            "results": rows}, indent=2, default=float))
        print(f"\nwrote {a.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Command line: ``bayes-density fit | summary | density | compare | project | check | claims | report | multiverse | backtest | sbc | data | specs``.

Every command prints text by default and JSON with ``--json``. Input
problems print one ``error:`` line naming file, row and column and exit 2;
nothing is written unless the whole command succeeds (run files and reports
are written to a temporary file and renamed).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from .constants import DEFAULT_PROB
from .errors import DataError, InputError

EXIT_INPUT = 2
PROB_HELP = f"mass of the central posterior intervals (default {DEFAULT_PROB:g}: 90%% intervals)"
JSON_HELP = "print JSON (full precision) instead of text"
P_ABOVE = ("P(above trend): the posterior probability that the model's density lies above the fitted trend "
           "line at its release date (near 1: denser than the trend expects for its date; near 0: below it)")


def _json(obj) -> str:
    def default(o):
        if hasattr(o, "isoformat"):
            return o.isoformat()
        if hasattr(o, "item"):
            return o.item()
        return str(o)

    def clean(o):
        if isinstance(o, float) and not math.isfinite(o):
            return None if math.isnan(o) else ("inf" if o > 0 else "-inf")
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        return o

    return json.dumps(clean(obj), indent=2, default=default)


def _check_counts(args, keys=("draws", "tune", "chains")) -> None:
    """Sampler settings given on the command line must be >= 1 (a run with 0 draws is no run)."""
    for key in keys:
        value = getattr(args, key, None)
        if value is not None and value < 1:
            raise InputError(f"--{key} must be >= 1, got {value}")
    seed = getattr(args, "seed", None)
    if seed is not None and seed < 0:
        raise InputError(f"--seed must be >= 0, got {seed}")


def _check_prob(prob: float) -> None:
    if not 0 < prob < 1:
        raise InputError(f"--prob must lie strictly between 0 and 1, got {prob:g}")


def cmd_fit(args) -> int:
    from .analysis import DensityAnalysis, check_until
    from .inference.diagnostics import convergence_problems, diagnostics
    from .present.text import format_fit

    _check_counts(args)
    if args.subsample_n is not None and args.sampler != "subsample":
        raise InputError("--subsample-n needs --sampler subsample")
    if args.until is not None:
        check_until(args.until, "--until")
    a = DensityAnalysis(args.data, args.spec, until=args.until)
    print(f"fitting spec {a.spec.name!r} ({a.spec.source}): {a.inputs.n_models} models, "
          f"{len(a.inputs.references)} reference models, {a.inputs.n_obs} scores, "
          f"{len(a.inputs.loss)} loss points; trend {a.spec.trend}, "
          f"{'frontier' if a.spec.frontier else 'mean'}", file=sys.stderr)
    tree = a.fit(seed=args.seed, draws=args.draws, tune=args.tune, chains=args.chains,
                 progress=not args.no_progress, sampler=args.sampler, subsample_n=args.subsample_n)
    path = a.save(args.out)
    diag = diagnostics(tree)
    print(format_fit(path, tree))
    for w in convergence_problems(diag):
        print(f"warning: {w}", file=sys.stderr)
    return 0


def cmd_summary(args) -> int:
    from .inference.run import load
    from .posterior.measurement import measurement_dict
    from .posterior.summaries import summary_dict
    from .present.text import format_measurement, format_summary

    from .present.paper import paper_context

    _check_prob(args.prob)
    tree = load(args.run)
    d = summary_dict(tree, prob=args.prob)
    d["paper"] = paper_context(tree)
    for r in d.get("top_density", []):  # sizes as given (exp(log N) adds float noise: 72700000000.00012)
        r["params"] = float(f"{r['params']:.12g}")
    d["measurement"] = measurement_dict(tree, prob=args.prob)
    print(_json(d) if args.json else format_summary(d, args.run, args.prob) + format_measurement(d["measurement"]))
    return 0


def cmd_density(args) -> int:
    from .inference.run import load
    from .data.io import read_table
    from .posterior.placement import place_models, placement_json
    from .present.text import format_density

    tree = load(args.run)
    models = read_table(args.models, "models")
    scores = read_table(args.scores, "scores")
    missing = sorted(set(scores["model"]) - set(models["name"]))
    if missing:
        raise InputError(f"{args.scores}: models {missing} are not in {args.models}")
    fitted = [str(b) for b in tree.constant_data["benchmark"].to_numpy().astype(str)]
    for name in models["name"]:
        if not scores[(scores["model"] == name) & scores["benchmark"].isin(fitted)].shape[0]:
            raise InputError(f"{args.scores}: model {name!r} has no scores on the run's benchmarks "
                             f"({', '.join(fitted)}), so it cannot be placed")
    df = place_models(tree, models, scores, seed=args.seed)
    print(placement_json(df) if args.json else format_density(df))
    return 0


def cmd_compare(args) -> int:
    from .checks.comparison import compare_dict, lfo_table
    from .present.text import format_compare
    from .inference.run import load

    trees = {}
    for p in args.runs:
        name = Path(p).stem
        if name in trees:
            name = str(p)
        trees[name] = load(p)
    import warnings

    if args.refit_bad < 0:
        raise InputError(f"--refit-bad must be >= 0, not {args.refit_bad}")
    if args.loo_draws < 10:
        raise InputError(f"--loo-draws must be >= 10, not {args.loo_draws}")
    kwargs = ({"refit_bad": args.refit_bad, "seed": args.seed, "max_draws": args.loo_draws}
              if args.loo == "model" else {})
    with warnings.catch_warnings(record=True) as caught:  # ArviZ's Pareto-k warnings: one line instead
        warnings.simplefilter("always")
        d = compare_dict(trees, unit=args.loo, **kwargs)
    pareto = [w for w in caught if "pareto" in str(w.message).lower() or "k hat" in str(w.message).lower()]
    if pareto or any(r["n_pareto_k_bad"] for r in d["models"]):
        what = "models" if args.loo == "model" else "scores"
        hint = ("; refit them exactly with a larger --refit-bad" if args.loo == "model"
                else "; the default --loo model predicts whole models and is reliable where this is not")
        d["pareto_warnings"] = (f"Pareto k > 0.7 left for some {what}: the PSIS-LOO estimate is unreliable for "
                                f"those {what} (see the 'max k' and 'k>0.7' columns){hint}")
    if args.lfo:
        d["lfo"] = lfo_table(trees, n_blocks=args.lfo).to_dict(orient="records")
    print(_json(d) if args.json else format_compare(d))
    return 0


def cmd_project(args) -> int:
    from .inference.run import load
    from .posterior.projection import project
    from .present.text import format_projection

    _check_prob(args.prob)
    tree = load(args.run)
    targets = None
    if args.targets is not None:
        from .posterior.projection import read_targets

        targets = read_targets(args.targets)
    d = project(tree, size=args.size, target=args.target, by=args.by, prob=args.prob, targets=targets)
    print(_json(d) if args.json else format_projection(d))
    return 0


def cmd_check(args) -> int:
    from .checks.ppc import run_checks
    from .inference.run import load
    from .present.plots import write_check_figures
    from .present.text import format_checks

    tree = load(args.run)
    d, _, pit, table = run_checks(tree)
    if args.figures is not None:
        d["figures"] = write_check_figures(tree, args.figures, pit=pit, table=table)
    print(_json(d) if args.json else format_checks(d))
    return 0


def claims_result(tree, prob: float = DEFAULT_PROB) -> dict:
    """The Densing Law's other claims on one run: compression pairs and the best-value window."""
    from .posterior.compression import compression_effect
    from .posterior.value_window import value_window, value_window_by_year

    return {"prob": prob, "compression": compression_effect(tree, prob=prob),
            "value_window_unit": "months (Julian); censored at the data's last release date",
            "value_window_by_year": value_window_by_year(tree, prob).to_dict("records"),
            "value_window": value_window(tree, prob).to_dict("records")}


def cmd_claims(args) -> int:
    from .inference.run import load
    from .present.text import format_claims

    _check_prob(args.prob)
    d = claims_result(load(args.run), args.prob)
    print(_json(d) if args.json else format_claims(d))
    return 0


def cmd_report(args) -> int:
    from .inference.run import load
    from .inference.run import Run
    from .present.report import write_report

    from .posterior.projection import project

    multiverse = None
    if args.multiverse is not None:
        from .sweeps.multiverse import read_table

        multiverse = read_table(args.multiverse)
    trees = [load(p) for p in args.runs]
    targets = Run.of(trees[0]).targets
    target = args.target or (targets[0] if targets else "GPT-4")
    try:  # any target: fitted with the run, or placed against its posterior (project --target)
        projection = project(trees[0], size=args.size, target=target)
    except InputError as exc:
        if args.target:
            raise
        projection = None
        print(f"note: no projection section: {exc}", file=sys.stderr)
    path = write_report(trees, args.out, names=[Path(p).stem for p in args.runs], projection=projection,
                        multiverse=multiverse)
    print(f"wrote {path}")
    return 0


def _split_list(text: str, what: str) -> list[str]:
    items = [x.strip() for x in text.split(",")]
    if not text.strip() or any(not x for x in items):
        raise InputError(f"--{what} {text!r}: give a comma-separated list of names, e.g. --{what} "
                         + ("MMLU,BBH" if what == "benchmarks" else "llama,qwen2"))
    dup = sorted({x for x in items if items.count(x) > 1})
    if dup:
        raise InputError(f"--{what}: {', '.join(dup)} listed twice")
    return items


def cmd_multiverse(args) -> int:
    import pandas as pd

    from .data.io import load_data
    from .model.spec import load_spec
    from .present.text import format_multiverse, multiverse_warnings
    from .sweeps.multiverse import multiverse_specs, run_multiverse, sort_curve, write_table

    base = load_spec(args.spec)
    data = load_data(args.data)
    refs = _split_list(args.references, "references")
    unknown = [r for r in refs if r not in data.reference_sets]
    if unknown:
        raise DataError(data.sources.get("references", "references.csv"), None, "set",
                        f"unknown reference set(s) {', '.join(map(repr, unknown))} in --references; "
                        f"available sets: {', '.join(data.reference_sets) or 'none'}")
    benches = _split_list(args.benchmarks, "benchmarks") if args.benchmarks else list(base.benchmarks)
    unknown = [b for b in benches if b not in data.benchmark_names]
    if unknown:
        raise DataError(data.sources.get("benchmarks", "benchmarks.csv"), None, "name",
                        f"unknown benchmark(s) {', '.join(map(repr, unknown))} "
                        f"{'in --benchmarks' if args.benchmarks else f'in spec {base.name!r} ({base.source})'}; "
                        f"available: {', '.join(data.benchmark_names)}")
    for key in ("draws", "tune", "chains", "workers"):
        value = getattr(args, key)
        if value is not None and value < 1:
            raise InputError(f"--{key} must be >= 1, got {value}")
    if args.reruns < 0:
        raise InputError(f"--reruns must be >= 0, got {args.reruns}")
    specs = multiverse_specs(base, benches, refs)
    out = Path(args.out)
    try:  # the table is written after all fits: check now that it can be
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot create its folder: {exc}") from None
    if out.is_dir() or not os.access(out.parent, os.W_OK):
        raise InputError(f"--out {out}: " + ("is a folder" if out.is_dir() else "its folder is not writable"))
    seed = base.seed if args.seed is None else args.seed
    print(f"multiverse of spec {base.name!r} ({base.source}): {len(specs)} fits = "
          f"{len(specs) // len(refs)} subsets of {', '.join(benches)} x reference {', '.join(refs)}; "
          f"{args.chains} chains x {args.draws} draws (+{args.tune} tune), seed {seed}", file=sys.stderr)
    parts = Path(args.parts) if args.parts else out.with_suffix(".parts")
    df = run_multiverse(data, specs, draws=args.draws, tune=args.tune, chains=args.chains, seed=seed,
                        workers=args.workers, runs_dir=args.runs, progress=not args.no_progress,
                        scheduler=args.scheduler, out_dir=parts, compile_once=args.compile_once,
                        reruns=args.reruns)
    path = write_table(df, args.out)
    wall, workers = df.attrs["wall_s"], df.attrs["workers"]
    curve = sort_curve(df)
    if args.json:
        print(_json({"table": str(path), "wall_s": wall, "workers": workers, "n_fits": len(df),
                     "compile_once": bool(df.attrs["compile_once"]),
                     "compile_s": float(pd.to_numeric(df["compile_s"], errors="coerce").sum()),
                     "n_failed": int((df["error"] != "").sum()), "chains": args.chains, "draws": args.draws,
                     "tune": args.tune, "seed": seed, "prob": df.attrs["prob"],
                     "specs": [{k: (None if pd.isna(v) else v) for k, v in r.items()}
                               for r in curve.to_dict(orient="records")]}))
    else:
        print(format_multiverse(df, curve, path))
    for line in multiverse_warnings(df):
        print(line, file=sys.stderr)
    return 0


def _sweep_args(p, parts_default: str) -> None:
    """--scheduler and --parts of every sweep (multiverse, backtest, compare --kfold)."""
    p.add_argument("--scheduler", default="local", metavar="local|tcp://HOST:PORT",
                   help="'local' (default: a Dask LocalCluster, one single-threaded worker per core, --workers "
                        "sets how many) or the address of a running Dask scheduler")
    p.add_argument("--parts", default=None, metavar="DIR",
                   help=f"folder of per-fit results, written as each fit finishes (default {parts_default}); "
                        "rerun with the same folder to fit only what is missing")


def cmd_backtest(args) -> int:
    from .data.io import load_data
    from .model.spec import load_spec
    from .present.text import format_backtest
    from .sweeps.backtest import run_backtest, write_table

    for key in ("draws", "tune", "chains", "workers"):
        value = getattr(args, key)
        if value is not None and value < 1:
            raise InputError(f"--{key} must be >= 1, got {value}")
    specs = [load_spec(s) for s in (args.spec or ["default"])]
    cutoffs = _split_list(args.cutoffs, "cutoffs")
    data = load_data(args.data)
    parts = Path(args.parts) if args.parts else (
        Path(args.out).with_suffix(".parts") if args.out else Path("runs") / "backtest.parts")
    print(f"backtest of {', '.join(s.name for s in specs)} at cutoffs {', '.join(cutoffs)}: "
          f"{len(specs) * len(cutoffs)} fits, {args.chains} chains x {args.draws} draws (+{args.tune} tune); "
          f"results in {parts}", file=sys.stderr)
    table, per_model = run_backtest(data, specs, cutoffs, draws=args.draws, tune=args.tune, chains=args.chains,
                                    seed=args.seed, prior=args.prior, scheduler=args.scheduler,
                                    workers=args.workers, out_dir=parts, progress=not args.no_progress)
    if args.out:
        write_table(table, args.out)
        if len(per_model):
            write_table(per_model, Path(args.out).with_suffix(".models.csv"))
    if args.figure and len(per_model):
        from .inference.run import atomic_write
        from .present.plots import backtest_figure

        fig = backtest_figure(per_model)
        atomic_write(args.figure, lambda tmp: fig.savefig(tmp, dpi=130, format=Path(args.figure).suffix[1:] or "png"))
        print(f"wrote {args.figure}", file=sys.stderr)
    if args.json:
        keys = ("spec", "cutoff", "n_later", "coverage_50", "coverage_90", "share_above_p95", "crps")
        base = ("baseline_n", "baseline_coverage_50", "baseline_coverage_90", "baseline_share_above",
                "baseline_crps")
        rows = [{k: r[k] for k in keys + base + ("n_fit", "rhat_max", "divergences", "error")}
                for r in table.to_dict(orient="records")]
        print(_json({"rows": rows, "draws": args.draws, "tune": args.tune, "chains": args.chains,
                     "prior": args.prior, "wall_s": table.attrs["wall_s"], "workers": table.attrs["workers"]}))
    else:
        print(format_backtest(table))
    return 0


def cmd_sbc(args) -> int:
    from .model.spec import load_spec
    from .present.text import format_sbc
    from .sweeps.backtest import write_table
    from .sweeps.sbc import run_sbc

    for key in ("sims", "models", "draws", "tune", "chains", "workers", "bins"):
        value = getattr(args, key)
        if value is not None and value < 1:
            raise InputError(f"--{key} must be >= 1, got {value}")
    spec = load_spec(args.spec)
    params = _split_list(args.params, "params") if args.params else None
    parts = Path(args.parts) if args.parts else (
        Path(args.out).with_suffix(".parts") if args.out else Path("runs") / f"sbc-{spec.name}.parts")
    print(f"SBC of {spec.name}: {args.sims} simulations of {args.models} models "
          f"({'measurement' if args.measurement else 'plain'} panel), {args.chains} chains x {args.draws} draws "
          f"(+{args.tune} tune); results in {parts}", file=sys.stderr)
    table, per_sim = run_sbc(spec, params=params, n_sims=args.sims, n_models=args.models,
                             measurement=args.measurement, draws=args.draws, tune=args.tune, chains=args.chains,
                             seed=args.seed, bins=args.bins, scheduler=args.scheduler, workers=args.workers,
                             out_dir=parts, progress=not args.no_progress)
    if args.out:
        write_table(table, args.out)
        write_table(per_sim, Path(args.out).with_suffix(".sims.csv"))
    if args.json:
        print(_json({"spec": spec.name, "rows": table.to_dict(orient="records"),
                     **{k: table.attrs[k] for k in ("n_models", "measurement", "draws", "tune", "chains", "wall_s",
                                                    "workers", "computed", "skipped", "failed")},
                     "n_sims": args.sims, "seed": args.seed,
                     "divergent_fits": int(per_sim.groupby("sim")["divergences"].first().gt(0).sum()),
                     "rhat_max": float(per_sim["rhat_max"].max()) if len(per_sim) else None}))
    else:
        print(format_sbc(table, per_sim))
    return 0


def cmd_data(args) -> int:
    from .data.coverage import coverage_summary
    from .present.text import format_coverage
    from .data.io import load_data

    s = coverage_summary(load_data(args.data))
    print(_json(s) if args.json else format_coverage(s))
    return 0


def cmd_specs(args) -> int:
    from .model.spec import available_specs, load_spec
    from .present.text import format_specs

    print(format_specs({name: load_spec(name) for name in available_specs()}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bayes-density",
        description="Bayesian analysis of LLM capability density (the Densing Law): fit, summarise, place new "
                    "models, project, check and report.",
        epilog="Bad input prints one 'error:' line and exits 2; nothing is written. " + P_ABOVE + " (density).")
    sub = p.add_subparsers(dest="command", required=True)

    f = sub.add_parser("fit", help="fit an analysis spec to the data and write the run (NetCDF)")
    f.add_argument("--spec", "--model", dest="spec", default="default",
                   help="analysis spec: a name from 'bayes-density specs' or a path to a TOML file (--model: old name)")
    f.add_argument("--data", default=None, help="folder with your CSVs (default: the shipped data)")
    f.add_argument("--until", default=None, help="use only models released on or before this date (YYYY-MM-DD)")
    f.add_argument("--seed", type=int, default=None, help="random seed, >= 0 (default: the spec's [sampler] seed, 1)")
    f.add_argument("--draws", type=int, default=None,
                   help="posterior draws per chain, >= 1 (default: the spec's [sampler] draws, 1000)")
    f.add_argument("--tune", type=int, default=None,
                   help="tuning steps per chain, >= 1 (default: the spec's [sampler] tune, 1000)")
    f.add_argument("--chains", type=int, default=None, help="chains, >= 1 (default: the spec's [sampler] chains, 4)")
    f.add_argument("--sampler", choices=("nutpie", "pymc", "advi", "pathfinder", "subsample"), default="nutpie",
                   help="NUTS (nutpie, default; or PyMC's own), or a fast path for large data sets "
                        "(advi, pathfinder: not a posterior sample; subsample: NUTS on --subsample-n random "
                        "models, the others placed on its posterior; confirm with NUTS)")
    f.add_argument("--subsample-n", type=int, default=None,
                   help="--sampler subsample: models fitted by NUTS, >= 2 (default 300)")
    f.add_argument("--no-progress", action="store_true", help="no progress bar")
    f.add_argument("--out", default="runs/default.nc", help="run file to write (default runs/default.nc)")
    f.set_defaults(func=cmd_fit)

    s = sub.add_parser("summary", help="doubling time, slope, diagnostics, top-density models")
    s.add_argument("run", help="run file written by 'bayes-density fit'")
    s.add_argument("--prob", type=float, default=DEFAULT_PROB, help=PROB_HELP)
    s.add_argument("--json", action="store_true", help=JSON_HELP)
    s.set_defaults(func=cmd_summary)

    d = sub.add_parser("density", help="place new models on the fitted density scale (no refit)",
                       description="Place new models on the fitted density scale without refitting. " + P_ABOVE + ".")
    d.add_argument("run", help="run file written by 'bayes-density fit'")
    d.add_argument("--models", required=True, help="CSV in the models.csv schema")
    d.add_argument("--scores", required=True, help="CSV in the scores.csv schema")
    d.add_argument("--seed", type=int, default=0, help="seed for drawing the placements (default 0)")
    d.add_argument("--json", action="store_true", help=JSON_HELP)
    d.set_defaults(func=cmd_density)

    c = sub.add_parser("compare", help="leave-one-model-out (PSIS, exact refits where k is high) and "
                                           "optionally leave-future-out comparison of runs")
    c.add_argument("runs", nargs="+", help="run files written by 'bayes-density fit'")
    c.add_argument("--loo", choices=("model", "score"), default="model",
                   help="unit of leave-one-out: 'model' (default) predicts each fitted LLM's scores from the other "
                        "models, its density integrated out; 'score' is ArviZ's per-score PSIS-LOO")
    c.add_argument("--refit-bad", type=int, default=10, metavar="N",
                   help="with --loo model: refit without each of up to N models whose Pareto k stays > 0.7 and "
                        "use the exact log predictive density (default 10; 0: off)")
    c.add_argument("--loo-draws", type=int, default=1000, metavar="N",
                   help="with --loo model: posterior draws (thinned evenly) for each model's integrated "
                        "likelihood (default 1000)")
    c.add_argument("--seed", type=int, default=None, help="seed of the exact refits (default: the run's spec seed)")
    c.add_argument("--lfo", type=int, default=0, metavar="BLOCKS",
                   help="also refit for leave-future-out over BLOCKS blocks of later models (default 0: off)")
    c.add_argument("--json", action="store_true", help=JSON_HELP)
    c.set_defaults(func=cmd_compare)

    pr = sub.add_parser("project", help="when does a model of SIZE reach TARGET's level?")
    pr.add_argument("run", help="run file written by 'bayes-density fit'")
    pr.add_argument("--size", type=float, default=8e9, help="parameters (default 8e9)")
    pr.add_argument("--target", default="GPT-4",
                    help="a closed model from targets.csv (default GPT-4; e.g. GPT-3.5): fitted with the run if "
                         "its spec named it, else placed against the run's posterior from its reported scores")
    pr.add_argument("--targets", default=None, metavar="FILE",
                    help="your own targets table (targets.csv schema) to place --target from (default: the shipped one)")
    pr.add_argument("--by", default="2025-12-31", help="report P(reached by this date) (default 2025-12-31)")
    pr.add_argument("--prob", type=float, default=DEFAULT_PROB, help=PROB_HELP)
    pr.add_argument("--json", action="store_true", help=JSON_HELP)
    pr.set_defaults(func=cmd_project)

    ch = sub.add_parser("check", help="posterior predictive checks, LOO-PIT, Pareto-k, diagnostics")
    ch.add_argument("run", help="run file written by 'bayes-density fit'")
    ch.add_argument("--figures", default=None, help="folder for PNG figures (default: none)")
    ch.add_argument("--json", action="store_true", help=JSON_HELP)
    ch.set_defaults(func=cmd_check)

    cl = sub.add_parser("claims", help="compressed vs parent models' density; best-value window (time until superseded)")
    cl.add_argument("run", help="run file written by 'bayes-density fit'")
    cl.add_argument("--prob", type=float, default=DEFAULT_PROB, help=PROB_HELP)
    cl.add_argument("--json", action="store_true", help=JSON_HELP)
    cl.set_defaults(func=cmd_claims)

    r = sub.add_parser("report", help="self-contained HTML report of one or more runs")
    r.add_argument("runs", nargs="+", help="run files written by 'bayes-density fit' (the first is the primary)")
    r.add_argument("--out", default="report.html", help="HTML file to write (default report.html)")
    r.add_argument("--size", type=float, default=8e9, help="size for the projection (parameters; default 8e9)")
    r.add_argument("--target", default=None,
                   help="target for the projection (default: the run's first target, else GPT-4)")
    r.add_argument("--multiverse", default=None, metavar="TABLE.csv",
                   help="add a Multiverse section: the table 'bayes-density multiverse' wrote")
    r.set_defaults(func=cmd_report)

    from .sweeps.multiverse import DEFAULT_CHAINS, DEFAULT_DRAWS, DEFAULT_REFERENCES, DEFAULT_RERUNS, DEFAULT_TUNE

    mv = sub.add_parser("multiverse", help="refit over every benchmark subset x reference set: specification curve")
    mv.add_argument("--data", default=None, help="folder with your CSVs (default: the shipped data)")
    mv.add_argument("--spec", "--model", dest="spec", default="default",
                    help="base spec: a name from 'bayes-density specs' or a path to a TOML file (--model: old name)")
    mv.add_argument("--references", default=",".join(DEFAULT_REFERENCES),
                    help=f"comma-separated reference sets (default {','.join(DEFAULT_REFERENCES)})")
    mv.add_argument("--benchmarks", default=None,
                    help="comma-separated benchmarks whose non-empty subsets are fitted (default: the base spec's)")
    mv.add_argument("--draws", type=int, default=DEFAULT_DRAWS, help=f"per chain (default {DEFAULT_DRAWS})")
    mv.add_argument("--tune", type=int, default=DEFAULT_TUNE, help=f"per chain (default {DEFAULT_TUNE})")
    mv.add_argument("--chains", type=int, default=DEFAULT_CHAINS, help=f"default {DEFAULT_CHAINS}")
    mv.add_argument("--seed", type=int, default=None, help="one seed for every fit (default: the base spec's)")
    mv.add_argument("--workers", type=int, default=None,
                    help="fits run side by side in separate processes (default: one per CPU)")
    mv.add_argument("--runs", default=None, metavar="DIR",
                    help="also save every fit's run file (NetCDF) in DIR, e.g. DIR/MMLU+BBH__llama.nc")
    mv.add_argument("--no-progress", action="store_true", help="no line per finished fit on stderr")
    mv.add_argument("--out", required=True, help="CSV table to write (one row per spec)")
    mv.add_argument("--reruns", type=int, default=DEFAULT_RERUNS,
                    help=f"refit a spec that is not converged (R-hat > 1.01, divergences or bulk ESS < 400) with "
                         f"twice the draws and tuning, up to this many times (default {DEFAULT_RERUNS})")
    mv.add_argument("--compile-once", action="store_true",
                    help="fit each spec as a mask on the union of the benchmarks: one compiled model per "
                         "reference set and worker (default: a model per spec; masks leave the unselected "
                         "benchmarks' parameters to their prior, which NUTS must still explore: slower "
                         "sampling on the shipped data); ignored with --runs")
    _sweep_args(mv, "TABLE.parts")
    mv.add_argument("--json", action="store_true", help=JSON_HELP)
    mv.set_defaults(func=cmd_multiverse)

    da = sub.add_parser("data", help="coverage summary of the data (shipped or --data DIR)")
    da.add_argument("--data", default=None, help="folder with your CSVs (default: the shipped data)")
    da.add_argument("--json", action="store_true", help=JSON_HELP)
    da.set_defaults(func=cmd_data)

    from .sweeps.backtest import DEFAULT_CUTOFFS

    bt = sub.add_parser("backtest", help="fit up to each cutoff; check the forecasts of the models released after")
    bt.add_argument("--spec", action="append", default=None,
                    help="spec name or TOML path (repeat for several; default: default)")
    bt.add_argument("--cutoffs", default=",".join(DEFAULT_CUTOFFS),
                    help=f"comma-separated dates (default {','.join(DEFAULT_CUTOFFS)})")
    bt.add_argument("--data", default=None, help="folder with your CSVs (default: the shipped data)")
    bt.add_argument("--draws", type=int, default=500, help="per chain (default 500)")
    bt.add_argument("--tune", type=int, default=500, help="per chain (default 500)")
    bt.add_argument("--chains", type=int, default=4, help="default 4")
    bt.add_argument("--seed", type=int, default=None, help="(default: each spec's)")
    bt.add_argument("--prior", choices=("flat", "trend"), default="flat",
                    help="prior on a later model's density when placing it from its scores (default flat: "
                         "uniform on log density -10 to 8 nats, so its scores only, not the forecast)")
    bt.add_argument("--workers", type=int, default=None, help="local workers (default: one per CPU)")
    bt.add_argument("--out", default=None, metavar="TABLE.csv",
                    help="write the table (and TABLE.models.csv: one row per later model)")
    bt.add_argument("--figure", default=None, metavar="FILE.png",
                    help="draw each (spec, cutoff)'s forecast bands beside the later models' placed densities")
    bt.add_argument("--no-progress", action="store_true")
    bt.add_argument("--json", action="store_true")
    _sweep_args(bt, "TABLE.parts, or runs/backtest.parts")
    bt.set_defaults(func=cmd_backtest)

    from .sweeps import sbc as sbc_mod

    sb = sub.add_parser("sbc", help="simulation-based calibration of a spec's model on simulated data")
    sb.add_argument("--spec", default="default", help="spec name or TOML path (default: default); its model "
                    "(trend form, frontier, priors) on a simulated panel")
    sb.add_argument("--params", default=None,
                    help="comma-separated parameters, e.g. slope,frontier_share,link_loc[0] (default: the "
                         "trend's and the scatter's)")
    sb.add_argument("--sims", type=int, default=sbc_mod.DEFAULT_SIMS,
                    help=f"simulated data sets (default {sbc_mod.DEFAULT_SIMS})")
    sb.add_argument("--models", type=int, default=sbc_mod.DEFAULT_MODELS,
                    help=f"models per data set (default {sbc_mod.DEFAULT_MODELS})")
    sb.add_argument("--measurement", action="store_true",
                    help="the measurement model's panel (variants, source kinds, domains, learned floors)")
    sb.add_argument("--draws", type=int, default=sbc_mod.DEFAULT_DRAWS,
                    help=f"per chain (default {sbc_mod.DEFAULT_DRAWS})")
    sb.add_argument("--tune", type=int, default=sbc_mod.DEFAULT_TUNE,
                    help=f"per chain (default {sbc_mod.DEFAULT_TUNE})")
    sb.add_argument("--chains", type=int, default=sbc_mod.DEFAULT_CHAINS,
                    help=f"default {sbc_mod.DEFAULT_CHAINS}")
    sb.add_argument("--bins", type=int, default=sbc_mod.DEFAULT_BINS,
                    help=f"rank bins of the chi-square test (default {sbc_mod.DEFAULT_BINS})")
    sb.add_argument("--seed", type=int, default=7, help="prior draws and design (default 7)")
    sb.add_argument("--workers", type=int, default=None, help="local workers (default: one per CPU)")
    sb.add_argument("--out", default=None, metavar="TABLE.csv",
                    help="write the table (and TABLE.sims.csv: one row per simulation and parameter)")
    sb.add_argument("--no-progress", action="store_true")
    sb.add_argument("--json", action="store_true", help=JSON_HELP)
    _sweep_args(sb, "TABLE.parts, or runs/sbc-SPEC.parts")
    sb.set_defaults(func=cmd_sbc)

    sp = sub.add_parser("specs", help="list the shipped analysis specs")
    sp.set_defaults(func=cmd_specs)
    return p


def main(argv=None) -> int:
    """Run a command. Input problems (:class:`~bayes_density.errors.InputError`) print one ``error:``
    line and return 2; anything else is a bug and propagates (traceback, exit 1)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT


if __name__ == "__main__":
    sys.exit(main())

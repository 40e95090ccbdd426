"""Command line: ``bayes-density fit | summary | density | compare | project | check | report | multiverse | data | specs``.

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

EXIT_INPUT = 2


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


def _fmt_interval(d: dict, fmt: str = "{:.3g}") -> str:
    return f"{fmt.format(d['median'])} [{fmt.format(d['lo'])}, {fmt.format(d['hi'])}]"


def cmd_fit(args) -> int:
    from .analysis import DensityAnalysis
    from .posterior.summaries import convergence_problems, diagnostics

    a = DensityAnalysis(args.data, args.model, until=args.until)
    print(f"fitting spec {a.spec.name!r} ({a.spec.source}): {a.inputs.n_models} models, "
          f"{len(a.inputs.references)} reference models, {a.inputs.n_obs} scores, "
          f"{len(a.inputs.loss)} loss points; trend {a.spec.trend}, "
          f"{'frontier' if a.spec.frontier else 'mean'}", file=sys.stderr)
    tree = a.fit(seed=args.seed, draws=args.draws, tune=args.tune, chains=args.chains,
                 progress=not args.no_progress, sampler=args.sampler)
    path = a.save(args.out)
    diag = diagnostics(tree)
    print(f"wrote {path} ({tree.attrs['time_total_s']:.1f} s: compile {tree.attrs['time_compile_s']:.1f} s, "
          f"sample {tree.attrs['time_sample_s']:.1f} s)")
    for w in convergence_problems(diag):
        print(f"warning: {w}", file=sys.stderr)
    return 0


def cmd_summary(args) -> int:
    from .inference.fit import load
    from .posterior.summaries import convergence_problems, summary_dict

    tree = load(args.run)
    d = summary_dict(tree, prob=args.prob)
    if args.json:
        print(_json(d))
        return 0
    pct = int(round(args.prob * 100))
    print(f"run: {args.run}  spec: {d['model_name']}  trend: {d['trend']} "
          f"({'frontier' if d['frontier'] else 'mean'})  reference: {d['reference']}")
    print(f"models: {d['n_models']}  scores: {d['n_scores']}")
    print(f"doubling time: {_fmt_interval(d['doubling_time_months'])} months "
          f"({_fmt_interval(d['doubling_time_days'], '{:.0f}')} days; median [{pct}% interval])")
    print(f"A: {_fmt_interval(d['A_per_day'], '{:.5f}')} per day (ln density)")
    for row in d.get("trend_periods", []):
        print(f"  {row['period']:>13}  {row['quantity']:<24} {row['median']:.4g}"
              + (f" [{row['lo']:.4g}, {row['hi']:.4g}]" if row["lo"] == row["lo"] else ""))
    if "paper_baseline" in d:
        b = d["paper_baseline"]
        print(f"paper baseline (point estimates, running-max envelope of {b['n']} models, OLS): "
              f"A = {b['A_per_day']:.5f}/day, R^2 = {b['R2']:.3f}, doubling {b.get('doubling_time_months', float('nan')):.2f} months")
        for part in ("before_break", "after_break"):
            if part in b:
                p = b[part]
                print(f"  paper baseline {part.replace('_', ' ')}: A = {p['A_per_day']:.5f}/day, R^2 = {p['R2']:.3f} "
                      f"(envelope of {p['n']} models)")
    print(f"diagnostics: max R-hat {d['rhat_max']:.3f}, min bulk ESS {d['ess_bulk_min']:.0f}, "
          f"min tail ESS {d['ess_tail_min']:.0f}, divergences {d['divergences']}, min E-BFMI {d['ebfmi_min']:.2f}")
    for w in convergence_problems(d):
        print(f"warning: {w}")
    print(f"top density (relative to the {d['reference']} reference family at D0 = 1T tokens):")
    for r in d["top_density"]:
        print(f"  {r['model']:<28} {r['release_date']}  {r['params'] / 1e9:7.2f}B  "
              f"density {r['density']:.3g} [{r['density_lo']:.3g}, {r['density_hi']:.3g}]")
    return 0


def cmd_density(args) -> int:
    from .inference.fit import load
    from .data.io import read_table
    from .posterior.placement import place_models, placement_json

    tree = load(args.run)
    models = read_table(args.models, "models")
    scores = read_table(args.scores, "scores")
    missing = sorted(set(scores["model"]) - set(models["name"]))
    if missing:
        raise ValueError(f"{args.scores}: models {missing} are not in {args.models}")
    df = place_models(tree, models, scores, seed=args.seed)
    if args.json:
        print(placement_json(df))
        return 0
    for _, r in df.iterrows():
        print(f"{r['name']:<28} {r['release_date']}  Neff {_fmt_interval(r['neff'])}  "
              f"density {_fmt_interval(r['density'])}  P(above trend) {r['p_above_trend']:.2f}"
              + ("  (date past the fitted data: trend extrapolated)" if r["beyond_data"] else ""))
    return 0


def cmd_compare(args) -> int:
    from .checks.comparison import compare_dict, lfo_table
    from .inference.fit import load

    trees = {}
    for p in args.runs:
        name = Path(p).stem
        if name in trees:
            name = str(p)
        trees[name] = load(p)
    d = compare_dict(trees)
    if args.lfo:
        d["lfo"] = lfo_table(trees, n_blocks=args.lfo).to_dict(orient="records")
    if args.json:
        print(_json(d))
        return 0
    print(f"{'run':<24} {'trend':<12} {'elpd_loo':>10} {'se':>7} {'diff':>8} {'dse':>6} {'weight':>7} "
          f"{'max k':>6} {'k>0.7':>6}")
    for r in d["models"]:
        print(f"{r['name']:<24} {r['trend']:<12} {r['elpd_loo']:>10.1f} {r['se']:>7.1f} {r['elpd_diff']:>8.1f} "
              f"{r['dse']:>6.1f} {r['weight']:>7.2f} {r['pareto_k_max']:>6.2f} {r['n_pareto_k_bad']:>6d}")
    for r in d["models"]:
        if r["p_acceleration"] is not None and r["p_acceleration"] == r["p_acceleration"]:
            print(f"P(A_after > A_before) in {r['name']}: {r['p_acceleration']:.3f}")
    for r in d.get("lfo", []):
        print(f"LFO {r['name']:<20} elpd {r['elpd_lfo']:.1f} (se {r['se']:.1f}), diff {r['elpd_diff']:.1f} "
              f"(dse {r['dse']:.1f}) over {r['n_predicted']} future models")
    return 0


def cmd_project(args) -> int:
    from .inference.fit import load
    from .posterior.projection import format_projection, project

    d = project(load(args.run), size=args.size, target=args.target, by=args.by, prob=args.prob)
    print(_json(d) if args.json else format_projection(d))
    return 0


def cmd_check(args) -> int:
    from .checks.ppc import check_dict, format_checks
    from .inference.fit import load

    d = check_dict(load(args.run), figdir=args.figures)
    print(_json(d) if args.json else format_checks(d))
    return 0


def cmd_report(args) -> int:
    from .inference.fit import load
    from .present.report import write_report

    from .posterior.projection import plot_fan_chart

    multiverse = None
    if args.multiverse is not None:
        from .sweeps.multiverse import read_table

        multiverse = read_table(args.multiverse)
    trees = [load(p) for p in args.runs]
    fan = None
    targets = json.loads(trees[0].attrs.get("targets", "[]"))
    if targets:
        fan = plot_fan_chart(trees[0], target=targets[0], size=args.size)
    path = write_report(trees, args.out, names=[Path(p).stem for p in args.runs], projection=fan,
                        multiverse=multiverse)
    print(f"wrote {path}")
    return 0


def _split_list(text: str, what: str) -> list[str]:
    items = [x.strip() for x in text.split(",")]
    if not text.strip() or any(not x for x in items):
        raise ValueError(f"--{what} {text!r}: give a comma-separated list of names, e.g. --{what} "
                         + ("MMLU,BBH" if what == "benchmarks" else "llama,qwen2"))
    dup = sorted({x for x in items if items.count(x) > 1})
    if dup:
        raise ValueError(f"--{what}: {', '.join(dup)} listed twice")
    return items


def cmd_multiverse(args) -> int:
    import pandas as pd

    from .data.io import DataError, load_data
    from .sweeps.multiverse import converged, multiverse_specs, run_multiverse, sort_curve, write_table
    from .model.spec import load_spec

    base = load_spec(args.model)
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
            raise ValueError(f"--{key} must be >= 1, got {value}")
    specs = multiverse_specs(base, benches, refs)
    out = Path(args.out)
    try:  # the table is written after all fits: check now that it can be
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out {out}: cannot create its folder: {exc}") from None
    if out.is_dir() or not os.access(out.parent, os.W_OK):
        raise ValueError(f"--out {out}: " + ("is a folder" if out.is_dir() else "its folder is not writable"))
    seed = base.seed if args.seed is None else args.seed
    print(f"multiverse of spec {base.name!r} ({base.source}): {len(specs)} fits = "
          f"{len(specs) // len(refs)} subsets of {', '.join(benches)} x reference {', '.join(refs)}; "
          f"{args.chains} chains x {args.draws} draws (+{args.tune} tune), seed {seed}", file=sys.stderr)
    df = run_multiverse(data, specs, draws=args.draws, tune=args.tune, chains=args.chains, seed=seed,
                        workers=args.workers, runs_dir=args.runs, progress=not args.no_progress)
    path = write_table(df, args.out)
    wall, workers = df.attrs["wall_s"], df.attrs["workers"]
    curve = sort_curve(df)
    if args.json:
        print(_json({"table": str(path), "wall_s": wall, "workers": workers, "n_fits": len(df),
                     "n_failed": int((df["error"] != "").sum()), "chains": args.chains, "draws": args.draws,
                     "tune": args.tune, "seed": seed, "prob": df.attrs["prob"],
                     "specs": [{k: (None if pd.isna(v) else v) for k, v in r.items()}
                               for r in curve.to_dict(orient="records")]}))
    else:
        pct = int(round(df.attrs["prob"] * 100))
        print(f"specification curve: doubling time of capability density (months), median [{pct}% interval]")
        print(f"{'spec':<40} {'models':>6} {'scores':>6} {'median':>7} {'lo':>6} {'hi':>7} {'R-hat':>6} "
              f"{'ESS':>5} {'div':>4} {'s':>5}")
        for _, r in curve.iterrows():
            if r["error"]:
                print(f"{r['name']:<40} not fitted: {r['error']}")
                continue
            print(f"{r['name']:<40} {r['n_models']:>6} {r['n_scores']:>6} {r['doubling_months_median']:>7.2f} "
                  f"{r['doubling_months_lo']:>6.2f} {r['doubling_months_hi']:>7.2f} {r['rhat_max']:>6.3f} "
                  f"{r['ess_bulk_min']:>5.0f} {r['divergences']:>4} {r['fit_s']:>5.0f}"
                  + ("" if converged(r) else "  *"))
        print(f"wrote {path}: {len(df)} fits in {wall:.1f} s wall time on {workers} worker(s)"
              + (" (* not converged: R-hat > 1.01 or divergences)" if not all(
                  converged(r) for _, r in df[df["error"] == ""].iterrows()) else ""))
    for _, r in df.iterrows():
        if r["error"]:
            print(f"warning: {r['name']}: not fitted: {r['error']}", file=sys.stderr)
        elif not converged(r):
            print(f"warning: {r['name']}: R-hat {r['rhat_max']:.3f}, {r['divergences']} divergent transitions, "
                  f"min bulk ESS {r['ess_bulk_min']:.0f}: not converged at these settings; rerun with more "
                  "--tune/--draws, or fit this selection with 'bayes-density fit'", file=sys.stderr)
    return 0


def cmd_data(args) -> int:
    from .data.coverage import coverage_summary, format_coverage
    from .data.io import load_data

    s = coverage_summary(load_data(args.data))
    print(_json(s) if args.json else format_coverage(s))
    return 0


def cmd_specs(args) -> int:
    from .model.spec import available_specs, load_spec

    for name in available_specs():
        s = load_spec(name)
        print(f"{name:<20} {s.description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bayes-density", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    f = sub.add_parser("fit", help="fit a model spec to the data and write the run (NetCDF)")
    f.add_argument("--model", default="default", help="spec name in models/ or path to a TOML file")
    f.add_argument("--data", default=None, help="folder with your CSVs (default: the shipped data)")
    f.add_argument("--until", default=None, help="use only models released on or before this date (YYYY-MM-DD)")
    f.add_argument("--seed", type=int, default=None)
    f.add_argument("--draws", type=int, default=None)
    f.add_argument("--tune", type=int, default=None)
    f.add_argument("--chains", type=int, default=None)
    f.add_argument("--sampler", choices=("nutpie", "pymc", "advi", "pathfinder"), default="nutpie",
                   help="NUTS (nutpie, default; or PyMC's own), or a fast approximation for large data sets "
                        "(advi, pathfinder: not a posterior sample; confirm with NUTS)")
    f.add_argument("--no-progress", action="store_true")
    f.add_argument("--out", default="runs/default.nc", help="run file to write (default runs/default.nc)")
    f.set_defaults(func=cmd_fit)

    s = sub.add_parser("summary", help="doubling time, slope, diagnostics, top-density models")
    s.add_argument("run")
    s.add_argument("--prob", type=float, default=0.9)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_summary)

    d = sub.add_parser("density", help="place new models on the fitted density scale (no refit)")
    d.add_argument("run")
    d.add_argument("--models", required=True, help="CSV in the models.csv schema")
    d.add_argument("--scores", required=True, help="CSV in the scores.csv schema")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_density)

    c = sub.add_parser("compare", help="PSIS-LOO (and optionally leave-future-out) comparison of runs")
    c.add_argument("runs", nargs="+")
    c.add_argument("--lfo", type=int, default=0, metavar="BLOCKS", help="also refit for leave-future-out")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_compare)

    pr = sub.add_parser("project", help="when does a model of SIZE reach TARGET's level?")
    pr.add_argument("run")
    pr.add_argument("--size", type=float, default=8e9, help="parameters (default 8e9)")
    pr.add_argument("--target", default="GPT-4")
    pr.add_argument("--by", default="2025-12-31", help="report P(reached by this date)")
    pr.add_argument("--prob", type=float, default=0.9)
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=cmd_project)

    ch = sub.add_parser("check", help="posterior predictive checks, LOO-PIT, Pareto-k, diagnostics")
    ch.add_argument("run")
    ch.add_argument("--figures", default=None, help="folder for PNG figures")
    ch.add_argument("--json", action="store_true")
    ch.set_defaults(func=cmd_check)

    r = sub.add_parser("report", help="self-contained HTML report of one or more runs")
    r.add_argument("runs", nargs="+")
    r.add_argument("--out", default="report.html")
    r.add_argument("--size", type=float, default=8e9, help="size for the projection fan chart (parameters)")
    r.add_argument("--multiverse", default=None, metavar="TABLE.csv",
                   help="add a Multiverse section: the table 'bayes-density multiverse' wrote")
    r.set_defaults(func=cmd_report)

    from .sweeps.multiverse import DEFAULT_CHAINS, DEFAULT_DRAWS, DEFAULT_REFERENCES, DEFAULT_TUNE

    mv = sub.add_parser("multiverse", help="refit over every benchmark subset x reference set: specification curve")
    mv.add_argument("--data", default=None, help="folder with your CSVs (default: the shipped data)")
    mv.add_argument("--model", default="default", help="base spec: name in models/ or path to a TOML file")
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
    mv.add_argument("--json", action="store_true")
    mv.set_defaults(func=cmd_multiverse)

    da = sub.add_parser("data", help="coverage summary of the data (shipped or --data DIR)")
    da.add_argument("--data", default=None)
    da.add_argument("--json", action="store_true")
    da.set_defaults(func=cmd_data)

    sp = sub.add_parser("specs", help="list the shipped model specs")
    sp.set_defaults(func=cmd_specs)
    return p


def main(argv=None) -> int:
    from .model.design import SelectionError
    from .data.io import DataError
    from .model.spec import SpecError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DataError, SpecError, SelectionError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT


if __name__ == "__main__":
    sys.exit(main())

"""Backtest of the projection: fit on models released up to --until, compare with what came after.

    python benchmarks/backtest.py --until 2024-06-30 [--size 8e9] [--target GPT-4]

1. Loads the shipped data (or --data DIR), fits the spec (default: models/default.toml)
   with ``until`` set, with the spec's own sampler settings: no tuning to the outcome.
2. Projects when a model of --size parameters reaches --target's level
   (:func:`bayes_density.projection.project`), with P(reached by the last
   release date in the data).
3. Looks at what happened after --until in the same data: the first model of
   <= --size parameters (same size column and model filters as the spec:
   open/base as the spec says) whose scores match the target's reported scores
   on the benchmarks both have (spec benchmarks only; several sources per
   (model, benchmark) averaged). Two criteria: at least as high on every shared
   benchmark ("all"), and at least as high on average over them ("mean").
   Reported scores are compared as published (shots and harness may differ).

Prints a small table. The observed date is censored at the last release date
in the data when no model has reached the target yet.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bayes_density.model.design import prepare, select_models  # noqa: E402
from bayes_density.inference.fit import sample  # noqa: E402
from bayes_density.data.io import load_data  # noqa: E402
from bayes_density.posterior.projection import format_size, format_projection, project  # noqa: E402
from bayes_density.model.spec import load_spec  # noqa: E402
from bayes_density.posterior.summaries import convergence_problems, diagnostics  # noqa: E402


def observed_matches(data, spec, target: str, size: float) -> pd.DataFrame:
    """Every model of <= ``size`` (spec filters, any date) compared with ``target`` on shared benchmarks.

    Columns: name, release_date, size, n_shared, benchmarks, min_margin, mean_margin,
    reach_all (>= target on every shared benchmark), reach_mean (>= on average).
    """
    benchmarks = list(spec.benchmarks)
    tgt = data.targets[(data.targets["target"] == target) & data.targets["benchmark"].isin(benchmarks)]
    tgt_score = tgt.groupby("benchmark")["score"].mean()
    if tgt_score.empty:
        return pd.DataFrame(columns=["name", "release_date", "size", "n_shared", "benchmarks", "min_margin",
                                     "mean_margin", "reach_all", "reach_mean"])
    models = select_models(data, spec.replace(since=None, until=None))
    models = models[models["size"] <= size]
    sc = data.scores[data.scores["model"].isin(models["name"]) & data.scores["benchmark"].isin(tgt_score.index)]
    per = sc.groupby(["model", "benchmark"])["score"].mean().unstack("benchmark")
    rows = []
    for name, r in per.iterrows():
        r = r.dropna()
        if r.empty:
            continue
        margin = r - tgt_score[r.index]
        m = models[models["name"] == name].iloc[0]
        rows.append({"name": name, "release_date": m["release_date"], "size": float(m["size"]),
                     "n_shared": int(len(r)), "benchmarks": ",".join(r.index),
                     "min_margin": float(margin.min()), "mean_margin": float(margin.mean()),
                     "reach_all": bool((margin >= 0).all()), "reach_mean": bool(margin.mean() >= 0)})
    return pd.DataFrame(rows).sort_values("release_date", ignore_index=True) if rows else pd.DataFrame(
        columns=["name", "release_date", "size", "n_shared", "benchmarks", "min_margin", "mean_margin",
                 "reach_all", "reach_mean"])


def _as_time(s: str) -> pd.Timestamp | float:
    """A projected date as something comparable: 'already'/'before ...' -inf, 'never'/'after ...' +inf."""
    if s == "already" or s.startswith("before"):
        return -math.inf
    if s == "never" or s.startswith("after"):
        return math.inf
    return pd.Timestamp(s)


def _in_interval(date: pd.Timestamp, lo: str, hi: str) -> str:
    lo_v, hi_v = _as_time(lo), _as_time(hi)
    above = lo_v == -math.inf or (lo_v != math.inf and lo_v <= date)
    below = hi_v == math.inf or (hi_v != -math.inf and date <= hi_v)
    return "yes" if above and below else "no"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--until", required=True, help="fit on models released on or before this date (YYYY-MM-DD)")
    p.add_argument("--size", type=float, default=8e9, help="parameters (default 8e9)")
    p.add_argument("--target", default="GPT-4")
    p.add_argument("--model", default="default", help="spec name in models/ or path to a TOML file")
    p.add_argument("--data", default=None, help="data folder (default: the shipped data)")
    p.add_argument("--prob", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=None, help="sampler seed (default: the spec's)")
    p.add_argument("--draws", type=int, default=None, help="(default: the spec's)")
    p.add_argument("--tune", type=int, default=None, help="(default: the spec's)")
    p.add_argument("--chains", type=int, default=None, help="(default: the spec's)")
    p.add_argument("--out", default=None, help="also save the fitted run here (NetCDF)")
    p.add_argument("--run", default=None, help="use a run saved with --out (same --until) instead of fitting")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    args = p.parse_args(argv)

    until = pd.Timestamp(args.until)
    data = load_data(args.data)
    spec = load_spec(args.model).replace(until=args.until)
    if args.target not in spec.targets:
        spec = spec.replace(targets=tuple(spec.targets) + (args.target,))
    inputs = prepare(data, spec)
    # the data's end: the last release among the models the spec's filters admit (any date)
    last = pd.Timestamp(select_models(data, spec.replace(until=None))["release_date"].max())
    span = inputs.date([inputs.t.min(), inputs.t.max()])
    print(f"backtest: spec {spec.name!r}, fit on {inputs.n_models} models released {span[0].date()} to "
          f"{span[1].date()} (until {until.date()}); data run to {last.date()}",
          file=sys.stderr)
    t_start = time.perf_counter()
    if args.run:
        from bayes_density.inference.fit import load, spec_of

        tree = load(args.run)
        if spec_of(tree).until != spec.until or tree.attrs.get("model_name") != spec.name:
            raise SystemExit(f"error: {args.run} was fitted with spec {tree.attrs.get('model_name')!r}, until "
                             f"{spec_of(tree).until}; this backtest asks for {spec.name!r}, until {spec.until}")
    else:
        tree = sample(inputs, spec, seed=args.seed, draws=args.draws, tune=args.tune, chains=args.chains,
                      progress=False)
    fit_s = time.perf_counter() - t_start
    if args.out and not args.run:
        from bayes_density.inference.fit import save

        save(tree, args.out)
    for w in convergence_problems(diagnostics(tree)):
        print(f"warning: {w}", file=sys.stderr)

    proj = project(tree, size=args.size, target=args.target, by=str(last.date()), prob=args.prob)

    obs = observed_matches(data, spec, args.target, args.size)
    before = obs[obs["release_date"] <= until]
    after = obs[obs["release_date"] > until]
    first = {}
    for crit in ("all", "mean"):
        hit_after = after[after[f"reach_{crit}"]]
        hit_before = before[before[f"reach_{crit}"]]
        first[crit] = {
            "before_until": None if hit_before.empty else {
                "name": hit_before.iloc[0]["name"], "date": hit_before.iloc[0]["release_date"].date().isoformat()},
            "after_until": None if hit_after.empty else {
                "name": hit_after.iloc[0]["name"], "date": hit_after.iloc[0]["release_date"].date().isoformat()},
        }

    pct = int(round(100 * args.prob))
    if args.json:
        print(json.dumps({"until": str(until.date()), "data_end": str(last.date()), "fit_seconds": fit_s,
                          "projection": proj, "observed": first, "n_candidates_after": int(len(after)),
                          "n_candidates_before": int(len(before))}, indent=2, default=str))
        return 0

    print(format_projection(proj))
    print()
    print(f"after {until.date()} (data to {last.date()}): {len(after)} models of <= {format_size(args.size)} "
          f"parameters with scores on benchmarks {args.target} reports ({len(before)} up to {until.date()})")
    rows = [("quantity", f"projected (fit to {until.date()})", f"observed after {until.date()}")]
    rows.append((f"date a <= {format_size(args.size)} model reaches {args.target}",
                 f"{proj['date_median']} [{proj['date_lo']}, {proj['date_hi']}]", ""))
    for crit, desc in (("all", "as high on every shared benchmark"), ("mean", "as high on average")):
        f = first[crit]["after_until"]
        seen = f"not by {last.date()} (censored)" if f is None else f"{f['date']} ({f['name']})"
        inside = "-" if f is None else _in_interval(pd.Timestamp(f["date"]), proj["date_lo"], proj["date_hi"])
        rows.append((f"  first model {desc}", "", seen))
        rows.append((f"    inside the {pct}% interval", "", inside))
        b = first[crit]["before_until"]
        if b is not None:
            rows.append(("    (one already before --until)", "", f"{b['date']} ({b['name']})"))
    reached_obs = any(first[c]["after_until"] is not None for c in ("all",))
    rows.append((f"P(reached by {last.date()})", f"{proj['p_by']:.2f}", "yes" if reached_obs else "no"))
    w = [max(len(r[i]) for r in rows) + 2 for i in range(3)]
    for i, r in enumerate(rows):
        print("".join(c.ljust(w[j]) for j, c in enumerate(r)).rstrip())
        if i == 0:
            print("-" * sum(w))
    how = f"run loaded from {args.run}" if args.run else f"fit: {fit_s:.0f} s"
    print(f"\n{how}. The projection is for the {'frontier' if spec.frontier else 'mean'} trend line; "
          "released models scatter below the frontier and few are released at any one size, so the first "
          "observed match tends to come later. Scores are compared as published (shots and harness may "
          "differ); 'every shared benchmark' is the strict criterion.")
    if not after.empty:
        top = after.sort_values("mean_margin", ascending=False).head(5)
        print(f"\nclosest models after {until.date()} (margin = model - {args.target}, score points):")
        for _, r in top.iterrows():
            print(f"  {r['name']:<32} {r['release_date'].date()} {format_size(r['size']):>6}  "
                  f"mean {100 * r['mean_margin']:+.1f}  min {100 * r['min_margin']:+.1f}  on {r['benchmarks']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

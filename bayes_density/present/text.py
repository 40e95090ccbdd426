"""Text output: every plain-text rendering of a result (the CLI prints these).

Results are dicts and tidy tables at full precision (``--json`` prints them as
they are); numbers are rounded here, for reading, and nowhere else.
"""

from __future__ import annotations

from ..checks.ppc import KS_P_WARN, LARGE_SHARE_WARN, PARETO_K_BAD, Z_LARGE
from ..constants import DEFAULT_PROB, PAPER_BENCHMARKS
from ..inference.diagnostics import convergence_problems
from ..posterior.projection import format_size
from ..sweeps.multiverse import NOT_CONVERGED, converged

__all__ = ["fmt_interval", "format_checks", "format_compare", "format_coverage", "format_density", "format_fit",
           "format_multiverse", "format_projection", "format_specs", "format_summary", "multiverse_warnings"]


def fmt_interval(d: dict, fmt: str = "{:.3g}") -> str:
    """``median [lo, hi]`` of a dict with those keys."""
    return f"{fmt.format(d['median'])} [{fmt.format(d['lo'])}, {fmt.format(d['hi'])}]"



def article(word: str) -> str:
    """'a' or 'an' before a number or word as it is read aloud: an 8B, an 11B, an 18B, a 1.5B, an MoE."""
    w = str(word).strip()
    head = w.split(".")[0].rstrip("BMTKbmtk")
    if w[:1] == "8" or head in ("11", "18") or (head.isdigit() and len(head) in (5, 6) and head[:2] in ("11", "18")):
        return "an"
    return "an" if w[:1].lower() in "aeiou" or w[:2] in ("MM", "Mo") else "a"


def fmt_number(x, digits: int = 4) -> str:
    """A number for reading: sizes and other inputs as given (1.3e10 -> '1.3e+10', 72.7e9 -> '7.27e+10'),
    with no float noise."""
    if x is None or x != x:
        return "n/a"
    return f"{float(x):.{digits}g}"


def format_fit(path, tree) -> str:
    """The line ``bayes-density fit`` prints after writing a run."""
    return (f"wrote {path} ({tree.attrs['time_total_s']:.1f} s: compile {tree.attrs['time_compile_s']:.1f} s, "
            f"sample {tree.attrs['time_sample_s']:.1f} s)")


def format_summary(d: dict, run: str, prob: float) -> str:
    """Text of ``bayes-density summary`` (``d``: :func:`bayes_density.posterior.summaries.summary_dict`)."""
    lines = []
    pct = int(round(prob * 100))
    lines.append(f"run: {run}  spec: {d['model_name']}  trend: {d['trend']} "
                 f"({'frontier' if d['frontier'] else 'mean'})  reference: {d['reference']}")
    lines.append(f"models: {d['n_models']}  scores: {d['n_scores']}")
    lines.append(f"doubling time: {fmt_interval(d['doubling_time_months'])} months "
                 f"({fmt_interval(d['doubling_time_days'], '{:.0f}')} days; median [{pct}% interval])")
    lines.append(f"A: {fmt_interval(d['A_per_day'], '{:.5f}')} per day (ln density)")
    if d.get("paper"):
        pub = d["paper"]["published"]
        def one(r):
            details = ([f"A = {r['A_per_day']:g}/day"] if r.get("A_per_day") else []) + [f"{r['n_models']} models"] \
                + ([r["dates"]] if r.get("dates") else [])
            return f"{r['source']}: {r['doubling_months']:g} months ({', '.join(details)})"

        lines.append("published (point estimates, no intervals): " + "; ".join(one(r) for r in pub))
        lines.append(f"why they differ: {d['paper']['differences']}")
    for row in d.get("trend_periods", []):
        lines.append(f"  {row['period']:>13}  {row['quantity']:<24} {row['median']:.4g}"
                     + (f" [{row['lo']:.4g}, {row['hi']:.4g}]" if row["lo"] == row["lo"] else ""))
    if "paper_baseline" in d:
        b = d["paper_baseline"]
        lines.append(f"paper baseline (point estimates, running-max envelope of {b['n']} models, OLS): "
                     f"A = {b['A_per_day']:.5f}/day, R^2 = {b['R2']:.3f}, doubling "
                     f"{b.get('doubling_time_months', float('nan')):.2f} months")
        for part in ("before_break", "after_break"):
            if part in b:
                p = b[part]
                lines.append(f"  paper baseline {part.replace('_', ' ')}: A = {p['A_per_day']:.5f}/day, "
                             f"R^2 = {p['R2']:.3f} (envelope of {p['n']} models)")
    lines.append(f"diagnostics: max R-hat {d['rhat_max']:.3f}, min bulk ESS {d['ess_bulk_min']:.0f}, "
                 f"min tail ESS {d['ess_tail_min']:.0f}, divergences {d['divergences']}, "
                 f"min E-BFMI {d['ebfmi_min']:.2f}")
    for w in convergence_problems(d):
        lines.append(f"warning: {w}")
    lines.append(f"top density (relative to the {d['reference']} reference family at D0 = 1T tokens):")
    for r in d["top_density"]:
        lines.append(f"  {r['model']:<28} {r['release_date']}  {r['params'] / 1e9:7.2f}B  "
                     f"density {r['density']:.3g} [{r['density_lo']:.3g}, {r['density_hi']:.3g}]")
    return "\n".join(lines)


def format_density(df) -> str:
    """Text of ``bayes-density density`` (``df``: :func:`bayes_density.posterior.placement.place_models`)."""
    return "\n".join(
        f"{r['name']:<28} {r['release_date']}  Neff {fmt_interval(r['neff'])}  "
        f"density {fmt_interval(r['density'])}  P(above trend) {r['p_above_trend']:.2f}"
        + ("  (date past the fitted data: trend extrapolated)" if r["beyond_data"] else "")
        for _, r in df.iterrows()) + (
        "\nmedian [90% interval]; P(above trend): posterior probability that the model's density lies above "
        "the fitted trend line at its release date")


def format_compare(d: dict) -> str:
    """Text of ``bayes-density compare`` (``d``: :func:`bayes_density.checks.comparison.compare_dict`)."""
    # enough decimals that runs whose elpd differ are told apart (JSON keeps full precision)
    elpd = [r["elpd_loo"] for r in d["models"]]
    dec = 1
    while dec < 4 and len({round(v, dec) for v in elpd}) < len(set(elpd)):
        dec += 1
    unit = d.get("loo_unit", "score")
    lines = []
    if d.get("loo_method"):
        n = d["models"][0].get("n_units")
        lines.append(f"LOO: {d['loo_method']} ({n} {unit}s); elpd in nats, higher is better")
    lines.append(f"{'run':<24} {'trend':<12} {'elpd_loo':>10} {'se':>7} {'diff':>8} {'dse':>6} {'weight':>7} "
                 f"{'max k':>6} {'k>0.7':>6}" + (f" {'refit':>5}" if unit == "model" else ""))
    for r in d["models"]:
        lines.append(f"{r['name']:<24} {r['trend']:<12} {r['elpd_loo']:>10.{dec}f} {r['se']:>7.1f} "
                     f"{r['elpd_diff']:>8.{dec}f} {r['dse']:>6.1f} {r['weight']:>7.2f} {r['pareto_k_max']:>6.2f} "
                     f"{r['n_pareto_k_bad']:>6d}" + (f" {r.get('n_refit', 0):>5d}" if unit == "model" else ""))
    if d.get("pareto_warnings"):
        lines.append(f"note: {d['pareto_warnings']}")
    for r in d["models"]:
        if r["p_acceleration"] is not None and r["p_acceleration"] == r["p_acceleration"]:
            lines.append(f"P(A_after > A_before) in {r['name']}: {r['p_acceleration']:.3f}")
    for r in d.get("lfo", []):
        lines.append(f"LFO {r['name']:<20} elpd {r['elpd_lfo']:.1f} (se {r['se']:.1f}), diff {r['elpd_diff']:.1f} "
                     f"(dse {r['dse']:.1f}) over {r['n_predicted']} future models")
    return "\n".join(lines)


def format_multiverse(df, curve, path) -> str:
    """Text of ``bayes-density multiverse``: the specification curve, sorted (``curve``), and the table's path."""
    import pandas as pd

    wall, workers = df.attrs["wall_s"], df.attrs["workers"]
    pct = int(round(df.attrs["prob"] * 100))
    lines = [f"specification curve: doubling time of capability density (months), median [{pct}% interval]",
             f"{'spec':<40} {'models':>6} {'scores':>6} {'median':>7} {'lo':>6} {'hi':>7} {'R-hat':>6} "
             f"{'ESS':>5} {'div':>4} {'s':>5} {'reruns':>6}"]
    for _, r in curve.iterrows():
        if r["error"]:
            lines.append(f"{r['name']:<40} not fitted: {r['error']}")
            continue
        lines.append(f"{r['name']:<40} {r['n_models']:>6} {r['n_scores']:>6} {r['doubling_months_median']:>7.2f} "
                     f"{r['doubling_months_lo']:>6.2f} {r['doubling_months_hi']:>7.2f} {r['rhat_max']:>6.3f} "
                     f"{r['ess_bulk_min']:>5.0f} {r['divergences']:>4} {r['fit_s']:>5.0f} "
                     f"{'-' if pd.isna(r.get('reruns')) else int(r['reruns']):>6}"
                     + ("" if converged(r) else "  *"))
    comp = pd.to_numeric(df["compile_s"], errors="coerce") if "compile_s" in df else None
    if comp is not None and comp.notna().any():
        how = "specs as masks: one model per reference set and worker" if df.attrs.get("compile_once") \
            else "one model per spec"
        lines.append(f"model building and compilation: {comp.sum():.0f} s over all fits ({how})")
    lines.append(f"wrote {path}: {len(df)} fits in {wall:.1f} s wall time on {workers} worker(s)"
                 + (f" (* not converged: {NOT_CONVERGED})" if not all(
                     converged(r) for _, r in df[df["error"] == ""].iterrows()) else ""))
    return "\n".join(lines)


def multiverse_warnings(df) -> list[str]:
    """One ``warning:`` line per spec not fitted or not converged."""
    import pandas as pd

    out = []
    for _, r in df.iterrows():
        if r["error"]:
            out.append(f"warning: {r['name']}: not fitted: {r['error']}")
        elif not converged(r):
            out.append(f"warning: {r['name']}: R-hat {r['rhat_max']:.3f}, {r['divergences']} divergent transitions, "
                       f"min bulk ESS {r['ess_bulk_min']:.0f}: not converged at {r['draws']} draws (+{r['tune']} tune)"
                       + (f" after {int(r['reruns'])} rerun(s)" if "reruns" in r and pd.notna(r["reruns"]) else "")
                       + "; rerun with more --reruns/--tune/--draws, or fit this selection with 'bayes-density fit'")
    return out


def format_specs(specs: dict) -> str:
    """Text of ``bayes-density specs``: one line per shipped spec (``specs``: name -> ModelSpec)."""
    return "\n".join(f"{name:<20} {s.description}" for name, s in specs.items())

def _variant_line(name: str, n: int, v: dict | None, width: int) -> str:
    if not v:
        return f"  {name:<{width}}  {n:>6}"
    kinds = ", ".join(f"{k} {c}" for k, c in v["by_kind"].items())
    return (f"  {name:<{width}}  {v['family']:<10} {v['domain'] or '-':<11} {n:>5} scores, {v['n_models']:>4} models, "
            f"{v['n_models_2plus_sources']:>3} / {v['n_models_2plus_kinds']:>3} with 2+ sources / kinds ({kinds})")


def format_coverage(summary: dict) -> str:
    """A readable text block for :func:`coverage_summary`'s result."""
    d = summary["date_range"]
    width = max((len(b) for b in summary["scores_per_benchmark"]), default=0)
    lines = [
        f"models:            {summary['n_models']}",
        f"  open base, dated, sized, scored: {summary['n_open_base_models_scored']}",
        f"  scored on >= 3 of {', '.join(PAPER_BENCHMARKS)}: {summary['n_with_3_of_paper5']}",
        f"  release dates of scored models: {f'{d[0]} to {d[1]}' if d else 'none'}",
        f"scores:            {summary['n_scores']} "
        f"(from {summary['n_sources']} sources, {summary['n_harnesses']} harnesses)",
        f"benchmarks:        {summary['n_benchmarks']} (variant, family, domain: scores, models, "
        "models scored by 2+ sources / by 2+ source kinds; scores per kind)",
        *(_variant_line(b, n, summary.get("variants", {}).get(b), width)
          for b, n in summary["scores_per_benchmark"].items()),
        f"targets:           {', '.join(summary['targets']) or 'none'}",
        "reference sets:" + ("" if summary["reference_sets"] else "    none"),
        *(f"  {k}: {', '.join(v)}" for k, v in summary["reference_sets"].items()),
    ]
    return "\n".join(lines)


_LINES = {"frontier": "frontier line (the densest models)", "mean": "mean line (an average model)",
          "quantile": "quantile line"}


def trend_line(d: dict) -> str:
    """'linear trend's frontier line (the densest models)': which line a projection follows."""
    return f"{d['trend']} trend's {_LINES.get(d.get('scatter', ''), 'line')}"


def format_projection(d: dict) -> str:
    """Readable text for the dict of :func:`project` (or of :func:`smallest_size`)."""
    pct = int(round(100 * d.get("prob", DEFAULT_PROB)))
    neff = d["target_neff"]
    neff_line = (f"{d['target']} effective size: {format_size(neff['median'])} parameters "
                 f"[{format_size(neff['lo'])}, {format_size(neff['hi'])}] ({pct}% interval)")
    if isinstance(d.get("size"), dict):  # smallest_size
        s = d["size"]
        lines = [
            f"smallest model on the {trend_line(d)} matching {d['target']} on {d['date']}:",
            f"  size: {format_size(s['median'])} parameters (median), {pct}% interval "
            f"[{format_size(s['lo'])}, {format_size(s['hi'])}]",
            f"  {neff_line}",
            f"  fitted models span {d['data_start']} to {d['data_end']}",
        ]
    else:
        lines = [
            f"when does {article(format_size(d['size']))} {format_size(d['size'])}-parameter model reach "
            f"{d['target']}'s level? (on the {trend_line(d)}, fitted models {d['data_start']} to {d['data_end']})",
            f"  projected date: {d['date_median']} (median)",
            f"  50% interval: {d['date_q25']} to {d['date_q75']}",
            f"  {pct}% interval: {d['date_lo']} to {d['date_hi']}",
            f"  P(reached by {d['by']}): {d['p_by']:.2f}",
        ]
        if d.get("p_never", 0) > 0:
            lines.append(f"  P(never: the trend stops rising before reaching it): {d['p_never']:.3f}")
        if d.get("p_already", 0) > 0:
            lines.append(f"  P(already on the trend at the data start): {d['p_already']:.3f}")
        lines.append(f"  {neff_line}")
        dn = d.get("density_needed")
        if dn:
            lines.append(f"  density needed: {dn['median']:.3g} x the reference family "
                         f"[{dn['lo']:.3g}, {dn['hi']:.3g}]")
    if d.get("placed"):
        lines.append(f"  ({d['target']} was not fitted with this run: placed against its posterior from its "
                     "reported scores, without refitting)")
    if d.get("note"):
        lines.append(f"  note: {d['note']}")
    return "\n".join(lines)


def format_checks(d: dict) -> str:
    """Plain-text rendering of :func:`check_dict`."""
    lines = [
        f"Model checks: {d.get('model_name')} (trend {d.get('trend')}, {d.get('n_scores')} scores)",
        f"  LOO-PIT KS p         {d['loo_pit_ks_p']:.3g}  (stat {d['loo_pit_ks_stat']:.3f}; "
        f"{100 * d['loo_pit_share_outside_90']:.1f}% outside the central 90%, nominal 10%)",
        *([f"                       integrated LOO for {d['loo_pit_n_integrated']} fitted models' scores, PSIS "
           f"for the rest; all-PSIS KS p {d['loo_pit_ks_p_psis']:.3g}"] if "loo_pit_n_integrated" in d else []),
        f"  Pareto k max         {d['pareto_k_max']:.2f}  ({d['n_pareto_k_bad']} > {PARETO_K_BAD})",
        f"  |z| > {Z_LARGE:g}             {d['n_abs_z_gt_3']}  ({100 * d['share_abs_z_gt_3']:.1f}% of scores)",
        f"  R-hat max            {d['rhat_max']:.3f}  ({d.get('rhat_max_var')})",
        f"  divergences          {d['divergences']}",
        f"  bulk ESS min         {d['ess_bulk_min']:.0f}  ({d.get('ess_bulk_min_var')})",
        f"  calibration          {'ok' if d['calibration_ok'] else 'flagged'}  (rule: ok when LOO-PIT KS p >= "
        f"{KS_P_WARN:g} and at most {100 * LARGE_SHARE_WARN:g}% of scores have |z| > {Z_LARGE:g})",
        "",
        "Posterior predictive by benchmark (scores as fractions):",
        f"  {'benchmark':<16} {'n':>5} {'obs mean':>9} {'pred mean':>9} {'rmse':>7} {'z sd':>6} "
        f"{'cov90':>6} {'|z|>3':>6}",
    ]
    for r in d["ppc_by_benchmark"]:
        lines.append(f"  {r['benchmark']:<16} {r['n_scores']:>5d} {r['observed_mean']:>9.3f} "
                     f"{r['predicted_mean']:>9.3f} {r['rmse']:>7.3f} {r['z_sd']:>6.2f} "
                     f"{r.get('coverage_90', float('nan')):>6.2f} {r['n_abs_z_gt_3']:>6d}")
    if d.get("ppc_by_harness"):
        lines += ["", "By harness:", f"  {'harness':<24} {'n':>5} {'obs mean':>9} {'pred mean':>9} {'z sd':>6} "
                  f"{'cov90':>6} {'PIT KS p':>9}"]
        for r in d["ppc_by_harness"]:
            lines.append(f"  {str(r['harness'])[:24]:<24} {r['n_scores']:>5d} {r['observed_mean']:>9.3f} "
                         f"{r['predicted_mean']:>9.3f} {r['z_sd']:>6.2f} {r.get('coverage_90', float('nan')):>6.2f} "
                         f"{r.get('loo_pit_ks_p', float('nan')):>9.2g}")
    lines += ["", "Largest standardised residuals:",
              f"  {'model':<28} {'benchmark':<14} {'harness':<14} {'obs':>6} {'pred':>6} {'sd':>6} {'z':>6}"]
    for r in d["worst_residuals"]:
        lines.append(f"  {str(r['model'])[:28]:<28} {str(r['benchmark'])[:14]:<14} {str(r['harness'])[:14]:<14} "
                     f"{r['observed']:>6.3f} {r['predicted_mean']:>6.3f} {r['predicted_sd']:>6.3f} {r['z']:>6.1f}")
    if d.get("prior_sensitivity"):
        lines += ["", "Prior sensitivity (power-scaling; > 0.05 = informative):",
                  f"  {'priors':<6} {'quantity':<28} {'prior':>7} {'lik':>7}  diagnosis"]
        for r in d["prior_sensitivity"]:
            lines.append(f"  {r['priors']:<6} {str(r['quantity'])[:28]:<28} {r['prior']:>7.3f} "
                         f"{r['likelihood']:>7.3f}  {r['diagnosis']}")
    if d.get("prior_predictive"):
        lines += ["", "Prior predictive scores per benchmark (5%-95%; observed range):"]
        for r in d["prior_predictive"]:
            lines.append(f"  {r['benchmark']:<16} prior {r['prior_q05']:.2f}-{r['prior_q95']:.2f} "
                         f"(at floor {100 * r['prior_share_at_floor']:.0f}%, >0.95 "
                         f"{100 * r['prior_share_above_95']:.0f}%); observed {r['observed_min']:.2f}-"
                         f"{r['observed_max']:.2f}")
    if d.get("sensitivity_error"):
        lines += ["", f"Prior checks skipped: {d['sensitivity_error']}"]
    if d.get("figures"):
        lines += ["", "Figures:"] + [f"  {p}" for p in d["figures"]]
    lines += ["", "Warnings:" if d["warnings"] else "No warnings."]
    lines += [f"  - {w}" for w in d["warnings"]]
    return "\n".join(lines)


def format_backtest(table) -> str:
    """The backtest table: per (spec, cutoff), coverage of the forecast intervals, share above, CRPS; the
    paper's method beside it."""
    import math

    import pandas as pd

    def f(v, fmt="{:.2f}"):
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(v)

    head = ("spec", "cutoff", "fit", "later", "cov50", "cov90", "above", "CRPS", "| paper:", "n", "cov50",
            "cov90", "above", "CRPS")
    rows = [head]
    for _, r in table.iterrows():
        rows.append((str(r["spec"]), str(r["cutoff"]), f(r["n_fit"], "{:.0f}"), f(r["n_later"], "{:.0f}"),
                     f(r["coverage_50"]), f(r["coverage_90"]), f(r["share_above_p95"]), f(r["crps"]), "|",
                     f(r["baseline_n"], "{:.0f}"), f(r["baseline_coverage_50"]), f(r["baseline_coverage_90"]),
                     f(r["baseline_share_above"]), f(r["baseline_crps"])))
    w = [max(len(x[i]) for x in rows) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w[i]) if i > 1 else c.ljust(w[i]) for i, c in enumerate(x)) for x in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines += ["", "cov50/cov90: share of later models whose placed density (from their own scores) falls inside "
              "the central 50%/90% forecast interval at their release date (PIT); above: share with "
              "P(above the fitted trend line) > 0.95; CRPS: mean continuous ranked probability score "
              "(nats of log density, lower is better). paper: Xiao et al.'s envelope OLS line with its "
              "residual sd, scored on its own point densities ('above': point above the line)."]
    bad = table[table["error"].astype(str) != ""] if "error" in table else pd.DataFrame()
    for _, r in bad.iterrows():
        lines.append(f"warning: {r['spec']} at {r['cutoff']}: {r['error']}")
    flagged = table[(table["rhat_max"] > 1.01) | (table["divergences"] > 0)]
    for _, r in flagged.iterrows():
        lines.append(f"warning: {r['spec']} at {r['cutoff']}: not converged (R-hat {r['rhat_max']:.3f}, "
                     f"{r['divergences']:.0f} divergences)")
    return "\n".join(lines)


def format_sbc(table, per_sim) -> str:
    """The SBC table: per parameter, rank counts per bin and the chi-square p; the fits' convergence."""
    head = ("parameter", "sims", "rank counts", "chi2 p", "mean rank")
    rows = [head] + [(str(r["parameter"]), str(r["n_sims"]), str(r["counts"]), f"{r['chi2_p']:.3f}",
                      f"{r['mean_rank']:.2f}") for _, r in table.iterrows()]
    w = [max(len(x[i]) for x in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(x)) for x in rows]
    lines.insert(1, "-" * len(lines[0]))
    a = table.attrs
    fits = per_sim.groupby("sim").first() if len(per_sim) else per_sim
    lines += ["", f"{a.get('spec', '')}: {len(fits)} fits of {a.get('n_models')} simulated models "
                  f"({a.get('chains')} x {a.get('draws')} draws, +{a.get('tune')} tune); ranks among every "
                  f"{a.get('thin', 1)}th posterior draw. Calibrated: counts flat, chi2 p not small, mean rank near 0.50."]
    if len(fits):
        lines.append(f"fits: max R-hat {fits['rhat_max'].max():.3f}, min bulk ESS {fits['ess_bulk_min'].min():.0f}, "
                     f"{int((fits['divergences'] > 0).sum())} with divergences")
    if a.get("failed"):
        lines.append(f"warning: {a['failed']} simulation(s) failed and are left out")
    lines.append(f"{a.get('computed', 0)} fitted now, {a.get('skipped', 0)} read from earlier records, "
                 f"{a.get('wall_s', 0.0):.0f} s on {a.get('workers', 0)} workers")
    return "\n".join(lines)


def format_measurement(m: dict) -> str:
    """Text block for the measurement model (``m``: :func:`bayes_density.posterior.measurement.measurement_dict`).

    Empty for runs without source offsets, domains or learned floors.
    """
    lines = []
    offs = [r for r in m.get("source_offsets", []) if r["family"] == "(mean)"]
    if offs:
        ref = offs[0]["reference"]
        lines.append(f"source offsets (nats of capability vs the '{ref}' scores; median [interval], P(> 0)):")
        skipped = [f"{r['kind']} {r['family']}" for r in m["source_offsets"] if not r.get("identified", True)]
        for r in m["source_offsets"]:
            if r.get("identified", True) and (r["n_scores"] or r["family"] == "(mean)"):
                lines.append(f"  {r['kind']:<12} {r['family']:<14} {r['median']:+.2f} [{r['lo']:+.2f}, {r['hi']:+.2f}]"
                             f"  P = {r['p_positive']:.2f}  ({r['n_scores']} scores)")
        if skipped:
            lines.append("  not identified (no model scored by both kinds on one variant; fixed at 0): "
                         + ", ".join(skipped))
    doms = m.get("domains", [])
    if doms:
        lines.append("domains (deviations from general capability):")
        for r in doms:
            unit = r["unit"]
            fmt = "{:.2f}" if unit != "1/day" else "{:.5f}"
            lines.append(f"  {r['domain']:<6} {r['quantity']:<22} " + fmt.format(r["median"])
                         + " [" + fmt.format(r["lo"]) + ", " + fmt.format(r["hi"]) + f"] {unit}")
    spec_rows = m.get("specialists", [])
    if spec_rows:
        by = {}
        for r in spec_rows:
            by.setdefault(r["domain"], []).append(f"{r['model']} {r['median']:+.1f}")
        lines.append("largest domain deviations (nats): " + "; ".join(f"{d}: {', '.join(v[:3])}" for d, v in by.items()))
    noise = {r["quantity"] if r["benchmark"] == "(all)" else r["benchmark"]: r for r in m.get("score_noise", [])}
    if noise:
        w, po = noise.pop("outlier_share"), noise.pop("outlier_phi")
        lines.append(f"score noise: {100 * w['median']:.1f}% [{100 * w['lo']:.1f}, {100 * w['hi']:.1f}] of scores from "
                     f"the wide component (precision {po['median']:.0f} [{po['lo']:.0f}, {po['hi']:.0f}]); "
                     "main precision per benchmark: " + ", ".join(f"{b} {r['median']:.0f}" for b, r in noise.items()))
    floors = [r for r in m.get("floors", []) if abs(r["median"] - r["nominal"]) > 0.002]
    if floors:
        lines.append("learned chance floors (nominal -> learned): " + ", ".join(
            f"{r['benchmark']} {r['nominal']:.3f} -> {r['median']:.3f}" for r in floors))
    return ("\n" + "\n".join(lines)) if lines else ""


# ---------------------------------------------------------------------------
# the Densing Law's other claims (compression, the best-value window)
# ---------------------------------------------------------------------------

def format_claims(d: dict) -> str:
    """``bayes-density claims``: compression pairs and pooled effect; value window by year."""
    pct = int(round(100 * d.get("prob", DEFAULT_PROB)))
    c = d["compression"]
    lines = ["Compression is not densing: ln density(child) - ln density(parent), nats "
             f"(median [{pct}% interval]); ratio = child's density / parent's"]
    if not c["pairs"]:
        lines.append("  no compressed model with its parent in this run")
    for r in c["pairs"]:
        lines.append(f"  {r['child']:<28} <- {r['parent']:<14} ({r['derivation'] or '?'})  "
                     f"P(child < parent) = {r['p_child_lower']:.2f}  diff {r['diff_median']:+.2f} "
                     f"[{r['diff_lo']:+.2f}, {r['diff_hi']:+.2f}]  ratio {r['ratio_median']:.2f} "
                     f"[{r['ratio_lo']:.2f}, {r['ratio_hi']:.2f}]")
    p = c.get("pooled")
    if p:
        lines.append(f"  pooled (mean over {p['n_pairs']} pairs, per draw): diff {p['diff_median']:+.2f} "
                     f"[{p['diff_lo']:+.2f}, {p['diff_hi']:+.2f}] nats, ratio {p['ratio_median']:.2f} "
                     f"[{p['ratio_lo']:.2f}, {p['ratio_hi']:.2f}], P(pooled < 0) = {p['p_lower']:.2f}")
    for m in c.get("missing", []):
        lines.append(f"  not in this run: {m['child']} <- {m['parent']} ({', '.join(m['not_in_run'])} missing)")
    lines.append("")
    lines.append("Best-value window: months until a later model of at most the same size with higher density "
                 "(censored at the data's last release); median window = median over the year's models of each "
                 "model's median among the draws where it was superseded")
    lines.append(f"  {'year':<6}{'models':>7}{'P(superseded)':>15}{'median window':>15}   half of the year's models "
                 f"superseded by (months, median [{pct}%]), P(known)")
    for r in d["value_window_by_year"]:
        half = ("not known within the data" if r["p_half_known"] == 0 else
                f"{r['half_months_median']:.1f} [{r['half_months_lo']:.1f}, {r['half_months_hi']:.1f}]")
        lines.append(f"  {r['year']:<6}{r['n_models']:>7}{r['p_superseded_mean']:>15.2f}"
                     f"{r['window_months_median_of_models']:>15.1f}   {half}, "
                     f"P(known) = {r['p_half_known']:.2f}")
    return "\n".join(lines)
